//! Runs responder binaries the way Cortex's process runner does (argv = [binary, job folder], no
//! stdin, working directory = the responders folder) against the MDR stand-in.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mdr_sandbox::{Sandbox, SandboxOptions, Seed, TokenPair};
use serde_json::Value;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A TheHive sample input from `tests/fixtures/jobs/`, e.g. `th4/input_case_task_log.json`.
pub fn fixture(name: &str) -> Value {
    let path = workspace_root().join("tests/fixtures/jobs").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture JSON")
}

/// A sandbox with the demo seed, plain HTTP or TLS.
pub fn sandbox(tls: bool) -> Sandbox {
    let mut options = SandboxOptions::new(Seed::default_demo());
    options.tls = tls;
    Sandbox::start(options).expect("sandbox starts")
}

/// Everything one job needs on disk: the job folder, a token folder and the sandbox's CA file.
pub struct Job {
    pub root: tempfile::TempDir,
    pub input: Value,
}

impl Job {
    /// A job on `input` with its config pointed at `sandbox` and a fresh valid token pair.
    pub fn new(mut input: Value, sandbox: &Sandbox) -> (Job, TokenPair) {
        let root = tempfile::tempdir().unwrap();
        let tokens = root.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let pair = sandbox.write_token_dir(&tokens, 3600).unwrap();
        let config = &mut input["config"];
        config["api_url"] = sandbox.api_url().into();
        config["client_id"] = sandbox.client_id().into();
        config["token_dir"] = tokens.to_str().unwrap().into();
        if let Some(pem) = sandbox.ca_pem() {
            let ca = root.path().join("mdr-ca.pem");
            std::fs::write(&ca, pem).unwrap();
            config["ssl_cert"] = ca.to_str().unwrap().into();
        }
        (Job { root, input }, pair)
    }

    pub fn dir(&self) -> PathBuf {
        self.root.path().join("job")
    }

    pub fn token_dir(&self) -> PathBuf {
        self.root.path().join("tokens")
    }

    pub fn token_file(&self, name: &str) -> String {
        std::fs::read_to_string(self.token_dir().join(name)).unwrap()
    }

    /// Writes `job/input/input.json` (compact, as Cortex does) and an empty `job/output/`.
    pub fn write(&self) -> PathBuf {
        self.write_to("job")
    }

    fn write_to(&self, folder: &str) -> PathBuf {
        let dir = self.root.path().join(folder);
        std::fs::create_dir_all(dir.join("input")).unwrap();
        std::fs::create_dir_all(dir.join("output")).unwrap();
        std::fs::write(dir.join("input/input.json"), serde_json::to_vec(&self.input).unwrap()).unwrap();
        dir
    }

    /// Runs `binary` on this job as Cortex does and returns the process output and the document.
    pub fn run(&self, binary: &str) -> Run {
        self.run_in(binary, "job")
    }

    /// Like [`Job::run`] in a job folder of its own, for jobs running at the same time.
    pub fn run_in(&self, binary: &str, folder: &str) -> Run {
        let dir = self.write_to(folder);
        let output = cortex_command(binary).arg(&dir).output().unwrap();
        let raw = std::fs::read(dir.join("output/output.json")).unwrap_or_default();
        Run::new(output, raw)
    }

    /// Manual-test mode: no job folder, JSON on stdin, document on stdout.
    pub fn run_stdin(&self, binary: &str) -> Run {
        let mut child = cortex_command(binary)
            .arg(self.root.path().join("no-such-job"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&serde_json::to_vec(&self.input).unwrap()).unwrap();
        let output = child.wait_with_output().unwrap();
        let raw = output.stdout.clone();
        Run::new(output, raw)
    }
}

/// The process runner's environment: cwd = the responders folder, stdin closed, no proxy
/// variables leaking in from the developer's shell.
pub fn cortex_command(binary: &str) -> Command {
    let mut command = Command::new(binary);
    command.current_dir(workspace_root().join("responders")).stdin(Stdio::null());
    for var in
        ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "REQUESTS_CA_BUNDLE"]
    {
        command.env_remove(var);
    }
    command
}

pub struct Run {
    pub output: Output,
    pub raw: Vec<u8>,
    pub doc: Value,
}

impl Run {
    fn new(output: Output, raw: Vec<u8>) -> Run {
        let doc = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Run { output, raw, doc }
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts a success document Cortex accepts (success true, `full` an object, operations an
    /// array of objects) and exit code 0.
    pub fn assert_success(&self) -> &Value {
        assert_eq!(self.doc["success"], Value::Bool(true), "not a success: {}\nstderr: {}", self.doc, self.stderr());
        assert!(self.doc["full"].is_object(), "{}", self.doc);
        assert!(self.doc["operations"].as_array().is_some_and(|ops| ops.iter().all(Value::is_object)), "{}", self.doc);
        assert_eq!(self.code(), Some(0), "stderr: {}", self.stderr());
        &self.doc["full"]
    }

    /// Asserts an error document with exit code 1 and returns its message.
    pub fn assert_error(&self) -> String {
        assert_eq!(self.doc["success"], Value::Bool(false), "not an error: {}", self.doc);
        assert!(self.doc.get("input").is_some(), "{}", self.doc);
        assert_eq!(self.code(), Some(1), "stderr: {}", self.stderr());
        self.doc["errorMessage"].as_str().expect("errorMessage").to_owned()
    }

    /// Everything the process let out: the document, stdout and stderr.
    pub fn all_text(&self) -> String {
        format!(
            "{}{}{}",
            String::from_utf8_lossy(&self.raw),
            String::from_utf8_lossy(&self.output.stdout),
            self.stderr()
        )
    }

    pub fn assert_no_secret(&self, secrets: &[&str]) {
        let text = self.all_text();
        for secret in secrets {
            assert!(!text.contains(secret), "a secret leaked into the output: {text}");
        }
    }
}
