//! MDR_ApproveResponse / MDR_DeclineResponse: the customer's decision on a response the MDR SOC
//! proposed, taken from the TheHive task mdr-sync (or the MDR Integration Utility) created for it
//! (group `Response`, description starting `**ID**: <response_id>`: `mdr_contract::contract::ResponseTask`).

use cortex_worker::{Job, Operation, Report};
use serde::Serialize;

use super::{ActionError, context, not_found_as};
use crate::settings::Settings;
use mdr_api::client::{Decision, MdrClient, MdrError, MdrResponse};
use mdr_contract::contract::{DEFAULT_RESPONSE_GROUP, ResponseStatus, ResponseTask};
use thehive::view::{Context, DataType, Task};

pub fn approve_response(job: &Job) -> Result<Report, ActionError> {
    respond(job, Decision::Confirmed)
}

pub fn decline_response(job: &Job) -> Result<Report, ActionError> {
    respond(job, Decision::Declined)
}

/// One binary serves both flavours: the flavour file fixes `config.service`, with the service
/// names of the Python responders.
pub fn respond_by_service(job: &Job) -> Result<Report, ActionError> {
    match job.items().text("service")? {
        Some("confirm_response" | "approve_response") => approve_response(job),
        Some("decline_response") => decline_response(job),
        Some(other) => Err(ActionError::Refused(format!(
            "Invalid service {other:?}: the flavour file must set config.service to confirm_response or decline_response"
        ))),
        None => Err(ActionError::Refused("Service parameter is missing".to_owned())),
    }
}

fn respond(job: &Job, decision: Decision) -> Result<Report, ActionError> {
    let ctx = context(job, &[DataType::Task, DataType::TaskLog])?;
    let task = ctx.task.ok_or(ActionError::NoData)?;
    let group = job.items().text("response_task_group")?.unwrap_or(DEFAULT_RESPONSE_GROUP);
    check_group(&task, group)?;
    let response_id = ResponseTask::id_in(task.description().unwrap_or(""))
        .map_err(|e| ActionError::Refused(e.to_string()))?
        .to_owned();
    let settings = Settings::from_job(job)?;
    let incident_id = ctx.case.mdr_incident_id(&settings.incident_field)?;
    let user = job.parameter_str("user");

    let client = MdrClient::new(&settings.mdr)?;
    let responses = client.list_responses(incident_id).map_err(|e| not_found_as(e, incident_id, &settings))?;
    let response = responses.iter().find(|r| r.response_id == response_id).ok_or_else(|| {
        ActionError::Refused(format!(
            "MDR incident {incident_id} has no response {response_id}: the task description names a response of \
             another incident, or the case custom field `{}` is wrong",
            settings.incident_field
        ))
    })?;
    if let Some(done) = verdict(&ctx, response, decision)? {
        return Ok(done);
    }
    let comment = comment(&ctx, decision, user);
    match client.update_response(&response_id, decision, &comment) {
        Ok(()) => report(&ctx, response, decision, Some(&comment), false),
        // Decided meanwhile (another click, the console, the auto-accept setting): say what MDR holds.
        Err(conflict @ MdrError::Status { status: 409, .. }) => {
            let now = client.list_responses(incident_id)?;
            let now = now.iter().find(|r| r.response_id == response_id).unwrap_or(response);
            verdict(&ctx, now, decision)?.ok_or_else(|| conflict.into())
        }
        Err(err) => Err(err.into()),
    }
}

/// What the response's status in MDR means for the requested decision: the report when it was
/// already taken, a refusal when the opposite one was, `None` when the decision is still open.
fn verdict(ctx: &Context<'_>, response: &MdrResponse, decision: Decision) -> Result<Option<Report>, ActionError> {
    match standing(response, decision) {
        Standing::AlreadyDecided => report(ctx, response, decision, None, true).map(Some),
        Standing::Opposite(status) => Err(opposite_decision(&response.response_id, &status, decision)),
        Standing::Open => Ok(None),
    }
}

/// Where a response stands relative to the requested decision: a status that is not decided
/// ([`ResponseStatus::is_decided`], the rule mdr-sync uses too) is left to MDR to judge.
enum Standing {
    AlreadyDecided,
    Opposite(String),
    Open,
}

fn standing(response: &MdrResponse, decision: Decision) -> Standing {
    match (ResponseStatus::parse(response.status.as_deref()), decision) {
        (status, _) if !status.is_decided() => Standing::Open,
        (ResponseStatus::Confirmed, Decision::Confirmed) | (ResponseStatus::Declined, Decision::Declined) => {
            Standing::AlreadyDecided
        }
        (status, _) => Standing::Opposite(status.as_str().to_owned()),
    }
}

fn check_group(task: &Task<'_>, expected: &str) -> Result<(), ActionError> {
    match task.group() {
        Some(group) if ResponseTask::in_group(group, expected) => Ok(()),
        group => Err(ActionError::Refused(format!(
            "This task is in group {:?}, not {expected:?}: run the responder on a response task created by the MDR \
             Integration Utility (group {expected:?}, description starting with **ID**: <response id>)",
            group.unwrap_or("")
        ))),
    }
}

fn opposite_decision(response_id: &str, status: &str, decision: Decision) -> ActionError {
    ActionError::Refused(format!(
        "MDR response {response_id} is already {status:?}, so it can no longer be {}; nothing was sent",
        decision.api_name().to_lowercase()
    ))
}

/// The comment MDR records with the decision: the log text when run on a log, else who decided
/// from which case.
fn comment(ctx: &Context<'_>, decision: Decision, user: Option<&str>) -> String {
    if let Some(message) = ctx.log.and_then(|l| l.message()) {
        return message.trim().to_owned();
    }
    let verb = match decision {
        Decision::Confirmed => "Approved",
        Decision::Declined => "Declined",
    };
    let case = ctx.case.number().map_or("a TheHive case".to_owned(), |n| format!("TheHive case #{n}"));
    match user {
        Some(user) => format!("{verb} by {user} in {case}"),
        None => format!("{verb} in {case}"),
    }
}

/// The report's `full` object.
#[derive(Debug, Serialize)]
struct Decided<'a> {
    message: &'a str,
    response_id: &'a str,
    response_type: Option<&'a str>,
    decision: &'static str,
    already_decided: bool,
    comment: Option<&'a str>,
}

fn report(
    ctx: &Context<'_>,
    response: &MdrResponse,
    decision: Decision,
    comment: Option<&str>,
    already: bool,
) -> Result<Report, ActionError> {
    let id = &response.response_id;
    let word = decision.api_name().to_lowercase();
    let message = match already {
        true => format!("MDR response {id} was already {word}; nothing was sent"),
        false => format!("MDR response {id} {word}"),
    };
    let mut report = Report::of(&Decided {
        message: &message,
        response_id: id,
        response_type: response.kind.as_deref(),
        decision: decision.api_name(),
        already_decided: already,
        comment,
    })?;
    // Task operations apply only when the responder runs on a log (TheHive resolves the task
    // from the log); on a task they would fail with "without task".
    if ctx.log.is_some() {
        report.push_operation(Operation::AddLogToTask { content: message, owner: None });
        report.push_operation(Operation::CloseTask);
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_a_decision_already_taken_stops_the_update() {
        let with = |status: Option<&str>| -> MdrResponse {
            serde_json::from_value(serde_json::json!({"response_id": "MDR_1", "status": status})).unwrap()
        };
        assert!(matches!(standing(&with(Some("confirmed")), Decision::Confirmed), Standing::AlreadyDecided));
        assert!(matches!(standing(&with(Some("Declined")), Decision::Confirmed), Standing::Opposite(_)));
        assert!(matches!(standing(&with(Some("Confirmed")), Decision::Declined), Standing::Opposite(_)));
        for open in [None, Some("New"), Some("Pending"), Some("InProgress"), Some("Created"), Some("")] {
            assert!(matches!(standing(&with(open), Decision::Declined), Standing::Open), "{open:?}");
        }
    }
}
