//! Every page of MDR's lists is read: the stand-in pages like an unknown server (a small default
//! page size), so a responder that read one answer only would post twice or miss a response.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use test_support::{Sandbox, SandboxOptions, Seed};

use crate::support::{CREATE, DECIDE, Job, SEND};

const INCIDENT: &str = "-NzExampleIncident01";
const PENDING: &str = "MDR_00000000-1111-2222-3333-444444444444";

/// The demo seed with `extra` objects put before the existing ones in the incident's `list`.
fn sandbox_with(list: &str, extra: Vec<Value>) -> Sandbox {
    let path = crate::support::workspace_root().join("tests/fixtures/sandbox/seed.json");
    let mut seed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let incident = seed["incidents"].as_array_mut().unwrap().iter_mut().find(|i| i["incident_id"] == INCIDENT).unwrap();
    let existing = incident[list].as_array().cloned().unwrap_or_default();
    incident[list] = Value::Array(extra.into_iter().chain(existing).collect());
    Sandbox::start(SandboxOptions::new(Seed::from_json(seed).unwrap())).unwrap()
}

#[test]
fn with_60_comments_two_clicks_on_one_log_post_one_comment() {
    let comments = (0..60)
        .map(|n| json!({"comment_id": format!("C{n:03}"), "author_name": "SOC", "text": format!("note {n}"), "creation_time": n}))
        .collect();
    let mdr = sandbox_with("comments", comments);
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    assert_eq!(job.run(SEND).assert_success()["already_sent"], false);
    assert_eq!(job.run(SEND).assert_success()["already_sent"], true);
    assert_eq!(mdr.calls("comments/create").len(), 1);
    let pages: Vec<Value> = mdr.calls("comments/list").iter().map(|c| c.body["page"].clone()).collect();
    assert!(pages.contains(&json!(1)) && pages.iter().all(|p| p.is_u64()), "explicit pages: {pages:?}");
}

#[test]
fn a_pending_response_listed_after_25_others_is_confirmed() {
    let others = (0..25)
        .map(|n| json!({"response_id": format!("MDR_other-{n:02}"), "type": "RUN_SCRIPT", "status": "Confirmed"}))
        .collect();
    let mdr = sandbox_with("responses", others);
    let mut job = Job::on("th4/input_case_task.json", &mdr);
    job.input["config"]["service"] = "confirm_response".into();
    let full = job.run(DECIDE).assert_success().clone();
    assert_eq!(full["message"], format!("MDR response {PENDING} confirmed"));
    assert_eq!(mdr.response(PENDING).unwrap()["status"], "Confirmed");
}

#[test]
fn the_create_incident_recovery_search_reads_every_page() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let path = crate::support::workspace_root().join("tests/fixtures/sandbox/seed.json");
    let mut seed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // 150 incidents created just before ours: with pages of 100, ours is on page 2.
    let incidents = seed["incidents"].as_array_mut().unwrap();
    for n in 0..150 {
        incidents.push(json!({"incident_id": format!("-NzBusy{n:04}"), "incident_number": 9000 + n,
            "summary": "busy day", "status": "Open", "creation_time": now - 1000 + n, "update_time": now}));
    }
    let mdr = Sandbox::start(SandboxOptions::new(Seed::from_json(seed).unwrap())).unwrap();
    let mut job = Job::on("th4/input_case.json", &mdr);
    let case = &mut job.input["data"];
    case["_id"] = "~4099".into();
    case["status"] = "Open".into();
    case["tags"] = json!(["host:HOST-01"]);
    case["customFields"] = json!({"mdr-incident-id": {"string": null, "order": 0}});
    job.input["config"]["timeout"] = 1.into();
    // MDR creates the incident but answers after the client gave up.
    mdr.inject("incidents/create", test_support::Fault::Delay(std::time::Duration::from_millis(2500)), 1);
    let message = job.run(CREATE).assert_error();
    assert!(message.starts_with("MDR may have created the incident but did not answer clearly"), "{message}");
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let full = job.run(CREATE).assert_success().clone();
    assert_eq!(full["already_linked"], true, "{full}");
    assert_eq!(mdr.calls("incidents/create").len(), 1, "found on page 2, not created twice");
    assert!(mdr.calls("incidents/list").iter().any(|c| c.body["page"] == 2));
}
