//! `attachments/*` (docs/mdr-api.md#attachments): multipart upload, list, raw-bytes download.

use serde_json::{Value, json};

use super::comments::{CLIENT_ORIGIN, push_child};
use super::{Ctx, Fail, Outcome, bad_request, incident_idx, list_reply, not_found, opt_bool, req_str};
use crate::http::{Request, Response};
use crate::ids::{new_id, now_ms};
use crate::multipart::{self, Part};
use crate::store::Object;

pub(super) fn list(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let idx = incident_idx(ctx, req_str(body, "incident_id")?)?;
    opt_bool(body, "markdown_to_html")?;
    let items = ctx.store.incidents[idx]["attachments"].as_array().cloned().unwrap_or_default();
    list_reply(items, body)
}

pub(super) fn download(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let id = req_str(body, "attachment_id")?;
    let att = ctx
        .store
        .child("attachments", "attachment_id", id)
        .ok_or_else(|| not_found(format!("unknown attachment_id: {id}")))?;
    let name = att["full_name"].as_str().unwrap_or("attachment").replace('"', "");
    let bytes = ctx.store.files.get(id).cloned().unwrap_or_default();
    Ok(Response::raw(200, "application/octet-stream", bytes)
        .with_header("Content-Disposition", &format!("attachment; filename=\"{name}\"")))
}

pub(super) fn upload(request: &Request, ctx: &mut Ctx<'_>) -> Outcome {
    let parts = parse_parts(request)?;
    let file = parts.iter().find(|p| p.name == "file").ok_or_else(|| bad_request("missing multipart part: file"))?;
    let meta = meta_of(&parts)?;
    let incident_id = req_str(&meta, "incident_id")?;
    let caption = match meta.get("caption") {
        None | Some(Value::Null) => String::new(),
        Some(_) => req_str(&meta, "caption")?.to_owned(),
    };
    let idx = incident_idx(ctx, incident_id)?;
    let attachment_id = new_id();
    let attachment = json!({
        "attachment_id": attachment_id,
        "author_name": ctx.author,
        "caption": caption,
        "creation_time": now_ms(),
        "file_size": file.data.len(),
        "full_name": file.filename.clone().unwrap_or_else(|| "file".to_owned()),
        "link": format!("https://mdr.kaspersky.com/{incident_id}/attachments/{attachment_id}"),
        "origin": CLIENT_ORIGIN,
        "was_read": true,
    });
    ctx.store.files.insert(attachment_id, file.data.clone());
    push_child(ctx, idx, "attachments", "incident_attachment", &attachment);
    Ok(Response::json(200, &attachment))
}

fn parse_parts(request: &Request) -> Result<Vec<Part>, Fail> {
    let boundary = request
        .header("content-type")
        .and_then(multipart::boundary)
        .ok_or_else(|| bad_request("attachments/upload expects multipart/form-data"))?;
    multipart::parse(&request.body, &boundary).ok_or_else(|| bad_request("malformed multipart body"))
}

/// The `meta` part: a JSON object carried as a string form field.
fn meta_of(parts: &[Part]) -> Result<Object, Fail> {
    let meta = parts.iter().find(|p| p.name == "meta").ok_or_else(|| bad_request("missing multipart part: meta"))?;
    match serde_json::from_slice(&meta.data) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(bad_request("meta must be a JSON object")),
    }
}

/// What the journal records for an upload: `{"meta": {...}, "file": {"name", "size"}, "parts": [names in
/// the order sent]}` (Python `requests` sends `meta` before `file`; tests check clients do too).
pub(crate) fn journal_body(request: &Request) -> Value {
    let Ok(parts) = parse_parts(request) else {
        return Value::Null;
    };
    let meta = parts
        .iter()
        .find(|p| p.name == "meta")
        .and_then(|p| serde_json::from_slice(&p.data).ok())
        .unwrap_or(Value::Null);
    let file = parts
        .iter()
        .find(|p| p.name == "file")
        .map_or(Value::Null, |f| json!({"name": f.filename, "size": f.data.len()}));
    let order: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    json!({"meta": meta, "file": file, "parts": order})
}
