//! `incidents/*` (docs/mdr-api.md#incidents).

use serde_json::{Value, json};

use super::{
    Ctx, Fail, Outcome, bad_request, conflict, count_reply, incident_idx, list_reply, ok, opt_bool, opt_enum_strs,
    opt_int, opt_strs, project, req_str,
};
use crate::ids::{new_id, now_ms};
use crate::store::{Object, str_of};

const STATUSES: &[&str] = &["Open", "On hold", "Resolved", "Closed"];
const PRIORITIES: &[&str] = &["HIGH", "NORMAL", "LOW"];
/// `origin` given to incidents created through the API; the real value is unknown (docs/mdr-api.md#open-questions).
const CLIENT_ORIGIN: &str = "Client";

/// The `incidents/list` / `incidents/count` filters (docs/mdr-api.md#incidents).
struct Filter {
    lists: Vec<(&'static str, Vec<String>)>,
    times: Vec<(&'static str, bool, i64)>,
    search: Option<String>,
}

impl Filter {
    fn parse(body: &Object) -> Result<Self, Fail> {
        let mut lists = Vec::new();
        if let Some(v) = opt_enum_strs(body, "statuses", STATUSES)? {
            lists.push(("statuses", v));
        }
        if let Some(v) = opt_enum_strs(body, "priorities", PRIORITIES)? {
            lists.push(("priorities", v));
        }
        for key in [
            "resolutions",
            "affected_hosts",
            "asset_ids",
            "detection_technologies",
            "tenants_names",
            "response_statuses",
            "response_types",
            "mitre_tactics",
            "mitre_techniques",
        ] {
            if let Some(v) = opt_strs(body, key)? {
                lists.push((key, v));
            }
        }
        let mut times = Vec::new();
        for (key, field, is_min) in [
            ("min_creation_time", "creation_time", true),
            ("max_creation_time", "creation_time", false),
            ("min_update_time", "update_time", true),
            ("max_update_time", "update_time", false),
        ] {
            if let Some(t) = opt_int(body, key)? {
                times.push((field, is_min, t));
            }
        }
        let search = match body.get("search_phrase") {
            None | Some(Value::Null) => None,
            Some(_) => Some(req_str(body, "search_phrase")?.to_lowercase()),
        };
        Ok(Self { lists, times, search })
    }

    fn matches(&self, inc: &Object) -> bool {
        self.lists.iter().all(|(key, wanted)| list_matches(inc, key, wanted))
            && self.times.iter().all(|(field, is_min, t)| {
                let v = inc.get(*field).and_then(Value::as_i64).unwrap_or(0);
                if *is_min { v >= *t } else { v <= *t }
            })
            && self.search.as_ref().is_none_or(|s| search_matches(inc, s))
    }
}

fn list_matches(inc: &Object, key: &str, wanted: &[String]) -> bool {
    let strings = |field: &str| -> Vec<String> {
        match inc.get(field) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        }
    };
    let response_field = |field: &str| -> Vec<String> {
        inc["responses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.get(field).and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let have: Vec<String> = match key {
        "statuses" => strings("status"),
        "priorities" => strings("priority"),
        "resolutions" => strings("resolution"),
        "affected_hosts" => {
            // Match the full "HOST:asset_id" entry or only its host name.
            let hosts = strings("affected_hosts");
            let names = hosts.iter().filter_map(|h| h.split(':').next().map(str::to_owned));
            hosts.clone().into_iter().chain(names).collect()
        }
        "asset_ids" => {
            let mut ids: Vec<String> = strings("affected_hosts")
                .iter()
                .filter_map(|h| h.split_once(':').map(|(_, id)| id.to_owned()))
                .collect();
            ids.extend(response_field("asset_id"));
            ids
        }
        "detection_technologies" => strings("detection_technology"),
        "tenants_names" => strings("tenant_name"),
        "response_statuses" => response_field("status"),
        "response_types" => response_field("type"),
        other => strings(other),
    };
    have.iter().any(|h| wanted.iter().any(|w| w.eq_ignore_ascii_case(h)))
}

fn search_matches(inc: &Object, phrase: &str) -> bool {
    let number = inc.get("incident_number").map(Value::to_string).unwrap_or_default();
    number == phrase
        || ["summary", "description", "incident_id"].iter().any(|k| str_of(inc, k).to_lowercase().contains(phrase))
}

fn filtered(body: &Object, ctx: &Ctx<'_>) -> Result<Vec<Value>, Fail> {
    let filter = Filter::parse(body)?;
    opt_bool(body, "markdown_to_html")?;
    Ok(ctx.store.incidents.iter().filter(|i| filter.matches(i)).map(|i| Value::Object(i.clone())).collect())
}

pub(super) fn list(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    list_reply(filtered(body, ctx)?, body)
}

pub(super) fn count(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    count_reply(filtered(body, ctx)?.len())
}

pub(super) fn details(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let idx = incident_idx(ctx, req_str(body, "incident_id")?)?;
    let fields = opt_strs(body, "fields")?;
    let inc = Value::Object(ctx.store.incidents[idx].clone());
    ok(project(inc, fields.as_deref()))
}

pub(super) fn create(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let summary = req_str(body, "summary")?.to_owned();
    let client_description = req_str(body, "client_description")?.to_owned();
    let hosts = affected_hosts(body, ctx)?;
    let priority = match body.get("priority") {
        None | Some(Value::Null) => "HIGH".to_owned(),
        Some(_) => {
            let p = req_str(body, "priority")?;
            if !PRIORITIES.contains(&p) {
                return Err(bad_request(format!("invalid priority: {p}")));
            }
            p.to_owned()
        }
    };
    let tenant = match body.get("tenant_id") {
        None | Some(Value::Null) => String::new(),
        Some(_) => req_str(body, "tenant_id")?.to_owned(),
    };
    opt_bool(body, "no_sla_flag")?;
    opt_bool(body, "markdown_to_html")?;
    let now = now_ms();
    let mappings: Vec<Value> = hosts
        .iter()
        .filter_map(|h| h.split_once(':'))
        .map(|(name, id)| json!({"host_id": id, "host_name": name}))
        .collect();
    let number = ctx.store.next_incident_number();
    let incident = json!({
        "incident_id": new_id(),
        "incident_number": number,
        "summary": summary,
        "description": "",
        "priority": priority,
        "status": "Open",
        "resolution": "",
        "status_description": "",
        "client_description": client_description,
        "client_comment": "",
        "recommendations": "",
        "affected_hosts": hosts,
        "affected_hosts_mappings": mappings,
        "host_based_iocs": [],
        "network_based_iocs": [],
        "iocs": [],
        "detection_technology": "",
        "attack_stage": "",
        "mitre_tactics": [],
        "mitre_techniques": [],
        "creation_time": now,
        "update_time": now,
        "origin": CLIENT_ORIGIN,
        "tenant_name": tenant,
        "was_read": true,
        "comments": [],
        "attachments": [],
        "responses": [],
    });
    let Value::Object(obj) = incident.clone() else { unreachable!("json! object literal") };
    let id = str_of(&obj, "incident_id").to_owned();
    ctx.store.incidents.push(obj);
    ctx.store.record(&id, ctx.author, "create", "incident_details", &incident);
    ok(incident)
}

/// `affected_hosts`: a non-empty array of `"HOST:asset_id"` strings naming existing assets.
fn affected_hosts(body: &Object, ctx: &Ctx<'_>) -> Result<Vec<String>, Fail> {
    let hosts =
        opt_strs(body, "affected_hosts")?.ok_or_else(|| bad_request("missing required field: affected_hosts"))?;
    if hosts.is_empty() {
        return Err(bad_request("affected_hosts must not be empty"));
    }
    for h in &hosts {
        let Some((_, asset_id)) = h.split_once(':') else {
            return Err(bad_request(format!("affected_hosts entry must be HOST:asset_id: {h}")));
        };
        if ctx.store.asset(asset_id).is_none() {
            return Err(bad_request(format!("unknown asset in affected_hosts: {h}")));
        }
    }
    Ok(hosts)
}

pub(super) fn close(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let incident_id = req_str(body, "incident_id")?;
    let resolution = match req_str(body, "resolution_status")? {
        "TRUE_POSITIVE" => "True positive",
        "FALSE_POSITIVE" => "False positive",
        other => return Err(bad_request(format!("invalid resolution_status: {other}"))),
    };
    let summary = req_str(body, "summary")?.to_owned();
    let idx = incident_idx(ctx, incident_id)?;
    let inc = &mut ctx.store.incidents[idx];
    if str_of(inc, "status") == "Closed" {
        return Err(conflict("incident is already closed"));
    }
    inc.insert("status".to_owned(), json!("Closed"));
    inc.insert("resolution".to_owned(), json!(resolution));
    inc.insert("status_description".to_owned(), json!(summary));
    ctx.store.touch(idx, ctx.author);
    ok(Value::Object(ctx.store.incidents[idx].clone()))
}

/// Records in time order; `page`/`entity_type_page_size` apply per entity kind as the real API does.
pub(super) fn history(body: &Object, ctx: &mut Ctx<'_>) -> Outcome {
    let incident_id = match body.get("incident_id") {
        None | Some(Value::Null) => None,
        Some(_) => Some(req_str(body, "incident_id")?),
    };
    let ignore_self = opt_bool(body, "ignore_self")?;
    let min = opt_int(body, "min_record_time")?;
    let max = opt_int(body, "max_record_time")?;
    let page = opt_int(body, "page")?.unwrap_or(1);
    let size = opt_int(body, "entity_type_page_size")?;
    if page < 1 || size.is_some_and(|s| s < 1) {
        return Err(bad_request("page and entity_type_page_size must be positive integers"));
    }
    let mut seen: Vec<(String, i64)> = Vec::new();
    let mut out = Vec::new();
    for h in &ctx.store.history {
        let r = &h.record;
        let at = r["changed_at"].as_i64().unwrap_or(0);
        if incident_id.is_some_and(|id| id != h.incident_id)
            || (ignore_self && r["changed_by"] == ctx.author)
            || min.is_some_and(|m| at < m)
            || max.is_some_and(|m| at > m)
        {
            continue;
        }
        let kind = r["entity"].as_object().and_then(|e| e.keys().next().cloned()).unwrap_or_default();
        let n = match seen.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                seen.push((kind, 1));
                1
            }
        };
        let in_page = size.is_none_or(|s| n > (page - 1).saturating_mul(s) && n <= page.saturating_mul(s));
        if in_page && (size.is_some() || page == 1) {
            out.push(r.clone());
        }
    }
    ok(Value::Array(out))
}
