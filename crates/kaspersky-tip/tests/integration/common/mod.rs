//! Shared integration-test helpers: the stand-in, job folders, and running the real binary as Cortex does.

#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod standin;
pub mod tls;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

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

/// Runs the real binary on a fresh job folder (argv = [binary, dir], stdin null) and reads output.json.
pub fn run(input: &Value) -> Outcome {
    let dir = tempfile::tempdir().expect("temp dir");
    run_in(dir.path(), input)
}

pub fn run_in(dir: &Path, input: &Value) -> Outcome {
    std::fs::create_dir_all(dir.join("input")).expect("input dir");
    std::fs::create_dir_all(dir.join("output")).expect("output dir");
    std::fs::write(dir.join("input/input.json"), serde_json::to_vec(input).expect("JSON")).expect("write input");
    let out = Command::new(env!("CARGO_BIN_EXE_kaspersky-tip"))
        .arg(dir)
        .stdin(Stdio::null())
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .output()
        .expect("the analyzer runs");
    let raw = std::fs::read_to_string(dir.join("output/output.json")).expect("output.json written");
    Outcome {
        code: out.status.code().expect("exit code"),
        output: serde_json::from_str(&raw).expect("output.json is JSON"),
        raw,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
