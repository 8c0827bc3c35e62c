//! MDR_ApproveResponse / MDR_DeclineResponse run as Cortex runs them against the MDR stand-in.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::support::{DECIDE, Job, sandbox, sent};

const PENDING: &str = "MDR_00000000-1111-2222-3333-444444444444";
const CONFIRMED_ELSEWHERE: &str = "MDR_55555555-6666-7777-8888-999999999999";

fn job(name: &str, service: &str, mdr: &test_support::Sandbox) -> Job {
    Job::on(name, mdr).with_config("service", service)
}

#[test]
fn approve_on_a_thehive4_task() {
    let mdr = sandbox(false);
    let run = job("th4/input_case_task.json", "confirm_response", &mdr).run(DECIDE);
    let full = run.assert_success();
    assert_eq!(full["message"], format!("MDR response {PENDING} confirmed"));
    assert_eq!(full["response_type"], "RUN_SCRIPT");
    assert_eq!(run.doc["operations"], json!([]), "task operations need a log context");
    assert_eq!(
        sent(&mdr, "response/update"),
        vec![
            json!({"response_id": PENDING, "status": "Confirmed", "comment": "Approved by analyst@soc.example in TheHive case #17"})
        ]
    );
    assert_eq!(mdr.response(PENDING).unwrap()["status"], "Confirmed");
}

#[test]
fn decline_on_a_thehive5_log_uses_the_log_and_closes_the_task() {
    let mdr = sandbox(true);
    let run = job("th5/input_case_task_log.json", "decline_response", &mdr).run(DECIDE);
    let full = run.assert_success();
    assert_eq!(full["decision"], "Declined");
    assert_eq!(
        run.doc["operations"],
        json!([{"type": "AddLogToTask", "content": format!("MDR response {PENDING} declined")}, {"type": "CloseTask"}])
    );
    assert_eq!(
        sent(&mdr, "response/update"),
        vec![json!({"response_id": PENDING, "status": "Declined", "comment": "Approved by the on-call analyst."})]
    );
    assert_eq!(mdr.response(PENDING).unwrap()["status"], "Declined");
}

#[test]
fn a_decision_already_taken_is_not_sent_again() {
    let mdr = sandbox(false);
    let approve = job("th4/input_case_task_log.json", "confirm_response", &mdr);
    approve.run(DECIDE).assert_success();
    let run = approve.run(DECIDE);
    let full = run.assert_success();
    assert_eq!(full["already_decided"], true);
    assert_eq!(full["message"], format!("MDR response {PENDING} was already confirmed; nothing was sent"));
    assert_eq!(sent(&mdr, "response/update").len(), 1);

    let decline = job("th4/input_case_task_log.json", "decline_response", &mdr);
    let message = decline.run(DECIDE).assert_error();
    assert_eq!(
        message,
        format!("MDR response {PENDING} is already \"Confirmed\", so it can no longer be declined; nothing was sent")
    );
    assert_eq!(sent(&mdr, "response/update").len(), 1);
}

#[test]
fn a_response_of_another_incident_is_refused() {
    let mdr = sandbox(false);
    let mut j = job("th4/input_case_task.json", "confirm_response", &mdr);
    j.input["data"]["description"] = format!("**ID**: {CONFIRMED_ELSEWHERE}").into();
    let message = j.run(DECIDE).assert_error();
    assert!(
        message.starts_with(&format!("MDR incident -NzExampleIncident01 has no response {CONFIRMED_ELSEWHERE}")),
        "{message}"
    );
    j.input["data"]["description"] = "**ID**: MDR_unknown".into();
    assert!(j.run(DECIDE).assert_error().contains("has no response MDR_unknown"));
    assert!(sent(&mdr, "response/update").is_empty());
}

#[test]
fn tasks_outside_the_group_or_without_a_clear_id_are_refused_before_any_call() {
    let mdr = sandbox(false);
    let mut j = job("th4/input_case_task.json", "confirm_response", &mdr);
    j.input["data"]["group"] = "default".into();
    let message = j.run(DECIDE).assert_error();
    assert!(message.starts_with("This task is in group \"default\", not \"Response\""), "{message}");
    j.input["config"]["response_task_group"] = "default".into();
    // Only the first line names the response: an id further down (MDR's comment) is none.
    for description in ["no id here", "Isolate it\n**ID**: MDR_1", "```\n**ID**: MDR_1\n```"] {
        j.input["data"]["description"] = description.into();
        let message = j.run(DECIDE).assert_error();
        assert!(
            message.starts_with("Cannot find the MDR response id on the first line of the task description"),
            "{message}"
        );
    }
    assert!(mdr.journal().is_empty());
}

#[test]
fn the_service_selects_the_flavour() {
    let mdr = sandbox(false);
    let mut j = job("th4/input_case_task.json", "confirm_response", &mdr);
    j.input["config"]["service"] = Value::Null;
    assert_eq!(j.run(DECIDE).assert_error(), "Service parameter is missing");
    j.input["config"]["service"] = "reboot".into();
    assert!(j.run(DECIDE).assert_error().starts_with("Invalid service \"reboot\""));
    let j = job("th4/input_case.json", "confirm_response", &mdr);
    assert!(
        j.run(DECIDE).assert_error().starts_with("This responder runs on thehive:case_task or thehive:case_task_log")
    );
}

#[test]
fn a_response_decided_meanwhile_is_reported_from_mdr() {
    let mdr = sandbox(false);
    // The console confirms it between our lookup and our update: MDR answers 409.
    mdr.inject(
        "response/update",
        test_support::Fault::Status(409, r#"{"message": "response is not pending"}"#.into()),
        1,
    );
    let message = job("th4/input_case_task.json", "decline_response", &mdr).run(DECIDE).assert_error();
    assert!(message.starts_with("MDR API response/update answered HTTP 409: response is not pending"), "{message}");
    assert_eq!(mdr.calls("responses/list").len(), 2, "looked the response up again before answering");
}

#[test]
fn thehive5_jobs_whose_case_has_only_custom_field_values() {
    let mdr = sandbox(false);
    let run = job("th5/input_case_task_values.json", "confirm_response", &mdr).run(DECIDE);
    assert_eq!(run.assert_success()["message"], format!("MDR response {PENDING} confirmed"));
    let mdr = sandbox(false);
    let run = job("th5/input_case_task_log_values.json", "decline_response", &mdr).run(DECIDE);
    assert_eq!(run.assert_success()["decision"], "Declined");
    assert_eq!(sent(&mdr, "response/update").len(), 1);
}
