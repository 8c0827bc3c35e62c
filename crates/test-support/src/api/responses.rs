//! `responses/list`, `response/update`, `responses/update` (docs/mdr-api.md#responses).

use serde_json::{Value, json};

use super::{Ctx, Fail, Outcome, bad_request, conflict, incident_idx, list_reply, not_found, ok, opt_strs, req_str};
use crate::ids::now_ms;
use crate::store::Object;

/// The statuses a customer decision may be taken on: the console's "New", and the others MDR has
/// shown for proposed responses (`Pending`, `InProgress`, `Created`), which MDR_ApproveResponse
/// confirmed there. `Confirmed`, `Declined` and anything unknown are refused (409).
const PENDING: [&str; 4] = ["New", "Pending", "InProgress", "Created"];

pub(super) fn list(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let idx = incident_idx(ctx, req_str(body, "incident_id")?)?;
    let items = ctx.store.incidents[idx]["responses"].as_array().cloned().unwrap_or_default();
    list_reply(items, body)
}

/// Validated `status` + `comment` of an update request.
fn decision(body: &Object) -> Result<(String, String), Fail> {
    let status = req_str(body, "status")?;
    if status != "Confirmed" && status != "Declined" {
        return Err(bad_request(format!("invalid status: {status}")));
    }
    Ok((status.to_owned(), req_str(body, "comment")?.to_owned()))
}

/// Location of a response that exists and is still pending.
fn pending(ctx: &Ctx<'_>, response_id: &str) -> Result<(usize, usize), Fail> {
    let (i, r) = ctx
        .store
        .find_child("responses", "response_id", response_id)
        .ok_or_else(|| not_found(format!("unknown response_id: {response_id}")))?;
    let status = ctx.store.incidents[i]["responses"][r]["status"].as_str().unwrap_or("");
    if !PENDING.contains(&status) {
        return Err(conflict("response is not pending"));
    }
    Ok((i, r))
}

fn apply(ctx: &mut Ctx<'_>, (i, r): (usize, usize), status: &str, comment: &str) -> Value {
    let resp = &mut ctx.store.incidents[i]["responses"][r];
    resp["status"] = json!(status);
    resp["comment"] = json!(comment);
    resp["update_time"] = json!(now_ms());
    let updated = resp.clone();
    let incident_id = ctx.store.incidents[i]["incident_id"].as_str().unwrap_or("").to_owned();
    ctx.store.record(&incident_id, ctx.author, "update", "incident_response", &updated);
    ctx.store.touch(i, ctx.author);
    updated
}

pub(super) fn update_one(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let response_id = req_str(body, "response_id")?;
    let (status, comment) = decision(body)?;
    let loc = pending(ctx, response_id)?;
    ok(apply(ctx, loc, &status, &comment))
}

/// All-or-nothing: every id must exist and be pending before anything changes.
pub(super) fn update_many(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let ids = opt_strs(body, "responses_ids")?.ok_or_else(|| bad_request("missing required field: responses_ids"))?;
    if ids.is_empty() {
        return Err(bad_request("responses_ids must not be empty"));
    }
    let (status, comment) = decision(body)?;
    let locs = ids.iter().map(|id| pending(ctx, id)).collect::<Result<Vec<_>, _>>()?;
    let updated: Vec<Value> = locs.into_iter().map(|loc| apply(ctx, loc, &status, &comment)).collect();
    ok(Value::Array(updated))
}
