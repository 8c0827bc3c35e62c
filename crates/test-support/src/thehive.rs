//! A small stand-in of TheHive's HTTP API: only the calls the MDR responders make, for TheHive 4
//! (v0 routes) or TheHive 5 (v1 routes), with the same journal and fault injection as the MDR
//! stand-in. Routes of the other version answer 404, so a client using the wrong one is caught.
//!
//! - TheHive 4: `GET /api/status` → `{"versions": {"TheHive": "4.1.24-1"}}`,
//!   `GET /api/datastore/{hash}` → the attachment bytes,
//!   `PATCH /api/case/{id}` (status `Resolved` needs a valid `resolutionStatus`),
//!   `POST /api/case/artifact/_search` (`_parent` case id and `dataType` `_in` filters)
//! - TheHive 5 serves only v1 routes (the v0 API is deprecated since 5.4, and its API
//!   documentation lists no other): `GET /api/v1/status` → `{"version": "5.5.13-1", ...}`,
//!   `GET /api/v1/attachment/{_id}/download` → the bytes (the hash id only when
//!   `accepts_hash_ids`: unconfirmed for a real TheHive 5, so refused by default),
//!   `PATCH /api/v1/case/{id}` (status one of the built-in case statuses; 204),
//!   `POST /api/v1/query` (`getLog` → the log with its `attachments`; `getCase` → `observables`
//!   → optional `filter` `_in` on `dataType`)
//!
//! - Both: the user of the API key (`GET /api/user/current`, `GET /api/v1/user/current`) and the
//!   custom field definitions (`GET /api/customField`: the field's name is `reference`, `name` its
//!   display name, as TheHive 4's v0 API renders them; `GET /api/v1/customField`: `name`, as
//!   thehive4py 2 reads them). A case created or patched with a custom field that is not defined
//!   is refused (404 `CustomField ... not found`, as TheHive looks the field up by name).
//!
//! Every route but the status ones needs `Authorization: Bearer <api key>` (else 401, TheHive's
//! `AuthenticationError`): TheHive answers its status without authentication, so a client cannot
//! learn from it whether its key is valid. The `X-Organisation` header is recorded in the journal body.

use std::collections::HashMap;
use std::io;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use serde_json::{Map, Value, json};

use crate::http::{Request, Response};
use crate::journal::{Fault, FaultQueue, JournalEntry};
use crate::listener::{Handler, Listener};
use crate::server::fault_response;
use crate::tls::{self, TlsCert};
use crate::tokens::BearerState;

mod records;

/// Which TheHive API to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TheHiveVersion {
    V4,
    V5,
}

const TH4_RESOLUTIONS: &[&str] = &["Indeterminate", "FalsePositive", "TruePositive", "Other", "Duplicated"];
/// TheHive 5's built-in case statuses and the stage each one puts a case in.
const TH5_STATUSES: &[(&str, &str)] = &[
    ("New", "New"),
    ("InProgress", "InProgress"),
    ("Indeterminate", "Closed"),
    ("FalsePositive", "Closed"),
    ("TruePositive", "Closed"),
    ("Other", "Closed"),
    ("Duplicated", "Closed"),
];

/// How to start a [`TheHiveSandbox`].
#[derive(Clone, Debug)]
pub struct TheHiveOptions {
    pub version: TheHiveVersion,
    pub api_key: String,
    pub tls: bool,
    /// With `tls`: which certificate is served.
    pub tls_cert: TlsCert,
    /// Cases by `_id`, as TheHive stores them (only the fields the tests look at matter).
    pub cases: Vec<Value>,
    /// Observables, each with `_id`, `dataType`, `data` and `case` (the case `_id`).
    pub observables: Vec<Value>,
    /// Attachment bytes by id (TheHive uses the SHA-256 of the content).
    pub attachments: HashMap<String, Vec<u8>>,
    /// Task logs already there, as `/api/v1/query` `getLog` returns them: `_id` and `attachments`
    /// `[{_id, id (the hash), name, size, contentType}]`; the download route takes the `_id`.
    /// They join the logs clients create (one store), so `getLog` and the log lists see both.
    pub logs: Vec<Value>,
    /// Whether TheHive 5's download route also takes an attachment's hash `id`.
    pub accepts_hash_ids: bool,
    /// TheHive 5 case statuses `(name, stage)` the organisation has: a PATCH with another status
    /// is refused, and one of these sets the case's `stage`. Default: the built-in list.
    pub case_statuses: Vec<(String, String)>,
    /// The case custom fields TheHive defines, by name. Default: `mdr-incident-id`; the fields the
    /// seeded [`TheHiveOptions::cases`] carry are added at start.
    pub custom_fields: Vec<String>,
}

impl TheHiveOptions {
    pub fn new(version: TheHiveVersion) -> Self {
        TheHiveOptions {
            version,
            api_key: "thehive-test-api-key".to_owned(),
            tls: false,
            tls_cert: TlsCert::CaSigned,
            cases: Vec::new(),
            observables: Vec::new(),
            attachments: HashMap::new(),
            logs: Vec::new(),
            accepts_hash_ids: false,
            case_statuses: TH5_STATUSES.iter().map(|(s, g)| ((*s).to_owned(), (*g).to_owned())).collect(),
            custom_fields: vec!["mdr-incident-id".to_owned()],
        }
    }
}

struct State {
    cases: Vec<Value>,
    observables: Vec<Value>,
    attachments: HashMap<String, Vec<u8>>,
    case_statuses: Vec<(String, String)>,
    custom_fields: Vec<String>,
    records: records::Records,
    journal: Vec<JournalEntry>,
    subscribers: Vec<Sender<JournalEntry>>,
    faults: FaultQueue,
}

struct Shared {
    version: TheHiveVersion,
    accepts_hash_ids: bool,
    api_key: String,
    state: Mutex<State>,
}

/// A running TheHive API stand-in on 127.0.0.1; stops accepting when dropped.
pub struct TheHiveSandbox {
    shared: Arc<Shared>,
    listener: Listener,
    ca_pem: Option<String>,
    tls: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TheHiveSandbox {
    pub fn start(opts: TheHiveOptions) -> io::Result<TheHiveSandbox> {
        let tls = if opts.tls { Some(tls::generate_for(&opts.tls_cert)?) } else { None };
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let mut custom_fields = opts.custom_fields;
        for name in opts.cases.iter().flat_map(records::custom_field_names) {
            if !custom_fields.contains(&name) {
                custom_fields.push(name);
            }
        }
        let shared = Arc::new(Shared {
            version: opts.version,
            accepts_hash_ids: opts.accepts_hash_ids,
            api_key: opts.api_key,
            state: Mutex::new(State {
                cases: opts.cases,
                observables: opts.observables,
                attachments: opts.attachments,
                case_statuses: opts.case_statuses,
                custom_fields,
                records: records::Records::with_logs(opts.logs),
                journal: Vec::new(),
                subscribers: Vec::new(),
                faults: FaultQueue::default(),
            }),
        });
        let handler: Arc<dyn Handler> = Arc::clone(&shared) as Arc<dyn Handler>;
        let listener = Listener::start("thehive-sandbox", 0, tls.map(|t| t.config), handler)?;
        Ok(TheHiveSandbox { shared, listener, ca_pem, tls: opts.tls })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (TheHive's routes start with `/api`).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.listener.addr())
    }

    pub fn api_key(&self) -> &str {
        &self.shared.api_key
    }

    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Every request received, in order; `endpoint` is `"<METHOD> <route>"` such as
    /// `"GET /api/datastore"` or `"PATCH /api/v1/case"` (ids left out).
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.shared.state).journal.clone()
    }

    pub fn calls(&self, endpoint: &str) -> Vec<JournalEntry> {
        self.journal().into_iter().filter(|e| e.endpoint == endpoint).collect()
    }

    /// A channel receiving every journal entry from now on (the `mdr-sandbox` binary streams it).
    pub fn subscribe(&self) -> Receiver<JournalEntry> {
        let (tx, rx) = channel();
        lock(&self.shared.state).subscribers.push(tx);
        rx
    }

    /// The next `times` requests to `endpoint` (as named in the journal) get `fault`.
    pub fn inject(&self, endpoint: &str, fault: Fault, times: usize) {
        lock(&self.shared.state).faults.push(endpoint, fault, times);
    }

    /// Every case, task and task log (`case` / `task` name the parent `_id`), in creation order;
    /// the logs given in [`TheHiveOptions::logs`] come first.
    pub fn records(&self) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
        let state = lock(&self.shared.state);
        (state.cases.clone(), state.records.tasks.clone(), state.records.logs.clone())
    }

    /// The current state of a case.
    pub fn case(&self, case_id: &str) -> Option<Value> {
        lock(&self.shared.state).cases.iter().find(|c| c["_id"] == case_id).cloned()
    }
}

impl Handler for Shared {
    fn handle(&self, request: &Request) -> Option<Response> {
        let path = request.path.split('?').next().unwrap_or(&request.path).to_owned();
        let (endpoint, id) = route_name(&request.method, &path);
        let bearer = match request.header("authorization").and_then(|h| h.strip_prefix("Bearer ")) {
            None => BearerState::Missing,
            Some(key) if key == self.api_key => BearerState::Valid,
            Some(_) => BearerState::Unknown,
        };
        let mut body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if let Some(org) = request.header("x-organisation") {
            body = json!({"X-Organisation": org, "body": body});
        }
        let fault = lock(&self.state).faults.take(&endpoint);
        let response = match fault {
            Some(Fault::Drop) => None,
            Some(Fault::Delay(d)) => {
                thread::sleep(d);
                Some(self.answer(request, &endpoint, id.as_deref(), bearer))
            }
            Some(fault) => Some(fault_response(&fault)),
            None => Some(self.answer(request, &endpoint, id.as_deref(), bearer)),
        };
        let status = response.as_ref().map_or(0, |r| r.status);
        let entry = JournalEntry { endpoint, client_id: String::new(), bearer, body, status };
        let mut state = lock(&self.state);
        state.subscribers.retain(|s| s.send(entry.clone()).is_ok());
        state.journal.push(entry);
        response
    }
}

/// `PATCH /api/case/~123` → (`"PATCH /api/case"`, `Some("~123")`);
/// `GET /api/v1/attachment/~9/download` → (`"GET /api/v1/attachment/download"`, `Some("~9")`).
fn route_name(method: &str, path: &str) -> (String, Option<String>) {
    if let Some(named) = records::route_name(method, path) {
        return named;
    }
    if let Some(id) = path.strip_prefix("/api/v1/attachment/").and_then(|rest| rest.strip_suffix("/download"))
        && !id.is_empty()
        && !id.contains('/')
    {
        return (format!("{method} /api/v1/attachment/download"), Some(id.to_owned()));
    }
    for prefix in ["/api/datastore/", "/api/v1/case/", "/api/case/"] {
        if let Some(id) = path.strip_prefix(prefix)
            && !id.is_empty()
            && !id.contains('/')
        {
            return (format!("{method} {}", prefix.trim_end_matches('/')), Some(id.to_owned()));
        }
    }
    (format!("{method} {path}"), None)
}

fn auth_error() -> Response {
    Response::json(401, &json!({"type": "AuthenticationError", "message": "Authentication failure"}))
}

fn not_found(what: &str) -> Response {
    Response::json(404, &json!({"type": "NotFoundError", "message": format!("{what} not found")}))
}

fn bad_request(message: String) -> Response {
    Response::json(400, &json!({"type": "BadRequest", "message": message}))
}

impl Shared {
    fn answer(&self, request: &Request, endpoint: &str, id: Option<&str>, bearer: BearerState) -> Response {
        match (self.version, endpoint) {
            (TheHiveVersion::V4, "GET /api/status") => {
                return Response::json(200, &json!({"versions": {"TheHive": "4.1.24-1"}}));
            }
            (TheHiveVersion::V5, "GET /api/v1/status") => {
                return Response::json(200, &json!({"version": "5.5.13-1", "config": {"authType": ["bearer"]}}));
            }
            // The other version's status route is unknown: routing answers before authentication.
            (TheHiveVersion::V4, "GET /api/v1/status") | (TheHiveVersion::V5, "GET /api/status") => {
                return not_found("route");
            }
            _ => {}
        }
        if bearer != BearerState::Valid {
            return auth_error();
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let mut state = lock(&self.state);
        let v4 = self.version == TheHiveVersion::V4;
        if let Some(unknown) = records::undefined_custom_field(&body, endpoint, &state.custom_fields) {
            return not_found(&format!("CustomField {unknown}"));
        }
        if let Some(response) = records::answer(&mut state, v4, endpoint, id, request, &body) {
            return response;
        }
        match (self.version, endpoint) {
            (TheHiveVersion::V4, "GET /api/user/current") | (TheHiveVersion::V5, "GET /api/v1/user/current") => {
                return Response::json(200, &json!({"_id": "~user1", "login": "mdr@soc.example", "name": "MDR"}));
            }
            (TheHiveVersion::V4, "GET /api/customField") | (TheHiveVersion::V5, "GET /api/v1/customField") => {
                return custom_field_list(&state.custom_fields, v4);
            }
            _ => {}
        }
        match self.version {
            TheHiveVersion::V4 => v4_route(&mut state, endpoint, id, &body),
            TheHiveVersion::V5 => self.v5_route(&mut state, endpoint, id, &body),
        }
    }

    fn v5_route(&self, state: &mut State, endpoint: &str, id: Option<&str>, body: &Value) -> Response {
        match (endpoint, id) {
            ("GET /api/v1/attachment/download", Some(id)) => self.download_v5(state, id),
            ("GET /api/v1/case", Some(id)) => match find_case(state, id) {
                Some(case) => Response::json(200, &case_v5(case)),
                None => not_found(&format!("Case {id}")),
            },
            ("PATCH /api/v1/case", Some(id)) => update_case_v5(state, id, body),
            ("POST /api/v1/query", None) => {
                let steps = body["query"].as_array().cloned().unwrap_or_default();
                let step = |name: &str| steps.iter().find(|s| s["_name"] == name).and_then(|s| s["idOrName"].as_str());
                if let Some(log_id) = step("getLog") {
                    let found: Vec<Value> = state.records.logs.iter().filter(|l| l["_id"] == log_id).cloned().collect();
                    return Response::json(200, &Value::Array(found));
                }
                observables(state, step("getCase"), &data_types(body))
            }
            _ => not_found("route"),
        }
    }

    /// The bytes of the attachment whose `_id` (or, if allowed, hash) is `id`.
    fn download_v5(&self, state: &State, id: &str) -> Response {
        let listed = state.records.logs.iter().filter_map(|l| l["attachments"].as_array()).flatten();
        let hash = listed.clone().find(|a| a["_id"] == id).and_then(|a| a["id"].as_str());
        let hash = hash.or_else(|| (self.accepts_hash_ids && listed.clone().any(|a| a["id"] == id)).then_some(id));
        match hash.and_then(|h| state.attachments.get(h)) {
            Some(bytes) => Response::raw(200, "application/octet-stream", bytes.clone()),
            None => not_found(&format!("Attachment {id}")),
        }
    }
}

fn v4_route(state: &mut State, endpoint: &str, id: Option<&str>, body: &Value) -> Response {
    match (endpoint, id) {
        ("GET /api/datastore", Some(id)) => match state.attachments.get(id) {
            Some(bytes) => Response::raw(200, "application/octet-stream", bytes.clone()),
            None => not_found(&format!("Attachment {id}")),
        },
        ("GET /api/case", Some(id)) => match find_case(state, id) {
            Some(case) => Response::json(200, &Value::Object(case.clone())),
            None => not_found(&format!("Case {id}")),
        },
        ("PATCH /api/case", Some(id)) => update_case_v4(state, id, body),
        ("POST /api/case/artifact/_search", None) => {
            let case_id = find_key(body, "_parent").and_then(|p| find_key(p, "_id")).and_then(Value::as_str);
            observables(state, case_id, &data_types(body))
        }
        _ => not_found("route"),
    }
}

/// The custom field definitions as each version lists them.
fn custom_field_list(names: &[String], v4: bool) -> Response {
    let list: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(n, name)| {
            let display = format!("Field {name}");
            if v4 {
                json!({"id": format!("~cf{n}"), "reference": name, "name": display, "type": "string", "mandatory": false})
            } else {
                json!({"_id": format!("~cf{n}"), "_type": "CustomField", "name": name, "displayName": display,
                       "group": "default", "type": "string", "mandatory": false})
            }
        })
        .collect();
    Response::json(200, &Value::Array(list))
}

fn find_case<'a>(state: &'a mut State, id: &str) -> Option<&'a mut Map<String, Value>> {
    state.cases.iter_mut().find(|c| c["_id"] == id).and_then(Value::as_object_mut)
}

/// A case as TheHive 5 answers it: custom fields as a list of `{name, value, order}`, whatever
/// shape they were created with.
fn case_v5(case: &Map<String, Value>) -> Value {
    let mut case = case.clone();
    if let Some(Value::Object(fields)) = case.get("customFields") {
        let list: Vec<Value> = fields
            .iter()
            .enumerate()
            .map(|(order, (name, value))| json!({"name": name, "value": value, "order": order}))
            .collect();
        case.insert("customFields".to_owned(), Value::Array(list));
    }
    Value::Object(case)
}

fn update_case_v4(state: &mut State, id: &str, body: &Value) -> Response {
    let Some(fields) = body.as_object() else { return bad_request("body must be a JSON object".to_owned()) };
    if fields.get("status").and_then(Value::as_str) == Some("Resolved") {
        let resolution = fields.get("resolutionStatus").and_then(Value::as_str).unwrap_or("");
        if !TH4_RESOLUTIONS.contains(&resolution) {
            return bad_request(format!("resolutionStatus {resolution:?} is invalid for a resolved case"));
        }
    }
    let Some(case) = find_case(state, id) else { return not_found(&format!("Case {id}")) };
    case.extend(fields.clone());
    Response::json(200, &Value::Object(case.clone()))
}

fn update_case_v5(state: &mut State, id: &str, body: &Value) -> Response {
    let Some(fields) = body.as_object() else { return bad_request("body must be a JSON object".to_owned()) };
    let mut fields = fields.clone();
    if let Some(status) = fields.get("status") {
        let stage = status.as_str().and_then(|s| state.case_statuses.iter().find(|(name, _)| name == s));
        let Some((_, stage)) = stage else { return bad_request(format!("status {status} is not a case status")) };
        fields.insert("stage".to_owned(), stage.clone().into());
    }
    let Some(case) = find_case(state, id) else { return not_found(&format!("Case {id}")) };
    case.extend(fields);
    Response::raw(204, "text/plain", Vec::new())
}

fn observables(state: &State, case_id: Option<&str>, types: &[String]) -> Response {
    let Some(case_id) = case_id else { return bad_request("no case in the query".to_owned()) };
    if !state.cases.iter().any(|c| c["_id"] == case_id) {
        return not_found(&format!("Case {case_id}"));
    }
    let found: Vec<Value> = state
        .observables
        .iter()
        .filter(|o| o["case"] == case_id)
        .filter(|o| types.is_empty() || o["dataType"].as_str().is_some_and(|t| types.iter().any(|x| x == t)))
        .cloned()
        .collect();
    Response::json(200, &Value::Array(found))
}

/// The `_values` of an `_in` filter on `dataType`, anywhere in the query.
fn data_types(query: &Value) -> Vec<String> {
    let filter = find_key(query, "_in").filter(|f| f["_field"] == "dataType");
    let values = filter.and_then(|f| f["_values"].as_array());
    values.map(|v| v.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

/// The first value under `key`, searching depth-first.
fn find_key<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(key).or_else(|| map.values().find_map(|v| find_key(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_key(v, key)),
        _ => None,
    }
}
