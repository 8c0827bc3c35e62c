//! The analyzer flavour of the runner: same input handling and errors, cortexutils' analyzer document.

use std::path::Path;

use cortex_worker::{AnalyzerReport, Artifact, Job, Operation, Taxonomy, TaxonomyLevel, run_with_io};
use serde_json::{Value, json};

use crate::common::{job_folder, output_json, output_of};

fn run(dir: &Path, action: impl FnOnce(&Job) -> Result<AnalyzerReport, String>) -> (i32, String) {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = run_with_io(Some(dir.to_path_buf()), &mut "".as_bytes(), false, &mut stdout, &mut stderr, action);
    assert!(stdout.is_empty());
    (code, String::from_utf8(stderr).expect("UTF-8"))
}

fn input() -> Value {
    json!({"dataType": "ip", "data": "192.0.2.1", "tlp": 2, "pap": 2,
           "config": {"api_key": "sentinel-key", "check_tlp": true, "max_tlp": 2}})
}

#[test]
fn success_document_has_cortexutils_analyzer_keys_in_order() {
    let dir = job_folder(&input(), true);
    let (code, stderr) = run(dir.path(), |job| {
        assert_eq!(job.data_str(), Some("192.0.2.1"));
        Ok(AnalyzerReport::from_value(json!({"zone": "Red", "é": 1}))
            .with_taxonomy(Taxonomy::new(TaxonomyLevel::Malicious, "KTIP", "Zone", "Red"))
            .with_artifact(Artifact::new("domain", "x.test").with_message("m"))
            .with_operation(Operation::AddTagToArtifact { tag: "t".into() }))
    });
    assert_eq!((code, stderr.as_str()), (0, ""));
    let expected = r#"{"success": true, "summary": {"taxonomies": [{"level": "malicious", "namespace": "KTIP", "predicate": "Zone", "value": "Red"}]}, "artifacts": [{"dataType": "domain", "data": "x.test", "message": "m"}], "operations": [{"type": "AddTagToArtifact", "tag": "t"}], "full": {"zone": "Red", "é": 1}}"#;
    assert_eq!(String::from_utf8(output_of(dir.path())).expect("UTF-8"), expected);
}

#[test]
fn empty_report_still_has_every_key() {
    let dir = job_folder(&input(), false);
    let (code, _) = run(dir.path(), |_| Ok(AnalyzerReport::default()));
    assert_eq!(code, 0);
    assert_eq!(
        output_of(dir.path()),
        br#"{"success": true, "summary": {"taxonomies": []}, "artifacts": [], "operations": [], "full": {}}"#
    );
}

#[test]
fn errors_and_start_up_checks_are_the_responder_ones() {
    let dir = job_folder(&input(), true);
    let (code, _) = run(dir.path(), |_| Err("lookup failed".to_owned()));
    assert_eq!(code, 1);
    let document = output_json(dir.path());
    assert_eq!(document["errorMessage"], "lookup failed");
    assert_eq!(document["input"]["config"]["api_key"], "REMOVED");

    let mut too_high = input();
    too_high["tlp"] = json!(3);
    let dir = job_folder(&too_high, true);
    let (code, _) = run(dir.path(), |_| panic!("the action must not run"));
    assert_eq!(code, 1);
    assert_eq!(output_json(dir.path())["errorMessage"], "TLP is higher than allowed.");
}

#[test]
fn a_panic_names_the_analyzer_and_hides_its_payload() {
    let dir = job_folder(&input(), true);
    let (code, stderr) = run(dir.path(), |_| panic!("sentinel-key"));
    assert_eq!(code, 1);
    let message = output_json(dir.path())["errorMessage"].as_str().expect("text").to_owned();
    assert!(message.starts_with("Internal error in the analyzer (please report it): panicked at "), "{message}");
    assert!(!message.contains("sentinel-key") && !stderr.contains("sentinel-key"));
}
