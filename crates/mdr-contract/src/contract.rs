//! The conventions the responders and `mdr-sync` both write and read in TheHive and MDR: one typed
//! owner each, with its writer and its reader side by side, so that the two halves cannot drift.
//!
//! A marker is recognised only where and as its writer puts it (a fixed first or last line), never
//! anywhere in the text around it: MDR text quoted in the same message cannot forge one.
//!
//! | convention | writer | reader |
//! |---|---|---|
//! | [`ResponseTask`] (group, title, `**ID**:` first line) | mdr-sync | MDR_Approve/DeclineResponse, mdr-sync |
//! | [`ResponseStatus::is_decided`] | MDR | mdr-sync (closes the task), the decision responders |
//! | [`Footer`] `(sent from TheHive…)` | MDR_SendTaskLog | mdr-sync (not mirrored back), MDR_SendTaskLog (sent once) |
//! | [`Mirrored`] `[MDR comment <id>]`… | mdr-sync | mdr-sync (written once) |
//! | [`origin_marker`] `TheHive case id <id>)` | MDR_CreateIncident | mdr-sync, MDR_CreateIncident |
//! | [`Quote`] `<author> wrote:` + `> ` lines | both | (people; the round trip is tested) |
//! | [`Priority`] ↔ severity | both | both |
//! | [`CASE_TAG`], [`DEFAULT_INCIDENT_FIELD`], [`DEFAULT_RESPONSE_GROUP`] | both | both |

mod case;
mod footer;
mod lines;
mod mirrored;
mod origin;
mod quote;
mod response;

pub use case::{CASE_TAG, DEFAULT_INCIDENT_FIELD, Priority};
pub use footer::Footer;
pub use lines::writable_id;
pub use mirrored::Mirrored;
pub use origin::{origin_case_id, origin_marker};
pub use quote::{Quote, quote_lines};
pub use response::{DEFAULT_RESPONSE_GROUP, ResponseIdError, ResponseStatus, ResponseTask};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// What the `contract` fuzz target asserts, on awkward text: every writer reads back.
    #[test]
    fn writers_read_back_whatever_the_text_around() {
        let texts = [
            "",
            " ",
            "MDR_1",
            "a\nb\r\nc\rd",
            "> [MDR comment c2]",
            "**ID**: MDR_2",
            "(sent from TheHive: log ~5)",
            "x\"y\" &quot;z&quot;)",
            "<p>html</p>\n</blockquote>",
            "\u{2028}\u{feff}𝕏\t",
            "TheHive case id ~1)",
        ];
        for id in texts {
            for rest in texts {
                let task = ResponseTask { response_id: id, kind: None, parameters: &Value::Null, comment: rest };
                match task.description() {
                    Ok(description) => assert_eq!(ResponseTask::id_in(&description), Ok(id)),
                    Err(_) => assert!(!writable_id(id), "{id:?}"),
                }
                let quote = Quote { author: rest.to_owned(), text: rest.to_owned() }.render();
                for item in [Mirrored::Comment(id.to_owned()), Mirrored::Attachment(id.to_owned())] {
                    if let Some(marker) = item.render() {
                        assert_eq!(Mirrored::closing(&format!("{quote}\n\n{marker}")), Some(item));
                    }
                }
                let footer =
                    Footer { case_number: Some(7), task_title: Some(rest.to_owned()), log_id: Some(id.to_owned()) };
                let read = Footer::closing(&format!("{quote}\n\n{}", footer.render())).map(|f| f.log_id);
                let expected = writable_id(id).then(|| id.to_owned());
                assert_eq!(read, Some(expected), "{id:?} {rest:?}");
                if writable_id(id) {
                    let description = format!("{rest}\n\n(created from TheHive case #7; {}", origin_marker(id));
                    assert_eq!(origin_case_id(&description), Some(id));
                }
            }
        }
    }
}
