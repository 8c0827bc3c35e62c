//! Any text as a response task description (`**ID**: <response id>`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(id) = mdr_responders::actions::response_id(text)
    {
        assert!(!id.is_empty());
    }
});
