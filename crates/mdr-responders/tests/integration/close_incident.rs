//! MDR_CloseIncident run as Cortex runs it against the MDR stand-in.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::support::{CLOSE, Job, sandbox, sent};

const INCIDENT: &str = "-NzExampleIncident01";

#[test]
fn a_resolved_thehive4_case_closes_the_incident() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case.json", &mdr);
    let run = job.run(CLOSE);
    let full = run.assert_success();
    assert_eq!(full["message"], "MDR incident -NzExampleIncident01 closed as TRUE_POSITIVE");
    assert_eq!(full["already_closed"], false);
    assert_eq!(full["mdr"]["status"], "Closed");
    assert_eq!(full["mdr"]["resolution"], "True positive");
    assert_eq!(run.doc["operations"], json!([]));
    assert_eq!(
        sent(&mdr, "incidents/close"),
        vec![
            json!({"incident_id": INCIDENT, "resolution_status": "TRUE_POSITIVE", "summary": "Host isolated, script blocked."})
        ]
    );
    let endpoints: Vec<String> = mdr.journal().into_iter().map(|c| c.endpoint).collect();
    assert_eq!(endpoints, ["incidents/details", "incidents/close"]);
    let stored = mdr.incident(INCIDENT).unwrap();
    assert_eq!(stored["status"], "Closed");
    assert_eq!(stored["status_description"], "Host isolated, script blocked.");
}

#[test]
fn thehive5_extended_status_wins_and_an_empty_summary_gets_a_default() {
    let mdr = sandbox(true);
    let mut job = Job::on("th5/input_case.json", &mdr);
    job.input["data"]["extendedStatus"] = "FalsePositive".into();
    job.input["data"]["summary"] = Value::Null;
    job.run(CLOSE).assert_success();
    assert_eq!(
        sent(&mdr, "incidents/close"),
        vec![json!({"incident_id": INCIDENT, "resolution_status": "FALSE_POSITIVE",
                    "summary": "Closed from TheHive case #17 by analyst@soc.example"})]
    );
    assert_eq!(mdr.incident(INCIDENT).unwrap()["resolution"], "False positive");
}

#[test]
fn an_incident_already_closed_is_reported_not_closed_twice() {
    let mdr = sandbox(false);
    let mut job = Job::on("th4/input_case.json", &mdr);
    job.input["data"]["customFields"]["mdr-incident-id"]["string"] = "-NzClosedIncident03".into();
    let run = job.run(CLOSE);
    let full = run.assert_success();
    assert_eq!(full["already_closed"], true);
    assert!(full["message"].as_str().unwrap().contains("was already closed (resolution \"True positive\")"), "{full}");
    assert!(sent(&mdr, "incidents/close").is_empty());
    // A second click on a case closed by the first one: same outcome.
    let job = Job::on("th4/input_case.json", &mdr);
    job.run(CLOSE).assert_success();
    job.run(CLOSE).assert_success();
    assert_eq!(sent(&mdr, "incidents/close").len(), 1);
}

#[test]
fn unmapped_or_missing_resolutions_are_refused_before_any_call() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_open.json", &mdr);
    let message = job.run(CLOSE).assert_error();
    assert!(message.starts_with("The case is still open and has no resolution"), "{message}");

    let mut job = Job::on("th4/input_case.json", &mdr);
    job.input["data"]["resolutionStatus"] = "Indeterminate".into();
    let message = job.run(CLOSE).assert_error();
    assert!(
        message.contains("\"Indeterminate\" has no MDR equivalent: MDR accepts TruePositive or FalsePositive"),
        "{message}"
    );
    assert!(mdr.journal().is_empty());

    // An explicit mapping makes it acceptable.
    job.input["config"]["resolution_map"] = "Indeterminate:FalsePositive".into();
    job.run(CLOSE).assert_success();
    assert_eq!(sent(&mdr, "incidents/close")[0]["resolution_status"], "FALSE_POSITIVE");
}

#[test]
fn an_unlinked_case_or_unknown_incident_is_explained() {
    let mdr = sandbox(false);
    let mut job = Job::on("th4/input_case.json", &mdr);
    job.input["data"]["customFields"]["mdr-incident-id"] = json!({"string": null, "order": 0});
    assert!(job.run(CLOSE).assert_error().contains("has no value in custom field `mdr-incident-id`"));
    job.input["data"]["customFields"]["mdr-incident-id"] = json!({"string": "-Nope", "order": 0});
    assert!(job.run(CLOSE).assert_error().starts_with("MDR has no incident -Nope"));
    assert!(sent(&mdr, "incidents/close").is_empty());
}

#[test]
fn a_server_failure_on_close_is_a_clear_error() {
    let mdr = sandbox(false);
    mdr.inject("incidents/close", test_support::Fault::Status(500, r#"{"message": "database unavailable"}"#.into()), 1);
    let job = Job::on("th4/input_case.json", &mdr);
    let message = job.run(CLOSE).assert_error();
    assert!(message.starts_with("MDR API incidents/close answered HTTP 500: database unavailable"), "{message}");
    assert_eq!(sent(&mdr, "incidents/close").len(), 1, "a write is not retried blindly");
}

#[test]
fn a_thehive5_case_closed_by_stage_with_a_custom_status_uses_the_map() {
    // The case carries its incident id only in `customFieldValues`, its status is custom.
    let mdr = sandbox(true);
    let mut job = Job::on("th5/input_case_values.json", &mdr);
    let message = job.run(CLOSE).assert_error();
    assert!(message.starts_with("The case resolution \"Confirmed threat\" has no MDR equivalent"), "{message}");
    assert!(sent(&mdr, "incidents/close").is_empty());
    job.input["config"]["resolution_map"] = "Confirmed threat:TruePositive".into();
    let run = job.run(CLOSE);
    let full = run.assert_success();
    assert_eq!(full["message"], "MDR incident -NzExampleIncident01 closed as TRUE_POSITIVE");
    assert_eq!(sent(&mdr, "incidents/close").len(), 1);
    assert_eq!(sent(&mdr, "incidents/close")[0]["resolution_status"], "TRUE_POSITIVE");
}

#[test]
fn a_thehive5_case_open_by_stage_is_still_open_whatever_its_status() {
    let mdr = sandbox(true);
    let mut job = Job::on("th5/input_case_values.json", &mdr);
    job.input["data"]["stage"] = "InProgress".into();
    job.input["data"]["extendedStatus"] = "Waiting customer".into();
    job.input["config"]["resolution_map"] = "Waiting customer:FalsePositive".into();
    let message = job.run(CLOSE).assert_error();
    assert!(message.starts_with("The case is still open and has no resolution"), "{message}");
    assert!(mdr.journal().is_empty(), "nothing is asked of MDR for an open case");
}
