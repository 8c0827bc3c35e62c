//! The operations TheHive 4/5 apply after a responder job (docs/cortex-jobs.md#operations).
//!
//! Only these ten types exist: TheHive 4 fails the whole job result on an unknown `type` or a wrongly typed
//! field, so the enum makes other shapes unrepresentable.

use serde::Serialize;

/// One operation, serialised with `type` first: `{"type": "AddTagToCase", "tag": "x"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Operation {
    /// Tags the case related to the object (case, task, log, observable).
    AddTagToCase { tag: String },
    /// Tags the observable the responder ran on.
    AddTagToArtifact { tag: String },
    /// Tags the alert the responder ran on.
    AddTagToAlert { tag: String },
    /// Marks the alert the responder ran on as read.
    MarkAlertAsRead,
    /// Adds a task to the related case (TheHive 4 requires both fields).
    CreateTask { title: String, description: String },
    /// Sets an existing custom field of the related case: `{"type", "name", "tpe", "value"}`.
    AddCustomFields {
        name: String,
        #[serde(flatten)]
        value: CustomFieldValue,
    },
    /// Assigns the related case to a user login.
    AssignCase { owner: String },
    /// Adds an observable to the related case; `None` fields and empty `tags` are omitted.
    AddArtifactToCase {
        data: String,
        #[serde(rename = "dataType")]
        data_type: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        tlp: Option<u8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ioc: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sighted: Option<bool>,
        #[serde(rename = "ignoreSimilarity", skip_serializing_if = "Option::is_none")]
        ignore_similarity: Option<bool>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tags: Vec<String>,
    },
    /// Adds a log to the related task (only works when run on a task log).
    AddLogToTask {
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
    },
    /// Completes the related task (only works when run on a task log).
    CloseTask,
}

/// A custom field value with its type, written as `"tpe": "<type>", "value": <value>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "tpe", content = "value", rename_all = "lowercase")]
pub enum CustomFieldValue {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    /// Epoch milliseconds.
    Date(i64),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn encode(op: &Operation) -> String {
        String::from_utf8(crate::json::to_python_json(op).unwrap()).unwrap()
    }

    fn custom(value: CustomFieldValue) -> Operation {
        Operation::AddCustomFields { name: "f".to_owned(), value }
    }

    #[test]
    fn simple_operations() {
        let cases = [
            (Operation::AddTagToCase { tag: "MDR:x".into() }, r#"{"type": "AddTagToCase", "tag": "MDR:x"}"#),
            (Operation::AddTagToArtifact { tag: "a".into() }, r#"{"type": "AddTagToArtifact", "tag": "a"}"#),
            (Operation::AddTagToAlert { tag: "b".into() }, r#"{"type": "AddTagToAlert", "tag": "b"}"#),
            (Operation::MarkAlertAsRead, r#"{"type": "MarkAlertAsRead"}"#),
            (
                Operation::CreateTask { title: "T".into(), description: "D".into() },
                r#"{"type": "CreateTask", "title": "T", "description": "D"}"#,
            ),
            (Operation::AssignCase { owner: "bob".into() }, r#"{"type": "AssignCase", "owner": "bob"}"#),
            (Operation::CloseTask, r#"{"type": "CloseTask"}"#),
            (
                Operation::AddLogToTask { content: "c".into(), owner: None },
                r#"{"type": "AddLogToTask", "content": "c"}"#,
            ),
            (
                Operation::AddLogToTask { content: "c".into(), owner: Some("o".into()) },
                r#"{"type": "AddLogToTask", "content": "c", "owner": "o"}"#,
            ),
        ];
        for (op, expected) in cases {
            assert_eq!(encode(&op), expected);
        }
    }

    #[test]
    fn custom_fields_use_tpe() {
        let cases = [
            (
                CustomFieldValue::String("s".into()),
                r#"{"type": "AddCustomFields", "name": "f", "tpe": "string", "value": "s"}"#,
            ),
            (
                CustomFieldValue::Integer(-3),
                r#"{"type": "AddCustomFields", "name": "f", "tpe": "integer", "value": -3}"#,
            ),
            (CustomFieldValue::Float(1.5), r#"{"type": "AddCustomFields", "name": "f", "tpe": "float", "value": 1.5}"#),
            (
                CustomFieldValue::Boolean(true),
                r#"{"type": "AddCustomFields", "name": "f", "tpe": "boolean", "value": true}"#,
            ),
            (
                CustomFieldValue::Date(1562157321892),
                r#"{"type": "AddCustomFields", "name": "f", "tpe": "date", "value": 1562157321892}"#,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(encode(&custom(value)), expected);
        }
    }

    #[test]
    fn artifact_omits_absent_fields() {
        let minimal = Operation::AddArtifactToCase {
            data: "1.2.3.4".into(),
            data_type: "ip".into(),
            message: "m".into(),
            tlp: None,
            ioc: None,
            sighted: None,
            ignore_similarity: None,
            tags: Vec::new(),
        };
        assert_eq!(
            encode(&minimal),
            r#"{"type": "AddArtifactToCase", "data": "1.2.3.4", "dataType": "ip", "message": "m"}"#
        );
        let full = Operation::AddArtifactToCase {
            data: "evil.example".into(),
            data_type: "domain".into(),
            message: "m".into(),
            tlp: Some(3),
            ioc: Some(true),
            sighted: Some(false),
            ignore_similarity: Some(true),
            tags: vec!["t1".into(), "t2".into()],
        };
        assert_eq!(
            encode(&full),
            r#"{"type": "AddArtifactToCase", "data": "evil.example", "dataType": "domain", "message": "m", "tlp": 3, "ioc": true, "sighted": false, "ignoreSimilarity": true, "tags": ["t1", "t2"]}"#
        );
    }
}
