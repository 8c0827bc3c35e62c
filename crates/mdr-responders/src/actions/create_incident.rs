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

use cortex_http::HttpUrl;
use cortex_worker::{CustomFieldValue, Items, Job, Operation, Report};
use serde::Serialize;

use super::ledger::{Entry, Ledger, Locked};
use super::{ActionError, context};
use crate::settings::Settings;
use mdr_api::client::{Incident, MdrClient, NewIncident};
use mdr_contract::contract::{CASE_TAG, Priority, origin_case_id, origin_marker};
use thehive::client::TheHiveClient;
use thehive::view::{Case, DataType};
use thehive::{Naming, TheHiveError};

const DEFAULT_HOSTS_FIELD: &str = "mdr-affected-hosts";
const DEFAULT_HOST_TAG_PREFIX: &str = "host:";
/// Tolerated difference between this host's clock and MDR's when looking for a recent incident.
const CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

/// The action's configuration items, read and checked before anything is sent.
#[derive(Debug)]
struct Options<'a> {
    hosts_field: &'a str,
    host_tag_prefix: &'a str,
    /// The tag of cases the utility imported (never sent again); `None` when switched off.
    imported_case_tag: Option<&'a str>,
    /// The tag put on the case once linked; `None` when switched off.
    case_tag: Option<&'a str>,
    hosts_from_observables: bool,
}

impl<'a> Options<'a> {
    fn read(items: Items<'a>) -> Result<Options<'a>, ActionError> {
        Ok(Options {
            hosts_field: items.text("hosts_custom_field")?.unwrap_or(DEFAULT_HOSTS_FIELD),
            host_tag_prefix: items.text("host_tag_prefix")?.unwrap_or(DEFAULT_HOST_TAG_PREFIX),
            imported_case_tag: tag_item(items, "imported_case_tag")?,
            case_tag: tag_item(items, "case_tag")?,
            hosts_from_observables: items.flag("hosts_from_observables", true)?,
        })
    }
}

pub fn create_incident(job: &Job) -> Result<Report, ActionError> {
    let ctx = context(job, &[DataType::Case])?;
    let settings = Settings::from_job(job)?;
    let options = Options::read(job.items())?;
    let case = ctx.case;
    if let Ok(linked) = case.mdr_incident_id(&settings.incident_field) {
        return Ok(Report::of(&Linked::already(linked, &settings))?);
    }
    let case_id = case_id(job)?;
    let ledger = Ledger::new(&settings.mdr.token_dir, case_id);
    // Created by an earlier run whose link-back TheHive has not (fully) applied: link again.
    if let Some(Entry::Created(recorded)) = ledger.read() {
        return link(&settings, &options, Linked::earlier(&recorded, &settings));
    }
    refuse_imported(&case, &options, &settings)?;
    let hosts = affected_hosts(job, &case, &options, &settings)?;

    let client = MdrClient::new(&settings.mdr)?;
    let locked = ledger.lock()?;
    let marker = origin_marker(case_id);
    if let Some(earlier) = earlier_incident(&client, &locked, case_id)? {
        return link(&settings, &options, Linked::earlier(&earlier, &settings));
    }
    let (resolved, unknown) = resolve_hosts(&client, &hosts)?;
    if resolved.is_empty() {
        return Err(ActionError::Refused(format!(
            "None of the case's hosts is a known MDR asset: {}. Check the host names (as MDR shows them)",
            unknown.join(", ")
        )));
    }
    let incident = create(&client, &locked, &new_incident(&case, job, &resolved, &marker))?;
    let recorded = locked.record(&incident.incident_id);
    let created = Created {
        incident_number: incident.incident_number,
        priority: Priority::from_severity(case.severity()).as_str(),
        affected_hosts: &resolved,
        unknown_hosts: &unknown,
        warning: recorded.err(),
    };
    link(&settings, &options, Linked::created(&incident, created, &settings))
}

/// A case the utility imported from MDR is linked by hand, never sent back as a new incident.
fn refuse_imported(case: &Case<'_>, options: &Options<'_>, settings: &Settings) -> Result<(), ActionError> {
    match options.imported_case_tag.filter(|t| case.tags().iter().any(|c| c.eq_ignore_ascii_case(t))) {
        Some(tag) => Err(ActionError::Refused(format!(
            "The case carries the tag {tag:?} that the MDR Integration Utility puts on cases it imported from MDR, \
             but no incident id: set the case custom field `{}` to that incident's id rather than creating a duplicate",
            settings.incident_field
        ))),
        None => Ok(()),
    }
}

/// The hosts named on the case, then its host observables; at least one.
fn affected_hosts(
    job: &Job,
    case: &Case<'_>,
    options: &Options<'_>,
    settings: &Settings,
) -> Result<Vec<String>, ActionError> {
    let mut hosts = host_names(case, options);
    for host in observed_hosts(job, case, options, settings)? {
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return Err(ActionError::Refused(format!(
            "No affected hosts on the case: MDR needs at least one. List host names in the case custom field `{}`, \
             add tags like `{}HOST-01`, or (with the TheHive API configured) add hostname observables",
            options.hosts_field, options.host_tag_prefix
        )));
    }
    Ok(hosts)
}

/// The incident an earlier run created for this case, as the ledger (under its lock) or, after an
/// unclear answer, MDR itself knows it.
fn earlier_incident(client: &MdrClient, locked: &Locked<'_>, case_id: &str) -> Result<Option<String>, ActionError> {
    match locked.read() {
        Some(Entry::Created(recorded)) => Ok(Some(recorded)),
        Some(Entry::Pending(since)) => {
            let found = find_created(client, since, case_id)?;
            if let Some(found) = &found {
                // Only weakens the guard if it fails: the incident is linked either way.
                let _ = locked.record(found);
            }
            Ok(found)
        }
        None => Ok(None),
    }
}

/// Asks MDR for the incident with a pending record, which stays when MDR may have created it.
fn create(client: &MdrClient, locked: &Locked<'_>, new: &NewIncident) -> Result<Incident, ActionError> {
    locked.mark_pending().map_err(|e| ActionError::Refused(format!("Nothing was created: {e}")))?;
    client.create_incident(new).map_err(|err| {
        if err.outcome_unknown() {
            return ActionError::Refused(format!(
                "MDR may have created the incident but did not answer clearly ({err}). Run the responder again: \
                 it looks for the incident in MDR before creating another"
            ));
        }
        locked.forget();
        err.into()
    })
}

/// An incident created since `since` (ms) whose description ends with the case's origin marker.
fn find_created(client: &MdrClient, since: i64, case_id: &str) -> Result<Option<String>, ActionError> {
    let recent = client.incidents_created_since(since - CLOCK_SKEW_MS)?;
    let found = recent.into_iter().find(|i| i.client_description.as_deref().and_then(origin_case_id) == Some(case_id));
    Ok(found.map(|i| i.incident_id))
}

/// A tag item: default `MDR`; `none` (or `-`) switches it off.
fn tag_item<'a>(items: Items<'a>, item: &str) -> Result<Option<&'a str>, ActionError> {
    Ok(match items.text(item)? {
        Some(v) if v.eq_ignore_ascii_case("none") || v == "-" => None,
        Some(v) => Some(v),
        None => Some(CASE_TAG),
    })
}

/// The case's TheHive id.
fn case_id(job: &Job) -> Result<&str, ActionError> {
    ["data._id", "data.id"].iter().find_map(|p| job.param(p).and_then(|v| v.as_str())).ok_or_else(|| {
        ActionError::Refused(
            "The case has no `_id`: TheHive always sends it; run the responder from TheHive".to_owned(),
        )
    })
}

/// Host names from the hosts custom field (separated by commas, spaces or new lines) and from
/// tags carrying the host prefix, in order, without duplicates.
fn host_names(case: &Case<'_>, options: &Options<'_>) -> Vec<String> {
    let prefix = options.host_tag_prefix;
    let values = case.custom_field_all(options.hosts_field);
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
fn observed_hosts(
    job: &Job,
    case: &Case<'_>,
    options: &Options<'_>,
    settings: &Settings,
) -> Result<Vec<String>, ActionError> {
    let Some(thehive) = crate::settings::thehive_from_job(job)? else { return Ok(Vec::new()) };
    if !options.hosts_from_observables {
        return Ok(Vec::new());
    }
    let failed = |e: TheHiveError| {
        ActionError::Refused(format!("Nothing was created: listing the case's observables in TheHive failed: {e}"))
    };
    let case_id = job.param("data._id").or_else(|| job.param("data.id")).and_then(|v| v.as_str()).unwrap_or("");
    let client =
        TheHiveClient::new(thehive, &settings.mdr.http_config(), &Naming::RESPONDER)?.with_hint(case.version_hint());
    client.host_observables(case_id).map_err(failed)
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
        priority: Priority::from_severity(case.severity()).as_str(),
        markdown_to_html: true,
    }
}

/// `https://mdr.kaspersky.com/api/v1` → `https://mdr.kaspersky.com/incidents/<id>`, from the display form
/// of `api_url`: the report reaches TheHive, credentials in the URL must not.
fn console_link(api_url: &HttpUrl, incident_id: &str) -> String {
    let shown = api_url.to_string();
    let console = shown.trim_end_matches("/api/v1").trim_end_matches("/api");
    format!("{console}/incidents/{incident_id}")
}

/// The report's `full` object once the case is (to be) linked to an incident.
#[derive(Debug, Serialize)]
struct Linked<'a> {
    message: String,
    incident_id: &'a str,
    already_linked: bool,
    link: String,
    /// Only when this run created the incident.
    #[serde(flatten)]
    created: Option<Created<'a>>,
}

/// What this run sent and MDR answered.
#[derive(Debug, Serialize)]
struct Created<'a> {
    incident_number: Option<i64>,
    priority: &'static str,
    affected_hosts: &'a [String],
    unknown_hosts: &'a [String],
    /// Why the ledger could not record the incident, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
}

impl<'a> Linked<'a> {
    /// The case custom field already names the incident: nothing to do.
    fn already(incident_id: &'a str, settings: &Settings) -> Linked<'a> {
        Linked {
            message: format!("The case is already linked to MDR incident {incident_id}; no new incident was created"),
            incident_id,
            already_linked: true,
            link: console_link(&settings.mdr.api_url, incident_id),
            created: None,
        }
    }

    fn earlier(incident_id: &'a str, settings: &Settings) -> Linked<'a> {
        Linked {
            message: format!(
                "MDR incident {incident_id} was already created from this case by an earlier run; linking the case to it"
            ),
            ..Linked::already(incident_id, settings)
        }
    }

    fn created(incident: &'a Incident, created: Created<'a>, settings: &Settings) -> Linked<'a> {
        let id = incident.incident_id.as_str();
        let message = match created.unknown_hosts {
            [] => format!("MDR incident {id} created"),
            unknown => format!(
                "MDR incident {id} created; these hosts are unknown to MDR and were left out: {}",
                unknown.join(", ")
            ),
        };
        Linked { message, already_linked: false, created: Some(created), ..Linked::already(id, settings) }
    }
}

/// The report with the operations that link the case: the incident id field and the tag.
fn link(settings: &Settings, options: &Options<'_>, linked: Linked<'_>) -> Result<Report, ActionError> {
    let mut report = Report::of(&linked)?.with_operation(Operation::AddCustomFields {
        name: settings.incident_field.clone(),
        value: CustomFieldValue::String(linked.incident_id.to_owned()),
    });
    if let Some(tag) = options.case_tag {
        report.push_operation(Operation::AddTagToCase { tag: tag.to_owned() });
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn console_links_drop_the_api_path() {
        assert_eq!(
            console_link(&HttpUrl::parse("https://mdr.kaspersky.com/api/v1/").unwrap(), "-Nz1"),
            "https://mdr.kaspersky.com/incidents/-Nz1"
        );
        let with_user = HttpUrl::parse("https://user:secret@mdr.example/api").unwrap();
        assert_eq!(console_link(&with_user, "-Nz1"), "https://REMOVED@mdr.example/incidents/-Nz1");
    }

    #[test]
    fn hosts_come_from_the_field_and_prefixed_tags() {
        let input = serde_json::json!({"dataType": "thehive:case", "data": {
            "tags": ["MDR", "host:HOST-02", "Host:host-01", "host:"],
            "customFields": {"mdr-affected-hosts": {"string": "HOST-01, HOST-03\nHOST-01"}}}});
        let job = Job::from_input(input, None).unwrap();
        let case = Case::new(job.data().unwrap());
        let options = Options::read(job.items()).unwrap();
        assert_eq!(host_names(&case, &options), ["HOST-01", "HOST-03", "HOST-02"]);
    }
}
