//! MDR_CreateIncident run as Cortex runs it against the MDR stand-in.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::support::{CREATE, Job, sandbox, sent};

const HOST_01: &str = "HOST-01:0xA1B2C3D4E5F60718293A4B5C6D7E8F90";
const HOST_02: &str = "HOST-02:0x0F1E2D3C4B5A69788796A5B4C3D2E1F0";

/// An open case not linked to MDR, with hosts in the custom field and a tag.
fn unlinked_case(mdr: &test_support::Sandbox, th: &str) -> Job {
    let mut job = Job::on(&format!("{th}/input_case.json"), mdr);
    let case = &mut job.input["data"];
    case["_id"] = "~4099".into();
    case["status"] = "Open".into();
    case["tags"] = json!(["phishing", "host:HOST-02"]);
    case["customFields"] = json!({"mdr-incident-id": {"string": null, "order": 0}, "mdr-affected-hosts": {"string": "HOST-01", "order": 1}});
    job
}

#[test]
fn a_case_becomes_an_incident_and_is_linked_back() {
    let mdr = sandbox(false);
    let job = unlinked_case(&mdr, "th4");
    let run = job.run(CREATE);
    let full = run.assert_success().clone();
    let id = full["incident_id"].as_str().unwrap();
    assert_eq!(full["message"], format!("MDR incident {id} created"));
    assert_eq!(full["incident_number"], 1_234_569);
    assert_eq!(full["affected_hosts"], json!([HOST_01, HOST_02]));
    assert_eq!(
        full["link"],
        format!("http://{}/incidents/{id}", mdr.api_url().trim_start_matches("http://").trim_end_matches("/api/v1"))
    );
    assert_eq!(
        run.doc["operations"],
        json!([{"type": "AddCustomFields", "name": "mdr-incident-id", "tpe": "string", "value": id}, {"type": "AddTagToCase", "tag": "MDR"}])
    );
    assert_eq!(
        sent(&mdr, "incidents/create"),
        vec![json!({
            "summary": "[MDR] Suspicious PowerShell activity on HOST-01",
            "client_description": "Incident imported from MDR.\n\n**Priority**: HIGH\n\n(created from TheHive case #17 by analyst@soc.example; TheHive case id ~4099)",
            "affected_hosts": [HOST_01, HOST_02],
            "priority": "HIGH",
            "markdown_to_html": true,
        })]
    );
    let stored = mdr.incident(id).unwrap();
    assert_eq!(stored["status"], "Open");
    assert_eq!(stored["summary"], "[MDR] Suspicious PowerShell activity on HOST-01");
}

#[test]
fn a_second_click_before_thehive_links_the_case_reuses_the_incident() {
    let mdr = sandbox(true);
    let job = unlinked_case(&mdr, "th5");
    let first = job.run(CREATE);
    let id = first.assert_success()["incident_id"].clone();
    // TheHive has not applied AddCustomFields yet: the same input arrives again.
    let second = job.run(CREATE);
    let full = second.assert_success();
    assert_eq!(full["incident_id"], id);
    assert_eq!(full["already_linked"], true);
    assert_eq!(second.doc["operations"][0]["value"], id);
    assert_eq!(sent(&mdr, "incidents/create").len(), 1);
}

#[test]
fn concurrent_clicks_create_one_incident() {
    let mdr = sandbox(false);
    let job = &unlinked_case(&mdr, "th4");
    let runs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|i| s.spawn(move || job.run_in(CREATE, &format!("job-{i}")))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ids: Vec<Value> = runs.iter().map(|r| r.assert_success()["incident_id"].clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(sent(&mdr, "incidents/create").len(), 1);
}

#[test]
fn linked_or_imported_cases_are_not_sent_again() {
    let mdr = sandbox(false);
    let job = Job::on("th4/input_case_open.json", &mdr);
    let run = job.run(CREATE);
    let full = run.assert_success();
    assert_eq!(
        full["message"],
        "The case is already linked to MDR incident -NzExampleIncident01; no new incident was created"
    );
    assert_eq!(run.doc["operations"], json!([]));

    let mut imported = unlinked_case(&mdr, "th4");
    imported.input["data"]["tags"] = json!(["MDR", "host:HOST-02"]);
    let message = imported.run(CREATE).assert_error();
    assert!(
        message
            .starts_with("The case carries the tag \"MDR\" that the MDR Integration Utility puts on cases it imported"),
        "{message}"
    );
    imported.input["config"]["imported_case_tag"] = "none".into();
    imported.input["config"]["case_tag"] = "none".into();
    let run = imported.run(CREATE);
    run.assert_success();
    assert_eq!(run.doc["operations"].as_array().unwrap().len(), 1, "no tag operation when case_tag is none");
    assert_eq!(sent(&mdr, "incidents/create").len(), 1);
}

#[test]
fn hosts_are_resolved_and_unknown_ones_named() {
    let mdr = sandbox(false);
    let mut job = unlinked_case(&mdr, "th4");
    job.input["data"]["tags"] = json!(["host:HOST-99"]);
    let full = job.run(CREATE).assert_success().clone();
    assert_eq!(full["unknown_hosts"], json!(["HOST-99"]));
    assert!(full["message"].as_str().unwrap().ends_with("these hosts are unknown to MDR and were left out: HOST-99"));

    let mut job = unlinked_case(&mdr, "th4");
    job.input["data"]["_id"] = "~5000".into();
    job.input["data"]["customFields"]["mdr-affected-hosts"]["string"] = "GHOST-1 GHOST-2".into();
    job.input["data"]["tags"] = json!([]);
    let message = job.run(CREATE).assert_error();
    assert_eq!(
        message,
        "None of the case's hosts is a known MDR asset: GHOST-1, GHOST-2. Check the host names (as MDR shows them)"
    );

    job.input["data"]["customFields"]["mdr-affected-hosts"]["string"] = Value::Null;
    let message = job.run(CREATE).assert_error();
    assert!(message.starts_with("No affected hosts on the case: MDR needs at least one"), "{message}");
    assert_eq!(sent(&mdr, "incidents/create").len(), 1);
}

#[test]
fn an_unclear_answer_is_followed_by_a_lookup_not_a_second_incident() {
    let mdr = sandbox(false);
    let mut job = unlinked_case(&mdr, "th4");
    job.input["config"]["timeout"] = 1.into();
    // MDR creates the incident but answers after the client gave up.
    mdr.inject("incidents/create", test_support::Fault::Delay(std::time::Duration::from_millis(2500)), 1);
    let message = job.run(CREATE).assert_error();
    assert!(message.starts_with("MDR may have created the incident but did not answer clearly"), "{message}");
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let run = job.run(CREATE);
    let full = run.assert_success();
    let id = full["incident_id"].as_str().unwrap();
    assert_eq!(full["already_linked"], true);
    assert!(mdr.incident(id).unwrap()["client_description"].as_str().unwrap().ends_with("TheHive case id ~4099)"));
    assert_eq!(sent(&mdr, "incidents/create").len(), 1, "looked up, not created twice");
    assert_eq!(run.doc["operations"][0]["value"], id);
}

#[test]
fn a_refused_creation_leaves_no_record_behind() {
    let mdr = sandbox(false);
    let job = unlinked_case(&mdr, "th4");
    mdr.inject("incidents/create", test_support::Fault::Status(400, r#"{"message": "summary too long"}"#.into()), 1);
    let message = job.run(CREATE).assert_error();
    assert!(message.starts_with("MDR API incidents/create answered HTTP 400: summary too long"), "{message}");
    // Nothing was created, so the next run creates without looking for a lost incident.
    job.run(CREATE).assert_success();
    assert_eq!(sent(&mdr, "incidents/create").len(), 2);
    assert!(mdr.calls("incidents/list").is_empty());
}

#[test]
fn a_gateway_error_on_creation_is_followed_by_a_lookup() {
    let mdr = sandbox(false);
    let job = unlinked_case(&mdr, "th4");
    // A proxy in front of MDR gave up waiting: MDR may have created the incident.
    mdr.inject("incidents/create", test_support::Fault::Status(504, "<html>Gateway Timeout</html>".into()), 1);
    let message = job.run(CREATE).assert_error();
    assert!(message.starts_with("MDR may have created the incident but did not answer clearly"), "{message}");
    mdr.clear_journal();
    job.run(CREATE).assert_success();
    let endpoints: Vec<String> = mdr.journal().into_iter().map(|c| c.endpoint).collect();
    let list = endpoints.iter().position(|e| e == "incidents/list");
    let create = endpoints.iter().position(|e| e == "incidents/create");
    assert!(list.is_some() && list < create, "looked in MDR before creating again: {endpoints:?}");
}

#[test]
fn a_case_tagged_by_our_own_link_back_is_linked_again_not_refused() {
    let mdr = sandbox(false);
    let mut job = unlinked_case(&mdr, "th4");
    let id = job.run(CREATE).assert_success()["incident_id"].clone();
    // TheHive applied AddTagToCase but not AddCustomFields (e.g. the field is not defined).
    job.input["data"]["tags"] = json!(["MDR", "host:HOST-02"]);
    let run = job.run(CREATE);
    let full = run.assert_success();
    assert_eq!(full["incident_id"], id);
    assert_eq!(run.doc["operations"][0]["value"], id, "the link-back is offered again");
    assert_eq!(sent(&mdr, "incidents/create").len(), 1);
}
