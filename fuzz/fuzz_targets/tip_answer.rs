//! Any bytes as the body of a TIP or OpenTIP 200 answer: decoded as the analyzer decodes it, turned
//! into the report for each lookup type (tags and artifacts on), and encoded as the success document.
#![no_main]

use std::sync::OnceLock;

use cortex_worker::{AnalyzerReport, Job};
use kaspersky_tip::client::decode_found;
use kaspersky_tip::config::Settings;
use kaspersky_tip::observable::Observable;
use kaspersky_tip::report;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// One observable of each lookup type.
const OBSERVABLES: [(&str, &str); 5] = [
    ("hash", "44d88612fea8a8f36de82e1278abb02f"),
    ("ip", "198.51.100.7"),
    ("domain", "bad.example.test"),
    ("fqdn", "www.safe.example.test"),
    ("url", "http://phish.example.test/login?a=1"),
];

fn job(config: Value) -> Job {
    Job::from_input(json!({"dataType": "url", "data": "x", "config": config}), None).expect("a valid job")
}

fn settings() -> &'static [(Settings, Vec<Observable>); 2] {
    static SETTINGS: OnceLock<[(Settings, Vec<Observable>); 2]> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let observables: Vec<Observable> = OBSERVABLES
            .iter()
            .map(|(kind, value)| Observable::parse(kind, value).expect("a valid observable"))
            .collect();
        ["tip", "opentip"].map(|backend| {
            let config = json!({"backend": backend, "api_key": "k", "add_tags": true, "extract_artifacts": true});
            (Settings::from_job(&job(config)).expect("valid settings"), observables.clone())
        })
    })
}

/// The success document, through the runner the binary uses.
fn encode(report: AnalyzerReport) {
    let missing = std::path::PathBuf::from("/nonexistent/fuzz-job");
    let mut stdin: &[u8] = br#"{"dataType": "url", "data": "x"}"#;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    cortex_worker::run_with_io(Some(missing), &mut stdin, false, &mut stdout, &mut stderr, |_| Ok::<_, String>(report));
    let doc: Value = serde_json::from_slice(&stdout).expect("the document is JSON");
    assert_eq!(doc["success"], json!(true), "{doc}");
}

fuzz_target!(|data: &[u8]| {
    for (settings, observables) in settings() {
        match decode_found(settings.service.backend, data) {
            Ok(answer) => {
                for observable in observables {
                    encode(report::build(settings, observable, &answer, true));
                }
            }
            Err(error) => drop(error.to_string()),
        }
    }
});
