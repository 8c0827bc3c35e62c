//! MDR_CloseIncident: closes the linked MDR incident with the case's resolution and summary.
//!
//! MDR accepts only two resolutions: the case's (TheHive 5 `extendedStatus`, else TheHive 4
//! `resolutionStatus`, else the custom field `resolution_custom_field`, default `mdr-resolution`,
//! which lets an open case say how to close) must map to TRUE_POSITIVE or FALSE_POSITIVE, directly
//! or through the `resolution_map` item. No Cortex operation can close a TheHive case: with the
//! TheHive API configured (`thehive_url`, `thehive_api_key`) the case is resolved through it once
//! MDR holds the incident as closed, unless `close_thehive_case` is false.

use cortex_worker::{Items, Job, Report};
use serde::Serialize;

use super::{ActionError, context, not_found_as};
use crate::settings::Settings;
use mdr_api::client::{Incident, MdrClient, MdrError, Resolution};
use thehive::client::{Resolution as CaseResolution, TheHiveClient, TheHiveSettings};
use thehive::view::{Case, DataType};
use thehive::{Naming, TheHiveError};

const CLOSED: &str = "Closed";
/// TheHive 5 extended statuses of a case that is still being worked on.
const OPEN_STAGES: &[&str] = &["new", "inprogress", "open"];
const DEFAULT_RESOLUTION_FIELD: &str = "mdr-resolution";

/// The action's configuration items, read and checked before anything is sent.
#[derive(Debug)]
struct Options {
    close_thehive_case: bool,
    resolution_map: ResolutionMap,
    resolution_field: String,
    /// TheHive 5 statuses that close a case, where the organisation renamed the built-in ones.
    true_positive_status: Option<String>,
    false_positive_status: Option<String>,
}

impl Options {
    fn read(items: Items<'_>) -> Result<Options, ActionError> {
        let owned = |name: &str| items.text(name).map(|v| v.map(str::to_owned));
        Ok(Options {
            close_thehive_case: items.flag("close_thehive_case", true)?,
            resolution_map: ResolutionMap::parse(items.text("resolution_map")?)?,
            resolution_field: owned("resolution_custom_field")?.unwrap_or_else(|| DEFAULT_RESOLUTION_FIELD.to_owned()),
            true_positive_status: owned("thehive_true_positive_status")?,
            false_positive_status: owned("thehive_false_positive_status")?,
        })
    }

    /// The TheHive 4 resolution and TheHive 5 status that close the case: TheHive 5 organisations
    /// may rename `TruePositive` and `FalsePositive`; TheHive 4's resolutions are fixed.
    fn thehive_statuses(&self, resolution: Resolution) -> (&'static str, &str) {
        let (custom, default) = match resolution {
            Resolution::TruePositive => (&self.true_positive_status, "TruePositive"),
            Resolution::FalsePositive => (&self.false_positive_status, "FalsePositive"),
        };
        (default, custom.as_deref().unwrap_or(default))
    }

    /// The renamed TheHive 5 statuses, which close a case too.
    fn renamed_statuses(&self) -> Vec<&str> {
        [&self.true_positive_status, &self.false_positive_status].into_iter().flatten().map(String::as_str).collect()
    }
}

/// What happened to the TheHive case, as the report's `thehive_case`.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum TheHiveCase {
    NotChanged { reason: &'static str },
    AlreadyResolved,
    Resolved { case_id: String },
}

impl TheHiveCase {
    fn message_suffix(&self) -> &'static str {
        match self {
            TheHiveCase::Resolved { .. } => "; the TheHive case is resolved",
            TheHiveCase::AlreadyResolved => "; the TheHive case was already resolved",
            TheHiveCase::NotChanged { .. } => "",
        }
    }
}

/// The report's `full` object.
#[derive(Debug, Serialize)]
struct Closed<'a> {
    message: String,
    incident_id: &'a str,
    already_closed: bool,
    requested: Requested<'a>,
    mdr: &'a Incident,
    thehive_case: TheHiveCase,
}

#[derive(Debug, Serialize)]
struct Requested<'a> {
    resolution_status: &'static str,
    summary: &'a str,
}

pub fn close_incident(job: &Job) -> Result<Report, ActionError> {
    let ctx = context(job, &[DataType::Case])?;
    let settings = Settings::from_job(job)?;
    let options = Options::read(job.items())?;
    let thehive = crate::settings::thehive_from_job(job)?.filter(|_| options.close_thehive_case);
    let incident_id = ctx.case.mdr_incident_id(&settings.incident_field)?;
    let resolution = resolution(&ctx.case, &options.resolution_map, &options.resolution_field)?;
    let summary = summary(&ctx.case, job.parameter_str("user"));

    let client = MdrClient::new(&settings.mdr)?;
    let before = client.incident_details(incident_id).map_err(|e| not_found_as(e, incident_id, &settings))?;
    let (incident, already_closed) = if is_closed(&before) {
        (before, true)
    } else {
        match client.close_incident(incident_id, resolution, &summary) {
            Ok(Some(incident)) if incident.status.is_some() => (incident, false),
            Ok(_) => (client.incident_details(incident_id)?, false),
            // Closed meanwhile (another click, the MDR console): report what MDR holds.
            Err(MdrError::Status { status: 409, .. }) => (client.incident_details(incident_id)?, true),
            Err(err) => return Err(err.into()),
        }
    };
    let thehive_case = match thehive {
        Some(thehive) => {
            let closing =
                Closing { settings: &settings, options: &options, resolution, summary: &summary, incident_id };
            resolve_thehive_case(job, &ctx.case, thehive, &closing)?
        }
        None => TheHiveCase::NotChanged {
            reason: "the TheHive API is not configured (`thehive_url`, `thehive_api_key`) or `close_thehive_case` \
                     is false: close the case in TheHive",
        },
    };
    let message = format!("{}{}", message(&incident, resolution, already_closed), thehive_case.message_suffix());
    let requested = Requested { resolution_status: resolution.api_name(), summary: &summary };
    let full =
        Closed { message, incident_id: &incident.incident_id, already_closed, requested, mdr: &incident, thehive_case };
    Ok(Report::of(&full)?)
}

/// What MDR was asked for, for resolving the TheHive case to match.
struct Closing<'a> {
    settings: &'a Settings,
    options: &'a Options,
    resolution: Resolution,
    summary: &'a str,
    incident_id: &'a str,
}

/// Resolves the TheHive case too, unless it already is; MDR is closed by now, so a failure here
/// says so and a second click only retries TheHive.
fn resolve_thehive_case(
    job: &Job,
    case: &Case<'_>,
    thehive: TheHiveSettings,
    closing: &Closing<'_>,
) -> Result<TheHiveCase, ActionError> {
    if case.is_closed(&closing.options.renamed_statuses()) {
        return Ok(TheHiveCase::AlreadyResolved);
    }
    let case_id = job.param("data._id").or_else(|| job.param("data.id")).and_then(|v| v.as_str()).unwrap_or("");
    let failed = |e: TheHiveError| {
        ActionError::Refused(format!(
            "MDR incident {} is closed, but resolving the TheHive case failed: {e}. Run the responder again to retry: \
             MDR will not be closed twice",
            closing.incident_id
        ))
    };
    let client = TheHiveClient::new(thehive, &closing.settings.mdr.http_config(), &Naming::RESPONDER)?
        .with_hint(case.version_hint());
    let (th4_resolution, th5_status) = closing.options.thehive_statuses(closing.resolution);
    let impact = job.param("data.impactStatus").and_then(|v| v.as_str());
    let resolution = CaseResolution { th4_resolution, th5_status, summary: closing.summary, impact };
    client.resolve_case(case_id, &resolution).map_err(failed)?;
    Ok(TheHiveCase::Resolved { case_id: case_id.to_owned() })
}

fn is_closed(incident: &Incident) -> bool {
    incident.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(CLOSED))
}

/// `TruePositive`, `True positive`, `TRUE_POSITIVE` and `true-positive` are the same word.
fn normalise(value: &str) -> String {
    value.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

fn builtin(value: &str) -> Option<Resolution> {
    match normalise(value).as_str() {
        "truepositive" => Some(Resolution::TruePositive),
        "falsepositive" => Some(Resolution::FalsePositive),
        _ => None,
    }
}

/// Extra TheHive resolutions an organisation maps explicitly, e.g. `Indeterminate:FalsePositive`.
#[derive(Debug, Default)]
struct ResolutionMap(Vec<(String, Resolution)>);

impl ResolutionMap {
    fn parse(item: Option<&str>) -> Result<ResolutionMap, ActionError> {
        let Some(item) = item else { return Ok(ResolutionMap::default()) };
        let entries = item.split([',', ';', '\n']).map(str::trim).filter(|e| !e.is_empty());
        let parsed = entries.map(|entry| {
            let (from, to) = entry.split_once([':', '=']).unwrap_or((entry, ""));
            builtin(to).map(|r| (normalise(from), r)).ok_or_else(|| {
                ActionError::Refused(format!(
                    "Configuration item `resolution_map` has an invalid entry {entry:?}: write entries like \
                     `Indeterminate:FalsePositive, Other:TruePositive` (targets TruePositive or FalsePositive)"
                ))
            })
        });
        Ok(ResolutionMap(parsed.collect::<Result<_, _>>()?))
    }

    fn get(&self, value: &str) -> Option<Resolution> {
        let key = normalise(value);
        self.0.iter().find(|(from, _)| *from == key).map(|(_, r)| *r)
    }
}

fn resolution(case: &Case<'_>, map: &ResolutionMap, field: &str) -> Result<Resolution, ActionError> {
    let from_field = case.custom_field(field).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
    // A case whose stage is not `Closed` is open whatever its (possibly custom) status says;
    // only the custom field may then say how to close it.
    let open_by_stage = case.stage().is_some() && !case.is_closed(&[]);
    let candidates = if open_by_stage {
        [None, None, from_field]
    } else {
        [case.extended_status(), case.resolution_status(), from_field]
    };
    let candidates = candidates.iter().flatten().filter(|v| !OPEN_STAGES.contains(&normalise(v).as_str()));
    let mut unmapped = None;
    for value in candidates {
        match map.get(value).or_else(|| builtin(value)) {
            Some(resolution) => return Ok(resolution),
            None => unmapped = unmapped.or(Some(*value)),
        }
    }
    Err(ActionError::Refused(match unmapped {
        Some(value) => format!(
            "The case resolution {value:?} has no MDR equivalent: MDR accepts TruePositive or FalsePositive. \
             Set one of them on the case, or map {value:?} in the responder's `resolution_map` item \
             (e.g. `{value}:FalsePositive`)"
        ),
        None => format!(
            "The case is still open and has no resolution: close the case in TheHive as True Positive or False \
             Positive first, or set the case custom field `{field}` to TruePositive or FalsePositive, then run \
             MDR_CloseIncident"
        ),
    }))
}

/// The case summary, else a line that says who closed it from where.
fn summary(case: &Case<'_>, user: Option<&str>) -> String {
    if let Some(summary) = case.summary() {
        return summary.to_owned();
    }
    let case_name = case.number().map_or("a TheHive case".to_owned(), |n| format!("TheHive case #{n}"));
    match user {
        Some(user) => format!("Closed from {case_name} by {user}"),
        None => format!("Closed from {case_name}"),
    }
}

fn message(incident: &Incident, requested: Resolution, already_closed: bool) -> String {
    let id = &incident.incident_id;
    match already_closed {
        true => format!(
            "MDR incident {id} was already closed (resolution {:?}); nothing was sent",
            incident.resolution.as_deref().unwrap_or("")
        ),
        false => format!("MDR incident {id} closed as {}", requested.api_name()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn resolve(case: Value, map: Option<&str>) -> Result<Resolution, String> {
        let map = ResolutionMap::parse(map).map_err(|e| e.to_string())?;
        resolution(&Case::new(&case), &map, "mdr-resolution").map_err(|e| e.to_string())
    }

    #[test]
    fn thehive4_and_thehive5_resolutions() {
        assert_eq!(resolve(json!({"resolutionStatus": "TruePositive"}), None), Ok(Resolution::TruePositive));
        assert_eq!(resolve(json!({"resolutionStatus": "FalsePositive"}), None), Ok(Resolution::FalsePositive));
        let th5 = json!({"resolutionStatus": "TruePositive", "extendedStatus": "FalsePositive"});
        assert_eq!(resolve(th5, None), Ok(Resolution::FalsePositive), "TheHive 5's status wins");
        let th5_custom = json!({"resolutionStatus": "Other", "extendedStatus": "Contained"});
        let err = resolve(th5_custom.clone(), None).unwrap_err();
        assert!(err.starts_with("The case resolution \"Contained\" has no MDR equivalent"), "{err}");
        assert_eq!(resolve(th5_custom, Some("contained = TruePositive")), Ok(Resolution::TruePositive));
    }

    #[test]
    fn unmapped_and_open_cases_are_refused_with_the_way_out() {
        let err = resolve(json!({"resolutionStatus": "Indeterminate"}), None).unwrap_err();
        assert!(err.contains("map \"Indeterminate\" in the responder's `resolution_map`"), "{err}");
        assert_eq!(
            resolve(json!({"resolutionStatus": "Indeterminate"}), Some("Indeterminate:FalsePositive")),
            Ok(Resolution::FalsePositive)
        );
        let err = resolve(json!({"status": "Open", "resolutionStatus": null}), None).unwrap_err();
        assert!(err.starts_with("The case is still open and has no resolution"), "{err}");
        let err = resolve(json!({"extendedStatus": "InProgress"}), None).unwrap_err();
        assert!(err.starts_with("The case is still open"), "{err}");
        let waiting = json!({"stage": "InProgress", "status": "InProgress", "extendedStatus": "Waiting customer"});
        let err = resolve(waiting.clone(), Some("Waiting customer:TruePositive")).unwrap_err();
        assert!(err.starts_with("The case is still open"), "{err}");
        let mut decided = waiting;
        decided["customFieldValues"] = json!({"mdr-resolution": "FalsePositive"});
        assert_eq!(resolve(decided, None), Ok(Resolution::FalsePositive), "the custom field decides an open case");
        let err = resolve(json!({"resolutionStatus": "TruePositive"}), Some("Other:Maybe")).unwrap_err();
        assert!(err.contains("`resolution_map` has an invalid entry \"Other:Maybe\""), "{err}");
    }

    #[test]
    fn closed_stage_with_custom_status_uses_the_map() {
        let case = json!({"stage": "Closed", "status": "Resolved", "extendedStatus": "Confirmed threat"});
        assert_eq!(resolve(case.clone(), Some("Confirmed threat:TruePositive")), Ok(Resolution::TruePositive));
        let err = resolve(case, None).unwrap_err();
        assert!(err.starts_with("The case resolution \"Confirmed threat\" has no MDR equivalent"), "{err}");
        assert!(Case::new(&json!({"stage": "Closed", "status": "Open"})).is_closed(&[]));
        assert!(!Case::new(&json!({"stage": "New", "status": "Resolved"})).is_closed(&[]));
        assert!(Case::new(&json!({"status": "Resolved"})).is_closed(&[]));
    }

    #[test]
    fn default_summary_names_the_case_and_the_user() {
        let case = json!({"caseId": 17, "summary": null});
        assert_eq!(summary(&Case::new(&case), Some("ana@soc")), "Closed from TheHive case #17 by ana@soc");
        let case = json!({"summary": " Host isolated. "});
        assert_eq!(summary(&Case::new(&case), Some("ana@soc")), "Host isolated.");
    }
}
