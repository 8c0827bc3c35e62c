//! Runs a Cortex worker (responder or analyzer) the way Cortex's process runner does, and judges
//! what it leaves the way Cortex and TheHive do: the harness of the integration tests and of the
//! demo.
//!
//! Like Cortex 4.1's `ProcessJobRunnerSrv`: the job folder holds `input/input.json` (compact) and
//! an empty `output/`, plus `input/cacerts` when the configuration's `cacerts` is non-blank; argv =
//! [binary, job folder], no shell, stdin closed, the working directory the workers' folder,
//! `REQUESTS_CA_BUNDLE=<job>/input/cacerts` only when that file exists, and a time limit after
//! which the process gets SIGTERM (then SIGKILL). Like `JobRunnerSrv.extractReport`, a report is
//! accepted only with a boolean `success`, an object `full` and, for a responder, `operations`
//! made of objects TheHive knows ([`Run::accepted`]); a missing output file becomes Cortex's own
//! error document ([`Run::cortex_report`]). [`definition_problems`] checks a flavour file or
//! catalogue entry the way `WorkerDefinition` reads it.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// What kind of worker a report comes from: Cortex reads the same document, TheHive uses
/// different parts of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    Responder,
    Analyzer,
}

/// The repository's root (it holds `responders/`, `analyzers/` and `tests/fixtures/`): the
/// suites run in the source tree.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A TheHive sample job input from `tests/fixtures/jobs/`, e.g. `th4/input_case_task_log.json`.
pub fn sample_input(name: &str) -> io::Result<Value> {
    let text = std::fs::read_to_string(workspace_root().join("tests/fixtures/jobs").join(name))?;
    serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {e}")))
}

/// Writes a job folder as Cortex does: `input/input.json` (compact), `input/cacerts` when the
/// configuration's `cacerts` is non-blank, and an empty `output/`.
pub fn write_job(dir: &Path, input: &Value) -> io::Result<()> {
    std::fs::create_dir_all(dir.join("input"))?;
    std::fs::create_dir_all(dir.join("output"))?;
    std::fs::write(dir.join("input/input.json"), serde_json::to_vec(input)?)?;
    if let Some(pem) = input["config"]["cacerts"].as_str().filter(|pem| !pem.trim().is_empty()) {
        std::fs::write(dir.join("input/cacerts"), pem)?;
    }
    Ok(())
}

/// How long a job may run before the harness stops it: `CORTEX_JOB_TIMEOUT_SECS`, else 120 s
/// (Cortex's own default is 30 min; a test that needs that long is hung).
pub fn job_timeout() -> Duration {
    let secs = std::env::var("CORTEX_JOB_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    Duration::from_secs(secs)
}

/// The process runner's environment: the workers' folder `cwd` as working directory, stdin
/// closed, no proxy or CA variables leaking in from the caller's shell.
pub fn worker_command(binary: &Path, cwd: &Path) -> Command {
    let mut command = Command::new(binary);
    command.current_dir(cwd).stdin(Stdio::null());
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

/// [`worker_command`] for one job folder: argv = [binary, job folder], and
/// `REQUESTS_CA_BUNDLE=<job>/input/cacerts` when (and only when) that file exists.
pub fn job_command(binary: &Path, job_dir: &Path, cwd: &Path) -> Command {
    let mut command = worker_command(binary, cwd);
    command.arg(job_dir);
    let cacerts = job_dir.join("input/cacerts");
    if cacerts.is_file() {
        command.env("REQUESTS_CA_BUNDLE", cacerts);
    }
    command
}

/// Runs `binary` on the job folder `job_dir` (already written, see [`write_job`]) as Cortex does,
/// with `cwd` as working directory, and reads `output/output.json`.
pub fn run_job(binary: &Path, job_dir: &Path, cwd: &Path, timeout: Duration) -> io::Result<Run> {
    run_command(job_command(binary, job_dir, cwd), job_dir, timeout)
}

/// Runs a prepared `command` (see [`job_command`]) on `job_dir` and reads `output/output.json`.
pub fn run_command(command: Command, job_dir: &Path, timeout: Duration) -> io::Result<Run> {
    let (output, timed_out) = run_process(command, None, timeout)?;
    let raw = match std::fs::read(job_dir.join("output/output.json")) {
        Ok(raw) => raw,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(Run::new(output, raw, timed_out))
}

/// A binary of another workspace package, which cargo does not build for this package's tests:
/// built by the cargo running them (`CARGO`) into the target folder of `beside`, a binary cargo
/// built for these tests (`env!("CARGO_BIN_EXE_…")`).
pub fn workspace_binary(package: &str, bin: &str, beside: &Path) -> io::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo).args(["build", "--quiet", "-p", package, "--bin", bin]).status()?;
    if !status.success() {
        return Err(io::Error::other(format!("cargo build -p {package} --bin {bin} failed ({status})")));
    }
    Ok(beside.with_file_name(bin))
}

/// Runs `command` to its end or to `timeout`, then SIGTERM (Cortex's `destroy()`), and SIGKILL
/// 5 s later. stdout and stderr are drained meanwhile so that a chatty process cannot block.
/// Returns the output and whether the timeout struck. The process leads a process group of its
/// own, and the signals go to the whole group, so that nothing it started keeps the pipes open.
pub fn run_process(mut command: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> io::Result<(Output, bool)> {
    use std::os::unix::process::CommandExt;
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    command.process_group(0);
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A process that exits without reading its input closes the pipe: not a harness error.
        let _ = pipe.write_all(&bytes);
    }
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let (status, timed_out) = wait_or_stop(&mut child, timeout)?;
    let joined = |handle: std::thread::JoinHandle<Vec<u8>>| handle.join().unwrap_or_default();
    Ok((Output { status, stdout: joined(stdout), stderr: joined(stderr) }, timed_out))
}

fn drain(pipe: Option<Box<dyn Read + Send>>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

fn wait_or_stop(child: &mut Child, timeout: Duration) -> io::Result<(ExitStatus, bool)> {
    if let Some(status) = wait_until(child, Instant::now() + timeout)? {
        return Ok((status, false));
    }
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    if let Some(status) = wait_until(child, Instant::now() + Duration::from_secs(5))? {
        return Ok((status, true));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.kill();
    Ok((child.wait()?, true))
}

fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(None)
}

/// What one run left: the process output and the output document.
#[derive(Debug)]
pub struct Run {
    pub output: Output,
    /// The output document's bytes (stdout in manual-test mode); empty when there is none.
    pub raw: Vec<u8>,
    /// The output document, or null when there is none or it is not JSON.
    pub doc: Value,
    /// The harness stopped the process at the time limit.
    pub timed_out: bool,
}

impl Run {
    pub fn new(output: Output, raw: Vec<u8>, timed_out: bool) -> Run {
        let doc = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Run { output, raw, doc, timed_out }
    }

    /// What Cortex would record: the output document when there is one (a file of size 0 counts
    /// as none), else its own `{"success": false, "errorMessage": …}` holding the program's stdout
    /// lines, then its stderr lines, joined without newlines, as Cortex joins them
    /// (docs/cortex-jobs.md#what-cortex-does-with-it).
    pub fn cortex_report(&self) -> Value {
        if self.raw.is_empty() {
            let (stdout, stderr) =
                (String::from_utf8_lossy(&self.output.stdout), String::from_utf8_lossy(&self.output.stderr));
            let logs: String = stdout.lines().chain(stderr.lines()).collect();
            return json!({"success": false, "errorMessage": logs});
        }
        self.doc.clone()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
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

    /// `full` of a success document Cortex and TheHive accept, written within the time limit, with
    /// exit code 0 (see [`report_problems`]); else why not.
    pub fn accepted(&self, worker: Worker) -> Result<&Value, String> {
        self.finished()?;
        if self.doc["success"] != Value::Bool(true) {
            return Err(format!("not a success: {}\nstderr: {}", self.doc, self.stderr()));
        }
        let problems = report_problems(&self.doc, worker);
        if !problems.is_empty() {
            return Err(format!("Cortex/TheHive would not accept this report: {problems:?}\n{}", self.doc));
        }
        self.exited_with(0)?;
        Ok(&self.doc["full"])
    }

    /// The `errorMessage` of an error document as cortexutils writes it (with the redacted
    /// `input`), written within the time limit, with exit code 1; else why not.
    pub fn refused(&self) -> Result<&str, String> {
        self.finished()?;
        if self.doc["success"] != Value::Bool(false) || self.doc.get("input").is_none() {
            return Err(format!("not an error document: {}\nstderr: {}", self.doc, self.stderr()));
        }
        self.exited_with(1)?;
        self.doc["errorMessage"].as_str().ok_or_else(|| format!("no string errorMessage: {}", self.doc))
    }

    fn finished(&self) -> Result<(), String> {
        if self.timed_out {
            return Err(format!("stopped at the time limit; stderr: {}", self.stderr()));
        }
        if self.doc.is_null() {
            return Err(format!("no output/output.json (or not JSON); stderr: {}", self.stderr()));
        }
        Ok(())
    }

    fn exited_with(&self, code: i32) -> Result<(), String> {
        match self.code() {
            Some(actual) if actual == code => Ok(()),
            other => Err(format!("exit code {other:?}, not {code}; stderr: {}", self.stderr())),
        }
    }
}

/// Makes `input.config` what Cortex 4.1 assembles for a job of `flavour` (`WorkerSrv`,
/// `JobRunnerSrv`): the flavour's `config`, then every configuration item (the value already in
/// `input.config`, else its `defaultValue`, else null or `[]` when multi-valued), then the global items (`proxy_http`,
/// `proxy_https`, `cacerts`, `jobTimeout`, `check_tlp`, `max_tlp`, `check_pap`, `max_pap`, with the
/// UI's defaults), and `proxy.{http,https}` when the proxy items are strings.
pub fn apply_flavour_config(input: &mut Value, flavour: &Value) {
    let given = input["config"].as_object().cloned().unwrap_or_default();
    let mut config = flavour["config"].as_object().cloned().unwrap_or_default();
    for item in flavour["configurationItems"].as_array().into_iter().flatten() {
        let Some(name) = item["name"].as_str() else { continue };
        // Unset: null, or an empty list for a multi-valued item (docs/cortex-jobs.md#how-config-is-built).
        let unset = if item["multi"] == true { json!([]) } else { Value::Null };
        let value = given.get(name).cloned().or_else(|| item.get("defaultValue").cloned()).unwrap_or(unset);
        config.insert(name.to_owned(), value);
    }
    let globals = [
        ("proxy_http", Value::Null),
        ("proxy_https", Value::Null),
        ("cacerts", Value::Null),
        ("jobTimeout", json!(30)),
        ("check_tlp", json!(true)),
        ("max_tlp", json!(2)),
        ("check_pap", json!(true)),
        ("max_pap", json!(2)),
    ];
    for (name, default) in globals {
        config.insert(name.to_owned(), given.get(name).cloned().unwrap_or(default));
    }
    let mut proxy = Map::new();
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

/// The taxonomy levels TheHive shows for an analyzer's summary.
const TAXONOMY_LEVELS: [&str; 4] = ["info", "safe", "suspicious", "malicious"];

/// Why Cortex (`JobRunnerSrv.extractReport`) or TheHive would not take `doc` as a successful
/// report of a `worker`; empty when it would. Stricter than TheHive in one way: a responder report
/// must list its `operations` (cortexutils always writes them).
pub fn report_problems(doc: &Value, worker: Worker) -> Vec<String> {
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
    match (doc.get("operations").and_then(Value::as_array), worker) {
        (None, Worker::Analyzer) if doc.get("operations").is_none() => {}
        (None, _) => problems.push("`operations` is not an array".to_owned()),
        (Some(operations), _) => {
            for (i, op) in operations.iter().enumerate() {
                if let Err(problem) = operation_problem(op) {
                    problems.push(format!("operations[{i}]: {problem} (Cortex/TheHive would drop them all)"));
                }
            }
        }
    }
    if worker == Worker::Analyzer {
        problems.extend(analyzer_problems(doc));
    }
    problems
}

/// An analyzer's summary taxonomies and artifacts, as TheHive reads them.
fn analyzer_problems(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let taxonomies = doc["summary"].get("taxonomies").map(Value::as_array);
    match taxonomies {
        None => {}
        Some(None) => problems.push("`summary.taxonomies` is not an array".to_owned()),
        Some(Some(list)) => {
            for (i, taxonomy) in list.iter().enumerate() {
                let text = |key: &str| taxonomy[key].as_str().is_some_and(|s| !s.is_empty());
                let level = taxonomy["level"].as_str().unwrap_or_default();
                if !TAXONOMY_LEVELS.contains(&level) {
                    problems
                        .push(format!("summary.taxonomies[{i}]: level {level:?} is not one of {TAXONOMY_LEVELS:?}"));
                }
                if !text("namespace") || !text("predicate") {
                    problems.push(format!("summary.taxonomies[{i}]: `namespace` and `predicate` must be strings"));
                }
                if !(taxonomy["value"].is_string() || taxonomy["value"].is_number() || taxonomy["value"].is_boolean()) {
                    problems.push(format!("summary.taxonomies[{i}]: `value` must be a string, number or boolean"));
                }
            }
        }
    }
    for (i, artifact) in doc["artifacts"].as_array().into_iter().flatten().enumerate() {
        if !artifact["dataType"].is_string() || !(artifact["data"].is_string() || artifact.get("attachment").is_some())
        {
            problems.push(format!("artifacts[{i}]: needs a string `dataType` and `data`"));
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
