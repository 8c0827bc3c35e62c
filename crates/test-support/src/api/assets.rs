//! `assets/*` (docs/mdr-api.md#assets).

use serde_json::Value;

use super::{
    Ctx, Fail, Outcome, count_reply, list_reply, not_found, ok, opt_enum_strs, opt_int, opt_strs, project, req_str,
};
use crate::store::{Object, str_of};

const STATUSES: &[&str] = &["ABSENT", "CRITICAL", "OFFLINE", "OK", "WARNING"];

/// One `assets/list` / `assets/count` filter condition (docs/mdr-api.md#assets).
enum Cond {
    OneOf(&'static str, Vec<String>),
    Bool(&'static str, bool),
    Time(&'static str, bool, i64),
    Search(String),
    Incidents(Vec<String>),
}

fn parse(body: &Object) -> Result<Vec<Cond>, Fail> {
    let mut conds = Vec::new();
    for (key, field) in [("host_names", "host_name"), ("tenants_names", "tenant_name")] {
        if let Some(v) = opt_strs(body, key)? {
            conds.push(Cond::OneOf(field, v));
        }
    }
    if let Some(v) = opt_enum_strs(body, "statuses", STATUSES)? {
        conds.push(Cond::OneOf("status", v));
    }
    for key in ["domain", "os_version"] {
        if body.get(key).is_some_and(|v| !v.is_null()) {
            conds.push(Cond::OneOf(key, vec![req_str(body, key)?.to_owned()]));
        }
    }
    if let Some(b) = body.get("is_isolated").filter(|v| !v.is_null()) {
        let b = b.as_bool().ok_or_else(|| super::bad_request("field is_isolated must be a boolean"))?;
        conds.push(Cond::Bool("isolation", b));
    }
    for (key, field, is_min) in [
        ("min_first_seen", "first_seen", true),
        ("max_first_seen", "first_seen", false),
        ("min_last_seen", "last_seen", true),
        ("max_last_seen", "last_seen", false),
    ] {
        if let Some(t) = opt_int(body, key)? {
            conds.push(Cond::Time(field, is_min, t));
        }
    }
    if body.get("search_phrase").is_some_and(|v| !v.is_null()) {
        conds.push(Cond::Search(req_str(body, "search_phrase")?.to_lowercase()));
    }
    if let Some(v) = opt_strs(body, "related_incidents_ids")? {
        conds.push(Cond::Incidents(v));
    }
    opt_int(body, "version")?;
    Ok(conds)
}

fn holds(cond: &Cond, asset: &Object, ctx: &Ctx<'_>) -> bool {
    match cond {
        // Host names compare case-insensitively (Windows names).
        Cond::OneOf(field, wanted) => wanted.iter().any(|w| w.eq_ignore_ascii_case(str_of(asset, field))),
        Cond::Bool(field, b) => asset.get(*field).and_then(Value::as_bool).unwrap_or(false) == *b,
        Cond::Time(field, is_min, t) => {
            let v = asset.get(*field).and_then(Value::as_i64).unwrap_or(0);
            if *is_min { v >= *t } else { v <= *t }
        }
        Cond::Search(s) => {
            ["host_name", "asset_id", "domain"].iter().any(|k| str_of(asset, k).to_lowercase().contains(s))
        }
        Cond::Incidents(ids) => ids.iter().any(|id| {
            ctx.store.incident_index(id).is_some_and(|i| {
                let suffix = format!(":{}", str_of(asset, "asset_id"));
                ctx.store.incidents[i]["affected_hosts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|h| h.as_str().is_some_and(|h| h.ends_with(&suffix)))
            })
        }),
    }
}

fn filtered(body: &Object, ctx: &Ctx<'_>) -> Result<Vec<Value>, Fail> {
    let conds = parse(body)?;
    Ok(ctx
        .store
        .assets
        .iter()
        .filter(|a| conds.iter().all(|c| holds(c, a, ctx)))
        .map(|a| Value::Object(a.clone()))
        .collect())
}

pub(super) fn list(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    list_reply(filtered(body, ctx)?, body)
}

pub(super) fn count(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    count_reply(filtered(body, ctx)?.len())
}

pub(super) fn details(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let id = req_str(body, "asset_id")?;
    let asset = ctx.store.asset(id).cloned().ok_or_else(|| not_found(format!("unknown asset_id: {id}")))?;
    let fields = opt_strs(body, "fields")?;
    ok(project(Value::Object(asset), fields.as_deref()))
}
