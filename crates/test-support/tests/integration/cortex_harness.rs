//! The test harness itself: it runs a program as Cortex's process runner does and judges reports
//! and definitions as Cortex and TheHive do, so the other tests can rely on it.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::cortex::{self, Run, Runner, Worker, definition_problems, report_problems, workspace_root};

/// A TheHive sample job input, in a job folder of its own below `root`.
fn sample_job(root: &Path, folder: &str, input: &Value) -> PathBuf {
    let dir = root.join(folder);
    cortex::write_job(&dir, input).unwrap();
    dir
}

fn sample_input() -> Value {
    cortex::sample_input("th4/input_case_task_log.json").unwrap()
}

/// Runs `program` on the job folder as the process runner does, from the responders folder.
fn run(program: &Path, job: &Path, timeout: Duration) -> Run {
    cortex::run_job(program, job, &workspace_root().join("responders"), timeout).unwrap()
}

fn accepted(run: &Run) -> Value {
    run.accepted(Worker::Responder).unwrap_or_else(|problem| panic!("{problem}")).clone()
}

/// A shell script standing in for a responder binary.
fn script(dir: &Path, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("fake-responder");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Reports what it was given: argv, working directory, REQUESTS_CA_BUNDLE, stdin.
const PROBE: &str = r#"stdin="$(cat)"
printf '{"success": true, "full": {"argc": "%s", "arg": "%s", "cwd": "%s", "bundle": "%s", "stdin": "%s"}, "operations": []}' \
  "$#" "$1" "$(pwd)" "${REQUESTS_CA_BUNDLE:-unset}" "$stdin" > "$1/output/output.json""#;

#[test]
fn programs_run_as_the_process_runner_runs_them() {
    let root = tempfile::tempdir().unwrap();
    let probe = script(root.path(), PROBE);
    let mut input = sample_input();
    let job = sample_job(root.path(), "job", &input);
    let full = accepted(&run(&probe, &job, cortex::job_timeout()));
    assert_eq!(full["argc"], "1");
    assert_eq!(full["arg"], job.to_str().unwrap());
    assert_eq!(Path::new(full["cwd"].as_str().unwrap()), workspace_root().join("responders").canonicalize().unwrap());
    assert_eq!(full["bundle"], "unset", "no REQUESTS_CA_BUNDLE without input/cacerts");
    assert_eq!(full["stdin"], "", "stdin is closed");
    let written: Value = serde_json::from_slice(&std::fs::read(job.join("input/input.json")).unwrap()).unwrap();
    assert_eq!(written, input, "input/input.json holds the job input");

    // Cortex writes a non-blank `cacerts` to input/cacerts and points REQUESTS_CA_BUNDLE at it.
    input["config"]["cacerts"] = "-----BEGIN CERTIFICATE-----\n".into();
    let job = sample_job(root.path(), "cacerts", &input);
    let full = accepted(&run(&probe, &job, cortex::job_timeout()));
    let cacerts = job.join("input/cacerts");
    assert_eq!(full["bundle"], cacerts.to_str().unwrap());
    assert_eq!(std::fs::read_to_string(cacerts).unwrap(), "-----BEGIN CERTIFICATE-----\n");
    input["config"]["cacerts"] = "  ".into();
    let job = sample_job(root.path(), "blank-cacerts", &input);
    let full = accepted(&run(&probe, &job, cortex::job_timeout()));
    assert_eq!(full["bundle"], "unset", "blank cacerts: no file");
}

#[test]
fn a_hung_program_is_terminated_at_the_timeout_and_cortex_reports_its_output() {
    let root = tempfile::tempdir().unwrap();
    let hung = script(root.path(), "trap 'echo got SIGTERM >&2; exit 143' TERM\necho working\nsleep 30 &\nwait");
    let job = sample_job(root.path(), "job", &sample_input());
    let started = Instant::now();
    let run = run(&hung, &job, Duration::from_millis(500));
    assert!(run.timed_out);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(run.doc, Value::Null, "no output document");
    assert!(run.accepted(Worker::Responder).unwrap_err().contains("time limit"));
    // Cortex: no output.json → its own error document made of stdout then stderr.
    assert_eq!(run.cortex_report(), json!({"success": false, "errorMessage": "workinggot SIGTERM"}));
}

#[test]
fn a_run_is_accepted_only_as_cortex_would_accept_it() {
    let root = tempfile::tempdir().unwrap();
    let job = |name: &str| sample_job(root.path(), name, &sample_input());
    let ok = r#"{"success": true, "full": {}, "operations": []}"#;
    let error = r#"{"success": false, "input": {}, "errorMessage": "no"}"#;
    let cases = [
        ("no-output", "exit 0".to_owned(), "no output/output.json"),
        ("exit-1", format!("echo '{ok}' > \"$1/output/output.json\"; exit 1"), "exit code Some(1), not 0"),
        ("not-json", "echo '{' > \"$1/output/output.json\"".to_owned(), "no output/output.json (or not JSON)"),
    ];
    for (name, body, problem) in cases {
        let program = script(&root.path().join(name), &body);
        let found = run(&program, &job(name), cortex::job_timeout()).accepted(Worker::Responder).unwrap_err();
        assert!(found.starts_with(problem), "{name}: {found}");
    }
    let program = script(&root.path().join("error"), &format!("echo '{error}' > \"$1/output/output.json\"; exit 1"));
    assert_eq!(run(&program, &job("error"), cortex::job_timeout()).refused(), Ok("no"));
    let program = script(&root.path().join("error-0"), &format!("echo '{error}' > \"$1/output/output.json\""));
    assert!(run(&program, &job("error-0"), cortex::job_timeout()).refused().is_err(), "an error exits 1");
}

#[test]
fn reports_are_judged_as_cortex_and_thehive_judge_them() {
    let ok = json!({"success": true, "full": {"message": "x"}, "operations": [
        {"type": "AddTagToCase", "tag": "MDR"},
        {"type": "AddCustomFields", "name": "mdr-incident-id", "tpe": "string", "value": "INC"},
        {"type": "AddLogToTask", "content": "done"},
        {"type": "CloseTask"},
        {"type": "CreateTask", "title": "t", "description": "d"},
        {"type": "AddArtifactToCase", "data": "1.2.3.4", "dataType": "ip", "message": "m", "tlp": 2, "tags": ["a"]}
    ]});
    assert_eq!(report_problems(&ok, Worker::Responder), Vec::<String>::new());
    let bad = [
        json!({"success": "true", "full": {}, "operations": []}),
        json!({"success": true, "full": [], "operations": []}),
        json!({"success": true, "full": {}}),
        json!({"success": true, "full": {}, "operations": ["AddTagToCase"]}),
        json!({"success": true, "full": {}, "operations": [{"type": "AddCustomField", "name": "x", "tpe": "string", "value": "v"}]}),
        json!({"success": true, "full": {}, "operations": [{"type": "AddCustomFields", "name": "x", "type_": "string", "value": "v"}]}),
        json!({"success": true, "full": {}, "operations": [{"type": "AddCustomFields", "name": "n", "tpe": "integer", "value": "7"}]}),
        json!({"success": true, "full": {}, "operations": [{"type": "AddTagToCase", "tag": 5}]}),
        json!({"success": true, "full": {}, "operations": [{"type": "CreateTask", "title": "t"}]}),
        json!({"success": true, "full": {}, "summary": [], "operations": []}),
    ];
    for doc in bad {
        assert!(!report_problems(&doc, Worker::Responder).is_empty(), "accepted: {doc}");
    }
}

#[test]
fn definitions_are_judged_as_cortex_reads_them() {
    let flavour = || {
        let path = workspace_root().join("responders/KasperskyMDR/MDR_SendTaskLog.json");
        serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    assert_eq!(definition_problems(&flavour(), Runner::Process), Vec::<String>::new());
    assert!(!definition_problems(&flavour(), Runner::Docker).is_empty(), "a catalogue entry has no command");

    type Damage = fn(&mut Value);
    let broken: [(&str, Damage); 7] = [
        ("no author", |f| {
            f.as_object_mut().unwrap().remove("author");
        }),
        ("numeric version", |f| f["version"] = json!(2)),
        ("name with a space", |f| f["name"] = json!("MDR Send")),
        ("dataTypeList not strings", |f| f["dataTypeList"] = json!([1])),
        ("unknown item type", |f| f["configurationItems"][0]["type"] = json!("password")),
        ("default of the wrong type", |f| f["configurationItems"][0]["defaultValue"] = json!(3)),
        ("command leaving the folder", |f| f["command"] = json!("../bin/x")),
    ];
    for (what, damage) in broken {
        let mut definition = flavour();
        damage(&mut definition);
        assert!(!definition_problems(&definition, Runner::Process).is_empty(), "accepted: {what}");
    }

    let mut entry = flavour();
    entry.as_object_mut().unwrap().remove("command");
    entry["dockerImage"] = json!("ghcr.io/kaspersky-mdr-rs/mdr_sendtasklog:2.0");
    assert_eq!(definition_problems(&entry, Runner::Docker), Vec::<String>::new());
    entry["dockerImage"] = json!("ghcr.io/Kaspersky/MDR_SendTaskLog");
    assert!(!definition_problems(&entry, Runner::Docker).is_empty());
}

#[test]
fn cortex_assembles_the_config_from_the_flavour() {
    let path = workspace_root().join("responders/KasperskyMDR/MDR_ApproveResponse.json");
    let flavour: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut input =
        json!({"config": {"client_id": "c", "service": "decline_response", "proxy_https": "http://p:3128"}});
    cortex::apply_flavour_config(&mut input, &flavour);
    let config = &input["config"];
    assert_eq!(config["service"], "confirm_response", "the flavour's config wins over the organisation's");
    assert_eq!(config["client_id"], "c");
    assert_eq!(config["api_url"], Value::Null, "unset items are explicit nulls");
    assert_eq!((config["check_tlp"].clone(), config["max_tlp"].clone()), (json!(true), json!(2)));
    assert_eq!(config["proxy"], json!({"https": "http://p:3128"}));
}
