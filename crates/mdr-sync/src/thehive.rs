//! The TheHive calls the synchronisation makes, for TheHive 4 (v0 API, as thehive4py 1.x calls
//! it) and TheHive 5 (v1 API, as thehive4py 2.x calls it): find a case by its
//! `mdr-incident-id` custom field, create cases, tasks and task logs (with a file), close a task,
//! resolve a case. Lists are read in explicit pages (v1) or with `range=all` (v0).
//!
//! The routes per version and their sources: docs/thehive.md#api-routes.

use std::cell::Cell;

use cortex_http::HttpSettings;
use cortex_http::{Call, Failure, HttpClient, HttpConfig};
use mdr_contract::contract::CASE_TAG;
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use thehive::client::{HiveAuth, HiveFailure, send_to_thehive};

use crate::config::{TheHiveConfig, VersionChoice};

const PAGE: usize = 100;
const MAX_PAGES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V4,
    V5,
}

#[derive(Debug, thiserror::Error)]
pub enum HiveError {
    #[error("TheHive API {what} answered HTTP {status}: {message}{hint}")]
    Status { what: String, status: u16, message: String, hint: &'static str },
    #[error("Cannot reach TheHive at {url}: {detail}; check `thehive.api_url` and the network")]
    Unreachable { url: String, detail: String },
    #[error(
        "The TLS certificate of TheHive at {url} is not trusted ({detail}): set `thehive.ssl_cert` to the PEM bundle of the CA that signed it, or to the certificate itself when it is self-signed"
    )]
    Untrusted { url: String, detail: String },
    #[error("TheHive API {what} answered with an unexpected body: {detail}")]
    BadBody { what: String, detail: String },
    #[error("Cannot set up the TheHive client: {0}")]
    Setup(String),
}

/// A case as the synchronisation needs it.
#[derive(Debug, Clone)]
pub struct CaseRef {
    pub id: String,
    pub number: Option<i64>,
    pub status: String,
    pub stage: String,
}

impl CaseRef {
    pub fn from(v: &Value) -> CaseRef {
        CaseRef {
            id: id_of(v),
            number: v["caseId"].as_i64().or_else(|| v["number"].as_i64()),
            status: str_of(v, "status"),
            stage: str_of(v, "stage"),
        }
    }

    /// Still being worked on: not in stage `Closed` (TheHive 5) and not in a closing status
    /// (TheHive 4 `Resolved`, TheHive 5's built-in resolutions), whichever the server reports.
    pub fn is_open(&self) -> bool {
        const CLOSING: &[&str] = &["Resolved", "TruePositive", "FalsePositive", "Indeterminate", "Other", "Duplicated"];
        self.stage != "Closed" && !CLOSING.contains(&self.status.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct TaskRef {
    pub id: String,
    pub title: String,
    pub group: String,
    pub description: String,
    pub status: String,
}

impl TaskRef {
    fn from(v: &Value) -> TaskRef {
        TaskRef {
            id: id_of(v),
            title: str_of(v, "title"),
            group: str_of(v, "group"),
            description: str_of(v, "description"),
            status: str_of(v, "status"),
        }
    }

    pub fn is_open(&self) -> bool {
        !matches!(self.status.as_str(), "Completed" | "Cancel")
    }
}

/// What a new case holds.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub title: String,
    pub description: String,
    pub severity: i64,
    pub tlp: i64,
    pub pap: i64,
    /// The custom field linking the case to its incident, and the incident id.
    pub incident_field: String,
    pub incident_id: String,
}

/// A file for a task log.
pub struct LogFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

const USER_AGENT: &str = concat!("mdr-sync/", env!("CARGO_PKG_VERSION"));

pub struct TheHive {
    http: HttpClient,
    config: TheHiveConfig,
    version: Cell<Option<Version>>,
}

impl TheHive {
    pub fn new(config: &TheHiveConfig) -> Result<TheHive, HiveError> {
        // The one HTTP layer of every client: system store plus `thehive.ssl_cert` (a pinned
        // self-signed certificate included), environment proxies, no redirects.
        let mut http = HttpConfig::new(&HttpSettings::default(), config.timeout, USER_AGENT);
        if let Some(path) = &config.ssl_cert {
            http = http.with_ca_file("`thehive.ssl_cert`", path.clone());
        }
        let http = HttpClient::new(&http).map_err(|e| HiveError::Setup(e.to_string()))?;
        let version = match config.version {
            VersionChoice::V4 => Some(Version::V4),
            VersionChoice::V5 => Some(Version::V5),
            VersionChoice::Auto => None,
        };
        Ok(TheHive { http, config: config.clone(), version: Cell::new(version) })
    }

    /// The configured version, else what TheHive says (`/api/status` is TheHive 4's, TheHive 5
    /// answers `/api/v1/status`); asked once per process.
    pub fn version(&self) -> Result<Version, HiveError> {
        if let Some(v) = self.version.get() {
            return Ok(v);
        }
        let found = match self.json::<Value>("status", Call::Read, self.http.client().get(self.url("/api/status"))) {
            Ok(status) if status["versions"]["TheHive"].as_str().is_some_and(|v| v.starts_with('4')) => Version::V4,
            Ok(_) | Err(HiveError::Status { status: 404, .. }) => {
                let status: Value =
                    self.json("status", Call::Read, self.http.client().get(self.url("/api/v1/status")))?;
                let reported = status["version"].as_str().or(status["versions"]["TheHive"].as_str()).unwrap_or("");
                if !reported.starts_with('5') {
                    return Err(HiveError::BadBody {
                        what: "status".to_owned(),
                        detail: format!("unknown TheHive version {reported:?}; set `thehive.version`"),
                    });
                }
                Version::V5
            }
            Err(err) => return Err(err),
        };
        self.version.set(Some(found));
        Ok(found)
    }

    /// Every case whose custom field `field` (`thehive.incident_custom_field`) is `incident_id`.
    pub fn find_cases(&self, field: &str, incident_id: &str) -> Result<Vec<CaseRef>, HiveError> {
        let cases = match self.version()? {
            Version::V4 => self.search_v0(
                "/api/case/_search",
                json!({"_field": format!("customFields.{field}.string"), "_value": incident_id}),
            )?,
            Version::V5 => self.query_v1(
                "cases",
                json!([{"_name": "listCase"},
                       {"_name": "filter", "_eq": {"_field": format!("customFields.{field}"), "_value": incident_id}}]),
            )?,
        };
        Ok(cases.iter().map(CaseRef::from).collect())
    }

    pub fn create_case(&self, case: &NewCase) -> Result<CaseRef, HiveError> {
        let (path, fields) = match self.version()? {
            Version::V4 => ("/api/case", json!({&case.incident_field: {"string": case.incident_id, "order": 0}})),
            Version::V5 => ("/api/v1/case", json!({&case.incident_field: case.incident_id})),
        };
        let body = json!({
            "title": case.title, "description": case.description, "severity": case.severity,
            "tlp": case.tlp, "pap": case.pap, "flag": false, "tags": [CASE_TAG], "customFields": fields,
        });
        let created: Value =
            self.json("case creation", Call::Write, self.http.client().post(self.url(path)).json(&body))?;
        Ok(CaseRef::from(&created))
    }

    pub fn tasks(&self, case_id: &str) -> Result<Vec<TaskRef>, HiveError> {
        let tasks = match self.version()? {
            Version::V4 => self.search_v0(
                "/api/case/task/_search",
                json!({"_parent": {"_type": "case", "_query": {"_id": case_id}}}),
            )?,
            Version::V5 => {
                self.query_v1("case-tasks", json!([{"_name": "getCase", "idOrName": case_id}, {"_name": "tasks"}]))?
            }
        };
        Ok(tasks.iter().map(TaskRef::from).collect())
    }

    pub fn create_task(
        &self,
        case_id: &str,
        title: &str,
        group: &str,
        description: &str,
    ) -> Result<TaskRef, HiveError> {
        let path = match self.version()? {
            Version::V4 => format!("/api/case/{case_id}/task"),
            Version::V5 => format!("/api/v1/case/{case_id}/task"),
        };
        let body =
            json!({"title": title, "group": group, "description": description, "status": "InProgress", "flag": false});
        let created: Value =
            self.json("task creation", Call::Write, self.http.client().post(self.url(&path)).json(&body))?;
        Ok(TaskRef::from(&created))
    }

    /// The messages of the task's logs.
    pub fn log_messages(&self, task_id: &str) -> Result<Vec<String>, HiveError> {
        let logs = match self.version()? {
            Version::V4 => self.search_v0(
                "/api/case/task/log/_search",
                json!({"_parent": {"_type": "case_task", "_query": {"_id": task_id}}}),
            )?,
            Version::V5 => {
                self.query_v1("task-logs", json!([{"_name": "getTask", "idOrName": task_id}, {"_name": "logs"}]))?
            }
        };
        Ok(logs.iter().map(|l| str_of(l, "message")).collect())
    }

    /// Adds a log, with the file when given (v0: one `attachment` part; v1: `attachments`).
    pub fn add_log(&self, task_id: &str, message: &str, file: Option<LogFile>) -> Result<(), HiveError> {
        let (path, file_part) = match self.version()? {
            Version::V4 => (format!("/api/case/task/{task_id}/log"), "attachment"),
            Version::V5 => (format!("/api/v1/task/{task_id}/log"), "attachments"),
        };
        let url = self.url(&path);
        let fields = json!({"message": message});
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
                    request.multipart(Form::new().text("_json", fields.to_string()).part(file_part, part))
                }
            })
        };
        self.send("task log creation", Call::Write, build).map(drop)
    }

    pub fn close_task(&self, task_id: &str) -> Result<(), HiveError> {
        let path = match self.version()? {
            Version::V4 => format!("/api/case/task/{task_id}"),
            Version::V5 => format!("/api/v1/task/{task_id}"),
        };
        let request = self.http.client().patch(self.url(&path)).json(&json!({"status": "Completed"}));
        self.send_once_built("task update", Call::Write, request).map(drop)
    }

    /// The case with TheHive id `case_id` as TheHive holds it (custom fields included); `None`
    /// when there is none (deleted, or another organisation's).
    pub fn case(&self, case_id: &str) -> Result<Option<Value>, HiveError> {
        let path = match self.version()? {
            Version::V4 => format!("/api/case/{case_id}"),
            Version::V5 => format!("/api/v1/case/{case_id}"),
        };
        match self.json("case", Call::Read, self.http.client().get(self.url(&path))).map(Some) {
            Err(HiveError::Status { status: 404, .. }) => Ok(None),
            other => other,
        }
    }

    /// Sets the case's custom field `field` (`thehive.incident_custom_field`), keeping its other
    /// custom fields: a PATCH of `customFields` replaces them all.
    pub fn link_case(&self, case: &Value, field: &str, incident_id: &str) -> Result<(), HiveError> {
        let (path, fields) = match self.version()? {
            Version::V4 => {
                let mut fields = case["customFields"].as_object().cloned().unwrap_or_default();
                // An empty field already on the case keeps its place.
                let order = fields.get(field).and_then(|f| f["order"].as_u64()).unwrap_or(fields.len() as u64);
                fields.insert(field.to_owned(), json!({"string": incident_id, "order": order}));
                (format!("/api/case/{}", id_of(case)), Value::Object(fields))
            }
            Version::V5 => {
                let mut fields: Vec<Value> = case["customFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|f| f["name"] != field)
                    .map(|f| json!({"name": f["name"], "value": f["value"]}))
                    .collect();
                fields.push(json!({"name": field, "value": incident_id}));
                (format!("/api/v1/case/{}", id_of(case)), Value::Array(fields))
            }
        };
        let request = self.http.client().patch(self.url(&path)).json(&json!({"customFields": fields}));
        self.send_once_built("case update", Call::Write, request).map(drop)
    }

    /// TheHive 4: status `Resolved` + `resolutionStatus`; TheHive 5: the status is the resolution.
    pub fn resolve_case(
        &self,
        case_id: &str,
        th4_resolution: &str,
        th5_status: &str,
        summary: &str,
    ) -> Result<(), HiveError> {
        let (path, body) = match self.version()? {
            Version::V4 => (
                format!("/api/case/{case_id}"),
                json!({"status": "Resolved", "resolutionStatus": th4_resolution, "impactStatus": "NotApplicable", "summary": summary}),
            ),
            Version::V5 => (
                format!("/api/v1/case/{case_id}"),
                json!({"status": th5_status, "impactStatus": "NotApplicable", "summary": summary}),
            ),
        };
        self.send_once_built("case update", Call::Write, self.http.client().patch(self.url(&path)).json(&body))
            .map(drop)
    }

    /// v0 `_search` with every result (`range=all`).
    fn search_v0(&self, path: &str, query: Value) -> Result<Vec<Value>, HiveError> {
        let request = self.http.client().post(self.url(path)).query(&[("range", "all")]).json(&json!({"query": query}));
        self.json(path, Call::Read, request)
    }

    /// v1 `query` read in pages of [`PAGE`] until a short page.
    fn query_v1(&self, name: &str, steps: Value) -> Result<Vec<Value>, HiveError> {
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let mut query = steps.as_array().cloned().unwrap_or_default();
            query.push(json!({"_name": "page", "from": page * PAGE, "to": (page + 1) * PAGE}));
            let request = self
                .http
                .client()
                .post(self.url("/api/v1/query"))
                .query(&[("name", name)])
                .json(&json!({"query": query}));
            let items: Vec<Value> = self.json(&format!("query {name}"), Call::Read, request)?;
            let short = items.len() < PAGE;
            all.extend(items);
            if short {
                return Ok(all);
            }
        }
        Err(HiveError::BadBody {
            what: format!("query {name}"),
            detail: format!("more than {} results", MAX_PAGES * PAGE),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.url)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        call: Call,
        request: RequestBuilder,
    ) -> Result<T, HiveError> {
        let response = self.send_once_built(what, call, request)?;
        let bytes =
            response.bytes().map_err(|e| HiveError::BadBody { what: what.to_owned(), detail: e.to_string() })?;
        serde_json::from_slice(&bytes).map_err(|e| HiveError::BadBody { what: what.to_owned(), detail: e.to_string() })
    }

    /// [`TheHive::send`] of a request with a body that can be copied for a resend.
    fn send_once_built(&self, what: &str, call: Call, request: RequestBuilder) -> Result<Response, HiveError> {
        self.send(what, call, |_| request.try_clone())
    }

    /// Sent as every TheHive request of this project is (`thehive::client::send_to_thehive`):
    /// reads retried on gateway errors and lost connections, writes resent only if they never
    /// left; a write whose answer was lost is found by the next pass's reads.
    fn send(
        &self,
        what: &str,
        call: Call,
        build: impl FnMut(&Client) -> Option<RequestBuilder>,
    ) -> Result<Response, HiveError> {
        let auth = HiveAuth { api_key: &self.config.api_key, organisation: self.config.organisation.as_deref() };
        send_to_thehive(&self.http, call, &auth, build).map_err(|failure| match failure {
            HiveFailure::Refused { status, message } => {
                let hint = match status {
                    401 => " (check `thehive.api_key`)",
                    403 => {
                        " (the API key's user lacks the permission in this organisation: check `thehive.organisation`)"
                    }
                    404 => " (not found: check `thehive.api_url` and `thehive.version`)",
                    _ => "",
                };
                HiveError::Status { what: what.to_owned(), status, message, hint }
            }
            HiveFailure::Transport(failure) => self.transport_error(failure),
            HiveFailure::NotRepeatable => HiveError::Setup(format!("the {what} request cannot be made again")),
        })
    }

    fn transport_error(&self, failure: Failure) -> HiveError {
        let url = self.config.url.clone();
        match failure {
            Failure::Untrusted { detail, .. } | Failure::HandshakeRefused { detail, .. } | Failure::Tls { detail } => {
                HiveError::Untrusted { url, detail }
            }
            Failure::Timeout { .. } => {
                HiveError::Unreachable { url, detail: format!("no answer within {} s", self.config.timeout.as_secs()) }
            }
            Failure::Unreachable { detail } | Failure::Lost { detail } => HiveError::Unreachable { url, detail },
        }
    }
}

fn id_of(v: &Value) -> String {
    v["_id"].as_str().or(v["id"].as_str()).unwrap_or("").to_owned()
}

fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").to_owned()
}
