//! `mdr-sandbox`: run the MDR API stand-in on 127.0.0.1 for a demo or a manual test.
//!
//! Prints `api_url=<url>` and `client_id=<id>` (with `--thehive`, then `thehive_url=<url>` and
//! `thehive_api_key=<key>` of the TheHive stand-in), then one JSON line per request received
//! (tokens redacted; a TheHive request's line has `"service": "thehive"`), until stdin reaches
//! EOF or the process is killed.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use test_support::{JournalEntry, Sandbox, SandboxOptions, Seed, TheHiveOptions, TheHiveSandbox, TheHiveVersion};

/// Local stand-in of the Kaspersky MDR REST API (127.0.0.1 only).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Seed JSON file (default: the embedded demo seed).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Write a fresh valid token pair (.access_token, .refresh_token) into this directory.
    #[arg(long)]
    token_dir: Option<PathBuf>,
    /// Serve HTTPS with a freshly generated CA.
    #[arg(long)]
    tls: bool,
    /// Write the CA certificate PEM to this file (with --tls).
    #[arg(long, requires = "tls")]
    ca_out: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    access_ttl: u64,
    /// Client id accepted in the URL path.
    #[arg(long)]
    client_id: Option<String>,
    /// Also serve the stateful TheHive stand-in (cases, tasks, logs) of this version, over plain
    /// HTTP on its own 127.0.0.1 port.
    #[arg(long, value_name = "4|5", value_parser = thehive_version)]
    thehive: Option<TheHiveVersion>,
}

fn thehive_version(value: &str) -> Result<TheHiveVersion, String> {
    match value {
        "4" => Ok(TheHiveVersion::V4),
        "5" => Ok(TheHiveVersion::V5),
        other => Err(format!("{other:?} is not a TheHive version: use 4 or 5")),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mdr-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let seed = match &cli.seed {
        Some(path) => Seed::from_file(path)?,
        None => Seed::default_demo(),
    };
    let mut opts = SandboxOptions::new(seed);
    opts.tls = cli.tls;
    opts.port = cli.port;
    opts.access_ttl = Duration::from_secs(cli.access_ttl);
    if let Some(id) = cli.client_id {
        opts.client_id = id;
    }
    let sandbox = Sandbox::start(opts)?;
    if let (Some(path), Some(pem)) = (&cli.ca_out, sandbox.ca_pem()) {
        std::fs::write(path, pem)?;
    }
    if let Some(dir) = &cli.token_dir {
        let ttl = i64::try_from(cli.access_ttl).unwrap_or(i64::MAX / 2);
        std::fs::create_dir_all(dir)?;
        sandbox.write_token_dir(dir, ttl)?;
    }
    let thehive = cli.thehive.map(|version| TheHiveSandbox::start(TheHiveOptions::new(version))).transpose()?;
    let entries = sandbox.subscribe();
    let thehive_entries = thehive.as_ref().map(TheHiveSandbox::subscribe);
    {
        let mut out = io::stdout().lock();
        writeln!(out, "api_url={}", sandbox.api_url())?;
        writeln!(out, "client_id={}", sandbox.client_id())?;
        if let Some(thehive) = &thehive {
            writeln!(out, "thehive_url={}", thehive.url())?;
            writeln!(out, "thehive_api_key={}", thehive.api_key())?;
        }
        out.flush()?;
    }
    stream(entries, None);
    if let Some(entries) = thehive_entries {
        stream(entries, Some("thehive"));
    }
    // Serve until stdin closes (the parent is gone or asked us to stop).
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    Ok(())
}

/// Prints the entries as they come, each line whole.
fn stream(entries: std::sync::mpsc::Receiver<JournalEntry>, service: Option<&'static str>) {
    thread::spawn(move || {
        for entry in entries {
            if print_entry(&entry, service).is_err() {
                return;
            }
        }
    });
}

fn print_entry(entry: &JournalEntry, service: Option<&str>) -> io::Result<()> {
    let mut value = serde_json::to_value(entry).map_err(io::Error::other)?;
    // Tokens never reach the terminal.
    value["body"] = entry.redacted_body();
    if let Some(service) = service {
        value["service"] = service.into();
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{value}")?;
    out.flush()
}
