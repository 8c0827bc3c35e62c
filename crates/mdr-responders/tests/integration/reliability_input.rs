//! Bad input never ends in a panic in place of a report: every responder, on a corpus of broken
//! job inputs (as files, as Cortex passes them), and every action with a wrong type at every path
//! of its TheHive object and configuration (in process, through the same runner).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use cortex_worker::Report;
use mdr_responders::actions::{self, ActionError};
use serde_json::{Value, json};
use test_support::Sandbox;

use crate::support::{CLOSE, CREATE, DECIDE, Job, SEND, cortex_command, sandbox};

struct Responder {
    binary: &'static str,
    fixture: &'static str,
    action: fn(&cortex_worker::Job) -> Result<Report, ActionError>,
    service: &'static str,
}

const RESPONDERS: &[Responder] = &[
    Responder {
        binary: SEND,
        fixture: "th4/input_case_task_log.json",
        action: actions::send_task_log,
        service: "send_task_log",
    },
    Responder {
        binary: CLOSE,
        fixture: "th4/input_case.json",
        action: actions::close_incident,
        service: "close_incident",
    },
    Responder {
        binary: DECIDE,
        fixture: "th4/input_case_task.json",
        action: actions::respond_by_service,
        service: "confirm_response",
    },
    Responder {
        binary: CREATE,
        fixture: "th4/input_case.json",
        action: actions::create_incident,
        service: "create_incident",
    },
];

fn job_for(responder: &Responder, mdr: &Sandbox) -> Job {
    Job::on(responder.fixture, mdr).with_config("service", responder.service)
}

/// A report or an error document, never a panic: checks one document and the process's stderr.
fn assert_document(what: &str, raw: &[u8], stderr: &str) -> Value {
    let doc: Value = serde_json::from_slice(raw)
        .unwrap_or_else(|e| panic!("{what}: no valid document ({e}): {:?} / {stderr}", String::from_utf8_lossy(raw)));
    assert!(!stderr.contains("panicked") && !stderr.contains("Internal error"), "{what}: {stderr}");
    match &doc["success"] {
        Value::Bool(true) => {}
        Value::Bool(false) => {
            let message = doc["errorMessage"].as_str().unwrap_or_else(|| panic!("{what}: {doc}"));
            assert!(!message.trim().is_empty(), "{what}: {doc}");
            assert!(!message.contains("Internal error") && !message.contains("panicked"), "{what}: {message}");
            assert!(doc["input"].is_object(), "{what}: {doc}");
        }
        _ => panic!("{what}: {doc}"),
    }
    doc
}

/// Runs `binary` on a job folder whose input/input.json holds exactly `bytes`.
fn run_bytes(binary: &str, root: &Path, name: &str, bytes: &[u8]) -> (Value, Option<i32>) {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("input")).unwrap();
    std::fs::create_dir_all(dir.join("output")).unwrap();
    std::fs::write(dir.join("input/input.json"), bytes).unwrap();
    let output = cortex_command(binary).arg(&dir).output().unwrap();
    let raw = std::fs::read(dir.join("output/output.json")).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let doc = assert_document(&format!("{binary} on {name}"), &raw, &stderr);
    let code = output.status.code();
    assert_eq!(code, Some(if doc["success"] == true { 0 } else { 1 }), "{binary} on {name}: {doc}");
    (doc, code)
}

fn corpus(input: &Value) -> Vec<(String, Vec<u8>)> {
    let bytes = serde_json::to_vec(input).unwrap();
    let mut corpus: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in [1, bytes.len() / 4, bytes.len() / 2, bytes.len() * 3 / 4, bytes.len() - 1] {
        corpus.push((format!("truncated-{cut}"), bytes[..cut].to_vec()));
    }
    for (name, text) in [
        ("empty", ""),
        ("blank", " \n\t "),
        ("null", "null"),
        ("list", "[]"),
        ("string", "\"thehive:case\""),
        ("empty-object", "{}"),
        ("bom-only", "\u{feff}"),
        ("no-data", r#"{"dataType": "thehive:case"}"#),
        ("null-data", r#"{"dataType": "thehive:case_task_log", "data": null, "config": null}"#),
        ("empty-strings", r#"{"dataType": "", "data": "", "config": "", "parameters": ""}"#),
    ] {
        corpus.push((name.to_owned(), text.as_bytes().to_vec()));
    }
    // Non-UTF-8 bytes inside a string and as a key.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let at = text.find("analyst@").unwrap();
    let mut invalid = bytes.clone();
    invalid.splice(at..at, [0xff, 0xfe, 0xc3]);
    corpus.push(("non-utf8-string".to_owned(), invalid));
    let mut invalid_key = bytes.clone();
    invalid_key.splice(1..1, *b"\"\xff\xff\": 1, ");
    corpus.push(("non-utf8-key".to_owned(), invalid_key));
    // Far deeper than any parser limit, and just within it.
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    corpus.push(("deep-200000".to_owned(), format!(r#"{{"dataType": "thehive:case", "data": {deep}}}"#).into_bytes()));
    let mut nested = input.clone();
    let mut inner = json!("bottom");
    for _ in 0..25 {
        inner = json!({"api_key": "k", "list": [{"nested": inner}]});
        inner = json!({"a": inner});
    }
    nested["config"]["deep"] = inner.clone();
    nested["data"]["deep"] = inner;
    corpus.push(("deep-100-levels-in-config-and-data".to_owned(), serde_json::to_vec(&nested).unwrap()));
    corpus
}

#[test]
fn broken_input_files_always_give_a_document() {
    let started = Instant::now();
    let mdr = sandbox(false);
    for responder in RESPONDERS {
        let job = job_for(responder, &mdr);
        for (name, bytes) in corpus(&job.input) {
            let (doc, code) = run_bytes(responder.binary, job.root.path(), &name, &bytes);
            let expect_failure = !name.starts_with("deep-100");
            assert!(!expect_failure || code == Some(1), "{name}: {doc}");
        }
    }
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}

#[test]
fn huge_messages_are_handled() {
    let mdr = sandbox(false);
    let ten_mb = "x".repeat(10 * 1024 * 1024);
    for responder in RESPONDERS {
        let mut job = job_for(responder, &mdr);
        let data = &mut job.input["data"];
        data["message"] = ten_mb.clone().into();
        data["description"] = ten_mb.clone().into();
        data["title"] = ten_mb.clone().into();
        data["case_task"]["description"] = format!("**ID**: MDR_x\n{ten_mb}").into();
        let bytes = serde_json::to_vec(&job.input).unwrap();
        let (doc, _) = run_bytes(responder.binary, job.root.path(), "huge", &bytes);
        let message = doc["errorMessage"].as_str().unwrap_or("");
        assert!(message.len() < 10_000, "an error message carries the huge text: {} bytes", message.len());
    }
}

#[test]
fn no_input_folder_and_unwritable_output() {
    let mdr = sandbox(false);
    for responder in RESPONDERS {
        let job = job_for(responder, &mdr);
        // No input/: stdin mode, and stdin is empty (Cortex closes it): the document goes to stdout.
        let run = job.run_stdin(responder.binary);
        let output = cortex_command(responder.binary).arg(job.root.path().join("nothing-here")).output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        let doc = assert_document("no input", &output.stdout, &String::from_utf8_lossy(&output.stderr));
        assert_eq!(doc["errorMessage"], "Empty input on standard input");
        drop(run);

        // output/ cannot be created (a file is in the way; the tests may run as root, so no chmod).
        let dir = job.root.path().join("blocked");
        std::fs::create_dir_all(dir.join("input")).unwrap();
        std::fs::write(dir.join("input/input.json"), serde_json::to_vec(&job.input).unwrap()).unwrap();
        std::fs::write(dir.join("output"), b"not a folder").unwrap();
        let output = cortex_command(responder.binary).arg(&dir).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let expected = format!("cortex-worker: cannot write {}: ", dir.join("output/output.json").display());
        assert!(stderr.starts_with(&expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(output.stdout.is_empty());
    }
}

/// Every path of a JSON value (objects and arrays), root first.
fn paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
        _ => return,
    };
    for (key, child) in children {
        prefix.push(key);
        paths(child, prefix, out);
        prefix.pop();
    }
}

fn set(value: &mut Value, path: &[String], new: Value) {
    let mut at = value;
    for key in path {
        at = match at {
            Value::Object(map) => map.get_mut(key).unwrap(),
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            _ => unreachable!(),
        };
    }
    *at = new;
}

/// Runs an action in process as the binaries do (stdin mode), returning the document.
fn run_in_process(responder: &Responder, input: &Value) -> Value {
    let bytes = serde_json::to_vec(input).unwrap();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let missing = PathBuf::from("/nonexistent/reliability-input-job");
    cortex_worker::run_with_io(Some(missing), &mut bytes.as_slice(), false, &mut stdout, &mut stderr, responder.action);
    assert_document("in process", &stdout, &String::from_utf8_lossy(&stderr))
}

#[test]
fn a_wrong_type_at_every_path_is_an_error_or_a_report_never_a_panic() {
    let started = Instant::now();
    let mdr = sandbox(false);
    let runs: usize = std::thread::scope(|s| {
        let handles: Vec<_> = RESPONDERS.iter().map(|responder| s.spawn(|| wrong_types(responder, &mdr))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert!(runs > 500, "{runs}");
    assert!(started.elapsed().as_secs() < 60, "{runs} runs took {:?}", started.elapsed());
}

/// Two wrong values per path, rotating so that every kind of value lands on every part of the input.
fn wrong_types(responder: &Responder, mdr: &Sandbox) -> usize {
    let wrong = [json!(null), json!(""), json!(0), json!(true), json!([]), json!({}), json!(-1.5), json!("x")];
    let job = job_for(responder, mdr);
    let mut all = Vec::new();
    paths(&job.input, &mut Vec::new(), &mut all);
    let mut runs = 0;
    for (i, path) in all.iter().enumerate() {
        for k in 0..2 {
            let mut input = job.input.clone();
            let value = wrong[(i * 3 + k * 5) % wrong.len()].clone();
            set(&mut input, path, value.clone());
            let doc = run_in_process(responder, &input);
            if doc["success"] == false {
                assert!(!doc["errorMessage"].as_str().unwrap().contains("panicked"), "{path:?}={value}: {doc}");
            }
            runs += 1;
        }
    }
    runs
}
