//! Cases, tasks and task logs as `mdr-sync` writes and reads them: find the cases carrying an
//! incident id in a custom field (whose name the caller gives), create cases, tasks and logs (with
//! a file), close a task, read and link a case. Lists are read whole: v1 queries in explicit pages,
//! v0 searches with `range=all`.

use cortex_http::Call;
use reqwest::blocking::Client;
use reqwest::blocking::multipart::{Form, Part};
use safekeeping::file_name::plain_file_name;
use serde_json::{Value, json};

use crate::Version;
use crate::client::TheHiveClient;
use crate::error::TheHiveError;
use crate::routes;
use crate::view::{CaseRef, TaskRef};

const PAGE: usize = 100;
const MAX_PAGES: usize = 100;

/// What a new case holds.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub title: String,
    pub description: String,
    pub severity: i64,
    pub tlp: i64,
    pub pap: i64,
    pub incident_id: String,
}

/// A file for a task log.
pub struct LogFile {
    /// Sent as a plain file name ([`plain_file_name`]), whatever it holds.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl TheHiveClient {
    /// Every case whose custom field `field` is `value`.
    pub fn find_cases(&self, field: &str, value: &str) -> Result<Vec<CaseRef>, TheHiveError> {
        let cases = match self.version()? {
            Version::V4 => self.search_v0(
                routes::CASE_SEARCH,
                json!({"_field": format!("customFields.{field}.string"), "_value": value}),
            )?,
            Version::V5 => self.query_v1(
                "cases",
                json!([{"_name": "listCase"},
                       {"_name": "filter", "_eq": {"_field": format!("customFields.{field}"), "_value": value}}]),
            )?,
        };
        Ok(cases.into_iter().map(CaseRef::from_rest).collect())
    }

    /// Creates `case` with its incident id in custom field `field`.
    pub fn create_case(&self, field: &str, case: &NewCase) -> Result<CaseRef, TheHiveError> {
        let version = self.version()?;
        let fields = match version {
            Version::V4 => json!({field: {"string": case.incident_id, "order": 0}}),
            Version::V5 => json!({field: case.incident_id}),
        };
        let body = json!({
            "title": case.title, "description": case.description, "severity": case.severity,
            "tlp": case.tlp, "pap": case.pap, "flag": false, "tags": ["MDR"], "customFields": fields,
        });
        let created: Value =
            self.json("case creation", Call::Write, self.post(&routes::new_case(version)).json(&body))?;
        Ok(CaseRef::from_rest(created))
    }

    pub fn tasks(&self, case_id: &str) -> Result<Vec<TaskRef>, TheHiveError> {
        let tasks = match self.version()? {
            Version::V4 => {
                self.search_v0(routes::TASK_SEARCH, json!({"_parent": {"_type": "case", "_query": {"_id": case_id}}}))?
            }
            Version::V5 => {
                self.query_v1("case-tasks", json!([{"_name": "getCase", "idOrName": case_id}, {"_name": "tasks"}]))?
            }
        };
        Ok(tasks.iter().map(TaskRef::from_rest).collect())
    }

    pub fn create_task(
        &self,
        case_id: &str,
        title: &str,
        group: &str,
        description: &str,
    ) -> Result<TaskRef, TheHiveError> {
        let path = routes::new_task(self.version()?, case_id);
        let body =
            json!({"title": title, "group": group, "description": description, "status": "InProgress", "flag": false});
        let created: Value = self.json("task creation", Call::Write, self.post(&path).json(&body))?;
        Ok(TaskRef::from_rest(&created))
    }

    /// The messages of the task's logs.
    pub fn log_messages(&self, task_id: &str) -> Result<Vec<String>, TheHiveError> {
        let logs = match self.version()? {
            Version::V4 => self.search_v0(
                routes::LOG_SEARCH,
                json!({"_parent": {"_type": "case_task", "_query": {"_id": task_id}}}),
            )?,
            Version::V5 => {
                self.query_v1("task-logs", json!([{"_name": "getTask", "idOrName": task_id}, {"_name": "logs"}]))?
            }
        };
        Ok(logs.iter().map(|l| l["message"].as_str().unwrap_or("").to_owned()).collect())
    }

    /// Adds a log, with the file when given (multipart: `_json` and the version's file part).
    pub fn add_log(&self, task_id: &str, message: &str, file: Option<LogFile>) -> Result<(), TheHiveError> {
        let version = self.version()?;
        let url = self.full_url(&routes::new_log(version, task_id));
        let fields = json!({"message": message});
        let file = file.map(|f| LogFile { name: plain_file_name(&f.name), bytes: f.bytes });
        // A multipart body is made again for each attempt (a sent one cannot be replayed).
        let build = |client: &Client| {
            let request = client.post(&url);
            Some(match &file {
                None => request.json(&fields),
                Some(file) => {
                    let part = Part::bytes(file.bytes.clone())
                        .file_name(file.name.clone())
                        .mime_str("application/octet-stream")
                        .ok()?;
                    let form = Form::new().text("_json", fields.to_string()).part(routes::log_file_part(version), part);
                    request.multipart(form)
                }
            })
        };
        self.send("task log creation", Call::Write, build).map(drop)
    }

    pub fn close_task(&self, task_id: &str) -> Result<(), TheHiveError> {
        let path = routes::task(self.version()?, task_id);
        let request = self.http.client().patch(self.full_url(&path)).json(&json!({"status": "Completed"}));
        self.send_once_built("task update", Call::Write, request).map(drop)
    }

    /// The case with TheHive id `case_id` as TheHive holds it (custom fields included); None when
    /// there is none (deleted, or another organisation's).
    pub fn case(&self, case_id: &str) -> Result<Option<Value>, TheHiveError> {
        match self.get_json("case", &routes::case(self.version()?, case_id)).map(Some) {
            Err(TheHiveError::Status { status: 404, .. }) => Ok(None),
            other => other,
        }
    }

    /// Sets the case's custom field `field` to `value`, keeping its other custom fields: a PATCH
    /// of `customFields` replaces them all.
    pub fn link_case(&self, case: &Value, field: &str, value: &str) -> Result<(), TheHiveError> {
        let version = self.version()?;
        let id = case["_id"].as_str().or(case["id"].as_str()).unwrap_or("");
        let fields = match version {
            Version::V4 => {
                let mut fields = case["customFields"].as_object().cloned().unwrap_or_default();
                // An empty field already on the case keeps its place.
                let order = fields.get(field).and_then(|f| f["order"].as_u64()).unwrap_or(fields.len() as u64);
                fields.insert(field.to_owned(), json!({"string": value, "order": order}));
                Value::Object(fields)
            }
            Version::V5 => {
                let mut fields: Vec<Value> = case["customFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|f| f["name"] != field)
                    .map(|f| json!({"name": f["name"], "value": f["value"]}))
                    .collect();
                fields.push(json!({"name": field, "value": value}));
                Value::Array(fields)
            }
        };
        let request =
            self.http.client().patch(self.full_url(&routes::case(version, id))).json(&json!({"customFields": fields}));
        self.send_once_built("case update", Call::Write, request).map(drop)
    }

    /// v0 `_search` with every result (`range=all`).
    fn search_v0(&self, path: &str, query: Value) -> Result<Vec<Value>, TheHiveError> {
        let request = self.post(path).query(&[("range", "all")]).json(&json!({"query": query}));
        self.json(path, Call::Read, request)
    }

    /// v1 `query` read in pages of [`PAGE`] until a short page.
    fn query_v1(&self, name: &str, steps: Value) -> Result<Vec<Value>, TheHiveError> {
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let mut query = steps.as_array().cloned().unwrap_or_default();
            query.push(json!({"_name": "page", "from": page * PAGE, "to": (page + 1) * PAGE}));
            let request = self.post(routes::QUERY).query(&[("name", name)]).json(&json!({"query": query}));
            let items: Vec<Value> = self.json(&format!("query {name}"), Call::Read, request)?;
            let short = items.len() < PAGE;
            all.extend(items);
            if short {
                return Ok(all);
            }
        }
        Err(TheHiveError::BadBody {
            what: format!("query {name}"),
            detail: format!("more than {} results", MAX_PAGES * PAGE),
        })
    }
}
