//! The optional TheHive API: attachments to MDR, resolving the TheHive case, hosts from
//! observables — run as Cortex runs the responders, against the MDR and TheHive stand-ins.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use serde_json::{Value, json};
use test_support::{Fault, Sandbox, TheHiveOptions, TheHiveSandbox, TheHiveVersion};

use crate::support::{CLOSE, CREATE, Job, SEND, fixture, sandbox, sent};

const INCIDENT: &str = "-NzExampleIncident01";
/// The sample log's attachment: `evidence.txt`, the 4 bytes "test", id = their SHA-256.
const ATTACHMENT_ID: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const CASE_ID: &str = "~40964264";

fn thehive(version: TheHiveVersion) -> TheHiveSandbox {
    let mut options = TheHiveOptions::new(version);
    options.api_key = "sentinel-thehive-key".to_owned();
    options.attachments = HashMap::from([(ATTACHMENT_ID.to_owned(), b"test".to_vec())]);
    let case = fixture("th4/input_case_open.json")["data"].clone();
    options.cases = vec![case];
    // TheHive 5 downloads by the attachment's `_id`, found through the log.
    let file = json!({"_id": "~8200", "id": ATTACHMENT_ID, "name": "evidence.txt", "size": 4});
    options.logs = vec![json!({"_id": "~81924184", "attachments": [file]})];
    options.observables = vec![
        json!({"_id": "~1", "dataType": "hostname", "data": "HOST-02", "case": CASE_ID}),
        json!({"_id": "~2", "dataType": "ip", "data": "10.0.0.9", "case": CASE_ID}),
        json!({"_id": "~3", "dataType": "fqdn", "data": "HOST-01", "case": "~other"}),
    ];
    TheHiveSandbox::start(options).unwrap()
}

fn with_thehive(mut job: Job, th: &TheHiveSandbox) -> Job {
    job.input["config"]["thehive_url"] = th.url().into();
    job.input["config"]["thehive_api_key"] = th.api_key().into();
    job
}

fn log_job(mdr: &Sandbox, th: &TheHiveSandbox, sample: &str) -> Job {
    with_thehive(Job::on(sample, mdr), th)
}

#[test]
fn a_log_with_an_attachment_gives_one_comment_and_one_identical_file() {
    let (mdr, th) = (sandbox(false), thehive(TheHiveVersion::V4));
    let job = log_job(&mdr, &th, "th4/input_case_task_log.json");
    let run = job.run(SEND);
    let full = run.assert_success().clone();
    assert!(full["message"].as_str().unwrap().ends_with("; attachment evidence.txt uploaded"), "{full}");
    assert_eq!(full["attachment"]["status"], "sent");
    let attachment_id = full["attachment"]["attachment_id"].as_str().unwrap();
    assert_eq!(mdr.attachment_bytes(attachment_id).unwrap(), b"test");
    assert_eq!(mdr.calls("comments/create").len(), 1);
    let upload = &sent(&mdr, "attachments/upload")[0];
    assert_eq!(upload["meta"]["incident_id"], INCIDENT);
    assert_eq!(upload["file"]["name"], "evidence.txt");
    assert_eq!(upload["parts"], json!(["meta", "file"]), "meta goes first, as the Python client sends it");
    assert!(upload["meta"]["caption"].as_str().unwrap().ends_with("log ~81924184)"), "{upload}");
    let downloads = th.calls("GET /api/datastore");
    assert_eq!(downloads.len(), 1);
    assert_eq!(downloads[0].body["X-Organisation"], "SOC", "the job's organisation is passed on");
    run.assert_no_secret(&["sentinel-thehive-key"]);

    // A second click sends nothing and downloads nothing.
    let again = job.run(SEND);
    let full = again.assert_success();
    assert_eq!(
        (full["already_sent"].clone(), full["attachment"]["status"].clone()),
        (json!(true), json!("already_sent"))
    );
    assert_eq!(
        (
            mdr.calls("comments/create").len(),
            sent(&mdr, "attachments/upload").len(),
            th.calls("GET /api/datastore").len()
        ),
        (1, 1, 1)
    );
}

#[test]
fn a_failed_upload_is_retried_alone_on_the_next_click() {
    let (mdr, th) = (sandbox(true), thehive(TheHiveVersion::V5));
    let mut job = log_job(&mdr, &th, "th5/input_case_task_log.json");
    // The TheHive stand-in serves plain HTTP: the MDR CA stays the only extra trust anchor.
    job.input["config"]["thehive_version"] = "5".into();
    mdr.inject("attachments/upload", Fault::Status(500, r#"{"message": "storage offline"}"#.into()), 1);
    let message = job.run(SEND).assert_error();
    assert!(message.starts_with("The comment was sent to MDR incident -NzExampleIncident01"), "{message}");
    assert!(message.contains("uploading evidence.txt failed") && message.contains("storage offline"), "{message}");
    let run = job.run(SEND);
    let full = run.assert_success();
    assert_eq!(full["already_sent"], true);
    assert_eq!(full["attachment"]["status"], "sent");
    assert_eq!(mdr.calls("comments/create").len(), 1, "the comment is never repeated");
    assert_eq!(sent(&mdr, "attachments/upload").len(), 2, "one failed upload, one that landed");
    let stored = mdr.incident(INCIDENT).unwrap();
    let from_us: Vec<&Value> =
        stored["attachments"].as_array().unwrap().iter().filter(|a| a["full_name"] == "evidence.txt").collect();
    assert_eq!(from_us.len(), 1, "{stored}");
}

#[test]
fn a_thehive_failure_sends_nothing() {
    let (mdr, th) = (sandbox(false), thehive(TheHiveVersion::V4));
    th.inject("GET /api/datastore", Fault::Status(500, "boom".into()), 1);
    let message = log_job(&mdr, &th, "th4/input_case_task_log.json").run(SEND).assert_error();
    assert!(
        message.starts_with("Nothing was sent: fetching the attachment evidence.txt from TheHive failed: TheHive API"),
        "{message}"
    );
    assert!(mdr.calls("comments/create").is_empty());

    let mut job = log_job(&mdr, &th, "th4/input_case_task_log.json");
    job.input["config"]["thehive_api_key"] = "wrong-key".into();
    let run = job.run(SEND);
    let message = run.assert_error();
    assert!(message.contains("HTTP 401") && message.contains("check `thehive_api_key`"), "{message}");
    run.assert_no_secret(&["wrong-key"]);
}

#[test]
fn attachments_above_the_limit_or_without_thehive_are_named_not_sent() {
    let (mdr, th) = (sandbox(false), thehive(TheHiveVersion::V4));
    let mut job = log_job(&mdr, &th, "th4/input_case_task_log.json");
    job.input["config"]["attachment_max_mb"] = 1.into();
    job.input["data"]["attachment"]["size"] = 2_500_000.into();
    let full = job.run(SEND).assert_success().clone();
    assert_eq!(full["attachment"]["reason"], "evidence.txt is 3 MB, above the 1 MB limit (`attachment_max_mb`)");
    assert!(full["message"].as_str().unwrap().contains("attachment evidence.txt NOT sent"), "{full}");
    assert!(th.calls("GET /api/datastore").is_empty() && sent(&mdr, "attachments/upload").is_empty());

    let (plain, _) = Job::new(fixture("th4/input_case_task_log.json"), &mdr);
    let mut plain = plain;
    plain.input["data"]["_id"] = "~another-log".into();
    let full = plain.run(SEND).assert_success().clone();
    assert_eq!(full["attachment"]["status"], "not_sent");
    assert!(full["attachment"]["reason"].as_str().unwrap().contains("set `thehive_url` and `thehive_api_key`"));
}

/// An open case that says how to close through the `mdr-resolution` custom field.
fn open_case_job(mdr: &Sandbox, th: &TheHiveSandbox, sample: &str, resolution: &str) -> Job {
    let mut job = with_thehive(Job::on(sample, mdr), th);
    job.input["data"]["customFields"]["mdr-resolution"] = json!({"string": resolution, "order": 5});
    job
}

#[test]
fn closing_an_open_thehive4_case_closes_both_sides() {
    let (mdr, th) = (sandbox(false), thehive(TheHiveVersion::V4));
    let job = open_case_job(&mdr, &th, "th4/input_case_open.json", "TruePositive");
    let full = job.run(CLOSE).assert_success().clone();
    assert_eq!(
        full["message"],
        "MDR incident -NzExampleIncident01 closed as TRUE_POSITIVE; the TheHive case is resolved"
    );
    assert_eq!(mdr.incident(INCIDENT).unwrap()["status"], "Closed");
    let case = th.case(CASE_ID).unwrap();
    assert_eq!((case["status"].as_str(), case["resolutionStatus"].as_str()), (Some("Resolved"), Some("TruePositive")));
    assert_eq!(case["summary"], "Closed from TheHive case #17 by analyst@soc.example");
    assert_eq!(th.calls("GET /api/status").len(), 1, "TheHive 4 is recognised from /api/status");
    assert_eq!(th.calls("PATCH /api/case").len(), 1);
}

#[test]
fn closing_a_thehive5_case_uses_the_v1_api_and_survives_a_thehive_failure() {
    let (mdr, th) = (sandbox(false), thehive(TheHiveVersion::V5));
    let mut job = open_case_job(&mdr, &th, "th5/input_case.json", "FalsePositive");
    job.input["data"]["status"] = "Open".into();
    job.input["data"]["extendedStatus"] = "InProgress".into();
    job.input["data"]["resolutionStatus"] = Value::Null;
    th.inject("PATCH /api/v1/case", Fault::Status(503, "busy".into()), 1);
    let message = job.run(CLOSE).assert_error();
    assert!(
        message.starts_with("MDR incident -NzExampleIncident01 is closed, but resolving the TheHive case failed"),
        "{message}"
    );
    let full = job.run(CLOSE).assert_success().clone();
    assert_eq!(full["already_closed"], true);
    assert_eq!(full["thehive_case"]["status"], "resolved");
    assert_eq!(th.case(CASE_ID).unwrap()["status"], "FalsePositive");
    assert_eq!(mdr.calls("incidents/close").len(), 1, "MDR is closed once");
    assert!(th.calls("GET /api/status").is_empty(), "TheHive 5 is recognised from extendedStatus");
    assert!(th.calls("PATCH /api/case").is_empty(), "no TheHive 4 route on TheHive 5");
}

#[test]
fn a_thehive5_organisation_with_renamed_statuses_gets_its_own_names() {
    let mut options = TheHiveOptions::new(TheHiveVersion::V5);
    options.api_key = "sentinel-thehive-key".to_owned();
    options.cases = vec![fixture("th4/input_case_open.json")["data"].clone()];
    options.case_statuses = [("New", "New"), ("InProgress", "InProgress"), ("Confirmed threat", "Closed")]
        .map(|(status, stage)| (status.to_owned(), stage.to_owned()))
        .to_vec();
    let (mdr, th) = (sandbox(false), TheHiveSandbox::start(options).unwrap());
    let mut job = open_case_job(&mdr, &th, "th5/input_case.json", "TruePositive");
    job.input["data"]["status"] = "Open".into();
    job.input["data"]["stage"] = "InProgress".into();
    job.input["data"]["extendedStatus"] = "InProgress".into();
    job.input["data"]["resolutionStatus"] = Value::Null;

    // Without the item, the built-in name is sent and this TheHive refuses it: the error says so.
    let message = job.run(CLOSE).assert_error();
    assert!(message.contains("resolving the TheHive case failed"), "{message}");
    assert_eq!(th.case(CASE_ID).unwrap()["status"], "Open");

    job.input["config"]["thehive_true_positive_status"] = "Confirmed threat".into();
    let full = job.run(CLOSE).assert_success().clone();
    assert_eq!(full["thehive_case"]["status"], "resolved");
    let case = th.case(CASE_ID).unwrap();
    assert_eq!((case["status"].as_str(), case["stage"].as_str()), (Some("Confirmed threat"), Some("Closed")));
    assert_eq!(mdr.calls("incidents/close").len(), 1, "MDR is closed once");
}

#[test]
fn a_resolved_case_or_close_thehive_case_false_leaves_thehive_alone() {
    let (mdr, th) = (sandbox(false), thehive(TheHiveVersion::V4));
    let job = with_thehive(Job::on("th4/input_case.json", &mdr), &th);
    assert_eq!(job.run(CLOSE).assert_success()["thehive_case"]["status"], "already_resolved");
    let mut job = open_case_job(&mdr, &th, "th4/input_case_open.json", "TruePositive");
    job.input["config"]["close_thehive_case"] = false.into();
    assert_eq!(job.run(CLOSE).assert_success()["thehive_case"]["status"], "not_changed");
    assert!(th.journal().is_empty());
}

#[test]
fn close_thehive_case_as_a_string_is_read_as_the_boolean_it_says() {
    let (mdr, th) = (sandbox(false), thehive(TheHiveVersion::V4));
    let mut job = open_case_job(&mdr, &th, "th4/input_case_open.json", "TruePositive");
    job.input["config"]["close_thehive_case"] = "yes".into();
    let message = job.run(CLOSE).assert_error();
    assert_eq!(message, "Invalid configuration item `close_thehive_case`: expected true or false, got \"yes\"");
    assert!(mdr.journal().is_empty(), "a bad item stops the job before MDR is touched");
    assert!(th.journal().is_empty(), "and before TheHive is");
    job.input["config"]["close_thehive_case"] = "false".into();
    assert_eq!(job.run(CLOSE).assert_success()["thehive_case"]["status"], "not_changed");
    assert_eq!(mdr.incident(INCIDENT).unwrap()["status"], "Closed");
    assert!(th.journal().is_empty(), "the string \"false\" leaves the TheHive case alone");
}

#[test]
fn create_takes_hosts_from_hostname_observables() {
    let (mdr, th) = (sandbox(false), thehive(TheHiveVersion::V5));
    let mut job = with_thehive(Job::on("th4/input_case_open.json", &mdr), &th);
    job.input["data"]["customFields"] = json!({});
    job.input["data"]["tags"] = json!(["host:HOST-01"]);
    job.input["config"]["thehive_version"] = "5".into();
    let full = job.run(CREATE).assert_success().clone();
    assert_eq!(
        full["affected_hosts"],
        json!(["HOST-01:0xA1B2C3D4E5F60718293A4B5C6D7E8F90", "HOST-02:0x0F1E2D3C4B5A69788796A5B4C3D2E1F0"])
    );
    let query = &th.calls("POST /api/v1/query")[0].body["body"];
    assert_eq!(query["query"][0], json!({"_name": "getCase", "idOrName": CASE_ID}));
}

/// A TheHive 5 that serves only v1 routes, with the sample log holding two files.
fn thehive5_two_files() -> TheHiveSandbox {
    let log = fixture("th5/input_case_task_log_values.json")["data"].clone();
    let mut options = TheHiveOptions::new(TheHiveVersion::V5);
    options.api_key = "sentinel-thehive-key".to_owned();
    options.attachments = HashMap::from([
        (ATTACHMENT_ID.to_owned(), b"test".to_vec()),
        (log["attachments"][1]["id"].as_str().unwrap().to_owned(), b"pid,name\n".to_vec()),
    ]);
    options.logs = vec![json!({"_id": log["_id"], "message": log["message"], "attachments": log["attachments"]})];
    TheHiveSandbox::start(options).unwrap()
}

#[test]
fn a_thehive5_log_with_two_files_delivers_both_once_through_v1_routes() {
    let (mdr, th) = (sandbox(false), thehive5_two_files());
    let mut job = log_job(&mdr, &th, "th5/input_case_task_log_values.json");
    // Without `_id` in the job the attachment id comes from a getLog query.
    job.input["data"]["attachments"][1].as_object_mut().unwrap().remove("_id");
    let run = job.run(SEND);
    let full = run.assert_success().clone();
    let message = full["message"].as_str().unwrap();
    assert!(message.contains("attachment evidence.txt uploaded; attachment process-list.csv uploaded"), "{message}");
    let reported = full["attachments"].as_array().unwrap();
    assert_eq!(reported.len(), 2);
    for (outcome, bytes) in reported.iter().zip([&b"test"[..], &b"pid,name\n"[..]]) {
        assert_eq!(outcome["status"], "sent", "{outcome}");
        assert_eq!(mdr.attachment_bytes(outcome["attachment_id"].as_str().unwrap()).unwrap(), bytes);
    }
    assert!(th.calls("GET /api/datastore").is_empty() && th.calls("GET /api/status").is_empty());
    assert_eq!(th.calls("GET /api/v1/attachment/download").len(), 4, "hash refused, then the _id, per file");
    assert_eq!(th.calls("POST /api/v1/query").len(), 1, "one getLog for the file without `_id`");
    run.assert_no_secret(&["sentinel-thehive-key"]);

    let again = job.run(SEND);
    let full = again.assert_success();
    let statuses: Vec<&Value> = full["attachments"].as_array().unwrap().iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!("already_sent"), &json!("already_sent")]);
    assert_eq!(
        (mdr.calls("comments/create").len(), sent(&mdr, "attachments/upload").len()),
        (1, 2),
        "nothing sent twice"
    );
    assert_eq!(th.calls("GET /api/v1/attachment/download").len(), 4, "nothing fetched again");
}

#[test]
fn a_second_click_sends_only_the_file_that_failed() {
    let (mdr, th) = (sandbox(false), thehive5_two_files());
    let mut job = log_job(&mdr, &th, "th5/input_case_task_log_values.json");
    job.input["config"]["thehive_version"] = "5".into();
    mdr.inject("attachments/upload", Fault::Status(500, r#"{"message": "storage offline"}"#.into()), 1);
    let message = job.run(SEND).assert_error();
    assert!(
        message.contains("(process-list.csv uploaded)") && message.contains("uploading evidence.txt failed"),
        "{message}"
    );
    let run = job.run(SEND);
    let full = run.assert_success();
    let statuses: Vec<&Value> = full["attachments"].as_array().unwrap().iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!("sent"), &json!("already_sent")]);
    assert_eq!((mdr.calls("comments/create").len(), sent(&mdr, "attachments/upload").len()), (1, 3));
}

#[test]
fn thehive5_is_recognised_from_api_v1_status() {
    let (mdr, th) = (sandbox(false), thehive5_two_files());
    let mut job = log_job(&mdr, &th, "th4/input_case_task_log.json");
    job.input["data"]["_id"] = "~81924184".into();
    let full = job.run(SEND).assert_success().clone();
    assert_eq!(full["attachment"]["status"], "sent", "{full}");
    assert_eq!(th.calls("GET /api/v1/status").len(), 1);
    assert!(th.calls("GET /api/status").is_empty());
}
