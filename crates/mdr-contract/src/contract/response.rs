//! A response MDR proposes, as a TheHive task: mdr-sync creates it, MDR_ApproveResponse and
//! MDR_DeclineResponse read the response id back from it, and mdr-sync closes it once MDR shows
//! the response decided.

use serde_json::Value;

use super::lines::{first_line, writable_id};
use crate::inert;

/// The task group of Response tasks, unless `response_task_group` / `thehive.response_task_group`
/// names another (both programs must be given the same).
pub const DEFAULT_RESPONSE_GROUP: &str = "Response";
/// The title of a Response task when MDR gives no response type.
const DEFAULT_TITLE: &str = "MDR response";
const ID_LABEL: &str = "**ID**:";

/// A Response task as mdr-sync writes it (the MDR Integration Utility's format): title the
/// response type, description `**ID**: <id>  \n**Details**: `<parameters as JSON>`  \n**Comment**: <description>`,
/// MDR's text in it made inert.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseTask<'a> {
    pub response_id: &'a str,
    /// The response type (`RUN_SCRIPT`, ...).
    pub kind: Option<&'a str>,
    pub parameters: &'a Value,
    pub comment: &'a str,
}

/// No response id where the reader looks for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseIdError {
    #[error(
        "Cannot find the MDR response id on the first line of the task description: it should start with the line \
         `**ID**: <response id>` as mdr-sync and the MDR Integration Utility write it"
    )]
    Missing,
    #[error("The MDR response id {0:?} cannot be written into a task description and read back")]
    Unwritable(String),
}

impl ResponseTask<'_> {
    /// The task's title: the response type (MDR text, so made inert), or a generic one.
    pub fn title(&self) -> String {
        let kind = inert::title(self.kind.unwrap_or(""));
        if kind.is_empty() { DEFAULT_TITLE.to_owned() } else { kind }
    }

    /// The task's description; refused for an id [`ResponseTask::id_in`] could not read back.
    pub fn description(&self) -> Result<String, ResponseIdError> {
        if !writable_id(self.response_id) {
            return Err(ResponseIdError::Unwritable(self.response_id.to_owned()));
        }
        let details = if self.parameters.is_null() { "{}".to_owned() } else { self.parameters.to_string() };
        // The parameters and the comment are MDR text: a code span and inert prose (crate::inert).
        Ok(format!(
            "{ID_LABEL} {}  \n**Details**: {}  \n**Comment**: {}",
            self.response_id,
            inert::code(&details),
            inert::prose(self.comment)
        ))
    }

    /// The response id a task description names, read from its first line only: the rest holds
    /// MDR's parameters and comment, which may mention any id. Besides the written form, the first
    /// line may be one typed by hand (`ID: <id>`, `**ID:** <id>`, `__ID__ : <id>`, the id in
    /// backticks), as the README tells users to do when nothing creates the tasks.
    pub fn id_in(description: &str) -> Result<&str, ResponseIdError> {
        let line = first_line(description).ok_or(ResponseIdError::Missing)?;
        let id = match line.strip_prefix(ID_LABEL) {
            Some(rest) => rest.split_whitespace().next(),
            None => hand_written_id(line),
        };
        id.filter(|id| !id.is_empty()).ok_or(ResponseIdError::Missing)
    }

    /// Whether a task's group is the Response group (`configured`), as TheHive users may type it.
    pub fn in_group(task_group: &str, configured: &str) -> bool {
        task_group.trim().eq_ignore_ascii_case(configured.trim())
    }
}

/// `ID: x`, `**ID:** x`, `__ID__ : x`, `- **Id**: x`, the id possibly in backticks.
fn hand_written_id(line: &str) -> Option<&str> {
    let line = line.trim_start_matches(['-', '+', ' ']);
    let (label, rest) = line.split_once(':')?;
    if !label.trim_matches(['*', '_', ' ']).eq_ignore_ascii_case("id") {
        return None;
    }
    // Only the emphasis closing the label (`**ID:** x`) is skipped: an id may start with `_`.
    let rest = rest.strip_prefix("**").or_else(|| rest.strip_prefix("__")).unwrap_or(rest);
    Some(rest.split_whitespace().next()?.trim_matches('`'))
}

/// A response's status in MDR. Only `Confirmed` and `Declined` are known API values of a decision
/// (docs: the `response/update` body); the pending value is known only as a console label, and MDR
/// has shown `Pending`, `InProgress`, `Created` for proposed responses. So anything else is
/// pending: its task stays open and the responders may still decide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseStatus {
    Confirmed,
    Declined,
    /// Anything else, as MDR gave it (empty when it gave none).
    Pending(String),
}

impl ResponseStatus {
    pub fn parse(status: Option<&str>) -> ResponseStatus {
        let status = status.unwrap_or("").trim();
        if status.eq_ignore_ascii_case("Confirmed") {
            ResponseStatus::Confirmed
        } else if status.eq_ignore_ascii_case("Declined") {
            ResponseStatus::Declined
        } else {
            ResponseStatus::Pending(status.to_owned())
        }
    }

    /// The one rule both programs use: decided only when MDR shows a decision.
    pub fn is_decided(&self) -> bool {
        !matches!(self, ResponseStatus::Pending(_))
    }

    pub fn as_str(&self) -> &str {
        match self {
            ResponseStatus::Confirmed => "Confirmed",
            ResponseStatus::Declined => "Declined",
            ResponseStatus::Pending(status) => status,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task<'a>(response_id: &'a str, parameters: &'a Value, comment: &'a str) -> ResponseTask<'a> {
        ResponseTask { response_id, kind: Some("RUN_SCRIPT"), parameters, comment }
    }

    #[test]
    fn the_description_is_the_utilitys_and_reads_back() {
        let parameters = json!({"interpreter": "powershell"});
        let written = task("MDR_1", &parameters, "Isolate it").description().unwrap();
        assert_eq!(
            written,
            "**ID**: MDR_1  \n**Details**: `{\"interpreter\":\"powershell\"}`  \n**Comment**: Isolate it"
        );
        for id in ["MDR_fc51163f-00a4-4d07-826e-bb92963bc856", "_a1b2", "**x", "__x", "ID:", "é𝕏", "a:b"] {
            let written = task(id, &Value::Null, "").description().unwrap();
            assert_eq!(ResponseTask::id_in(&written), Ok(id), "{written:?}");
        }
        assert_eq!(
            task("x", &Value::Null, "").description().unwrap(),
            "**ID**: x  \n**Details**: `{}`  \n**Comment**: "
        );
    }

    #[test]
    fn ids_that_cannot_be_read_back_are_not_written() {
        for id in ["", "a b", "a\n**ID**: b", "`a`"] {
            let err = task(id, &Value::Null, "").description().unwrap_err();
            assert_eq!(err, ResponseIdError::Unwritable(id.to_owned()));
        }
    }

    #[test]
    fn only_the_first_line_names_the_response() {
        let parameters = json!({"note": "**ID**: MDR_0"});
        let forged = task("MDR_1", &parameters, "see\n**ID**: MDR_2\nID: MDR_3").description().unwrap();
        assert_eq!(ResponseTask::id_in(&forged), Ok("MDR_1"));
        for description in
            ["x\n**ID**: MDR_1", "```\n**ID**: MDR_1\n```", "**Details**: {}\n**ID**: MDR_1", "", "**ID**:  "]
        {
            assert_eq!(ResponseTask::id_in(description), Err(ResponseIdError::Missing), "{description:?}");
        }
    }

    #[test]
    fn a_first_line_typed_by_hand_is_read() {
        for description in [
            "ID: MDR_1",
            "**ID:** MDR_1 ",
            "__ID__ : `MDR_1`",
            "  - **Id**:\tMDR_1 trailing",
            "\n\n**ID**: MDR_1\nID: MDR_2",
        ] {
            assert_eq!(ResponseTask::id_in(description), Ok("MDR_1"), "{description:?}");
        }
        assert_eq!(ResponseTask::id_in("**ID:** _a1b2"), Ok("_a1b2"));
        assert_eq!(ResponseTask::id_in("ID: __x"), Ok("__x"));
        assert_eq!(ResponseTask::id_in("IDENTITY: x"), Err(ResponseIdError::Missing));
    }

    #[test]
    fn titles_and_groups() {
        assert_eq!(task("x", &Value::Null, "").title(), "RUN_SCRIPT");
        assert_eq!(ResponseTask { kind: Some(" "), ..task("x", &Value::Null, "") }.title(), "MDR response");
        assert!(ResponseTask::in_group("response ", DEFAULT_RESPONSE_GROUP));
        assert!(!ResponseTask::in_group("default", DEFAULT_RESPONSE_GROUP));
    }

    #[test]
    fn only_confirmed_and_declined_are_decided() {
        for decided in [ResponseStatus::Confirmed, ResponseStatus::Declined] {
            assert!(decided.is_decided());
            assert_eq!(ResponseStatus::parse(Some(decided.as_str())), decided);
        }
        assert_eq!(ResponseStatus::parse(Some(" declined")), ResponseStatus::Declined);
        for pending in [None, Some(""), Some("New"), Some("Pending"), Some("InProgress"), Some("Created"), Some("x")] {
            let status = ResponseStatus::parse(pending);
            assert!(!status.is_decided(), "{pending:?}");
            assert_eq!(ResponseStatus::parse(Some(status.as_str())), status);
        }
    }
}
