//! `comments/*` (docs/mdr-api.md#comments).

use serde_json::{Value, json};

use super::{Ctx, Outcome, incident_idx, list_reply, not_found, ok, opt_bool, req_nonempty, req_str};
use crate::ids::{new_id, now_ms};
use crate::markdown;
use crate::store::Object;

/// `origin` of API-created children; the real value is unknown (docs/mdr-api.md#open-questions).
pub(super) const CLIENT_ORIGIN: &str = "Client";

pub(super) fn list(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let idx = incident_idx(ctx, req_str(body, "incident_id")?)?;
    opt_bool(body, "markdown_to_html")?;
    let items = ctx.store.incidents[idx]["comments"].as_array().cloned().unwrap_or_default();
    list_reply(items, body)
}

pub(super) fn create(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let incident_id = req_nonempty(body, "incident_id")?;
    let text = req_nonempty(body, "text")?;
    let to_html = opt_bool(body, "markdown_to_html")?;
    let idx = incident_idx(ctx, &incident_id)?;
    let comment = json!({
        "comment_id": new_id(),
        "author_name": ctx.author,
        "text": if to_html { markdown::to_html(&text) } else { text },
        "creation_time": now_ms(),
        "origin": CLIENT_ORIGIN,
        "was_read": true,
    });
    push_child(ctx, idx, "comments", "incident_comment", &comment);
    ok(comment)
}

/// Appends a child object and writes the two history records (child `create` + incident `update`).
pub(super) fn push_child(ctx: &mut Ctx<'_>, idx: usize, list: &str, kind: &str, child: &Value) {
    let inc = &mut ctx.store.incidents[idx];
    if let Some(items) = inc.get_mut(list).and_then(Value::as_array_mut) {
        items.push(child.clone());
    }
    let id = inc["incident_id"].as_str().unwrap_or("").to_owned();
    ctx.store.record(&id, ctx.author, "create", kind, child);
    ctx.store.touch(idx, ctx.author);
}

/// Deletes any comment (whether SOC comments may be deleted is unknown; the sandbox allows it).
pub(super) fn delete(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let comment_id = req_str(body, "comment_id")?;
    let (idx, pos) = ctx
        .store
        .find_child("comments", "comment_id", comment_id)
        .ok_or_else(|| not_found(format!("unknown comment_id: {comment_id}")))?;
    if let Some(items) = ctx.store.incidents[idx].get_mut("comments").and_then(Value::as_array_mut) {
        items.remove(pos);
    }
    ctx.store.touch(idx, ctx.author);
    ok(json!({}))
}
