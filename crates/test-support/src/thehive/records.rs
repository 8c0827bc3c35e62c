//! Cases, tasks and task logs of the TheHive stand-in, as `mdr-sync` (thehive4py 1.x / 2.x
//! style) writes and reads them. TheHive 4: `POST /api/case`, `POST /api/case/_search`,
//! `POST /api/case/{id}/task`, `POST /api/case/task/_search`, `POST /api/case/task/{id}/log`
//! (JSON or multipart `_json` + `attachment`), `POST /api/case/task/log/_search`,
//! `PATCH /api/case/task/{id}`. TheHive 5: `POST /api/v1/case`, `POST /api/v1/case/{id}/task`,
//! `POST /api/v1/task/{id}/log` (multipart `attachments`), `PATCH /api/v1/task/{id}`,
//! `GET /api/v1/status`, and `POST /api/v1/query` with `listCase`/`getCase`/`tasks`/`getTask`/
//! `logs`, `filter` `_eq` and `page`. Lists without a page (v1 `page` step, v0 `range`) answer only
//! the first [`DEFAULT_PAGE`] items, so a client that does not page is caught.

use serde_json::{Value, json};

use super::{State, bad_request, not_found};
use crate::http::{Request, Response};
use crate::multipart;

pub(super) const DEFAULT_PAGE: usize = 10;

#[derive(Default)]
pub(super) struct Records {
    pub(super) tasks: Vec<Value>,
    pub(super) logs: Vec<Value>,
    next: u64,
}

impl Records {
    pub(super) fn with_logs(logs: Vec<Value>) -> Records {
        Records { logs, ..Records::default() }
    }

    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("~{prefix}{}", self.next)
    }
}

/// Journal names for the routes below, ids left out.
pub(super) fn route_name(method: &str, path: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let named = |name: &str, id: Option<&str>| Some((format!("{method} {name}"), id.map(str::to_owned)));
    match parts.as_slice() {
        ["api", "case", "_search"] => named("/api/case/_search", None),
        ["api", "case", "task", "_search"] => named("/api/case/task/_search", None),
        ["api", "case", "task", "log", "_search"] => named("/api/case/task/log/_search", None),
        ["api", "case", "task", id, "log"] => named("/api/case/task/log", Some(id)),
        ["api", "case", "task", id] => named("/api/case/task", Some(id)),
        ["api", "case", id, "task"] => named("/api/case/task/create", Some(id)),
        ["api", "v1", "case", id, "task"] => named("/api/v1/case/task", Some(id)),
        ["api", "v1", "task", id, "log"] => named("/api/v1/task/log", Some(id)),
        ["api", "v1", "task", id] => named("/api/v1/task", Some(id)),
        _ => None,
    }
}

/// Answers the routes of this module; `None` for the others (left to the caller).
pub(super) fn answer(
    state: &mut State,
    v4: bool,
    endpoint: &str,
    id: Option<&str>,
    request: &Request,
    body: &Value,
) -> Option<Response> {
    let response = match (endpoint, id) {
        ("POST /api/case", None) if v4 => create_case(state, true, body),
        ("POST /api/v1/case", None) if !v4 => create_case(state, false, body),
        ("POST /api/case/_search", None) if v4 => {
            let found = state.cases.iter().filter(|c| matches_v0(c, &body["query"])).cloned().collect();
            paged_v0(found, request)
        }
        ("POST /api/case/task/_search", None) if v4 => {
            let parent = body["query"]["_parent"]["_query"]["_id"].as_str().unwrap_or("");
            paged_v0(children(&state.records.tasks, "case", parent), request)
        }
        ("POST /api/case/task/log/_search", None) if v4 => {
            let parent = body["query"]["_parent"]["_query"]["_id"].as_str().unwrap_or("");
            paged_v0(children(&state.records.logs, "task", parent), request)
        }
        ("POST /api/case/task/create", Some(case)) if v4 => create_task(state, case, body),
        ("POST /api/v1/case/task", Some(case)) if !v4 => create_task(state, case, body),
        ("POST /api/case/task/log", Some(task)) if v4 => create_log(state, task, request, "attachment"),
        ("POST /api/v1/task/log", Some(task)) if !v4 => create_log(state, task, request, "attachments"),
        ("PATCH /api/case/task", Some(task)) if v4 => update_task(state, task, body, 200),
        ("PATCH /api/v1/task", Some(task)) if !v4 => update_task(state, task, body, 204),
        ("POST /api/v1/query", None) if !v4 => return query(state, body),
        _ => return None,
    };
    Some(response)
}

/// The value of the case's custom field, in the v0 map (`{name: {type: v}}`), a plain map
/// (`{name: v}`) or the v1 list (`[{name, value}]`).
fn custom_field<'a>(case: &'a Value, name: &str) -> Option<&'a Value> {
    match &case["customFields"] {
        Value::Object(map) => {
            let v = map.get(name)?;
            match v {
                Value::Object(typed) => typed.iter().find(|(k, v)| *k != "order" && !v.is_null()).map(|(_, v)| v),
                v => Some(v),
            }
        }
        Value::Array(list) => list.iter().find(|f| f["name"] == name).map(|f| &f["value"]),
        _ => None,
    }
}

/// The custom field names a case carries, in the map or the list shape.
pub(super) fn custom_field_names(case: &Value) -> Vec<String> {
    match &case["customFields"] {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(list) => list.iter().filter_map(|f| f["name"].as_str()).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// The first custom field a case creation or update names that is not in `defined`.
pub(super) fn undefined_custom_field(body: &Value, endpoint: &str, defined: &[String]) -> Option<String> {
    let writes_case = ["POST /api/case", "POST /api/v1/case", "PATCH /api/case", "PATCH /api/v1/case"];
    if !writes_case.contains(&endpoint) {
        return None;
    }
    custom_field_names(body).into_iter().find(|name| !defined.contains(name))
}

/// A `customFields.<name>[.<type>]` or `_id` equality.
fn field_equals(case: &Value, field: &str, value: &Value) -> bool {
    match field.strip_prefix("customFields.") {
        Some(rest) => {
            let name = rest.split('.').next().unwrap_or(rest);
            custom_field(case, name) == Some(value)
        }
        None => &case[field] == value,
    }
}

fn matches_v0(case: &Value, query: &Value) -> bool {
    if let Some(all) = query["_and"].as_array() {
        return all.iter().all(|q| matches_v0(case, q));
    }
    match query["_field"].as_str() {
        Some(field) => field_equals(case, field, &query["_value"]),
        None => query.is_null() || query.as_object().is_some_and(|o| o.is_empty()),
    }
}

fn children(items: &[Value], parent_key: &str, parent: &str) -> Vec<Value> {
    items.iter().filter(|i| i[parent_key] == parent).cloned().collect()
}

/// `range=all`, `range=a-b`, else the first [`DEFAULT_PAGE`].
fn paged_v0(items: Vec<Value>, request: &Request) -> Response {
    let range = request.path.split_once('?').and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("range=")));
    let items: Vec<Value> = match range {
        Some("all") => items,
        Some(r) => {
            let (a, b) = r.split_once('-').unwrap_or(("0", r));
            let (a, b) = (a.parse().unwrap_or(0), b.parse().unwrap_or(DEFAULT_PAGE));
            items.into_iter().skip(a).take(b.saturating_sub(a)).collect()
        }
        None => items.into_iter().take(DEFAULT_PAGE).collect(),
    };
    Response::json(200, &Value::Array(items))
}

fn create_case(state: &mut State, v4: bool, body: &Value) -> Response {
    let Some(fields) = body.as_object() else { return bad_request("body must be a JSON object".to_owned()) };
    if fields.get("title").and_then(Value::as_str).is_none_or(|t| t.trim().is_empty()) {
        return bad_request("title is required".to_owned());
    }
    let id = state.records.id("case");
    let number = state.cases.len() as i64 + 1;
    let mut case = fields.clone();
    case.insert("_id".to_owned(), json!(id));
    case.insert("id".to_owned(), json!(id));
    if v4 {
        case.insert("caseId".to_owned(), json!(number));
        case.insert("status".to_owned(), json!("Open"));
    } else {
        case.insert("number".to_owned(), json!(number));
        case.insert("status".to_owned(), json!("New"));
        case.insert("stage".to_owned(), json!("New"));
    }
    let case = Value::Object(case);
    state.cases.push(case.clone());
    Response::json(201, &case)
}

fn create_task(state: &mut State, case_id: &str, body: &Value) -> Response {
    if !state.cases.iter().any(|c| c["_id"] == case_id) {
        return not_found(&format!("Case {case_id}"));
    }
    let Some(fields) = body.as_object() else { return bad_request("body must be a JSON object".to_owned()) };
    let id = state.records.id("task");
    let mut task = fields.clone();
    task.insert("_id".to_owned(), json!(id));
    task.insert("id".to_owned(), json!(id));
    task.insert("case".to_owned(), json!(case_id));
    task.entry("status").or_insert(json!("Waiting"));
    let task = Value::Object(task);
    state.records.tasks.push(task.clone());
    Response::json(201, &task)
}

fn create_log(state: &mut State, task_id: &str, request: &Request, file_part: &str) -> Response {
    if !state.records.tasks.iter().any(|t| t["_id"] == task_id) {
        return not_found(&format!("Task {task_id}"));
    }
    let boundary = request.header("content-type").and_then(multipart::boundary);
    let (fields, files) = match boundary {
        None => (serde_json::from_slice::<Value>(&request.body).unwrap_or(Value::Null), Vec::new()),
        Some(boundary) => {
            let Some(parts) = multipart::parse(&request.body, &boundary) else {
                return bad_request("malformed multipart body".to_owned());
            };
            let json = parts.iter().find(|p| p.name == "_json").and_then(|p| serde_json::from_slice(&p.data).ok());
            if parts.iter().any(|p| p.filename.is_some() && p.name != file_part) {
                return bad_request(format!("files go in the `{file_part}` part"));
            }
            let files: Vec<Value> =
                parts.into_iter().filter(|p| p.name == file_part).map(|p| store_file(state, p)).collect();
            (json.unwrap_or(Value::Null), files)
        }
    };
    let Some(message) = fields["message"].as_str().filter(|m| !m.trim().is_empty()) else {
        return bad_request("message is required".to_owned());
    };
    let id = state.records.id("log");
    let log = json!({"_id": id, "id": id, "task": task_id, "message": message, "attachments": files});
    state.records.logs.push(log.clone());
    Response::json(201, &log)
}

/// Keeps the file where the download routes find it, and describes it as TheHive lists it.
fn store_file(state: &mut State, part: multipart::Part) -> Value {
    let (id, key) = (state.records.id("attachment"), state.records.id("file"));
    let described = json!({"_id": id, "id": key, "name": part.filename, "size": part.data.len(),
                           "contentType": "application/octet-stream"});
    state.attachments.insert(key, part.data);
    described
}

fn update_task(state: &mut State, task_id: &str, body: &Value, ok: u16) -> Response {
    let Some(fields) = body.as_object() else { return bad_request("body must be a JSON object".to_owned()) };
    let Some(task) = state.records.tasks.iter_mut().find(|t| t["_id"] == task_id).and_then(Value::as_object_mut) else {
        return not_found(&format!("Task {task_id}"));
    };
    task.extend(fields.clone());
    if ok == 204 {
        Response::raw(204, "text/plain", Vec::new())
    } else {
        Response::json(200, &Value::Object(task.clone()))
    }
}

/// v1 query; `None` for the observable and attachment-log (`getLog`) queries the parent module answers.
fn query(state: &State, body: &Value) -> Option<Response> {
    let steps = body["query"].as_array()?;
    if steps.iter().any(|s| s["_name"] == "observables" || s["_name"] == "getLog") {
        return None;
    }
    let mut items: Vec<Value> = Vec::new();
    let mut paged = false;
    for step in steps {
        match step["_name"].as_str().unwrap_or("") {
            "listCase" => items = state.cases.clone(),
            "getCase" => {
                let id = step["idOrName"].as_str().unwrap_or("");
                items = state.cases.iter().filter(|c| c["_id"] == id).cloned().collect();
                if items.is_empty() {
                    return Some(not_found(&format!("Case {id}")));
                }
            }
            "getTask" => {
                let id = step["idOrName"].as_str().unwrap_or("");
                items = state.records.tasks.iter().filter(|t| t["_id"] == id).cloned().collect();
                if items.is_empty() {
                    return Some(not_found(&format!("Task {id}")));
                }
            }
            "tasks" => {
                let ids: Vec<Value> = items.iter().map(|c| c["_id"].clone()).collect();
                items = state.records.tasks.iter().filter(|t| ids.contains(&t["case"])).cloned().collect();
            }
            "logs" => {
                let ids: Vec<Value> = items.iter().map(|t| t["_id"].clone()).collect();
                items = state.records.logs.iter().filter(|l| ids.contains(&l["task"])).cloned().collect();
            }
            "filter" => {
                let eq = &step["_eq"];
                let Some(field) = eq["_field"].as_str() else {
                    return Some(bad_request("only `_eq` filters are supported".to_owned()));
                };
                items.retain(|i| field_equals(i, field, &eq["_value"]));
            }
            "page" => {
                let from = step["from"].as_u64().unwrap_or(0) as usize;
                let to = step["to"].as_u64().unwrap_or(0) as usize;
                items = items.into_iter().skip(from).take(to.saturating_sub(from)).collect();
                paged = true;
            }
            other => return Some(bad_request(format!("unknown query step {other:?}"))),
        }
    }
    if !paged {
        items.truncate(DEFAULT_PAGE);
    }
    Some(Response::json(200, &Value::Array(items)))
}
