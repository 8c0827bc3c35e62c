//! Running one job end to end: locate and validate the input, call the action, deliver one document.

use std::fmt::Display;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Map, Value};

use crate::analyzer::AnalyzerReport;
use crate::input::{self, Source};
use crate::job::Job;
use crate::redact::redact_input;
use crate::report::Report;
use crate::{document, output, panic_hook};

/// Where the Docker runner mounts the job folder (it passes no argument).
const DEFAULT_JOB_DIR: &str = "/job";

/// Runs one job the way Cortex expects and returns the process exit code (0 success, 1 failure).
/// `job_dir` is the folder Cortex passes as `argv[1]`; `None` means the default `/job`.
pub fn run<F, E>(job_dir: Option<PathBuf>, action: F) -> ExitCode
where
    F: FnOnce(&Job) -> Result<Report, E>,
    E: Display,
{
    run_process(job_dir, action)
}

/// Like [`run`] for an analyzer: the action returns an [`AnalyzerReport`], written in cortexutils' analyzer
/// shape `{"success", "summary", "artifacts", "operations", "full"}`. Input handling, start-up checks and
/// error documents are exactly those of [`run`].
pub fn run_analyzer<F, E>(job_dir: Option<PathBuf>, action: F) -> ExitCode
where
    F: FnOnce(&Job) -> Result<AnalyzerReport, E>,
    E: Display,
{
    run_process(job_dir, action)
}

fn run_process<R, F, E>(job_dir: Option<PathBuf>, action: F) -> ExitCode
where
    R: WorkerReport,
    F: FnOnce(&Job) -> Result<R, E>,
    E: Display,
{
    panic_hook::install(true);
    let mut stdin = io::stdin();
    let stdin_is_tty = stdin.is_terminal();
    // Unlocked handles: the action may log from other threads while it runs.
    let code = run_with_io(job_dir, &mut stdin, stdin_is_tty, &mut io::stdout(), &mut io::stderr(), action);
    if code == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// What an action may return: a responder's [`Report`] or an [`AnalyzerReport`], each encoding
/// itself as its success document.
pub trait WorkerReport {
    /// Names the program in the panic message ("responder", "analyzer").
    const KIND: &'static str;
    fn success_document(&self) -> Vec<u8>;
}

impl WorkerReport for Report {
    const KIND: &'static str = "responder";
    fn success_document(&self) -> Vec<u8> {
        document::success(self)
    }
}

impl WorkerReport for AnalyzerReport {
    const KIND: &'static str = "analyzer";
    fn success_document(&self) -> Vec<u8> {
        document::analyzer_success(self)
    }
}

/// Testable core of [`run`] and [`run_analyzer`]: explicit stdin/stdout/stderr, and whether stdin is
/// a terminal. Returns 0 or 1. In job-folder mode nothing is written to `stdout`; `stderr` only gets
/// a line when something went wrong that the document cannot carry (a panic location, an unwritable
/// output).
pub fn run_with_io<R, F, E>(
    job_dir: Option<PathBuf>,
    stdin: &mut dyn Read,
    stdin_is_tty: bool,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    action: F,
) -> i32
where
    R: WorkerReport,
    F: FnOnce(&Job) -> Result<R, E>,
    E: Display,
{
    panic_hook::install(false);
    let dir = job_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_JOB_DIR));
    let source = input::locate(&dir);
    let outcome = execute(&source, stdin, stdin_is_tty, stderr, action);
    let delivered = match &source {
        Source::JobFolder(dir) => output::write_job_output(dir, &outcome.document),
        Source::Stdin => output::write_stdout(stdout, &outcome.document),
    };
    match delivered {
        Ok(()) if outcome.success => 0,
        Ok(()) => 1,
        Err(error) => {
            let _ = writeln!(stderr, "cortex-worker: {error}");
            1
        }
    }
}

/// The encoded document and whether it reports success.
struct Outcome {
    success: bool,
    document: Vec<u8>,
}

impl Outcome {
    /// `input` is echoed as given: callers redact it (or pass `{}` when there is no usable input).
    fn failure(input: &Value, message: &str) -> Outcome {
        Outcome { success: false, document: document::failure(input, message) }
    }
}

fn execute<R, F, E>(
    source: &Source,
    stdin: &mut dyn Read,
    stdin_is_tty: bool,
    stderr: &mut dyn Write,
    action: F,
) -> Outcome
where
    R: WorkerReport,
    F: FnOnce(&Job) -> Result<R, E>,
    E: Display,
{
    let no_input = Value::Object(Map::new());
    let (loaded, dir) = match source {
        Source::JobFolder(dir) => (input::read_job_folder(dir), Some(dir.clone())),
        Source::Stdin => (input::read_stdin(stdin, stdin_is_tty), None),
    };
    let input = match loaded {
        Ok(input) => input,
        Err(error) => return Outcome::failure(&no_input, &error.to_string()),
    };
    let job = match Job::from_input(input.clone(), dir) {
        Ok(job) => job,
        Err(error) => {
            let echo = if input.is_object() { redact_input(&input) } else { no_input };
            return Outcome::failure(&echo, &error.to_string());
        }
    };
    // The error is rendered inside `catch` too: a Display impl can panic as well.
    match panic_hook::catch(|| action(&job).map_err(|error| error.to_string())) {
        Ok(Ok(report)) => Outcome { success: true, document: report.success_document() },
        Ok(Err(message)) => Outcome::failure(&redact_input(job.input()), &message),
        Err(location) => {
            let message = format!("Internal error in the {} (please report it): panicked at {location}", R::KIND);
            let _ = writeln!(stderr, "cortex-worker: {message}");
            Outcome::failure(&redact_input(job.input()), &message)
        }
    }
}
