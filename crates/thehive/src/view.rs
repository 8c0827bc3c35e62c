//! Typed, read-only views of the TheHive objects a responder receives in `data`, and owned records
//! of REST answers ([`CaseRef`], [`TaskRef`]). One rule says whether a case is closed
//! ([`Case::is_closed`]), one guess what version sent an object ([`Context::version_hint`]).
//!
//! TheHive 4 nests parents (a task carries `case`, a log carries `case_task.case`) and writes case
//! custom fields as `{"<name>": {"<type>": value, "order": n}}`. TheHive 5 sends `customFieldValues`
//! (`{name: value}`) and its v1 API writes `customFields` as a list of `{name, value}`; every shape
//! is read by one function, [`custom_field`], so a responder keeps working across versions.
//!
//! Each shape and the evidence for it: docs/thehive.md#what-a-responder-receives.

use safekeeping::redact::json_type;
use serde_json::Value;

use crate::Version;

/// Statuses that close a case when no `stage` says otherwise (normalised: lower case, letters
/// only): TheHive 4's `Resolved` and `Duplicated`, TheHive 5's built-in closing statuses.
const CLOSING_STATUSES: &[&str] =
    &["resolved", "duplicated", "truepositive", "falsepositive", "indeterminate", "other"];

/// `TruePositive`, `True positive` and `TRUE_POSITIVE` are the same word.
fn normalised(value: &str) -> String {
    value.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Why the TheHive object cannot be used; the text tells the analyst what to change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ViewError {
    #[error("This responder runs on {expected}, not on {actual}: enable it for that object type in Cortex")]
    WrongDataType { expected: String, actual: String },
    #[error("The TheHive object has no `{path}`: TheHive did not send {what}; run the responder on {context}")]
    MissingParent { path: &'static str, what: &'static str, context: &'static str },
    #[error("{0}")]
    IncidentLink(String),
}

/// The object types the MDR responders work on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Case,
    Task,
    TaskLog,
}

impl DataType {
    pub fn parse(data_type: &str) -> Option<DataType> {
        match data_type {
            "thehive:case" => Some(DataType::Case),
            "thehive:case_task" => Some(DataType::Task),
            "thehive:case_task_log" => Some(DataType::TaskLog),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DataType::Case => "thehive:case",
            DataType::Task => "thehive:case_task",
            DataType::TaskLog => "thehive:case_task_log",
        }
    }
}

/// Reads a string field; blank strings count as absent, like a TheHive form left empty.
fn text<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get(key)?.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A TheHive case.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a>(&'a Value);

impl<'a> Case<'a> {
    pub fn new(value: &'a Value) -> Case<'a> {
        Case(value)
    }

    /// The case number shown in TheHive (`caseId` in TheHive 4, `number` in the v1 API).
    pub fn number(&self) -> Option<i64> {
        ["caseId", "number"].iter().find_map(|k| self.0.get(*k)?.as_i64())
    }

    pub fn title(&self) -> Option<&'a str> {
        text(self.0, "title")
    }

    pub fn description(&self) -> Option<&'a str> {
        text(self.0, "description")
    }

    pub fn severity(&self) -> Option<i64> {
        self.0.get("severity")?.as_i64()
    }

    pub fn status(&self) -> Option<&'a str> {
        text(self.0, "status")
    }

    pub fn resolution_status(&self) -> Option<&'a str> {
        text(self.0, "resolutionStatus")
    }

    /// TheHive 5's customisable status, passed beside the fixed `status`.
    pub fn extended_status(&self) -> Option<&'a str> {
        text(self.0, "extendedStatus")
    }

    /// TheHive 5's lifecycle stage (`New`, `InProgress`, `Closed`, since 5.0.7): the one field that
    /// says whether a case is closed, whatever its organisation calls its statuses.
    pub fn stage(&self) -> Option<&'a str> {
        text(self.0, "stage")
    }

    /// Whether the case is closed, the one rule of both programs: TheHive 5's `stage` (`Closed`)
    /// when the case carries it; else a closing status in `status` or `extendedStatus`: TheHive 4's
    /// `Resolved` (or `Duplicated`), TheHive 5's built-in closing statuses, or one of `renamed`
    /// (statuses an organisation gave its resolutions, as configured). Spelling and case of the
    /// built-in names do not matter (`True positive` is `TruePositive`).
    pub fn is_closed(&self, renamed: &[&str]) -> bool {
        if let Some(stage) = self.stage() {
            return stage.eq_ignore_ascii_case("Closed");
        }
        let closing = |status: &str| {
            CLOSING_STATUSES.contains(&normalised(status).as_str())
                || renamed.iter().any(|r| r.trim().eq_ignore_ascii_case(status))
        };
        self.status().is_some_and(closing) || self.extended_status().is_some_and(closing)
    }

    /// What the case says of its TheHive version (see [`Version::guess_from_case`]).
    pub fn version_hint(&self) -> Option<Version> {
        Version::guess_from_case(self.0)
    }

    pub fn summary(&self) -> Option<&'a str> {
        text(self.0, "summary")
    }

    pub fn tags(&self) -> Vec<&'a str> {
        let tags = self.0.get("tags").and_then(Value::as_array);
        tags.map(|t| t.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    }

    /// The value of custom field `name`, wherever this TheHive version put it; None when absent or null.
    pub fn custom_field(&self, name: &str) -> Option<&'a Value> {
        custom_field(self.0, name)
    }

    /// Every value of a multi-valued custom field (see [`custom_field_all`]).
    pub fn custom_field_all(&self, name: &str) -> Vec<&'a Value> {
        custom_field_all(self.0, name)
    }

    /// The MDR incident this case is linked to, read from the custom field `field`.
    pub fn mdr_incident_id(&self, field: &str) -> Result<&'a str, ViewError> {
        let link = |what: String| {
            ViewError::IncidentLink(format!(
                "{what}: link the case to an MDR incident by setting the case custom field `{field}` \
                 to the MDR incident id"
            ))
        };
        match self.custom_field(field) {
            None => Err(link(format!("The case has no value in custom field `{field}`"))),
            Some(Value::String(id)) if id.trim().is_empty() => {
                Err(link(format!("The case custom field `{field}` is empty")))
            }
            Some(Value::String(id)) => Ok(id.trim()),
            Some(other) => {
                Err(link(format!("The case custom field `{field}` holds a {} instead of a string", json_type(other))))
            }
        }
    }
}

/// Reads custom field `name` of a case or alert, in every shape TheHive is known to send:
/// `customFields` as TheHive 4's map (`{name: {type: value, order}}`) or TheHive 5's list of
/// `{name, value}` (a multi-valued field repeats its name), and TheHive 5's flat
/// `customFieldValues` (`{name: value}`, a list for a multi-valued field; StrangeBee's own
/// TheHive 5 responders read it). The first non-null value wins; a list yields its first item.
pub fn custom_field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    let from_fields = match object.get("customFields") {
        Some(Value::Object(fields)) => fields.get(name).and_then(typed_value),
        Some(Value::Array(fields)) => fields
            .iter()
            .filter(|f| ["name", "reference"].iter().any(|k| f.get(*k).and_then(Value::as_str) == Some(name)))
            .find_map(|f| f.get("value").and_then(first_item)),
        _ => None,
    };
    from_fields.or_else(|| object.get("customFieldValues")?.get(name).and_then(first_item))
}

/// Every value of custom field `name`, for a multi-valued field (hosts, say): the items of a list
/// value and the repeats of a name in TheHive 5's list, from the first shape that has any, in the
/// order [`custom_field`] reads them.
pub fn custom_field_all<'a>(object: &'a Value, name: &str) -> Vec<&'a Value> {
    let named = |f: &&Value| ["name", "reference"].iter().any(|k| f.get(*k).and_then(Value::as_str) == Some(name));
    let raw: Vec<&Value> = match object.get("customFields") {
        Some(Value::Object(fields)) => match fields.get(name) {
            Some(Value::Object(typed)) => typed.iter().filter(|(k, _)| k.as_str() != "order").map(|(_, v)| v).collect(),
            Some(bare) => vec![bare],
            None => Vec::new(),
        },
        Some(Value::Array(fields)) => fields.iter().filter(named).filter_map(|f| f.get("value")).collect(),
        _ => Vec::new(),
    };
    let raw = if raw.iter().any(|v| !v.is_null()) {
        raw
    } else {
        object.get("customFieldValues").and_then(|values| values.get(name)).into_iter().collect()
    };
    raw.into_iter()
        .flat_map(|v| v.as_array().map_or(vec![v], |items| items.iter().collect()))
        .filter(|v| !v.is_null())
        .collect()
}

/// `{"string": "x", "order": 0}` → `"x"`: the first non-null typed value, whatever key order
/// TheHive wrote; a bare value (some exports) is taken as it is.
fn typed_value(entry: &Value) -> Option<&Value> {
    match entry {
        Value::Object(typed) => typed.iter().filter(|(k, _)| k.as_str() != "order").find_map(|(_, v)| first_item(v)),
        other => first_item(other),
    }
}

/// A non-null value; for a multi-valued field (a list), its first non-null item.
fn first_item(value: &Value) -> Option<&Value> {
    match value {
        Value::Null => None,
        Value::Array(items) => items.iter().find(|v| !v.is_null()),
        other => Some(other),
    }
}

/// A TheHive task.
#[derive(Debug, Clone, Copy)]
pub struct Task<'a>(&'a Value);

impl<'a> Task<'a> {
    pub fn new(value: &'a Value) -> Task<'a> {
        Task(value)
    }

    pub fn id(&self) -> Option<&'a str> {
        text(self.0, "_id").or_else(|| text(self.0, "id"))
    }

    pub fn title(&self) -> Option<&'a str> {
        text(self.0, "title")
    }

    pub fn group(&self) -> Option<&'a str> {
        text(self.0, "group")
    }

    pub fn description(&self) -> Option<&'a str> {
        text(self.0, "description")
    }

    pub fn status(&self) -> Option<&'a str> {
        text(self.0, "status")
    }
}

/// Attachment metadata of a task log (TheHive never sends the bytes to Cortex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentMeta<'a> {
    /// The content hash, TheHive 4's datastore id.
    pub id: &'a str,
    /// TheHive 5's entity id (`_id`), when the job carries it.
    pub entity_id: Option<&'a str>,
    pub name: &'a str,
    pub size: Option<u64>,
    pub content_type: Option<&'a str>,
}

/// A TheHive task log.
#[derive(Debug, Clone, Copy)]
pub struct TaskLog<'a>(&'a Value);

impl<'a> TaskLog<'a> {
    pub fn new(value: &'a Value) -> TaskLog<'a> {
        TaskLog(value)
    }

    pub fn id(&self) -> Option<&'a str> {
        text(self.0, "_id").or_else(|| text(self.0, "id"))
    }

    /// The log text as written (not trimmed: leading indentation may be meaningful markdown).
    pub fn message(&self) -> Option<&'a str> {
        self.0.get("message")?.as_str().filter(|m| !m.trim().is_empty())
    }

    pub fn author(&self) -> Option<&'a str> {
        ["createdBy", "_createdBy", "owner"].iter().find_map(|k| text(self.0, k))
    }

    /// The first attachment, see [`TaskLog::attachments`].
    pub fn attachment(&self) -> Option<AttachmentMeta<'a>> {
        self.attachments().into_iter().next()
    }

    /// Every file of the log: TheHive 4's single `attachment` and TheHive 5's `attachments`
    /// list (which one TheHive 5 puts in responder input is unconfirmed), each file once.
    pub fn attachments(&self) -> Vec<AttachmentMeta<'a>> {
        let single = self.0.get("attachment").into_iter();
        let listed = self.0.get("attachments").and_then(Value::as_array).into_iter().flatten();
        let mut found: Vec<AttachmentMeta<'a>> = vec![];
        for a in single.chain(listed) {
            let Some(id) = text(a, "id").or_else(|| text(a, "_id")) else { continue };
            if found.iter().any(|f| f.id == id) {
                continue;
            }
            found.push(AttachmentMeta {
                id,
                entity_id: text(a, "_id"),
                name: text(a, "name").unwrap_or("attachment"),
                size: a.get("size").and_then(Value::as_u64),
                content_type: text(a, "contentType"),
            });
        }
        found
    }
}

/// The objects reachable from a job's `data`, whatever object the responder was run on.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub data_type: DataType,
    pub case: Case<'a>,
    pub task: Option<Task<'a>>,
    pub log: Option<TaskLog<'a>>,
}

impl<'a> Context<'a> {
    /// Builds the view for `data_type`, checking it is one of `accepted`.
    pub fn new(data_type: &str, data: &'a Value, accepted: &[DataType]) -> Result<Context<'a>, ViewError> {
        let expected = accepted.iter().map(|d| d.name()).collect::<Vec<_>>().join(" or ");
        let wrong = || ViewError::WrongDataType { expected: expected.clone(), actual: data_type.to_owned() };
        let kind = DataType::parse(data_type).filter(|d| accepted.contains(d)).ok_or_else(wrong)?;
        match kind {
            DataType::Case => Ok(Context { data_type: kind, case: Case(data), task: None, log: None }),
            DataType::Task => {
                let case = parent(data, "case", "data.case", "the task's case", "a task of a case")?;
                Ok(Context { data_type: kind, case: Case(case), task: Some(Task(data)), log: None })
            }
            DataType::TaskLog => {
                let task = parent(data, "case_task", "data.case_task", "the log's task", "a task log of a case")?;
                let case = parent(task, "case", "data.case_task.case", "the task's case", "a task log of a case")?;
                Ok(Context { data_type: kind, case: Case(case), task: Some(Task(task)), log: Some(TaskLog(data)) })
            }
        }
    }
}

impl Context<'_> {
    /// What the job says of its TheHive version: the case's hint, else the log's.
    pub fn version_hint(&self) -> Option<Version> {
        self.case.version_hint().or_else(|| self.log.and_then(|log| Version::guess_from_log(log.0)))
    }
}

/// A case as a REST answer gave it, owned: its ids at hand, the rest through [`CaseRef::view`].
#[derive(Debug, Clone)]
pub struct CaseRef {
    pub id: String,
    /// The number shown in TheHive.
    pub number: Option<i64>,
    value: Value,
}

impl CaseRef {
    pub fn from_rest(value: Value) -> CaseRef {
        let case = Case::new(&value);
        let id = text(&value, "_id").or_else(|| text(&value, "id")).unwrap_or("").to_owned();
        let number = case.number();
        CaseRef { id, number, value }
    }

    pub fn view(&self) -> Case<'_> {
        Case::new(&self.value)
    }

    /// [`Case::is_closed`].
    pub fn is_closed(&self, renamed: &[&str]) -> bool {
        self.view().is_closed(renamed)
    }
}

/// A task as a REST answer gave it, owned.
#[derive(Debug, Clone)]
pub struct TaskRef {
    pub id: String,
    pub title: String,
    pub group: String,
    pub description: String,
    pub status: String,
}

impl TaskRef {
    pub fn from_rest(value: &Value) -> TaskRef {
        let task = Task::new(value);
        let owned = |v: Option<&str>| v.unwrap_or("").to_owned();
        TaskRef {
            id: owned(task.id()),
            title: owned(task.title()),
            group: owned(task.group()),
            // Not trimmed: the description's lines are read as written.
            description: owned(value.get("description").and_then(Value::as_str)),
            status: owned(task.status()),
        }
    }

    /// Neither completed nor cancelled.
    pub fn is_open(&self) -> bool {
        !matches!(self.status.as_str(), "Completed" | "Cancel")
    }
}

fn parent<'a>(
    child: &'a Value,
    key: &str,
    path: &'static str,
    what: &'static str,
    context: &'static str,
) -> Result<&'a Value, ViewError> {
    child.get(key).filter(|v| v.is_object()).ok_or(ViewError::MissingParent { path, what, context })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log_input() -> Value {
        json!({
            "_id": "~81924184", "createdBy": "analyst@soc.example", "message": "line 1\nline 2",
            "attachment": {"name": "evidence.txt", "id": "9f86", "size": 4, "contentType": "text/plain"},
            "case_task": {"_id": "~41033800", "title": "RUN_SCRIPT", "group": "Response",
                "case": {"caseId": 17, "customFields": {"mdr-incident-id": {"string": "-Nz01", "order": 0}}}}
        })
    }

    #[test]
    fn task_log_context_reaches_task_and_case() {
        let data = log_input();
        let ctx = Context::new("thehive:case_task_log", &data, &[DataType::TaskLog]).unwrap();
        assert_eq!(ctx.case.number(), Some(17));
        assert_eq!(ctx.task.unwrap().group(), Some("Response"));
        let log = ctx.log.unwrap();
        assert_eq!(log.author(), Some("analyst@soc.example"));
        assert_eq!(log.attachment().unwrap().name, "evidence.txt");
        assert_eq!(ctx.case.mdr_incident_id("mdr-incident-id").unwrap(), "-Nz01");
    }

    #[test]
    fn wrong_data_type_and_missing_parents_are_explained() {
        let data = log_input();
        let err = Context::new("thehive:case", &data, &[DataType::TaskLog]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "This responder runs on thehive:case_task_log, not on thehive:case: enable it for that object type in Cortex"
        );
        let orphan = json!({"message": "x"});
        let err = Context::new("thehive:case_task_log", &orphan, &[DataType::TaskLog]).unwrap_err();
        assert!(err.to_string().contains("`data.case_task`"), "{err}");
        let no_case = json!({"case_task": {"title": "t"}});
        let err = Context::new("thehive:case_task_log", &no_case, &[DataType::TaskLog]).unwrap_err();
        assert!(err.to_string().contains("`data.case_task.case`"), "{err}");
    }

    #[test]
    fn incident_id_in_map_and_list_shapes() {
        let th5_list =
            json!({"customFields": [{"name": "other", "value": "x"}, {"name": "mdr-incident-id", "value": " -Nz02 "}]});
        assert_eq!(Case::new(&th5_list).mdr_incident_id("mdr-incident-id").unwrap(), "-Nz02");
        let bare = json!({"customFields": {"mdr-incident-id": "-Nz03"}});
        assert_eq!(Case::new(&bare).mdr_incident_id("mdr-incident-id").unwrap(), "-Nz03");
        let custom_name = json!({"customFields": {"mdr-id": {"string": "-Nz04"}}});
        assert_eq!(Case::new(&custom_name).mdr_incident_id("mdr-id").unwrap(), "-Nz04");
    }

    #[test]
    fn multi_valued_fields_give_every_value() {
        let shapes = [
            json!({"customFields": [{"name": "hosts", "value": "A"}, {"name": "x", "value": "Z"}, {"name": "hosts", "value": "B"}]}),
            json!({"customFields": [{"name": "hosts", "value": ["A", null, "B"]}]}),
            json!({"customFieldValues": {"hosts": ["A", "B"]}}),
            json!({"customFields": {"hosts": {"string": null, "order": 1}}, "customFieldValues": {"hosts": ["A", "B"]}}),
        ];
        for shape in shapes {
            assert_eq!(custom_field_all(&shape, "hosts"), [&json!("A"), &json!("B")], "{shape}");
        }
        assert!(custom_field_all(&json!({}), "hosts").is_empty());
    }

    #[test]
    fn custom_field_in_every_shape() {
        let id = "mdr-incident-id";
        let shapes = [
            json!({"customFields": {id: {"string": "-A", "order": 0}}}),
            json!({"customFields": {id: {"order": 0, "integer": null, "string": "-A"}}}),
            json!({"customFields": {id: "-A"}}),
            json!({"customFields": [{"name": id, "value": null}, {"name": id, "value": "-A"}]}),
            json!({"customFields": [{"reference": id, "value": ["-A", "-B"]}]}),
            json!({"customFieldValues": {id: "-A"}}),
            json!({"customFieldValues": {id: [null, "-A", "-B"]}}),
            json!({"customFields": [], "customFieldValues": {id: "-A"}}),
            json!({"customFields": {id: {"string": null}}, "customFieldValues": {id: "-A"}}),
        ];
        for case in shapes {
            assert_eq!(custom_field(&case, id), Some(&json!("-A")), "{case}");
            assert_eq!(Case::new(&case).mdr_incident_id(id).unwrap(), "-A", "{case}");
        }
        for absent in [json!({"customFieldValues": {id: null}}), json!({"customFieldValues": {id: []}}), json!({})] {
            assert_eq!(custom_field(&absent, id), None, "{absent}");
        }
    }

    #[test]
    fn every_attachment_of_a_log_once() {
        let log = json!({"_createdBy": "ana@soc", "attachment": {"id": "h1", "name": "a.txt"},
            "attachments": [{"_id": "~1", "id": "h1", "name": "a.txt"}, {"_id": "~2", "id": "h2", "name": "b.csv", "size": 9},
                            {"name": "no-id"}]});
        let log = TaskLog::new(&log);
        let names: Vec<_> = log.attachments().iter().map(|a| (a.id, a.name)).collect();
        assert_eq!(names, [("h1", "a.txt"), ("h2", "b.csv")]);
        assert_eq!(log.attachments()[1].entity_id, Some("~2"));
        assert_eq!(log.author(), Some("ana@soc"));
    }

    #[test]
    fn th5_task_log_case_with_only_custom_field_values() {
        let data = json!({"_id": "~1", "message": "m", "case_task": {"_id": "~2",
            "case": {"_id": "~3", "number": 4, "customFieldValues": {"mdr-incident-id": "-Nz09"}}}});
        let ctx = Context::new("thehive:case_task_log", &data, &[DataType::TaskLog]).unwrap();
        assert_eq!(ctx.case.mdr_incident_id("mdr-incident-id").unwrap(), "-Nz09");
    }

    #[test]
    fn incident_id_problems_say_what_to_do() {
        let cases = [
            (json!({"customFields": {}}), "has no value in custom field `mdr-incident-id`"),
            (json!({}), "has no value"),
            (json!({"customFields": {"mdr-incident-id": {"string": null, "order": 0}}}), "has no value"),
            (json!({"customFields": {"mdr-incident-id": {"string": "  "}}}), "is empty"),
            (json!({"customFields": {"mdr-incident-id": {"integer": 5}}}), "holds a number"),
            (json!({"customFields": [{"name": "mdr-incident-id", "value": null}]}), "has no value"),
        ];
        for (case, expected) in cases {
            let err = Case::new(&case).mdr_incident_id("mdr-incident-id").unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains("link the case to an MDR incident"), "{err}");
        }
    }

    #[test]
    fn one_closed_rule_for_every_shape() {
        let closed = |case: Value, renamed: &[&str]| Case::new(&case).is_closed(renamed);
        // The stage decides whatever the statuses say.
        assert!(closed(json!({"stage": "Closed", "status": "Open"}), &[]));
        assert!(!closed(json!({"stage": "New", "status": "Resolved"}), &[]));
        assert!(!closed(json!({"stage": "InProgress", "extendedStatus": "TruePositive"}), &[]));
        // TheHive 4.
        assert!(closed(json!({"status": "Resolved", "resolutionStatus": "TruePositive"}), &[]));
        assert!(closed(json!({"status": "Duplicated"}), &[]));
        assert!(!closed(json!({"status": "Open"}), &[]));
        // TheHive 5 without a stage: the built-in closing statuses, however spelled, and the renamed ones.
        for status in ["TruePositive", "False positive", "INDETERMINATE", "Other", "Duplicated"] {
            assert!(closed(json!({"status": status}), &[]), "{status}");
            assert!(closed(json!({"status": "Open", "extendedStatus": status}), &[]), "{status}");
        }
        for status in ["New", "InProgress", "Escalated"] {
            assert!(!closed(json!({"status": status}), &[]), "{status}");
        }
        assert!(closed(json!({"status": "Menace confirmee"}), &["Menace confirmee"]));
        assert!(closed(json!({"extendedStatus": "Benign"}), &["Benign"]));
        assert!(!closed(json!({}), &[]));
        let rest = CaseRef::from_rest(json!({"_id": "~1", "number": 3, "stage": "Closed"}));
        assert!(rest.is_closed(&[]) && rest.id == "~1" && rest.number == Some(3));
    }

    #[test]
    fn the_job_tells_thehive_5_by_stage_status_or_attachment_list() {
        let hint = |data: Value, kind: &str| {
            Context::new(kind, &data, &[DataType::Case, DataType::TaskLog]).unwrap().version_hint()
        };
        assert_eq!(hint(json!({"stage": "New"}), "thehive:case"), Some(Version::V5));
        assert_eq!(hint(json!({"caseId": 1, "status": "Open"}), "thehive:case"), None);
        let log = json!({"attachments": [], "case_task": {"case": {"caseId": 1}}});
        assert_eq!(hint(log, "thehive:case_task_log"), Some(Version::V5));
        assert_eq!(hint(log_input(), "thehive:case_task_log"), None);
    }

    #[test]
    fn tasks_from_rest_answers() {
        let task = TaskRef::from_rest(&json!({"id": "~7", "title": "T", "group": "Response", "status": "Completed",
                                              "description": "**ID**: x  \n"}));
        assert_eq!((task.id.as_str(), task.group.as_str(), task.is_open()), ("~7", "Response", false));
        assert_eq!(task.description, "**ID**: x  \n");
        assert!(TaskRef::from_rest(&json!({"status": "InProgress"})).is_open());
    }

    #[test]
    fn blank_strings_and_wrong_types_read_as_absent() {
        let case = json!({"title": "  ", "summary": 3, "tags": ["a", 1, "b"], "number": 9});
        let case = Case::new(&case);
        assert_eq!(case.title(), None);
        assert_eq!(case.summary(), None);
        assert_eq!(case.tags(), vec!["a", "b"]);
        assert_eq!(case.number(), Some(9));
        let log = json!({"message": "   "});
        assert_eq!(TaskLog::new(&log).message(), None);
    }
}
