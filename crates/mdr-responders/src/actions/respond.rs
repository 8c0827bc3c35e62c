//! MDR_ApproveResponse / MDR_DeclineResponse: the customer's decision on a response the MDR SOC
//! proposed, taken from the TheHive task the MDR Integration Utility created for it (group
//! `Response`, description starting `**ID**: <response_id>`).

use cortex_worker::{Job, Operation, Report};
use serde::Serialize;

use super::{ActionError, context, not_found_as};
use crate::settings::Settings;
use mdr_api::client::{Decision, MdrClient, MdrError, MdrResponse};
use thehive::view::{Context, DataType, Task};

const DEFAULT_GROUP: &str = "Response";

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
    let group = job.items().text("response_task_group")?.unwrap_or(DEFAULT_GROUP);
    check_group(&task, group)?;
    let response_id = response_id(task.description().unwrap_or(""))?;
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

/// Where a response stands relative to the requested decision. Only `Confirmed` and `Declined`
/// are known API values; the pending value is known only as a console label ("New"), so any
/// other status is left to MDR to judge.
enum Standing {
    AlreadyDecided,
    Opposite(String),
    Open,
}

fn standing(response: &MdrResponse, decision: Decision) -> Standing {
    let status = response.status.as_deref().unwrap_or("").trim();
    let opposite = match decision {
        Decision::Confirmed => Decision::Declined,
        Decision::Declined => Decision::Confirmed,
    };
    if status.eq_ignore_ascii_case(decision.api_name()) {
        Standing::AlreadyDecided
    } else if status.eq_ignore_ascii_case(opposite.api_name()) {
        Standing::Opposite(status.to_owned())
    } else {
        Standing::Open
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

fn opposite_decision(response_id: &str, status: &str, decision: Decision) -> ActionError {
    ActionError::Refused(format!(
        "MDR response {response_id} is already {status:?}, so it can no longer be {}; nothing was sent",
        decision.api_name().to_lowercase()
    ))
}

/// The response id from a task description. The utility writes `**ID**: <id>` as the first
/// line; the first such line wins, so an `ID:` line the SOC put in the response's comment cannot
/// make it ambiguous. Without one, a hand-written variant is accepted (`ID: <id>`, `**ID:** <id>`,
/// `__ID__ : <id>`, the id in backticks), and two different ids there are refused. Lines in code
/// blocks (the response parameters) are ignored.
pub fn response_id(description: &str) -> Result<String, ActionError> {
    let mut utility: Option<&str> = None;
    let mut variants: Vec<&str> = Vec::new();
    let mut in_code = false;
    for line in description.lines() {
        let line = line.trim();
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(rest) = line.strip_prefix("**ID**:")
            && let Some(id) = id_value(rest)
        {
            utility = Some(id);
            break;
        }
        if let Some(id) = id_on_line(line)
            && !variants.contains(&id)
        {
            variants.push(id);
        }
    }
    if let Some(id) = utility {
        return Ok(id.to_owned());
    }
    match variants.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(ActionError::Refused(
            "Cannot find the MDR response id in the task description: it should start with a line \
             `**ID**: <response id>` as the MDR Integration Utility writes it"
                .to_owned(),
        )),
        [first, second, ..] => Err(ActionError::Refused(format!(
            "The task description names more than one MDR response ({first} and {second}): start it with the line \
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
    id_value(rest)
}

/// The first word after the colon. Only the emphasis that closes the label (`**ID:** x`) is
/// skipped, so an id that starts with `_` keeps it.
fn id_value(rest: &str) -> Option<&str> {
    let rest = rest.strip_prefix("**").or_else(|| rest.strip_prefix("__")).unwrap_or(rest);
    let value = rest.split_whitespace().next()?.trim_matches('`');
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
        let err = response_id("ID: MDR_1\nID: MDR_2").unwrap_err().to_string();
        assert!(err.contains("more than one MDR response (MDR_1 and MDR_2)"), "{err}");
        assert!(response_id("**ID**:   ").is_err());
    }

    #[test]
    fn the_first_utility_line_wins_over_ids_in_the_comment() {
        assert_eq!(response_id("**ID**: MDR_1\n**ID**: MDR_2").unwrap(), "MDR_1");
        let with_comment =
            "**ID**: MDR_1  \n**Details**: {}  \n**Comment**: isolate; previous\nID: MDR_0\n**ID**: MDR_9";
        assert_eq!(response_id(with_comment).unwrap(), "MDR_1");
    }

    #[test]
    fn only_a_decision_already_taken_stops_the_update() {
        let with = |status: Option<&str>| -> MdrResponse {
            serde_json::from_value(serde_json::json!({"response_id": "MDR_1", "status": status})).unwrap()
        };
        assert!(matches!(standing(&with(Some("confirmed")), Decision::Confirmed), Standing::AlreadyDecided));
        assert!(matches!(standing(&with(Some("Declined")), Decision::Confirmed), Standing::Opposite(_)));
        assert!(matches!(standing(&with(Some("Confirmed")), Decision::Declined), Standing::Opposite(_)));
        for open in [None, Some("New"), Some("Pending"), Some("WaitingForApproval"), Some("")] {
            assert!(matches!(standing(&with(open), Decision::Declined), Standing::Open), "{open:?}");
        }
    }

    #[test]
    fn a_leading_underscore_belongs_to_the_id() {
        assert_eq!(response_id("**ID**: _a1b2  \n**Details**: x").unwrap(), "_a1b2");
        assert_eq!(response_id("**ID:** _a1b2").unwrap(), "_a1b2");
        assert_eq!(response_id("ID: __x").unwrap(), "__x");
    }
}
