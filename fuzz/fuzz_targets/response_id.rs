//! Any text as a response task description (`**ID**: <response id>` on its first line).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdr_contract::contract::ResponseTask;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(id) = ResponseTask::id_in(text)
    {
        assert!(!id.is_empty() && !id.contains(char::is_whitespace));
    }
});
