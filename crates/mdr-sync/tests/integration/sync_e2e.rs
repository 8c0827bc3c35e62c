//! mdr-sync against the MDR stand-in and the stateful TheHive stand-in (v0 and v1 routes), and
//! MDR_ApproveResponse (mdr-responders' binary) run as Cortex runs it on the Response task the
//! sync created.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use mdr_contract::contract::Mirrored;
use mdr_sync::config::SyncConfig;
use mdr_sync::sync::{Summary, pass};
use mdr_sync::thehive_client;
use serde_json::{Value, json};
use test_support::cortex::{self, Worker, workspace_root};
use test_support::{Fault, Sandbox, SandboxOptions, Seed, TheHiveOptions, TheHiveSandbox, TheHiveVersion};

const NEW_INCIDENT: &str = "-NzExampleIncident01";
const LINKED_INCIDENT: &str = "-NzExampleIncident02";
const PENDING: &str = "MDR_00000000-1111-2222-3333-444444444444";

/// A TheHive sample input from `tests/fixtures/jobs/`, e.g. `th4/input_case_task.json`.
fn fixture(name: &str) -> Value {
    cortex::sample_input(name).unwrap()
}

/// The responder binary the full runs click, a binary of mdr-responders.
fn decision_bin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| responder_bin("mdr-response-decision"))
}

fn create_bin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| responder_bin("mdr-create-incident"))
}

fn responder_bin(name: &str) -> PathBuf {
    let beside = Path::new(env!("CARGO_BIN_EXE_mdr-sync"));
    cortex::workspace_binary("mdr-responders", name, beside).unwrap()
}

struct World {
    mdr: Sandbox,
    hive: TheHiveSandbox,
    dir: tempfile::TempDir,
    version: TheHiveVersion,
}

/// A case as MDR_CreateIncident leaves it: linked by the custom field.
fn linked_case(version: TheHiveVersion) -> Value {
    let fields = match version {
        TheHiveVersion::V4 => json!({"mdr-incident-id": {"string": LINKED_INCIDENT, "order": 0}}),
        TheHiveVersion::V5 => json!([{"name": "mdr-incident-id", "value": LINKED_INCIDENT}]),
    };
    json!({"_id": "~linked", "id": "~linked", "title": "Raised from TheHive", "status": "Open", "caseId": 99, "customFields": fields})
}

fn world(version: TheHiveVersion) -> World {
    world_with(version, Sandbox::start(SandboxOptions::new(Seed::default_demo())).unwrap(), 10)
}

fn world_with(version: TheHiveVersion, mdr: Sandbox, max_incidents: usize) -> World {
    world_with_cases(version, mdr, max_incidents, vec![linked_case(version)])
}

fn world_with_cases(version: TheHiveVersion, mdr: Sandbox, max_incidents: usize, cases: Vec<Value>) -> World {
    world_with_fields(version, mdr, max_incidents, cases, &[])
}

/// With the case custom fields `fields` defined in TheHive besides the default ones.
fn world_with_fields(
    version: TheHiveVersion,
    mdr: Sandbox,
    max_incidents: usize,
    cases: Vec<Value>,
    fields: &[&str],
) -> World {
    let mut options = TheHiveOptions::new(version);
    options.cases = cases;
    options.custom_fields.extend(fields.iter().map(|f| (*f).to_owned()));
    let hive = TheHiveSandbox::start(options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    mdr.write_token_dir(&dir.path().join("conf"), 3600).unwrap();
    let v = if version == TheHiveVersion::V4 { 4 } else { 5 };
    // The utility's layout: token_dir relative to the utility's folder.
    let yaml = format!(
        "api_url: {}\nclient_id: {}\ntoken_dir: conf\nthehive:\n  api_url: {}\n  api_key: {}\n  version: {v}\n\
         mdr_sync:\n  max_incidents_at_time: {max_incidents}\n  download_attachments_size_limit: 100000\n  exclude_author: 'TheHive \\(API\\)'\n",
        mdr.api_url(),
        mdr.client_id(),
        hive.url(),
        hive.api_key()
    );
    std::fs::write(dir.path().join("conf/config.yml"), yaml).unwrap();
    World { mdr, hive, dir, version }
}

impl World {
    fn config(&self) -> SyncConfig {
        SyncConfig::load(&self.dir.path().join("conf/config.yml")).unwrap()
    }

    fn pass(&self) -> Summary {
        let config = self.config();
        pass(&config, &thehive_client(&config.thehive).unwrap(), &AtomicBool::new(false)).unwrap()
    }

    fn cases_of(&self, incident_id: &str) -> Vec<Value> {
        let (cases, _, _) = self.hive.records();
        cases.into_iter().filter(|c| c.to_string().contains(&format!("\"{incident_id}\""))).collect()
    }

    fn tasks_of(&self, case_id: &Value) -> Vec<Value> {
        self.hive.records().1.into_iter().filter(|t| &t["case"] == case_id).collect()
    }

    fn logs_of(&self, task_id: &Value) -> Vec<Value> {
        self.hive.records().2.into_iter().filter(|l| &l["task"] == task_id).collect()
    }

    /// Runs MDR_ApproveResponse/MDR_DeclineResponse on `input` as Cortex does, on the sync's token
    /// folder, and asserts a report Cortex accepts.
    fn run_decision(&self, input: Value) {
        self.run_responder(decision_bin(), input);
    }

    /// Runs `binary` on `input` as Cortex does; the report's `full` object.
    fn run_responder(&self, binary: &Path, mut input: Value) -> Value {
        let config = &mut input["config"];
        config["api_url"] = self.mdr.api_url().into();
        config["client_id"] = self.mdr.client_id().into();
        config["token_dir"] = self.dir.path().join("conf").to_str().unwrap().into();
        let job = self.dir.path().join("job");
        cortex::write_job(&job, &input).unwrap();
        let responders = workspace_root().join("responders");
        let run = cortex::run_job(binary, &job, &responders, cortex::job_timeout()).unwrap();
        run.accepted(Worker::Responder).unwrap_or_else(|problem| panic!("{problem}"));
        std::fs::remove_dir_all(&job).unwrap();
        run.doc["full"].clone()
    }

    fn hive_writes(&self) -> usize {
        let reads = ["/_search", "/api/v1/query", "GET "];
        self.hive.journal().iter().filter(|e| !reads.iter().any(|r| e.endpoint.contains(r))).count()
    }
}

fn full_run(version: TheHiveVersion) {
    let w = world(version);
    let first = w.pass();
    assert_eq!((first.failed, first.stopped), (0, false), "{first:?}");

    // The new incident: one case, its comment and attachment as logs, one task per response.
    let cases = w.cases_of(NEW_INCIDENT);
    assert_eq!(cases.len(), 1, "{cases:?}");
    let case = &cases[0];
    assert!(case["title"].as_str().unwrap().starts_with("MDR K-"), "{case}");
    assert_eq!(case["severity"], 3);
    assert_eq!(case["tags"], json!(["MDR"]));
    assert!(case["description"].as_str().unwrap().contains(&format!("/incidents/{NEW_INCIDENT}")));
    let tasks = w.tasks_of(&case["_id"]);
    let comments_task = tasks.iter().find(|t| t["title"] == "MDR Response").unwrap();
    let logs = w.logs_of(&comments_task["_id"]);
    assert_eq!(logs.len(), 2, "{logs:?}");
    // MDR keeps the comment as HTML (`<p>...</p>`); the log shows its text.
    let comment = logs[0]["message"].as_str().unwrap();
    assert!(comment.starts_with("Security Team wrote:\n> We detected a suspicious PowerShell"), "{comment}");
    assert!(!comment.contains("<p>") && !comment.contains("</p>"), "{comment}");
    let with_file = &logs[1];
    assert_eq!(with_file["attachments"].as_array().unwrap().len(), 1, "{with_file}");
    let response_tasks: Vec<&Value> = tasks.iter().filter(|t| t["group"] == "Response").collect();
    assert_eq!(response_tasks.len(), 2);
    let pending_task = response_tasks
        .iter()
        .find(|t| t["description"].as_str().unwrap().starts_with(&format!("**ID**: {PENDING}  \n**Details**: ")))
        .unwrap();
    assert_eq!(pending_task["title"], "RUN_SCRIPT");

    // The incident MDR_CreateIncident linked: its case is reused, not duplicated.
    assert_eq!(w.cases_of(LINKED_INCIDENT).len(), 1);
    let linked_tasks: Vec<Value> =
        w.tasks_of(&json!("~linked")).into_iter().filter(|t| t["group"] == "Response").collect();
    assert_eq!(linked_tasks.len(), 1, "the confirmed response gets a closed task: {linked_tasks:?}");
    assert_eq!(linked_tasks[0]["status"], "Completed");

    // A pass with no changes: at most two MDR requests, no TheHive request at all.
    w.mdr.clear_journal();
    let hive_before = w.hive.journal().len();
    let second = w.pass();
    assert_eq!(second.incidents, 0, "{second:?}");
    let asked: Vec<String> =
        w.mdr.journal().into_iter().map(|e| e.endpoint).filter(|e| e != "session/confirm").collect();
    assert_eq!(asked, ["incidents/list"], "one listing, plus a refresh when the token is due");
    assert_eq!(w.hive.journal().len(), hive_before);

    // Killed before the state was saved (no state file): the replay reads, and writes nothing.
    std::fs::remove_file(w.dir.path().join("conf/.mdr-sync-state.json")).unwrap();
    let writes = w.hive_writes();
    assert_eq!(w.pass().failed, 0);
    assert_eq!(w.hive_writes(), writes, "a replayed pass wrote to TheHive");

    // MDR_ApproveResponse on that task, with the job built from the stand-in's task and case.
    let fixture_name =
        if w.version == TheHiveVersion::V4 { "th4/input_case_task.json" } else { "th5/input_case_task.json" };
    let mut input = fixture(fixture_name);
    let mut data = (*pending_task).clone();
    data["case"] = case.clone();
    if w.version == TheHiveVersion::V5 {
        data["case"]["customFieldValues"] = json!({"mdr-incident-id": NEW_INCIDENT});
    }
    input["data"] = data;
    input["config"]["service"] = "confirm_response".into();
    w.run_decision(input);
    assert_eq!(w.mdr.response(PENDING).unwrap()["status"], "Confirmed");

    // The next pass sees the decision and closes the task with a log.
    let writes_before = w.hive_writes();
    let third = w.pass();
    assert_eq!(third.failed, 0);
    let task = w.hive.records().1.into_iter().find(|t| t["_id"] == pending_task["_id"]).unwrap();
    assert_eq!(task["status"], "Completed");
    let decision_logs = w.logs_of(&task["_id"]);
    assert_eq!(decision_logs.len(), 1);
    assert!(decision_logs[0]["message"].as_str().unwrap().contains("Confirmed"));
    assert_eq!(w.hive_writes() - writes_before, 2, "one log and one task update");
    assert_eq!(w.logs_of(&comments_task["_id"]).len(), 2, "nothing mirrored twice");
    assert_eq!(w.cases_of(NEW_INCIDENT).len(), 1);
}

#[test]
fn thehive4_full_run() {
    full_run(TheHiveVersion::V4);
}

#[test]
fn thehive5_full_run() {
    full_run(TheHiveVersion::V5);
}

#[test]
fn a_failed_case_creation_is_retried_and_does_not_stop_the_others() {
    let w = world(TheHiveVersion::V5);
    w.hive.inject("POST /api/v1/case", Fault::Status(500, "{\"message\": \"boom\"}".to_owned()), 1);
    let first = w.pass();
    assert_eq!(first.failed, 1, "{first:?}");
    assert_eq!(w.cases_of(LINKED_INCIDENT).len(), 1);
    let state: Value =
        serde_json::from_slice(&std::fs::read(w.dir.path().join("conf/.mdr-sync-state.json")).unwrap()).unwrap();
    assert_eq!(state["parked"][0]["incident_id"], "-NzClosedIncident03", "the failed incident is parked: {state}");
    assert_eq!(first.parked, 1);
    let second = w.pass();
    assert_eq!((second.failed, second.retried, second.parked), (0, 1, 0), "{second:?}");
    for incident in [NEW_INCIDENT, LINKED_INCIDENT, "-NzClosedIncident03"] {
        assert_eq!(w.cases_of(incident).len(), 1, "{incident}");
    }
    // The closed incident's case is resolved with the mapped resolution.
    let closed = &w.cases_of("-NzClosedIncident03")[0];
    assert!(["TruePositive", "FalsePositive", "Other"].contains(&closed["status"].as_str().unwrap()), "{closed}");
}

#[test]
fn comments_from_our_responders_and_excluded_authors_are_not_mirrored_back() {
    let w = world(TheHiveVersion::V4);
    w.pass();
    let config = w.config();
    let client = mdr_api::MdrClient::new(&config.mdr).unwrap();
    // As MDR_SendTaskLog posts it (its footer), and a plain one by the excluded connection name.
    client.create_comment(NEW_INCIDENT, "ana wrote:\n> done\n\n(sent from TheHive: case #1, log ~7)").unwrap();
    client.create_comment(NEW_INCIDENT, "posted by another script").unwrap();
    let logs = || w.hive.records().2.len();
    let before = logs();
    assert_eq!(w.pass().failed, 0);
    assert_eq!(logs(), before, "the responder's comment and the excluded author's came back");
    // Without exclude_author only the comment carrying the responders' footer is left out.
    let path = w.dir.path().join("conf/config.yml");
    let yaml = std::fs::read_to_string(&path).unwrap().replace("exclude_author", "# exclude_author");
    std::fs::write(&path, yaml).unwrap();
    std::fs::remove_file(w.dir.path().join("conf/.mdr-sync-state.json")).unwrap();
    assert_eq!(w.pass().failed, 0);
    let (_, _, all) = w.hive.records();
    assert_eq!(all.len(), before + 1);
    assert!(all.last().unwrap()["message"].as_str().unwrap().contains("posted by another script"));
}

#[test]
fn an_attachment_over_the_limit_becomes_a_log_naming_it() {
    let w = world(TheHiveVersion::V4);
    let path = w.dir.path().join("conf/config.yml");
    let yaml = std::fs::read_to_string(&path).unwrap().replace("size_limit: 100000", "size_limit: 3");
    std::fs::write(&path, yaml).unwrap();
    assert_eq!(w.pass().failed, 0);
    assert!(w.mdr.calls("attachments/download").is_empty(), "a file over the limit was downloaded");
    let logs = w.hive.records().2;
    let log = logs.iter().find(|l| l["message"].as_str().unwrap().contains("[MDR attachment ")).unwrap();
    let message = log["message"].as_str().unwrap();
    assert!(message.contains("process_tree.txt") && message.contains("Not copied: larger than"), "{message}");
    assert_eq!(log["attachments"], json!([]));
}

/// The demo seed with the one attachment's announced `file_size` set to `size` (None: left out).
fn seed_announcing(size: Option<u64>) -> Seed {
    let text = std::fs::read_to_string(workspace_root().join("tests/fixtures/sandbox/seed.json")).unwrap();
    let mut seed: Value = serde_json::from_str(&text).unwrap();
    let incident = seed["incidents"].as_array_mut().unwrap().iter_mut().find(|i| i["incident_id"] == NEW_INCIDENT);
    let attachment = &mut incident.unwrap()["attachments"][0];
    match size {
        Some(size) => attachment["file_size"] = json!(size),
        None => drop(attachment.as_object_mut().unwrap().remove("file_size")),
    }
    Seed::from_json(seed).unwrap()
}

#[test]
fn an_attachment_larger_than_mdr_said_becomes_one_log_and_never_fails_the_incident() {
    // The seeded file has 57 bytes; MDR under-reports it, or gives no size; the limit is 20.
    for announced in [Some(5), None] {
        let mdr = Sandbox::start(SandboxOptions::new(seed_announcing(announced))).unwrap();
        let w = world_with(TheHiveVersion::V4, mdr, 10);
        let path = w.dir.path().join("conf/config.yml");
        let yaml = std::fs::read_to_string(&path).unwrap().replace("size_limit: 100000", "size_limit: 20");
        std::fs::write(&path, yaml).unwrap();
        let first = w.pass();
        assert_eq!(first.failed, 0, "{announced:?}: {first:?}");
        assert_eq!(w.mdr.calls("attachments/download").len(), 1, "{announced:?}");
        // The incident changes in MDR, so the next pass looks at it again: the file is not fetched again.
        let client = mdr_api::MdrClient::new(&w.config().mdr).unwrap();
        client.create_comment(NEW_INCIDENT, "a later comment").unwrap();
        let second = w.pass();
        assert_eq!((second.incidents, second.failed), (1, 0), "{announced:?}: {second:?}");
        assert_eq!(w.mdr.calls("attachments/download").len(), 1, "{announced:?}: downloaded again");

        let logs: Vec<Value> = w
            .hive
            .records()
            .2
            .into_iter()
            .filter(|l| l["message"].as_str().unwrap().contains("[MDR attachment -NzSeedAttachment001]"))
            .collect();
        assert_eq!(logs.len(), 1, "{announced:?}: one log: {logs:?}");
        let message = logs[0]["message"].as_str().unwrap();
        for expected in [
            "`process_tree.txt` (more than 20 bytes)",
            "Not copied: larger than `download_attachments_size_limit` (20 bytes)",
            "https://mdr.kaspersky.com/-NzExampleIncident01/attachments/-NzSeedAttachment001",
        ] {
            assert!(message.contains(expected), "{announced:?}: {expected} missing in {message}");
        }
        assert_eq!(logs[0]["attachments"], json!([]));
    }
}

#[test]
fn an_mdr_failure_on_one_incident_is_retried_next_pass() {
    let w = world(TheHiveVersion::V5);
    // The first incident's comment list fails (a 500 is not retried within the pass).
    w.mdr.inject("comments/list", Fault::Status(500, "{\"message\": \"down\"}".to_owned()), 1);
    let first = w.pass();
    assert_eq!(first.failed, 1, "{first:?}");
    assert_eq!(w.cases_of(NEW_INCIDENT).len(), 1, "the other incidents went on");
    let second = w.pass();
    assert_eq!(second.failed, 0, "{second:?}");
    let third = w.pass();
    assert_eq!(third.incidents, 0, "converged: {third:?}");
    for incident in [NEW_INCIDENT, LINKED_INCIDENT, "-NzClosedIncident03"] {
        let cases = w.cases_of(incident);
        assert_eq!(cases.len(), 1, "{incident}");
        let comment_logs: Vec<Value> = w
            .tasks_of(&cases[0]["_id"])
            .iter()
            .filter(|t| t["title"] == "MDR Response")
            .flat_map(|t| w.logs_of(&t["_id"]))
            .filter(|l| l["message"].as_str().unwrap().contains("[MDR comment "))
            .collect();
        assert_eq!(comment_logs.len(), 1, "{incident}: {comment_logs:?}");
    }
}

#[test]
fn more_incidents_sharing_one_update_time_than_a_pass_takes_converge() {
    // A bulk change in MDR: five incidents with one update_time, two taken per pass.
    let incidents: Vec<Value> = (1..=5)
        .map(|n| {
            json!({"incident_id": format!("-NzBulk{n}"), "incident_number": 900 + n, "summary": format!("bulk {n}"),
                   "priority": "LOW", "status": "Open", "creation_time": 1_718_000_000_000_i64,
                   "update_time": 1_718_000_500_000_i64})
        })
        .collect();
    let seed = Seed::from_json(json!({"incidents": incidents, "assets": []})).unwrap();
    let w = world_with(TheHiveVersion::V5, Sandbox::start(SandboxOptions::new(seed)).unwrap(), 2);
    let handled: Vec<usize> = (0..4).map(|_| w.pass()).map(|s| s.incidents).collect();
    assert_eq!(handled, [2, 2, 1, 0], "one or two incidents per pass until none is left");
    for n in 1..=5 {
        assert_eq!(w.cases_of(&format!("-NzBulk{n}")).len(), 1, "-NzBulk{n}");
    }
}

/// A case MDR_CreateIncident raised an incident from, before Cortex applied the responder's
/// AddCustomFields operation (or when it could not): the sync links it instead of creating a
/// second case, and keeps the case's other custom fields.
fn an_incident_raised_from_a_case_is_mirrored_into_that_case(version: TheHiveVersion) {
    let (other_fields, fixture_name) = match version {
        TheHiveVersion::V4 => (json!({"escalated": {"boolean": true, "order": 0}}), "th4/input_case_open.json"),
        TheHiveVersion::V5 => (json!([{"name": "escalated", "value": true}]), "th5/input_case.json"),
    };
    let raised = json!({"_id": "~raised", "id": "~raised", "_type": "case", "caseId": 41, "title": "Beaconing from HOST-01",
                        "description": "Seen on HOST-01", "severity": 2, "status": "Open", "tags": ["host:HOST-01"],
                        "customFields": other_fields});
    let mdr = Sandbox::start(SandboxOptions::new(Seed::default_demo())).unwrap();
    let w = world_with_cases(version, mdr, 10, vec![linked_case(version), raised.clone()]);
    let mut input = fixture(fixture_name);
    input["data"] = raised;
    input["config"]["service"] = "create_incident".into();
    input["config"]["hosts_from_observables"] = false.into();
    let full = w.run_responder(create_bin(), input);
    let incident_id = full["incident_id"].as_str().unwrap().to_owned();
    // Cortex has not applied the operation: the case carries no link yet.
    assert!(w.cases_of(&incident_id).is_empty());

    assert_eq!(w.pass().failed, 0);
    let cases = w.cases_of(&incident_id);
    assert_eq!(cases.len(), 1, "one case for the raised incident, not a second one: {cases:?}");
    let case = &cases[0];
    assert_eq!(case["_id"], "~raised");
    let escalated = match version {
        TheHiveVersion::V4 => &case["customFields"]["escalated"]["boolean"],
        TheHiveVersion::V5 => {
            &case["customFields"].as_array().unwrap().iter().find(|f| f["name"] == "escalated").unwrap()["value"]
        }
    };
    assert_eq!(escalated, &json!(true), "the case's other custom fields are kept: {case}");
    // Once linked, the case is found by its field like any other.
    let writes = w.hive_writes();
    assert_eq!(w.pass().incidents, 0);
    assert_eq!(w.hive_writes(), writes);
}

#[test]
fn thehive4_an_incident_raised_from_a_case_is_mirrored_into_that_case() {
    an_incident_raised_from_a_case_is_mirrored_into_that_case(TheHiveVersion::V4);
}

#[test]
fn thehive5_an_incident_raised_from_a_case_is_mirrored_into_that_case() {
    an_incident_raised_from_a_case_is_mirrored_into_that_case(TheHiveVersion::V5);
}

/// Issue 20's starvation case: the oldest of six incidents can never be mirrored (two TheHive
/// cases already carry its id), two incidents a pass. The five others all get their case, the
/// poison one is parked, and `mdr-sync status` says degraded.
#[test]
fn a_poison_incident_is_parked_and_the_newer_ones_are_all_imported() {
    let incidents: Vec<Value> = (1..=6_i64)
        .map(|n| {
            json!({"incident_id": format!("-NzPoison{n}"), "incident_number": 700 + n, "summary": format!("incident {n}"),
                   "priority": "LOW", "status": "Open", "creation_time": 1_718_000_000_000_i64,
                   "update_time": 1_718_000_000_000_i64 + n * 1000})
        })
        .collect();
    let seed = Seed::from_json(json!({"incidents": incidents, "assets": []})).unwrap();
    let carrying = |id: &str| {
        json!({"_id": id, "id": id, "title": "copy", "status": "Open", "caseId": 1,
               "customFields": [{"name": "mdr-incident-id", "value": "-NzPoison1"}]})
    };
    let cases = vec![carrying("~dup1"), carrying("~dup2")];
    let w = world_with_cases(TheHiveVersion::V5, Sandbox::start(SandboxOptions::new(seed)).unwrap(), 2, cases);
    let config = w.dir.path().join("conf/config.yml");
    let bin = env!("CARGO_BIN_EXE_mdr-sync");
    for _ in 0..4 {
        let out = std::process::Command::new(bin).args(["--config", config.to_str().unwrap(), "--once"]).output();
        let out = out.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("-NzPoison2: FAILED"), "{stderr}");
    }
    for n in 2..=6 {
        assert_eq!(w.cases_of(&format!("-NzPoison{n}")).len(), 1, "-NzPoison{n} starved");
    }
    assert_eq!(w.cases_of("-NzPoison1").len(), 2, "nothing was created for the poison incident");
    let status = std::process::Command::new(bin).args(["status", "--config", config.to_str().unwrap()]).output();
    let status = status.unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(1), "degraded: {text}");
    assert!(
        text.contains("parked incidents: 1") && text.contains("-NzPoison1") && text.contains("merge them"),
        "{text}"
    );
    let json_out =
        std::process::Command::new(bin).args(["status", "--json", "--config", config.to_str().unwrap()]).output();
    let doc: Value = serde_json::from_slice(&json_out.unwrap().stdout).unwrap();
    assert_eq!((doc["health"].as_str(), doc["parked"][0]["attempts"].as_u64()), (Some("degraded"), Some(2)), "{doc}");
}

const CONTRACT_INCIDENT: &str = "-NzContractIncident01";

/// One open incident holding `comments` and `responses`.
fn one_incident(comments: Value, responses: Value) -> Sandbox {
    let incident = json!({"incident_id": CONTRACT_INCIDENT, "incident_number": 4242, "summary": "contract",
                          "priority": "NORMAL", "status": "Open", "creation_time": 1_718_000_000_000_i64,
                          "update_time": 1_718_000_500_000_i64, "comments": comments, "responses": responses});
    let seed = Seed::from_json(json!({"incidents": [incident], "assets": []})).unwrap();
    Sandbox::start(SandboxOptions::new(seed)).unwrap()
}

fn response(id: &str, status: &str, description: &str) -> Value {
    json!({"response_id": id, "type": "RUN_SCRIPT", "parameters": {"script": "Get-Process"}, "status": status,
           "comment": "", "description": description, "creation_time": 1_718_000_200_000_i64,
           "update_time": 1_718_000_200_000_i64})
}

impl World {
    /// The tasks of the one case of `incident` in `group`.
    fn group_tasks(&self, incident: &str, group: &str) -> Vec<Value> {
        let cases = self.cases_of(incident);
        assert_eq!(cases.len(), 1, "{cases:?}");
        self.tasks_of(&cases[0]["_id"]).into_iter().filter(|t| t["group"] == group).collect()
    }

    fn task_naming(&self, incident: &str, group: &str, response_id: &str) -> Value {
        let first_line = format!("**ID**: {response_id}  \n");
        let found: Vec<Value> = self
            .group_tasks(incident, group)
            .into_iter()
            .filter(|t| t["description"].as_str().unwrap().starts_with(&first_line))
            .collect();
        assert_eq!(found.len(), 1, "{response_id}: {found:?}");
        found[0].clone()
    }

    /// The task as the stand-in holds it now.
    fn task(&self, task: &Value) -> Value {
        self.hive.records().1.into_iter().find(|t| t["_id"] == task["_id"]).unwrap()
    }

    /// Edits `config.yml`.
    fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let path = self.dir.path().join("conf/config.yml");
        std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
    }

    /// A pass that starts over, as after a crash before the state was saved.
    fn replay(&self) -> Summary {
        std::fs::remove_file(self.dir.path().join("conf/.mdr-sync-state.json")).unwrap();
        self.pass()
    }

    /// MDR_ApproveResponse run as Cortex runs it on `task`, with the responder items `config`.
    fn approve(&self, task: &Value, field: &str, config: Value) {
        let fixture_name =
            if self.version == TheHiveVersion::V4 { "th4/input_case_task.json" } else { "th5/input_case_task.json" };
        let mut input = fixture(fixture_name);
        let mut data = task.clone();
        let case = self.hive.records().0.into_iter().find(|c| c["_id"] == task["case"]).unwrap();
        data["case"] = case;
        if self.version == TheHiveVersion::V5 {
            data["case"]["customFieldValues"] = json!({ field: CONTRACT_INCIDENT });
        }
        input["data"] = data;
        for (key, value) in config.as_object().unwrap() {
            input["config"][key] = value.clone();
        }
        input["config"]["service"] = "confirm_response".into();
        self.run_decision(input);
    }
}

/// The messages of a task's logs.
fn messages(w: &World, task: &Value) -> Vec<String> {
    w.logs_of(&task["_id"]).iter().map(|l| l["message"].as_str().unwrap().to_owned()).collect()
}

/// Statuses MDR showed for proposed responses: the sync keeps their tasks open and logs no
/// decision, while MDR_ApproveResponse still decides them (both read `ResponseStatus::is_decided`).
#[test]
fn responses_neither_confirmed_nor_declined_stay_open_until_decided() {
    let statuses = [("MDR_pending", "Pending"), ("MDR_in_progress", "InProgress"), ("MDR_created", "Created")];
    let responses: Vec<Value> = statuses.iter().map(|(id, status)| response(id, status, "Stop it")).collect();
    let w = world_with_cases(TheHiveVersion::V5, one_incident(json!([]), json!(responses)), 10, vec![]);
    assert_eq!(w.pass().failed, 0);
    for (id, status) in statuses {
        let task = w.task_naming(CONTRACT_INCIDENT, "Response", id);
        assert_ne!(task["status"], "Completed", "{status}: the task of a pending response was closed");
        assert_eq!(messages(&w, &task), Vec::<String>::new(), "{status}: logged as decided");
    }
    // Replayed, it still decides nothing.
    assert_eq!(w.replay().failed, 0);
    assert!(w.hive.records().2.is_empty(), "{:?}", w.hive.records().2);

    let approved = w.task_naming(CONTRACT_INCIDENT, "Response", "MDR_in_progress");
    w.approve(&approved, "mdr-incident-id", json!({}));
    assert_eq!(w.mdr.response("MDR_in_progress").unwrap()["status"], "Confirmed");
    assert_eq!(w.pass().failed, 0);
    let closed = w.task(&approved);
    assert_eq!(closed["status"], "Completed");
    let logs = messages(&w, &closed);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].starts_with("MDR shows this response as Confirmed"), "{logs:?}");
    for id in ["MDR_pending", "MDR_created"] {
        let task = w.task_naming(CONTRACT_INCIDENT, "Response", id);
        assert_ne!(task["status"], "Completed", "{id}");
        assert!(messages(&w, &task).is_empty(), "{id}");
    }
}

/// MDR text quoting markers: a comment quoting the marker of a later comment, a pending response
/// whose description names a decided one. Neither hides the comment nor closes the task.
#[test]
fn markers_quoted_in_mdr_text_change_nothing() {
    let late = "-NzLateComment02";
    let comments = json!([
        {"comment_id": "-NzEarlyComment01", "author_name": "Security Team", "creation_time": 1_718_000_100_000_i64,
         "text": format!("<p>As said in</p>\n<blockquote>\n<p>[MDR comment {late}]</p>\n</blockquote>")},
        // By the excluded author at first: mirrored only once `exclude_author` is dropped.
        {"comment_id": late, "author_name": "TheHive (API)", "creation_time": 1_718_000_150_000_i64,
         "text": "<p>The late news</p>"},
    ]);
    // The pending response is listed first, so its task comes first in TheHive.
    let responses =
        json!([response("MDR_B", "Pending", "Like before\n**ID**: MDR_A"), response("MDR_A", "Confirmed", "Isolate")]);
    let w = world_with_cases(TheHiveVersion::V4, one_incident(comments, responses), 10, vec![]);
    assert_eq!(w.pass().failed, 0);
    assert_eq!(w.task(&w.task_naming(CONTRACT_INCIDENT, "Response", "MDR_A"))["status"], "Completed");
    assert_eq!(w.replay().failed, 0);
    let pending = w.task_naming(CONTRACT_INCIDENT, "Response", "MDR_B");
    assert_ne!(pending["status"], "Completed", "the pending response's task was closed");
    assert!(messages(&w, &pending).is_empty(), "{:?}", messages(&w, &pending));

    w.edit_config(|yaml| yaml.replace("exclude_author", "# exclude_author"));
    assert_eq!(w.replay().failed, 0);
    let comments_task = w.group_tasks(CONTRACT_INCIDENT, "default").pop().unwrap();
    let mirrored: Vec<Option<Mirrored>> = messages(&w, &comments_task).iter().map(|m| Mirrored::closing(m)).collect();
    assert_eq!(
        mirrored,
        [Some(Mirrored::Comment("-NzEarlyComment01".into())), Some(Mirrored::Comment(late.into()))],
        "every comment mirrored once"
    );
    let writes = w.hive_writes();
    assert_eq!(w.replay().failed, 0);
    assert_eq!(w.hive_writes(), writes, "a replay wrote to TheHive");
    assert_ne!(w.task(&pending)["status"], "Completed");
}

/// `thehive.incident_custom_field` and `thehive.response_task_group` renamed in `config.yml`, and
/// the responder's `incident_custom_field` and `response_task_group` items set alike: the sync
/// creates the case and the task under those names, and MDR_ApproveResponse acts on them.
fn renamed_field_and_group_work_end_to_end(version: TheHiveVersion) {
    let responses = json!([response("MDR_renamed", "New", "Isolate")]);
    let w = world_with_fields(version, one_incident(json!([]), responses), 10, vec![], &["mdr-ref"]);
    w.edit_config(|yaml| {
        yaml.replace("thehive:\n", "thehive:\n  incident_custom_field: mdr-ref\n  response_task_group: MDR actions\n")
    });
    assert_eq!(w.pass().failed, 0);
    let case = &w.cases_of(CONTRACT_INCIDENT)[0];
    let fields = case["customFields"].to_string();
    assert!(fields.contains("mdr-ref") && !fields.contains("mdr-incident-id"), "{case}");
    assert!(w.group_tasks(CONTRACT_INCIDENT, "Response").is_empty());
    // Found again by the renamed field: a replay writes nothing.
    let writes = w.hive_writes();
    assert_eq!(w.replay().failed, 0);
    assert_eq!(w.hive_writes(), writes);

    let task = w.task_naming(CONTRACT_INCIDENT, "MDR actions", "MDR_renamed");
    w.approve(&task, "mdr-ref", json!({"incident_custom_field": "mdr-ref", "response_task_group": "MDR actions"}));
    assert_eq!(w.mdr.response("MDR_renamed").unwrap()["status"], "Confirmed");
    assert_eq!(w.pass().failed, 0);
    assert_eq!(w.task(&task)["status"], "Completed");
}

#[test]
fn thehive4_renamed_field_and_group_work_end_to_end() {
    renamed_field_and_group_work_end_to_end(TheHiveVersion::V4);
}

#[test]
fn thehive5_renamed_field_and_group_work_end_to_end() {
    renamed_field_and_group_work_end_to_end(TheHiveVersion::V5);
}
