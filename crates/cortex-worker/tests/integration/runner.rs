//! The job lifecycle: where input is read, where the document goes, and how failures end.

use cortex_worker::{Job, Report};
use serde_json::{Value, json};

use crate::common::{job_folder, names, output_json, output_of, run_job, run_job_tty};

fn minimal_input() -> Value {
    json!({"dataType": "thehive:case", "tlp": 2, "pap": 2, "data": {"title": "é"}, "config": {"service": "x"}})
}

fn ok_report(_: &Job) -> Result<Report, String> {
    Ok(Report::from_value(json!({"message": "done"})))
}

fn error_message(document: &Value) -> &str {
    document["errorMessage"].as_str().expect("errorMessage is a string")
}

#[test]
fn job_folder_mode_writes_only_output_json() {
    let dir = job_folder(&minimal_input(), true);
    let input_before = std::fs::read(dir.path().join("input/input.json")).expect("input");
    let run = run_job(dir.path(), "{\"ignored\": true}", |job: &Job| {
        assert_eq!(job.dir(), Some(dir.path()));
        ok_report(job)
    });
    assert_eq!(run.code, 0);
    assert!(run.stdout.is_empty(), "nothing on stdout in job-folder mode");
    assert_eq!(run.stderr, "");
    assert_eq!(output_of(dir.path()), br#"{"success": true, "full": {"message": "done"}, "operations": []}"#);
    assert_eq!(names(dir.path()), ["input", "output"]);
    assert_eq!(names(&dir.path().join("input")), ["input.json"]);
    assert_eq!(names(&dir.path().join("output")), ["output.json"], "no temporary file is left");
    assert_eq!(std::fs::read(dir.path().join("input/input.json")).expect("input"), input_before);
}

#[test]
fn output_dir_is_created_when_missing() {
    let dir = job_folder(&minimal_input(), false);
    let run = run_job(dir.path(), "", ok_report);
    assert_eq!(run.code, 0);
    assert_eq!(output_json(dir.path())["success"], json!(true));
}

#[test]
fn stdin_mode_without_input_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-job");
    for folder in [dir.path(), missing.as_path()] {
        let input = serde_json::to_string(&minimal_input()).expect("encodable");
        let run = run_job(folder, &input, |job: &Job| {
            assert_eq!(job.dir(), None);
            Ok::<_, String>(Report::from_value(job.data().cloned().unwrap_or_default()))
        });
        assert_eq!(run.code, 0);
        assert_eq!(
            String::from_utf8(run.stdout).expect("UTF-8"),
            r#"{"success": true, "full": {"title": "é"}, "operations": []}"#
        );
    }
    assert!(names(dir.path()).is_empty(), "no output/ is created in stdin mode");
}

#[test]
fn terminal_stdin_gets_cortexutils_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_job_tty(dir.path(), "", true, ok_report);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, br#"{"success": false, "input": {}, "errorMessage": "Input file doesnt exist"}"#);
}

#[test]
fn bad_stdin_input_ends_in_an_error_document() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("", "Empty input on standard input"),
        ("  \n", "Empty input on standard input"),
        ("[1, 2]", "Invalid input: expected a JSON object"),
        ("\"text\"", "Invalid input: expected a JSON object"),
        ("{\"dataType\": null}", "Missing dataType field"),
        ("{\"tlp\": 1}", "Missing dataType field"),
    ];
    for (stdin, message) in cases {
        let run = run_job(dir.path(), stdin, ok_report);
        assert_eq!(run.code, 1, "{stdin:?}");
        let document: Value = serde_json::from_slice(&run.stdout).expect("JSON document");
        assert_eq!(document["success"], json!(false));
        assert_eq!(error_message(&document), message, "{stdin:?}");
    }
    let run = run_job(dir.path(), "{\"config\": {\"api_key\": \"hunter2\"", ok_report);
    assert_eq!(run.code, 1);
    let document: Value = serde_json::from_slice(&run.stdout).expect("JSON document");
    assert_eq!(document["input"], json!({}));
    assert!(error_message(&document).starts_with("Invalid input JSON on standard input: EOF while parsing"));
    assert!(!String::from_utf8_lossy(&run.stdout).contains("hunter2"));
}

#[test]
fn bad_input_file_ends_in_an_error_document() {
    let dir = job_folder(&json!(null), true);
    std::fs::write(dir.path().join("input/input.json"), "{not json").expect("write");
    let run = run_job(dir.path(), "", ok_report);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    let document = output_json(dir.path());
    assert_eq!(document["input"], json!({}));
    assert!(error_message(&document).starts_with("Invalid input JSON in input/input.json: "), "{document}");

    std::fs::write(dir.path().join("input/input.json"), "").expect("write");
    run_job(dir.path(), "", ok_report);
    assert_eq!(error_message(&output_json(dir.path())), "Empty input in input/input.json");
}

#[test]
fn validation_errors_echo_the_redacted_input() {
    let input = json!({"dataType": "thehive:case", "pap": 3,
                       "config": {"check_pap": true, "max_pap": 2.0, "nested": {"password": "hunter2"}}});
    let dir = job_folder(&input, true);
    let run = run_job(dir.path(), "", ok_report);
    assert_eq!(run.code, 1);
    assert_eq!(
        output_of(dir.path()),
        br#"{"success": false, "input": {"dataType": "thehive:case", "pap": 3, "config": {"check_pap": true, "max_pap": 2.0, "nested": {"password": "REMOVED"}}}, "errorMessage": "PAP is higher than allowed."}"#
    );
}

#[test]
fn action_errors_mask_secrets_but_not_data() {
    let input = json!({"dataType": "x", "data": {"token": "visible"},
                       "config": {"auth": {"bearer": "b"}, "proxy_https": "http://u:hunter2@proxy:3128", "token_dir": "/t"}});
    let dir = job_folder(&input, true);
    let run = run_job(dir.path(), "", |_: &Job| Err::<Report, _>("Invalid service"));
    assert_eq!(run.code, 1);
    let document = output_json(dir.path());
    assert_eq!(
        document["input"],
        json!({"dataType": "x", "data": {"token": "visible"},
               "config": {"auth": "REMOVED", "proxy_https": "http://u:REMOVED@proxy:3128", "token_dir": "/t"}})
    );
    assert_eq!(error_message(&document), "Invalid service");
}

#[test]
fn a_panicking_action_still_produces_an_error_document() {
    let dir = job_folder(&json!({"dataType": "x", "config": {"api_key": "k"}}), true);
    let panic_line = std::cell::Cell::new(0);
    let run = run_job(dir.path(), "", |_: &Job| -> Result<Report, String> {
        panic_line.set(line!() + 1);
        panic!("payload with hunter2")
    });
    assert_eq!(run.code, 1);
    let document = output_json(dir.path());
    let location = format!("{}:{}", file!(), panic_line.get());
    assert_eq!(
        error_message(&document),
        format!("Internal error in the responder (please report it): panicked at {location}")
    );
    assert_eq!(document["input"], json!({"dataType": "x", "config": {"api_key": "REMOVED"}}));
    assert!(run.stderr.contains(&location), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"));
    assert_eq!(names(&dir.path().join("output")), ["output.json"]);
}

#[test]
fn a_panicking_error_display_is_caught_too() {
    struct Broken;
    impl std::fmt::Display for Broken {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("display")
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let run = run_job(dir.path(), r#"{"dataType": "x"}"#, |_: &Job| Err::<Report, _>(Broken));
    assert_eq!(run.code, 1);
    let document: Value = serde_json::from_slice(&run.stdout).expect("JSON document");
    assert!(error_message(&document).starts_with("Internal error in the responder"));
}

#[test]
fn unwritable_output_is_reported_on_stderr() {
    let dir = job_folder(&minimal_input(), true);
    // A non-empty directory in the way: the atomic rename cannot replace it.
    std::fs::create_dir_all(dir.path().join("output/output.json/busy")).expect("mkdir");
    let run = run_job(dir.path(), "", ok_report);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    let target = dir.path().join("output/output.json");
    assert!(run.stderr.starts_with(&format!("cortex-worker: cannot write {}: ", target.display())), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1);
    assert_eq!(names(&dir.path().join("output")), ["output.json"], "no temporary file is left");
}
