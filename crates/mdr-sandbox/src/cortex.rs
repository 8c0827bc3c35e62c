//! Runs responder binaries the way Cortex's process runner does, against the MDR stand-in, and
//! reads their output the way Cortex does.
//!
//! Like Cortex 4.1's `ProcessJobRunnerSrv`: the job folder holds `input/input.json` (compact) and
//! an empty `output/`, plus `input/cacerts` when the configuration's `cacerts` is non-blank; argv =
//! [binary, job folder], no shell, stdin closed, working directory = the responders folder,
//! `REQUESTS_CA_BUNDLE=<job>/input/cacerts` only when that file exists, and a timeout after which
//! the process gets SIGTERM (then SIGKILL). Like `JobRunnerSrv.extractReport`, a report is
//! accepted only with a boolean `success`, an object `full` and `operations` made of objects TheHive
//! knows ([`Run::assert_success`]); a missing output file becomes Cortex's own error document
//! ([`Run::cortex_report`]). [`definition_problems`] checks a flavour file or catalogue entry the
//! way `WorkerDefinition` reads it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

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

    /// Writes `job/input/input.json` (compact, as Cortex does), `job/input/cacerts` when the
    /// configuration's `cacerts` is non-blank (as Cortex does), and an empty `job/output/`.
    pub fn write(&self) -> PathBuf {
        self.write_to("job")
    }

    fn write_to(&self, folder: &str) -> PathBuf {
        let dir = self.root.path().join(folder);
        std::fs::create_dir_all(dir.join("input")).unwrap();
        std::fs::create_dir_all(dir.join("output")).unwrap();
        std::fs::write(dir.join("input/input.json"), serde_json::to_vec(&self.input).unwrap()).unwrap();
        if let Some(pem) = self.input["config"]["cacerts"].as_str().filter(|pem| !pem.trim().is_empty()) {
            std::fs::write(dir.join("input/cacerts"), pem).unwrap();
        }
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

    /// [`Job::run_in`] with an explicit timeout.
    pub fn run_with_timeout(&self, binary: &str, folder: &str, timeout: Duration) -> Run {
        let dir = self.write_to(folder);
        let (output, timed_out) = run_process(cortex_job_command(binary, &dir), None, timeout);
        let raw = std::fs::read(dir.join("output/output.json")).unwrap_or_default();
        Run::new(output, raw, timed_out)
    }

    /// Manual-test mode: no job folder, JSON on stdin, document on stdout.
    pub fn run_stdin(&self, binary: &str) -> Run {
        let mut command = cortex_command(binary);
        command.arg(self.root.path().join("no-such-job"));
        let (output, timed_out) = run_process(command, Some(serde_json::to_vec(&self.input).unwrap()), job_timeout());
        let raw = output.stdout.clone();
        Run::new(output, raw, timed_out)
    }
}

/// How long a job may run before the harness stops it: `CORTEX_JOB_TIMEOUT_SECS`, else 120 s
/// (Cortex's own default is 30 min; a test that needs that long is hung).
pub fn job_timeout() -> Duration {
    let secs = std::env::var("CORTEX_JOB_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    Duration::from_secs(secs)
}

/// [`cortex_command`] for one job folder: argv = [binary, job folder], and
/// `REQUESTS_CA_BUNDLE=<job>/input/cacerts` when (and only when) that file exists.
pub fn cortex_job_command(binary: &str, job_dir: &Path) -> Command {
    let mut command = cortex_command(binary);
    command.arg(job_dir);
    let cacerts = job_dir.join("input/cacerts");
    if cacerts.is_file() {
        command.env("REQUESTS_CA_BUNDLE", cacerts);
    }
    command
}

/// Runs `command` to its end or to `timeout`, then SIGTERM (Cortex's `destroy()`), and SIGKILL
/// 5 s later. stdout and stderr are drained meanwhile so that a chatty process cannot block.
/// Returns the output and whether the timeout struck. The process leads a process group of its
/// own, and the signals go to the whole group, so that nothing it started keeps the pipes open.
pub fn run_process(mut command: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> (Output, bool) {
    use std::os::unix::process::CommandExt;
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    command.process_group(0);
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // A process that exits without reading its input closes the pipe: not a harness error.
        let _ = pipe.write_all(&bytes);
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let (status, timed_out) = wait_or_stop(&mut child, timeout);
    let output = Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() };
    (output, timed_out)
}

fn wait_or_stop(child: &mut Child, timeout: Duration) -> (ExitStatus, bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, false);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let grace = Instant::now() + Duration::from_secs(5);
    while Instant::now() < grace {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, true);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.kill();
    (child.wait().unwrap(), true)
}

/// The process runner's environment: cwd = the responders folder, stdin closed, no proxy
/// variables leaking in from the developer's shell.
pub fn cortex_command(binary: &str) -> Command {
    let mut command = Command::new(binary);
    command.current_dir(workspace_root().join("responders")).stdin(Stdio::null());
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
    ] {
        command.env_remove(var);
    }
    command
}

/// Makes `input.config` what Cortex 4.1 assembles for a job of `flavour` (`WorkerSrv`,
/// `JobRunnerSrv`): the flavour's `config`, then every configuration item (the value already in
/// `input.config`, else its `defaultValue`, else null), then the global items (`proxy_http`,
/// `proxy_https`, `cacerts`, `jobTimeout`, `check_tlp`, `max_tlp`, `check_pap`, `max_pap`, with the
/// UI's defaults), and `proxy.{http,https}` when the proxy items are strings.
pub fn apply_flavour_config(input: &mut Value, flavour: &Value) {
    let given = input["config"].as_object().cloned().unwrap_or_default();
    let mut config = flavour["config"].as_object().cloned().unwrap_or_default();
    for item in flavour["configurationItems"].as_array().into_iter().flatten() {
        let name = item["name"].as_str().unwrap();
        let value = given.get(name).cloned().or_else(|| item.get("defaultValue").cloned()).unwrap_or(Value::Null);
        config.insert(name.to_owned(), value);
    }
    let globals = serde_json::json!({"proxy_http": null, "proxy_https": null, "cacerts": null, "jobTimeout": 30,
                                      "check_tlp": true, "max_tlp": 2, "check_pap": true, "max_pap": 2});
    for (name, default) in globals.as_object().unwrap() {
        config.insert(name.clone(), given.get(name).cloned().unwrap_or_else(|| default.clone()));
    }
    let mut proxy = serde_json::Map::new();
    for (item, key) in [("proxy_http", "http"), ("proxy_https", "https")] {
        if let Some(url) = config[item].as_str() {
            proxy.insert(key.to_owned(), url.into());
        }
    }
    if !proxy.is_empty() {
        config.insert("proxy".to_owned(), Value::Object(proxy));
    }
    input["config"] = Value::Object(config);
}

/// The operations TheHive 4/5 apply from a responder report, with their fields: a type outside
/// this list, or a field of the wrong type, makes TheHive 4 drop every operation of the report.
pub const THEHIVE_OPERATIONS: [&str; 10] = [
    "AddTagToCase",
    "AddTagToArtifact",
    "AddTagToAlert",
    "MarkAlertAsRead",
    "CreateTask",
    "AddCustomFields",
    "AssignCase",
    "AddArtifactToCase",
    "AddLogToTask",
    "CloseTask",
];

/// Why Cortex (`JobRunnerSrv.extractReport`) or TheHive would not take `doc` as a successful
/// responder report; empty when it would.
pub fn report_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if doc["success"] != Value::Bool(true) {
        problems.push(format!("`success` is {}, not the boolean true", doc["success"]));
    }
    if !doc["full"].is_object() {
        problems.push("`full` is not an object (Cortex never finishes such a job)".to_owned());
    }
    if doc.get("summary").is_some_and(|v| !v.is_object()) {
        problems.push("`summary` is not an object".to_owned());
    }
    if doc.get("artifacts").is_some_and(|v| !v.as_array().is_some_and(|a| a.iter().all(Value::is_object))) {
        problems.push("`artifacts` is not an array of objects".to_owned());
    }
    match doc.get("operations").and_then(Value::as_array) {
        None => problems.push("`operations` is not an array".to_owned()),
        Some(operations) => {
            for (i, op) in operations.iter().enumerate() {
                if let Err(problem) = operation_problem(op) {
                    problems.push(format!("operations[{i}]: {problem} (Cortex/TheHive would drop them all)"));
                }
            }
        }
    }
    problems
}

fn operation_problem(op: &Value) -> Result<(), String> {
    let Some(object) = op.as_object() else { return Err(format!("{op} is not an object")) };
    let kind = object.get("type").and_then(Value::as_str).ok_or("no string `type`")?;
    let string = |field: &str| match object.get(field) {
        Some(Value::String(_)) => Ok(()),
        other => Err(format!("{kind}: `{field}` must be a string, got {other:?}")),
    };
    let optional = |field: &str, ok: fn(&Value) -> bool| match object.get(field) {
        Some(value) if !ok(value) => Err(format!("{kind}: `{field}` has the wrong type: {value}")),
        _ => Ok(()),
    };
    match kind {
        "AddTagToCase" | "AddTagToArtifact" | "AddTagToAlert" => string("tag"),
        "MarkAlertAsRead" | "CloseTask" => Ok(()),
        "CreateTask" => string("title").and(string("description")),
        "AssignCase" => string("owner"),
        "AddLogToTask" => string("content").and(optional("owner", Value::is_string)),
        "AddCustomFields" => {
            string("name")?;
            let tpe =
                object.get("tpe").and_then(Value::as_str).ok_or("AddCustomFields: `tpe` (sic) must be a string")?;
            let value = object.get("value").ok_or("AddCustomFields: no `value`")?;
            let fits = match tpe {
                "string" | "url" => value.is_string(),
                "integer" | "date" => value.is_i64() || value.is_u64(),
                "float" => value.is_number(),
                "boolean" => value.is_boolean(),
                other => return Err(format!("AddCustomFields: unknown field type {other:?}")),
            };
            if fits { Ok(()) } else { Err(format!("AddCustomFields: value {value} is not a {tpe}")) }
        }
        "AddArtifactToCase" => {
            string("data")?;
            string("dataType")?;
            string("message")?;
            optional("tlp", Value::is_number)?;
            optional("ioc", Value::is_boolean)?;
            optional("sighted", Value::is_boolean)?;
            optional("ignoreSimilarity", Value::is_boolean)?;
            optional("tags", |v| v.as_array().is_some_and(|tags| tags.iter().all(Value::is_string)))
        }
        other => Err(format!("unknown operation type {other:?}; TheHive knows {THEHIVE_OPERATIONS:?}")),
    }
}

/// Where a definition comes from: a flavour file of a local folder (run by the process runner,
/// needs `command`) or a catalogue entry (run by the Docker runner, needs `dockerImage`; Cortex
/// drops catalogue entries that keep a `command`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    Process,
    Docker,
}

/// Why Cortex (`WorkerDefinition.reads`, `WorkerSrv.scan`) or the Cortex-Analyzers publishing
/// checks would refuse or mangle this definition; empty when it is fine. Cortex rejects the file
/// when a required string is missing, and silently replaces a malformed `dataTypeList`,
/// `configurationItems` or `config` by an empty one: those count as problems too.
pub fn definition_problems(def: &Value, runner: Runner) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, problem: String| {
        if !ok {
            problems.push(problem);
        }
    };
    for field in ["name", "version", "description", "author", "url", "license"] {
        need(
            def[field].as_str().is_some_and(|v| !v.trim().is_empty()),
            format!("`{field}` must be a non-empty string"),
        );
    }
    let name = def["name"].as_str().unwrap_or_default();
    need(
        !name.contains(char::is_whitespace) && !name.contains(['/', '\\']) && !name.contains(".."),
        format!("name {name:?} has a space, a slash or `..`"),
    );
    need(
        def["dataTypeList"].as_array().is_some_and(|l| !l.is_empty() && l.iter().all(Value::is_string)),
        "`dataTypeList` must be a non-empty array of strings".to_owned(),
    );
    need(def.get("baseConfig").is_none_or(Value::is_string), "`baseConfig` must be a string".to_owned());
    need(def.get("config").is_none_or(Value::is_object), "`config` must be an object".to_owned());
    match def.get("configurationItems") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                if let Err(problem) = configuration_item_problem(item) {
                    problems.push(problem);
                }
            }
        }
        Some(_) => problems.push("`configurationItems` must be an array".to_owned()),
    }
    let command = def.get("command");
    let image = def.get("dockerImage");
    match runner {
        Runner::Process => {
            let command = command.and_then(Value::as_str).unwrap_or_default();
            let parts: Vec<&str> = command.split('/').collect();
            let relative = parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && *p != "..");
            if !relative {
                problems.push(format!("`command` {command:?} must be <Folder>/<program>, inside the scanned folder"));
            }
        }
        Runner::Docker => {
            if command.is_some() {
                problems.push("a catalogue entry must not have `command` (Cortex drops it)".to_owned());
            }
            let image = image.and_then(Value::as_str).unwrap_or_default();
            let (repository, tag) = image.rsplit_once(':').unwrap_or((image, ""));
            let valid = !repository.is_empty()
                && repository == repository.to_lowercase()
                && !repository.contains(char::is_whitespace)
                && !tag.is_empty()
                && tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid {
                problems.push(format!("`dockerImage` {image:?} is not <lower-case repository>:<tag>"));
            }
        }
    }
    problems
}

fn configuration_item_problem(item: &Value) -> Result<(), String> {
    let name = item["name"].as_str().ok_or_else(|| format!("configuration item without a string name: {item}"))?;
    let problem = |what: &str| Err(format!("configuration item {name}: {what}"));
    if !item["description"].is_string() {
        return problem("`description` must be a string");
    }
    let kind = item["type"].as_str().unwrap_or_default();
    if !["string", "text", "number", "boolean"].contains(&kind) {
        return problem("`type` must be string, text, number or boolean");
    }
    for flag in ["multi", "required"] {
        if item.get(flag).is_some_and(|v| !v.is_boolean()) {
            return problem(&format!("`{flag}` must be a boolean"));
        }
    }
    if let Some(default) = item.get("defaultValue").filter(|v| !v.is_null()) {
        let fits = |v: &Value| match kind {
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => v.is_string(),
        };
        let multi = item["multi"].as_bool().unwrap_or(false);
        let ok = if multi { default.as_array().is_some_and(|a| a.iter().all(fits)) } else { fits(default) };
        if !ok {
            return problem("`defaultValue` does not fit its `type`");
        }
    }
    Ok(())
}

pub struct Run {
    pub output: Output,
    /// The output document's bytes (stdout in manual-test mode); empty when there is none.
    pub raw: Vec<u8>,
    /// The output document, or null when there is none or it is not JSON.
    pub doc: Value,
    /// The harness stopped the process at the timeout.
    pub timed_out: bool,
}

impl Run {
    fn new(output: Output, raw: Vec<u8>, timed_out: bool) -> Run {
        let doc = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Run { output, raw, doc, timed_out }
    }

    /// What Cortex would record: the output document when there is one, else its own
    /// `{"success": false, "errorMessage": <stdout and stderr, concatenated>}`.
    pub fn cortex_report(&self) -> Value {
        if self.raw.iter().all(u8::is_ascii_whitespace) {
            let logs = format!(
                "{}{}",
                String::from_utf8_lossy(&self.output.stdout),
                String::from_utf8_lossy(&self.output.stderr)
            );
            return serde_json::json!({"success": false, "errorMessage": logs});
        }
        self.doc.clone()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts a success document Cortex and TheHive accept, within the timeout, with exit code 0:
    /// see [`report_problems`].
    pub fn assert_success(&self) -> &Value {
        assert!(!self.timed_out, "stopped at the timeout; stderr: {}", self.stderr());
        assert_eq!(self.doc["success"], Value::Bool(true), "not a success: {}\nstderr: {}", self.doc, self.stderr());
        let problems = report_problems(&self.doc);
        assert!(problems.is_empty(), "Cortex/TheHive would not accept this report: {problems:?}\n{}", self.doc);
        assert_eq!(self.code(), Some(0), "stderr: {}", self.stderr());
        &self.doc["full"]
    }

    /// Asserts an error document with exit code 1 and returns its message.
    pub fn assert_error(&self) -> String {
        assert!(!self.timed_out, "stopped at the timeout; stderr: {}", self.stderr());
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
