//! Shared integration-test helpers: the stand-in, job folders, and running the real binary as Cortex does.

#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod standin;
pub mod tls;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use test_support::cortex::{self, Worker};

pub use standin::{BASIC_PASSWORD, BASIC_USER, OPENTIP_KEY, StandIn, TIP_TOKEN};
pub use tls::TestPki;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Tip,
    OpenTip,
}

pub const BACKENDS: [Backend; 2] = [Backend::Tip, Backend::OpenTip];

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Tip => "tip",
            Backend::OpenTip => "opentip",
        }
    }
}

/// The config Cortex would send for a flavour (fixed `backend`, every declared item, Cortex's own keys).
pub fn config(standin: &StandIn, backend: Backend) -> Value {
    let key = match backend {
        Backend::Tip => TIP_TOKEN,
        Backend::OpenTip => OPENTIP_KEY,
    };
    json!({
        "backend": backend.name(),
        "api_key": key, "api_url": standin.url(), "client_cert": null, "username": null, "password": null,
        "sections_hash": null, "sections_ip": null, "sections_domain": null, "sections_url": null,
        "count": null, "zone_scores": null, "tlp_limit": null, "add_tags": false, "extract_artifacts": false,
        "timeout": 10,
        "proxy_http": null, "proxy_https": null, "cacerts": null, "jobTimeout": 30,
        "check_tlp": false, "max_tlp": 2, "check_pap": false, "max_pap": 2, "auto_extract": true
    })
}

pub fn input(data_type: &str, data: &str, tlp: u8, config: Value) -> Value {
    json!({"data": data, "dataType": data_type, "tlp": tlp, "pap": 2, "message": "", "parameters": {}, "config": config})
}

pub struct Outcome {
    pub code: i32,
    pub output: Value,
    pub raw: String,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn error(&self) -> &str {
        assert_eq!(self.output["success"], json!(false), "expected an error document: {}", self.raw);
        self.output["errorMessage"].as_str().expect("errorMessage")
    }

    pub fn full(&self) -> &Value {
        assert_eq!(self.output["success"], json!(true), "expected a success document: {}", self.raw);
        &self.output["full"]
    }

    pub fn taxonomies(&self) -> Vec<(String, String, String)> {
        self.output["summary"]["taxonomies"]
            .as_array()
            .expect("taxonomies")
            .iter()
            .map(|t| {
                assert_eq!(t["namespace"], "KTIP");
                let text = |k: &str| t[k].as_str().expect("string").to_owned();
                (text("level"), text("predicate"), text("value"))
            })
            .collect()
    }
}

/// Runs the real binary on a fresh job folder as Cortex does (see [`run_in`]).
pub fn run(input: &Value) -> Outcome {
    let dir = tempfile::tempdir().expect("temp dir");
    run_in(dir.path(), input)
}

/// The folder Cortex's process runner starts analyzers in.
fn analyzers_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../analyzers")
}

/// Writes the job folder `dir` and runs the real binary on it through test-support's Cortex harness
/// (argv = [binary, dir], stdin closed, `REQUESTS_CA_BUNDLE` for `input/cacerts`, the harness's
/// time limit), then asserts what Cortex requires to take the run: a document within the time limit,
/// exit 0 with a report Cortex and TheHive accept, or exit 1 with cortexutils' error document.
pub fn run_in(dir: &Path, input: &Value) -> Outcome {
    cortex::write_job(dir, input).expect("job folder");
    let binary = Path::new(env!("CARGO_BIN_EXE_kaspersky-tip"));
    let run = cortex::run_job(binary, dir, &analyzers_folder(), cortex::job_timeout()).expect("the analyzer runs");
    let judged = if run.doc["success"] == json!(true) {
        run.accepted(Worker::Analyzer).map(drop)
    } else {
        run.refused().map(drop)
    };
    if let Err(problem) = judged {
        panic!("Cortex would not take this run: {problem}");
    }
    Outcome {
        code: run.code().expect("exit code"),
        output: run.doc.clone(),
        raw: String::from_utf8_lossy(&run.raw).into_owned(),
        stdout: String::from_utf8_lossy(&run.output.stdout).into_owned(),
        stderr: run.stderr(),
    }
}
