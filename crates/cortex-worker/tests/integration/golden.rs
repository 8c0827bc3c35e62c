//! Byte-for-byte equality with documents produced by cortexutils 2.2.1 (tests/fixtures/cortexutils/).

use cortex_worker::{Job, Operation, Report};
use serde_json::{Value, json};

use crate::common::{fixture_bytes, fixture_json, job_folder, output_of, run_job};

const INCIDENT_ID: &str = "data.case_task.case.customFields.mdr-incident-id.string";

fn assert_same_bytes(actual: &[u8], golden: &str) {
    let expected = fixture_bytes(golden);
    assert!(
        actual == expected.as_slice(),
        "{golden} differs:\n  ours:   {}\n  golden: {}",
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(&expected)
    );
}

/// Runs in job-folder mode and checks the exit code, the output bytes and silence on stdout.
fn assert_golden<F>(input: &Value, golden: &str, expected_code: i32, action: F)
where
    F: FnOnce(&Job) -> Result<Report, String>,
{
    let dir = job_folder(input, true);
    let run = run_job(dir.path(), "", action);
    assert_eq!(run.code, expected_code);
    assert!(run.stdout.is_empty());
    assert_same_bytes(&output_of(dir.path()), golden);
}

#[test]
fn success_case() {
    let input = fixture_json("input_case.json");
    assert_golden(&input, "success_case.json", 0, |_| {
        Ok(Report::from_value(json!({"message": "incident -NzExampleIncident01 closed as TruePositive"})))
    });
}

#[test]
fn success_case_task_log_with_two_operations() {
    let input = fixture_json("input_case_task_log.json");
    assert_golden(&input, "success_case_task_log.json", 0, |job| {
        let incident = job.param(INCIDENT_ID).and_then(Value::as_str).ok_or("no incident id")?;
        let author = job.param("data.owner").and_then(Value::as_str).ok_or("no owner")?;
        let message = job.param("data.message").and_then(Value::as_str).ok_or("no message")?;
        let full = json!({
            "message": format!("comment added to incident {incident}"),
            "text": format!("{author} wrote:\n>{message}"),
        });
        Ok(Report::from_value(full)
            .with_operation(Operation::AddTagToCase { tag: "MDR:comment-sent".to_owned() })
            .with_operation(Operation::CloseTask))
    });
}

#[test]
fn error_missing_param_keeps_token_dir_visible() {
    let mut input = fixture_json("input_case_task_log.json");
    input["config"]["service"] = json!("need_description");
    assert_golden(&input, "error_missing_param.json", 1, |job| {
        assert_eq!(job.config_str("service"), Some("need_description"));
        Err("description is missing".to_owned())
    });
}

#[test]
fn error_tlp_stops_before_the_action() {
    let mut input = fixture_json("input_case_task_log.json");
    input["tlp"] = json!(3);
    assert_golden(&input, "error_tlp.json", 1, |_| -> Result<Report, String> {
        panic!("the action must not run when the TLP check fails")
    });
}

#[test]
fn error_redacted_masks_appended_secrets() {
    let mut input = fixture_json("input_case.json");
    input["config"]["service"] = json!("nope");
    input["config"]["api_key"] = json!("0123-secret-api-key");
    input["config"]["smtp_password"] = json!("hunter2");
    assert_golden(&input, "error_redacted.json", 1, |_| Err("Invalid service".to_owned()));
}

#[test]
fn stdin_mode_writes_the_same_bytes_to_stdout() {
    let input = serde_json::to_string(&fixture_json("input_case.json")).expect("encodable");
    let empty = tempfile::tempdir().expect("temp dir");
    let run = run_job(empty.path(), &input, |_| {
        Ok::<_, String>(Report::from_value(json!({"message": "incident -NzExampleIncident01 closed as TruePositive"})))
    });
    assert_eq!(run.code, 0);
    assert_same_bytes(&run.stdout, "success_case.json");
    assert!(crate::common::names(empty.path()).is_empty(), "nothing is written into the folder in stdin mode");
}
