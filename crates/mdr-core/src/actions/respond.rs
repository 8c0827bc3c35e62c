//! MDR_ApproveResponse / MDR_DeclineResponse: the customer's decision on a response the MDR SOC
//! proposed, taken from the TheHive task the MDR Integration Utility created for it (group
//! `Response`, description starting `**ID**: <response_id>`).

use cortex_worker::{Job, Operation, Report};
use serde_json::json;

use super::{ActionError, context, not_found_as};
use crate::client::{Decision, MdrClient, MdrError, MdrResponse};
use crate::config::MdrSettings;
use crate::thehive::{Context, DataType, Task};

const DEFAULT_GROUP: &str = "Response";
/// MDR's status of a response still waiting for the customer.
const PENDING: &str = "New";

pub fn approve_response(job: &Job) -> Result<Report, ActionError> {
    respond(job, Decision::Confirmed)
}

pub fn decline_response(job: &Job) -> Result<Report, ActionError> {
    respond(job, Decision::Declined)
}

/// One binary serves both flavours: the flavour file fixes `config.service`, with the service
/// names of the Python responders.
pub fn respond_by_service(job: &Job) -> Result<Report, ActionError> {
    match job.config_str("service") {
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
    check_group(&task, job.config_str("response_task_group").unwrap_or(DEFAULT_GROUP))?;
    let response_id = response_id(task.description().unwrap_or(""))?;
    let settings = MdrSettings::from_job(job)?;
    let incident_id = ctx.case.mdr_incident_id(&settings.incident_field)?;
    let user = job.parameter_str("user");

    let client = MdrClient::new(&settings)?;
    let responses = client.list_responses(incident_id).map_err(|e| not_found_as(e, incident_id, &settings))?;
    let response = responses.iter().find(|r| r.response_id == response_id).ok_or_else(|| {
        ActionError::Refused(format!(
            "MDR incident {incident_id} has no response {response_id}: the task description names a response of \
             another incident, or the case custom field `{}` is wrong",
            settings.incident_field
        ))
    })?;
    let status = response.status.as_deref().unwrap_or("");
    if status.eq_ignore_ascii_case(decision.api_name()) {
        return Ok(report(&ctx, response, decision, None, true));
    }
    if !status.eq_ignore_ascii_case(PENDING) {
        return Err(no_longer_pending(&response_id, status, decision));
    }
    let comment = comment(&ctx, decision, user);
    match client.update_response(&response_id, decision, &comment) {
        Ok(()) => Ok(report(&ctx, response, decision, Some(&comment), false)),
        // Decided meanwhile (another click, the console, the auto-accept setting): say what MDR holds.
        Err(conflict @ MdrError::Status { status: 409, .. }) => {
            let now = client.list_responses(incident_id)?;
            let now = now.iter().find(|r| r.response_id == response_id).unwrap_or(response);
            let status = now.status.as_deref().unwrap_or("");
            if status.eq_ignore_ascii_case(decision.api_name()) {
                Ok(report(&ctx, now, decision, None, true))
            } else if status.eq_ignore_ascii_case(PENDING) {
                Err(conflict.into())
            } else {
                Err(no_longer_pending(&response_id, status, decision))
            }
        }
        Err(err) => Err(err.into()),
    }
}

fn check_group(task: &Task<'_>, expected: &str) -> Result<(), ActionError> {
    match task.group() {
        Some(group) if group.eq_ignore_ascii_case(expected) => Ok(()),
        group => Err(ActionError::Refused(format!(
            "This task is in group {:?}, not {expected:?}: run the responder on a response task created by the MDR \
             Integration Utility (group {expected:?}, description starting with **ID**: <response id>)",
            group.unwrap_or("")
        ))),
    }
}

fn no_longer_pending(response_id: &str, status: &str, decision: Decision) -> ActionError {
    ActionError::Refused(format!(
        "MDR response {response_id} is already {status:?}, so it can no longer be {}",
        decision.api_name().to_lowercase()
    ))
}

/// The response id from a task description: a line `**ID**: <id>` as the utility writes it, also
/// accepted as `ID: <id>`, `**ID:** <id>`, `__ID__ : <id>` or with the id in backticks. Lines in
/// code blocks (the response parameters) are ignored. Two different ids are ambiguous.
pub fn response_id(description: &str) -> Result<String, ActionError> {
    let mut ids: Vec<&str> = Vec::new();
    let mut in_code = false;
    for line in description.lines() {
        let line = line.trim();
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if let Some(id) = (!in_code).then(|| id_on_line(line)).flatten()
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    match ids.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(ActionError::Refused(
            "Cannot find the MDR response id in the task description: it should contain a line \
             `**ID**: <response id>` as the MDR Integration Utility writes it"
                .to_owned(),
        )),
        [first, second, ..] => Err(ActionError::Refused(format!(
            "The task description names more than one MDR response ({first} and {second}): keep only the line \
             `**ID**: <response id>` of the response to decide on"
        ))),
    }
}

fn id_on_line(line: &str) -> Option<&str> {
    let line = line.trim_start_matches(['-', '+', ' ']);
    let (label, rest) = line.split_once(':')?;
    if !label.trim_matches(['*', '_', ' ']).eq_ignore_ascii_case("id") {
        return None;
    }
    let value = rest.trim_start_matches(['*', '_', ' ', '\t']).split_whitespace().next()?;
    let value = value.trim_matches('`');
    (!value.is_empty()).then_some(value)
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

fn report(
    ctx: &Context<'_>,
    response: &MdrResponse,
    decision: Decision,
    comment: Option<&str>,
    already: bool,
) -> Report {
    let id = &response.response_id;
    let word = decision.api_name().to_lowercase();
    let message = match already {
        true => format!("MDR response {id} was already {word}; nothing was sent"),
        false => format!("MDR response {id} {word}"),
    };
    let mut report = Report::from_value(json!({
        "message": message,
        "response_id": id,
        "response_type": response.kind,
        "decision": decision.api_name(),
        "already_decided": already,
        "comment": comment,
    }));
    // Task operations apply only when the responder runs on a log (TheHive resolves the task
    // from the log); on a task they would fail with "without task".
    if ctx.log.is_some() {
        report.push_operation(Operation::AddLogToTask { content: message, owner: None });
        report.push_operation(Operation::CloseTask);
    }
    report
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const UTILITY: &str = "**ID**: MDR_fc51163f-00a4-4d07-826e-bb92963bc856  \n**Details**:  \n```\n{\n  \"ID\": \"x\"\n}\n```  \n**Comment**: isolate";

    #[test]
    fn reads_the_id_the_utility_writes() {
        assert_eq!(response_id(UTILITY).unwrap(), "MDR_fc51163f-00a4-4d07-826e-bb92963bc856");
    }

    #[test]
    fn tolerates_markdown_variants() {
        for description in [
            "ID: MDR_1",
            "**ID:** MDR_1 ",
            "__ID__ : `MDR_1`",
            "  - **Id**:\tMDR_1 trailing",
            "x\n**ID**: MDR_1\n**ID**: MDR_1",
        ] {
            assert_eq!(response_id(description).unwrap(), "MDR_1", "{description:?}");
        }
    }

    #[test]
    fn missing_or_ambiguous_ids_are_refused() {
        let err = response_id("**Details**: none\nIDENTITY: x").unwrap_err().to_string();
        assert!(err.starts_with("Cannot find the MDR response id"), "{err}");
        let err = response_id("**ID**: MDR_1\n**ID**: MDR_2").unwrap_err().to_string();
        assert!(err.contains("more than one MDR response (MDR_1 and MDR_2)"), "{err}");
        assert!(response_id("**ID**:   ").is_err());
    }
}
