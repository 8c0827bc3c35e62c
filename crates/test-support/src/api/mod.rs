//! Endpoint handlers (docs/mdr-api.md) over the in-memory [`Store`].

mod assets;
mod attachments;
mod comments;
mod incidents;
mod responses;

use std::cmp::Ordering;

use serde_json::{Value, json};

use crate::http::{Request, Response};
use crate::store::{Object, Store};

/// What a handler needs besides the store.
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a mut Store,
    /// The API connection name: `author_name` of everything created through the API.
    pub(crate) author: &'a str,
}

/// A refused request: status + `{"message"}`.
#[derive(Debug)]
pub(crate) struct Fail {
    status: u16,
    message: String,
}

pub(crate) type Outcome = Result<Response, Fail>;

pub(crate) fn bad_request(message: impl Into<String>) -> Fail {
    Fail { status: 400, message: message.into() }
}

pub(crate) fn not_found(message: impl Into<String>) -> Fail {
    Fail { status: 404, message: message.into() }
}

pub(crate) fn conflict(message: impl Into<String>) -> Fail {
    Fail { status: 409, message: message.into() }
}

pub(crate) fn ok(value: Value) -> Outcome {
    Ok(Response::json(200, &value))
}

/// Routes an authenticated request for `endpoint` (`"entity/action"`).
pub(crate) fn handle(endpoint: &str, request: &Request, ctx: &mut Ctx<'_>) -> Response {
    let outcome = if endpoint == "attachments/upload" {
        attachments::upload(request, ctx)
    } else {
        json_body(&request.body).and_then(|body| dispatch(endpoint, &body, ctx))
    };
    outcome.unwrap_or_else(|f| Response::error(f.status, &f.message))
}

fn dispatch(endpoint: &str, body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    match endpoint {
        "incidents/list" => incidents::list(body, ctx),
        "incidents/count" => incidents::count(body, ctx),
        "incidents/details" => incidents::details(body, ctx),
        "incidents/create" => incidents::create(body, ctx),
        "incidents/close" => incidents::close(body, ctx),
        "incidents/history" => incidents::history(body, ctx),
        "comments/list" => comments::list(body, ctx),
        "comments/create" => comments::create(body, ctx),
        "comments/delete" => comments::delete(body, ctx),
        "attachments/list" => attachments::list(body, ctx),
        "attachments/download" => attachments::download(body, ctx),
        "responses/list" => responses::list(body, ctx),
        "response/update" => responses::update_one(body, ctx),
        "responses/update" => responses::update_many(body, ctx),
        "assets/list" => assets::list(body, ctx),
        "assets/count" => assets::count(body, ctx),
        "assets/details" => assets::details(body, ctx),
        _ => Err(not_found(format!("unknown endpoint {endpoint}"))),
    }
}

pub(crate) use attachments::journal_body;

/// Bodies are JSON objects whatever the Content-Type says (docs/mdr-api.md#transport).
fn json_body(raw: &[u8]) -> Result<Object, Fail> {
    match serde_json::from_slice(raw) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(bad_request("request body must be a JSON object")),
    }
}

/// A required string field.
pub(crate) fn req_str<'a>(body: &'a Object, key: &str) -> Result<&'a str, Fail> {
    match body.get(key) {
        None | Some(Value::Null) => Err(bad_request(format!("missing required field: {key}"))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad_request(format!("field {key} must be a string"))),
    }
}

/// A required, non-empty string field.
pub(crate) fn req_nonempty(body: &Object, key: &str) -> Result<String, Fail> {
    let s = req_str(body, key)?;
    if s.trim().is_empty() {
        return Err(bad_request(format!("field {key} must not be empty")));
    }
    Ok(s.to_owned())
}

/// An optional boolean field.
pub(crate) fn opt_bool(body: &Object, key: &str) -> Result<bool, Fail> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad_request(format!("field {key} must be a boolean"))),
    }
}

/// An optional array-of-strings field.
pub(crate) fn opt_strs(body: &Object, key: &str) -> Result<Option<Vec<String>>, Fail> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad_request(format!("field {key} must be an array of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad_request(format!("field {key} must be an array of strings"))),
    }
}

/// An optional integer field.
pub(crate) fn opt_int(body: &Object, key: &str) -> Result<Option<i64>, Fail> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| bad_request(format!("field {key} must be an integer"))),
    }
}

/// Checks an optional enum-valued string array against the allowed values.
pub(crate) fn opt_enum_strs(body: &Object, key: &str, allowed: &[&str]) -> Result<Option<Vec<String>>, Fail> {
    let values = opt_strs(body, key)?;
    if let Some(bad) = values.iter().flatten().find(|v| !allowed.contains(&v.as_str())) {
        return Err(bad_request(format!("invalid value in {key}: {bad}")));
    }
    Ok(values)
}

/// Sort (`"field:asc|desc"`), 1-based page/page_size, then `fields` projection.
pub(crate) fn list_reply(mut items: Vec<Value>, body: &Object) -> Outcome {
    sort(&mut items, body)?;
    let items = paginate(items, body)?;
    let fields = opt_strs(body, "fields")?;
    let projected: Vec<Value> = items.into_iter().map(|v| project(v, fields.as_deref())).collect();
    ok(Value::Array(projected))
}

fn sort(items: &mut [Value], body: &Object) -> Result<(), Fail> {
    let Some(spec) = body.get("sort").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let spec = spec.as_str().ok_or_else(|| bad_request("field sort must be a string"))?;
    let (field, dir) = spec.split_once(':').unwrap_or((spec, "asc"));
    let desc = match dir {
        "asc" => false,
        "desc" => true,
        _ => return Err(bad_request(format!("invalid sort direction: {dir}"))),
    };
    items.sort_by(|a, b| {
        let ord = compare(&a[field], &b[field]);
        if desc { ord.reverse() } else { ord }
    });
    Ok(())
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Items per page when a list request names no `page_size`.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 10;

fn paginate(items: Vec<Value>, body: &Object) -> Result<Vec<Value>, Fail> {
    let page = opt_int(body, "page")?;
    let size = opt_int(body, "page_size")?;
    if page.is_some_and(|p| p < 1) || size.is_some_and(|s| s < 1) {
        return Err(bad_request("page and page_size must be positive integers"));
    }
    // No page size: a small default, as an unknown server might have (MDR documents none), so a
    // client that expects everything in one answer fails against the stand-in.
    let size = size.map_or(DEFAULT_PAGE_SIZE, |size| usize::try_from(size).unwrap_or(usize::MAX));
    let page = usize::try_from(page.unwrap_or(1)).unwrap_or(usize::MAX);
    let skip = (page - 1).saturating_mul(size);
    Ok(items.into_iter().skip(skip).take(size).collect())
}

/// Keeps only `fields` (all fields when absent).
pub(crate) fn project(v: Value, fields: Option<&[String]>) -> Value {
    match (v, fields) {
        (Value::Object(o), Some(fields)) => {
            Value::Object(o.into_iter().filter(|(k, _)| fields.iter().any(|f| f == k)).collect())
        }
        (v, _) => v,
    }
}

/// `{"count": n}`.
pub(crate) fn count_reply(n: usize) -> Outcome {
    ok(json!({ "count": n }))
}

/// Looks up an incident index or answers 404.
pub(crate) fn incident_idx(ctx: &Ctx<'_>, incident_id: &str) -> Result<usize, Fail> {
    ctx.store.incident_index(incident_id).ok_or_else(|| not_found(format!("unknown incident_id: {incident_id}")))
}
