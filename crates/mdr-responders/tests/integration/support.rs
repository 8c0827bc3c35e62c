//! The responder binaries run on job folders pointed at the MDR stand-in, through test-support's
//! Cortex harness ([`test_support::cortex`]), with the assertions every suite makes of a run.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use test_support::cortex::{self, Worker};
use test_support::{Sandbox, SandboxOptions, Seed, TokenPair};

pub use test_support::cortex::{job_timeout, run_process, workspace_root};

/// A TheHive sample input from `tests/fixtures/jobs/`, e.g. `th4/input_case_task_log.json`.
pub fn fixture(name: &str) -> Value {
    cortex::sample_input(name).expect("fixture")
}

/// A sandbox with the demo seed, plain HTTP or TLS.
pub fn sandbox(tls: bool) -> Sandbox {
    let mut options = SandboxOptions::new(Seed::default_demo());
    options.tls = tls;
    Sandbox::start(options).expect("sandbox starts")
}

/// The folder Cortex's process runner starts responders in.
pub fn responders_folder() -> PathBuf {
    workspace_root().join("responders")
}

/// [`cortex::worker_command`] from the responders folder.
pub fn cortex_command(binary: &str) -> Command {
    cortex::worker_command(Path::new(binary), &responders_folder())
}

/// [`cortex::job_command`] from the responders folder.
pub fn cortex_job_command(binary: &str, job_dir: &Path) -> Command {
    cortex::job_command(Path::new(binary), job_dir, &responders_folder())
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

    /// [`Job::new`] on the sample job `fixture_name`, for a test that needs no token of its own.
    pub fn on(fixture_name: &str, sandbox: &Sandbox) -> Job {
        Job::new(fixture(fixture_name), sandbox).0
    }

    /// The job with one more configuration item, as the organisation's Cortex settings would add it.
    pub fn with_config(mut self, item: &str, value: impl Into<Value>) -> Job {
        self.input["config"][item] = value.into();
        self
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

    /// Writes the job folder `job/` as Cortex does (see [`cortex::write_job`]).
    pub fn write(&self) -> PathBuf {
        self.write_to("job")
    }

    /// Writes the job folder `folder` as Cortex does.
    pub fn write_to(&self, folder: &str) -> PathBuf {
        let dir = self.root.path().join(folder);
        cortex::write_job(&dir, &self.input).unwrap();
        dir
    }

    /// Runs `binary` on this job as Cortex does and returns the process output and the document.
    pub fn run(&self, binary: &str) -> Run {
        self.run_in(binary, "job")
    }

    /// Like [`Job::run`] in a job folder of its own, for jobs running at the same time.
    pub fn run_in(&self, binary: &str, folder: &str) -> Run {
        self.run_with_timeout(binary, folder, job_timeout())
    }

    /// [`Job::run_in`] with an explicit time limit.
    pub fn run_with_timeout(&self, binary: &str, folder: &str, timeout: std::time::Duration) -> Run {
        let dir = self.write_to(folder);
        Run(cortex::run_job(Path::new(binary), &dir, &responders_folder(), timeout).unwrap())
    }

    /// Manual-test mode: no job folder, JSON on stdin, document on stdout.
    pub fn run_stdin(&self, binary: &str) -> Run {
        let mut command = cortex_command(binary);
        command.arg(self.root.path().join("no-such-job"));
        let stdin = serde_json::to_vec(&self.input).unwrap();
        let (output, timed_out) = run_process(command, Some(stdin), job_timeout()).unwrap();
        let raw = output.stdout.clone();
        Run(cortex::Run::new(output, raw, timed_out))
    }
}

/// A responder run, with the assertions the suites make of it.
#[derive(Debug)]
pub struct Run(pub cortex::Run);

impl Deref for Run {
    type Target = cortex::Run;

    fn deref(&self) -> &cortex::Run {
        &self.0
    }
}

impl Run {
    /// Asserts a success document Cortex and TheHive accept, within the time limit, with exit
    /// code 0, and returns its `full`.
    pub fn assert_success(&self) -> &Value {
        self.0.accepted(Worker::Responder).unwrap_or_else(|problem| panic!("{problem}"))
    }

    /// Asserts an error document with exit code 1 and returns its message.
    pub fn assert_error(&self) -> String {
        self.0.refused().unwrap_or_else(|problem| panic!("{problem}")).to_owned()
    }

    pub fn assert_no_secret(&self, secrets: &[&str]) {
        let text = self.all_text();
        for secret in secrets {
            assert!(!text.contains(secret), "a secret leaked into the output: {text}");
        }
    }
}

/// The binaries this crate builds, as cargo hands them to its tests.
pub const SEND: &str = env!("CARGO_BIN_EXE_mdr-send-task-log");
pub const CLOSE: &str = env!("CARGO_BIN_EXE_mdr-close-incident");
pub const DECIDE: &str = env!("CARGO_BIN_EXE_mdr-response-decision");
pub const CREATE: &str = env!("CARGO_BIN_EXE_mdr-create-incident");
pub const TOKEN_TOOL: &str = env!("CARGO_BIN_EXE_mdr-token");

/// The bodies of the requests MDR received at `endpoint`, in order.
pub fn sent(mdr: &Sandbox, endpoint: &str) -> Vec<Value> {
    mdr.calls(endpoint).into_iter().map(|call| call.body).collect()
}
