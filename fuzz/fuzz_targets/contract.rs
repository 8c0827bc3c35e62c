//! Any text through every reader of the responders/mdr-sync contract, and any text as an id,
//! title or author through its writer: what is written reads back, nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdr_contract::contract::{
    Footer, Mirrored, Quote, ResponseStatus, ResponseTask, origin_case_id, origin_marker, writable_id,
};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Readers on any text.
    let _ = ResponseTask::id_in(text);
    let _ = (Footer::closing(text), Footer::ending(text), Mirrored::closing(text), origin_case_id(text));
    let _ = Quote::parse(text);
    let status = ResponseStatus::parse(Some(text));
    assert_eq!(ResponseStatus::parse(Some(status.as_str())), status);

    // Writers: the text as an id, a title, an author, MDR's comment.
    let (id, rest) = text.split_once('\u{0}').unwrap_or((text, ""));
    let task = ResponseTask { response_id: id, kind: None, parameters: &Value::Null, comment: rest };
    match task.description() {
        Ok(description) => assert_eq!(ResponseTask::id_in(&description), Ok(id)),
        Err(_) => assert!(!writable_id(id)),
    }
    for item in [Mirrored::Comment(id.to_owned()), Mirrored::Decision(id.to_owned())] {
        if let Some(marker) = item.render() {
            let log = format!("{}\n\n{marker}", Quote { author: rest.to_owned(), text: rest.to_owned() }.render());
            assert_eq!(Mirrored::closing(&log), Some(item));
        }
    }
    let footer = Footer { case_number: Some(7), task_title: Some(rest.to_owned()), log_id: Some(id.to_owned()) };
    let comment = format!("{}\n\n{}", Quote { author: rest.to_owned(), text: rest.to_owned() }.render(), footer.render());
    let read = Footer::closing(&comment).map(|f| f.log_id);
    assert!(read.is_some(), "{comment:?}");
    if writable_id(id) {
        assert_eq!(read, Some(Some(id.to_owned())));
    }
    if writable_id(id) && !id.contains(['/', '?', '#']) {
        let description = format!("{rest}\n\n(created from TheHive case #7; {}", origin_marker(id));
        assert_eq!(origin_case_id(&description), Some(id));
    }
});
