//! MDR_CreateIncident: opens an MDR incident from a TheHive case and links the case to it.
//!
//! Never twice: a case already linked (custom field set) or imported by the MDR Integration
//! Utility (its tag) is not sent. Two clicks in quick succession both arrive before TheHive has
//! applied the first link-back, so creation runs under a lock in the token folder and records the
//! incident per case in `<token_dir>/.created-incidents/`: the second job finds the record and
//! links the case to the same incident instead of creating another. The record says "pending"
//! while MDR is asked; when MDR does not answer clearly (timeout, lost connection) the record
//! stays, and the next run looks for the incident in MDR (its description carries the TheHive
//! case id) before creating one.
//!
//! Affected hosts come from a custom field, from `host:` tags and, with the TheHive API
//! configured, from the case's hostname and FQDN observables.

use std::path::Path;

use cortex_worker::{CustomFieldValue, Job, Operation, Report};
use serde_json::json;

use super::{ActionError, context};
use crate::client::{Incident, MdrClient, NewIncident};
use crate::config::MdrSettings;
use crate::thehive::{Case, DataType};
use crate::thehive_api::{TheHiveClient, TheHiveError, TheHiveSettings, TheHiveVersion};
use crate::token::{lock_exclusive, write_private};

const DEFAULT_HOSTS_FIELD: &str = "mdr-affected-hosts";
const DEFAULT_HOST_TAG_PREFIX: &str = "host:";
/// The MDR Integration Utility tags the cases it imports `MDR`; the link-back tag is the same.
const DEFAULT_TAG: &str = "MDR";
const LEDGER_DIR: &str = ".created-incidents";
const LEDGER_LOCK: &str = ".create-incident.lock";
/// Ledger content while a creation's outcome is unknown (MDR ids never contain a colon).
const PENDING: &str = "pending:";
/// Tolerated difference between this host's clock and MDR's when looking for a recent incident.
const CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

pub fn create_incident(job: &Job) -> Result<Report, ActionError> {
    let ctx = context(job, &[DataType::Case])?;
    let settings = MdrSettings::from_job(job)?;
    let case = ctx.case;
    if let Ok(linked) = case.mdr_incident_id(&settings.incident_field) {
        return Ok(already_linked(linked, &settings));
    }
    let case_id = case_id(job)?;
    let case_key = ledger_name(case_id);
    // Created by an earlier run whose link-back TheHive has not (fully) applied: link again.
    if let Some(Ledger::Created(recorded)) = ledger_read(&settings.token_dir, &case_key) {
        return Ok(linked_report(job, &settings, &recorded, None, &[], &[], true));
    }
    let imported_tag = tag_item(job, "imported_case_tag");
    if let Some(tag) = imported_tag.filter(|t| case.tags().iter().any(|c| c.eq_ignore_ascii_case(t))) {
        return Err(ActionError::Refused(format!(
            "The case carries the tag {tag:?} that the MDR Integration Utility puts on cases it imported from MDR, \
             but no incident id: set the case custom field `{}` to that incident's id rather than creating a duplicate",
            settings.incident_field
        )));
    }
    let mut hosts = host_names(&case, job);
    for host in observed_hosts(job, &case, &settings)? {
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return Err(ActionError::Refused(format!(
            "No affected hosts on the case: MDR needs at least one. List host names in the case custom field `{}`, \
             add tags like `{}HOST-01`, or (with the TheHive API configured) add hostname observables",
            job.config_str("hosts_custom_field").unwrap_or(DEFAULT_HOSTS_FIELD),
            job.config_str("host_tag_prefix").unwrap_or(DEFAULT_HOST_TAG_PREFIX)
        )));
    }

    let client = MdrClient::new(&settings)?;
    let _lock = lock_exclusive(&settings.token_dir, LEDGER_LOCK).map_err(crate::client::MdrError::from)?;
    let marker = origin_marker(case_id);
    match ledger_read(&settings.token_dir, &case_key) {
        Some(Ledger::Created(recorded)) => return Ok(linked_report(job, &settings, &recorded, None, &[], &[], true)),
        Some(Ledger::Pending(since)) => {
            if let Some(found) = find_created(&client, since, &marker)? {
                let _ = ledger_write(&settings.token_dir, &case_key, &found);
                return Ok(linked_report(job, &settings, &found, None, &[], &[], true));
            }
        }
        None => {}
    }
    let (resolved, unknown) = resolve_hosts(&client, &hosts)?;
    if resolved.is_empty() {
        return Err(ActionError::Refused(format!(
            "None of the case's hosts is a known MDR asset: {}. Check the host names (as MDR shows them)",
            unknown.join(", ")
        )));
    }
    ledger_write(&settings.token_dir, &case_key, &format!("{PENDING}{}", now_ms()))
        .map_err(|e| ActionError::Refused(format!("Nothing was created: {e}")))?;
    let incident = match client.create_incident(&new_incident(&case, job, &resolved, &marker)) {
        Ok(incident) => incident,
        // MDR may have created it: keep the pending record, so the next run looks before creating.
        Err(err) if err.outcome_unknown() => {
            return Err(ActionError::Refused(format!(
                "MDR may have created the incident but did not answer clearly ({err}). Run the responder again: \
                 it looks for the incident in MDR before creating another"
            )));
        }
        Err(err) => {
            ledger_remove(&settings.token_dir, &case_key);
            return Err(err.into());
        }
    };
    let recorded = ledger_write(&settings.token_dir, &case_key, &incident.incident_id);
    Ok(linked_report(job, &settings, &incident.incident_id, Some((&incident, recorded)), &resolved, &unknown, false))
}

/// Written into the incident's description: finds it again after an unclear answer.
fn origin_marker(case_id: &str) -> String {
    format!("TheHive case id {case_id})")
}

/// An incident created since `since` (ms) whose description carries the case's marker.
fn find_created(client: &MdrClient, since: i64, marker: &str) -> Result<Option<String>, ActionError> {
    let recent = client.incidents_created_since(since - CLOCK_SKEW_MS)?;
    let found = recent.into_iter().find(|i| i.client_description.as_deref().is_some_and(|d| d.contains(marker)));
    Ok(found.map(|i| i.incident_id))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A tag item: default `MDR`; `none` (or `-`) switches it off.
fn tag_item<'a>(job: &'a Job, item: &str) -> Option<&'a str> {
    match job.config_str(item) {
        Some(v) if v.eq_ignore_ascii_case("none") || v == "-" => None,
        Some(v) => Some(v),
        None => Some(DEFAULT_TAG),
    }
}

/// The case's TheHive id.
fn case_id(job: &Job) -> Result<&str, ActionError> {
    ["data._id", "data.id"].iter().find_map(|p| job.param(p).and_then(|v| v.as_str())).ok_or_else(|| {
        ActionError::Refused(
            "The case has no `_id`: TheHive always sends it; run the responder from TheHive".to_owned(),
        )
    })
}

/// The case id made safe as a file name in the ledger.
fn ledger_name(case_id: &str) -> String {
    case_id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_~".contains(c) { c } else { '_' }).collect()
}

/// Host names from the hosts custom field (separated by commas, spaces or new lines) and from
/// tags carrying the host prefix, in order, without duplicates.
fn host_names(case: &Case<'_>, job: &Job) -> Vec<String> {
    let field = job.config_str("hosts_custom_field").unwrap_or(DEFAULT_HOSTS_FIELD);
    let prefix = job.config_str("host_tag_prefix").unwrap_or(DEFAULT_HOST_TAG_PREFIX);
    let values = case.custom_field_all(field);
    let from_field = values.iter().filter_map(|v| v.as_str()).flat_map(|text| text.split([',', ';', ' ', '\n']));
    let from_field = from_field.map(str::to_owned);
    let from_tags = case.tags().into_iter().filter_map(|tag| {
        let head = tag.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix).then(|| tag[prefix.len()..].to_owned())
    });
    let mut hosts: Vec<String> = Vec::new();
    for host in from_field.chain(from_tags) {
        let host = host.trim().to_owned();
        if !host.is_empty() && !hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            hosts.push(host);
        }
    }
    hosts
}

/// Hostname and FQDN observables of the case, when the TheHive API is configured (and
/// `hosts_from_observables` is not false).
fn observed_hosts(job: &Job, case: &Case<'_>, settings: &MdrSettings) -> Result<Vec<String>, ActionError> {
    let wanted = job.config_bool("hosts_from_observables", true)?;
    let Some(thehive) = TheHiveSettings::from_job(job)? else { return Ok(Vec::new()) };
    if !wanted {
        return Ok(Vec::new());
    }
    let failed = |e: TheHiveError| {
        ActionError::Refused(format!("Nothing was created: listing the case's observables in TheHive failed: {e}"))
    };
    let case_id = job.param("data._id").or_else(|| job.param("data.id")).and_then(|v| v.as_str()).unwrap_or("");
    let client = TheHiveClient::new(thehive, settings)?;
    let version = client.version(case.extended_status().map(|_| TheHiveVersion::V5)).map_err(failed)?;
    client.host_observables(case_id, version).map_err(failed)
}

/// `HOST:asset_id` for each known host, and the names MDR does not know.
fn resolve_hosts(client: &MdrClient, hosts: &[String]) -> Result<(Vec<String>, Vec<String>), ActionError> {
    let assets = client.find_assets(hosts)?;
    let mut resolved = Vec::new();
    let mut unknown = Vec::new();
    for host in hosts {
        match assets.iter().find(|a| a.host_name.eq_ignore_ascii_case(host)) {
            Some(asset) => resolved.push(format!("{}:{}", asset.host_name, asset.asset_id)),
            None => unknown.push(host.clone()),
        }
    }
    Ok((resolved, unknown))
}

fn new_incident(case: &Case<'_>, job: &Job, hosts: &[String], marker: &str) -> NewIncident {
    let title = case.title().unwrap_or("Incident reported from TheHive");
    let case_name = case.number().map_or("TheHive".to_owned(), |n| format!("TheHive case #{n}"));
    let origin = match job.parameter_str("user") {
        Some(user) => format!("(created from {case_name} by {user}; {marker}"),
        None => format!("(created from {case_name}; {marker}"),
    };
    NewIncident {
        summary: title.to_owned(),
        client_description: format!("{}\n\n{origin}", case.description().unwrap_or(title)),
        affected_hosts: hosts.to_vec(),
        priority: priority(case.severity()),
        markdown_to_html: true,
    }
}

/// TheHive severity 1 low, 2 medium, 3 high, 4 critical; MDR has three levels.
fn priority(severity: Option<i64>) -> &'static str {
    match severity {
        Some(1) => "LOW",
        Some(3..) => "HIGH",
        _ => "NORMAL",
    }
}

/// What the ledger knows of a case.
enum Ledger {
    Created(String),
    /// A creation started at this time (ms) and its outcome is unknown.
    Pending(i64),
}

fn ledger_read(token_dir: &Path, case_key: &str) -> Option<Ledger> {
    let text = std::fs::read_to_string(token_dir.join(LEDGER_DIR).join(case_key)).ok()?;
    let text = text.trim();
    match text.strip_prefix(PENDING) {
        Some(since) => Some(Ledger::Pending(since.parse().unwrap_or(0))),
        None => (!text.is_empty()).then(|| Ledger::Created(text.to_owned())),
    }
}

fn ledger_remove(token_dir: &Path, case_key: &str) {
    let _ = std::fs::remove_file(token_dir.join(LEDGER_DIR).join(case_key));
}

/// Records the incident for the case; the outcome goes into the report (a failure here only
/// weakens the double-click guard, the incident exists either way).
fn ledger_write(token_dir: &Path, case_key: &str, incident_id: &str) -> Result<(), String> {
    let dir = token_dir.join(LEDGER_DIR);
    std::fs::create_dir_all(&dir)
        .and_then(|()| write_private(&dir, case_key, incident_id))
        .map_err(|e| format!("could not record the incident in {}: {e}", dir.display()))
}

/// `https://mdr.kaspersky.com/api/v1` → `https://mdr.kaspersky.com/incidents/<id>`.
fn console_link(api_url: &str, incident_id: &str) -> String {
    let console = api_url.trim_end_matches('/').trim_end_matches("/api/v1").trim_end_matches("/api");
    format!("{console}/incidents/{incident_id}")
}

fn already_linked(incident_id: &str, settings: &MdrSettings) -> Report {
    Report::from_value(json!({
        "message": format!("The case is already linked to MDR incident {incident_id}; no new incident was created"),
        "incident_id": incident_id,
        "already_linked": true,
        "link": console_link(settings.api_url.as_str(), incident_id),
    }))
}

fn linked_report(
    job: &Job,
    settings: &MdrSettings,
    incident_id: &str,
    created: Option<(&Incident, Result<(), String>)>,
    hosts: &[String],
    unknown: &[String],
    earlier_click: bool,
) -> Report {
    let message = match (earlier_click, unknown.is_empty()) {
        (true, _) => format!(
            "MDR incident {incident_id} was already created from this case by an earlier run; linking the case to it"
        ),
        (false, true) => format!("MDR incident {incident_id} created"),
        (false, false) => format!(
            "MDR incident {incident_id} created; these hosts are unknown to MDR and were left out: {}",
            unknown.join(", ")
        ),
    };
    let mut full = json!({
        "message": message,
        "incident_id": incident_id,
        "already_linked": earlier_click,
        "link": console_link(settings.api_url.as_str(), incident_id),
    });
    if let Some((incident, recorded)) = created {
        full["incident_number"] = json!(incident.incident_number);
        full["priority"] = json!(incident_priority(job));
        full["affected_hosts"] = json!(hosts);
        full["unknown_hosts"] = json!(unknown);
        if let Err(warning) = recorded {
            full["warning"] = json!(warning);
        }
    }
    let mut report = Report::from_value(full).with_operation(Operation::AddCustomFields {
        name: settings.incident_field.clone(),
        value: CustomFieldValue::String(incident_id.to_owned()),
    });
    if let Some(tag) = tag_item(job, "case_tag") {
        report.push_operation(Operation::AddTagToCase { tag: tag.to_owned() });
    }
    report
}

fn incident_priority(job: &Job) -> &'static str {
    priority(job.param("data.severity").and_then(|v| v.as_i64()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn severity_maps_to_three_priorities() {
        assert_eq!(
            [None, Some(1), Some(2), Some(3), Some(4)].map(priority),
            ["NORMAL", "LOW", "NORMAL", "HIGH", "HIGH"]
        );
    }

    #[test]
    fn console_links_drop_the_api_path() {
        assert_eq!(
            console_link("https://mdr.kaspersky.com/api/v1", "-Nz1"),
            "https://mdr.kaspersky.com/incidents/-Nz1"
        );
    }

    #[test]
    fn hosts_come_from_the_field_and_prefixed_tags() {
        let input = serde_json::json!({"dataType": "thehive:case", "data": {
            "tags": ["MDR", "host:HOST-02", "Host:host-01", "host:"],
            "customFields": {"mdr-affected-hosts": {"string": "HOST-01, HOST-03\nHOST-01"}}}});
        let job = Job::from_input(input, None).unwrap();
        let case = Case::new(job.data().unwrap());
        assert_eq!(host_names(&case, &job), ["HOST-01", "HOST-03", "HOST-02"]);
    }
}
