//! The demo behind `scripts/demo.sh` (`cargo run -p test-support --example mdr-demo`): starts the
//! MDR stand-in on loopback (TLS, with an expired access token so the rotation shows), runs every
//! responder flavour in `responders/` on a sample job folder exactly as Cortex's process runner
//! does (test-support's Cortex harness), and prints each report and what the stand-in received.
//! An example rather than a binary: it is shown, never shipped or tested against.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Parser;
use serde_json::Value;
use test_support::{Sandbox, SandboxOptions, Seed, TheHiveOptions, TheHiveSandbox, TheHiveVersion, cortex};

#[derive(Parser)]
#[command(version, about = "Runs every MDR responder on a sample job against a local MDR stand-in")]
struct Args {
    /// The repository root (holds responders/ and tests/fixtures/).
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Where the responder binaries are [default: the cargo profile folder this example was built in].
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

/// Cargo puts an example in `<profile>/examples/` and the binaries in `<profile>/`.
fn profile_dir(example: &Path) -> Option<PathBuf> {
    let dir = example.parent()?;
    match dir.file_name() {
        Some(name) if name == "examples" => dir.parent().map(Path::to_owned),
        _ => Some(dir.to_owned()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => profile_dir(&std::env::current_exe()?).ok_or("no parent folder")?,
    };
    let mut options = SandboxOptions::new(Seed::default_demo());
    options.tls = true;
    let sandbox = Sandbox::start(options)?;
    let work = std::env::temp_dir().join(format!("mdr-demo-{}", std::process::id()));
    let tokens = work.join("tokens");
    std::fs::create_dir_all(&tokens)?;
    let ca = work.join("mdr-ca.pem");
    std::fs::write(&ca, sandbox.ca_pem().ok_or("the stand-in has no CA")?)?;
    sandbox.write_token_dir(&tokens, -60)?;

    let mut out = io::stdout().lock();
    writeln!(out, "MDR stand-in listening at {} (TLS, CA in {})", sandbox.api_url(), ca.display())?;
    writeln!(out, "Token folder {} holds an expired access token: the sync pass rotates it.\n", tokens.display())?;
    let mut failures = sync_pass(&bin_dir, &work, &sandbox, &tokens, &ca, &mut out)?;
    sandbox.clear_journal();
    for flavour in flavours(&args.root.join("responders/KasperskyMDR"))? {
        let job = prepare_job(&args.root, &work, &flavour, &sandbox, &tokens, &ca)?;
        let binary = bin_dir.join(flavour.binary()?);
        let run = cortex::run_job(&binary, &job, &args.root.join("responders"), cortex::job_timeout())
            .map_err(|e| format!("cannot run {}: {e} (build it first: cargo build --workspace)", binary.display()))?;
        let report = &run.doc;
        if report["success"] != Value::Bool(true) {
            failures += 1;
        }
        let data_type = input_data_type(&job);
        let status = if run.timed_out {
            "stopped at the time limit".to_owned()
        } else {
            format!("exit {}", run.code().unwrap_or(-1))
        };
        writeln!(out, "=== {} on {data_type} ({status})", flavour.name)?;
        writeln!(out, "report:\n{}", serde_json::to_string_pretty(report)?)?;
        let stderr = run.stderr();
        if !stderr.is_empty() {
            writeln!(out, "stderr:\n{}", stderr.trim_end())?;
        }
        writeln!(out, "the MDR stand-in received:")?;
        for call in sandbox.journal() {
            writeln!(out, "  {} -> HTTP {}: {}", call.endpoint, call.status, call.redacted_body())?;
        }
        sandbox.clear_journal();
        writeln!(out)?;
    }
    std::fs::remove_dir_all(&work)?;
    if failures > 0 {
        return Err(format!("{failures} responder(s) did not succeed").into());
    }
    Ok(())
}

/// One `mdr-sync --once` pass into a TheHive 5 stand-in: the cases and Response tasks the
/// responders then run on.
fn sync_pass(
    bin_dir: &Path,
    work: &Path,
    sandbox: &Sandbox,
    tokens: &Path,
    ca: &Path,
    out: &mut impl Write,
) -> Result<usize, Box<dyn std::error::Error>> {
    let hive = TheHiveSandbox::start(TheHiveOptions::new(TheHiveVersion::V5))?;
    let config = work.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "api_url: {}\nclient_id: {}\ntoken_dir: {}\nssl_cert: {}\nthehive:\n  api_url: {}\n  api_key: {}\n  version: 5\n",
            sandbox.api_url(),
            sandbox.client_id(),
            tokens.display(),
            ca.display(),
            hive.url(),
            hive.api_key()
        ),
    )?;
    writeln!(out, "=== mdr-sync --once (MDR -> TheHive 5 stand-in at {})", hive.url())?;
    let binary = bin_dir.join("mdr-sync");
    let status = Command::new(&binary)
        .arg("--config")
        .arg(&config)
        .arg("--once")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e} (build it first: cargo build --workspace)", binary.display()))?;
    writeln!(out, "exit {}; the MDR stand-in received:", status.code().unwrap_or(-1))?;
    for call in sandbox.journal() {
        writeln!(out, "  {} -> HTTP {}", call.endpoint, call.status)?;
    }
    writeln!(out, "the TheHive stand-in received:")?;
    for call in hive.journal() {
        writeln!(out, "  {} -> HTTP {}", call.endpoint, call.status)?;
    }
    writeln!(out)?;
    Ok(usize::from(!status.success()))
}

fn input_data_type(job: &Path) -> String {
    let input = std::fs::read_to_string(job.join("input/input.json")).unwrap_or_default();
    let input: Value = serde_json::from_str(&input).unwrap_or(Value::Null);
    input["dataType"].as_str().unwrap_or("?").to_owned()
}

struct Flavour {
    name: String,
    data_type: String,
    definition: Value,
}

impl Flavour {
    /// `command` is relative to the responders folder, e.g. `KasperskyMDR/mdr-send-task-log`.
    fn binary(&self) -> Result<String, String> {
        let command = self.definition["command"].as_str().ok_or(format!("{}: no command", self.name))?;
        Ok(command.rsplit('/').next().unwrap_or(command).to_owned())
    }
}

fn flavours(dir: &Path) -> Result<Vec<Flavour>, Box<dyn std::error::Error>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let definition: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            Ok(Flavour {
                name: definition["name"].as_str().unwrap_or_default().to_owned(),
                data_type: definition["dataTypeList"][0].as_str().unwrap_or_default().to_owned(),
                definition,
            })
        })
        .collect()
}

/// The sample input for the flavour (`tests/fixtures/demo/<name>.json`, else the TheHive 4 sample
/// of its data type), pointed at the stand-in, written as a Cortex job folder.
fn prepare_job(
    root: &Path,
    work: &Path,
    flavour: &Flavour,
    sandbox: &Sandbox,
    tokens: &Path,
    ca: &Path,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let fixtures = root.join("tests/fixtures");
    let specific = fixtures.join(format!("demo/{}.json", flavour.name));
    let kind = flavour.data_type.trim_start_matches("thehive:");
    let path = if specific.exists() { specific } else { fixtures.join(format!("jobs/th4/input_{kind}.json")) };
    let mut input: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let config = input["config"].as_object_mut().ok_or("sample input has no config")?;
    if let Some(flavour_config) = flavour.definition["config"].as_object() {
        config.extend(flavour_config.clone());
    }
    config.insert("api_url".into(), sandbox.api_url().into());
    config.insert("client_id".into(), sandbox.client_id().into());
    config.insert("token_dir".into(), tokens.to_string_lossy().into_owned().into());
    config.insert("ssl_cert".into(), ca.to_string_lossy().into_owned().into());
    let job = work.join(format!("cortex-job-{}", flavour.name));
    cortex::write_job(&job, &input)?;
    Ok(job)
}
