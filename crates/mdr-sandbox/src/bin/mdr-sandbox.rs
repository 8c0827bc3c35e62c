//! `mdr-sandbox`: run the MDR API stand-in on 127.0.0.1 for a demo or a manual test.
//!
//! Prints `api_url=<url>` and `client_id=<id>`, then one JSON line per request received
//! (tokens redacted), until stdin reaches EOF or the process is killed.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use mdr_sandbox::{JournalEntry, Sandbox, SandboxOptions, Seed};

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
        sandbox.write_token_dir(dir, ttl)?;
    }
    let entries = sandbox.subscribe();
    {
        let mut out = io::stdout().lock();
        writeln!(out, "api_url={}", sandbox.api_url())?;
        writeln!(out, "client_id={}", sandbox.client_id())?;
        out.flush()?;
    }
    thread::spawn(move || {
        for entry in entries {
            if print_entry(&entry).is_err() {
                return;
            }
        }
    });
    // Serve until stdin closes (the parent is gone or asked us to stop).
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    Ok(())
}

fn print_entry(entry: &JournalEntry) -> io::Result<()> {
    let mut value = serde_json::to_value(entry).map_err(io::Error::other)?;
    // Tokens never reach the terminal.
    value["body"] = entry.redacted_body();
    let mut out = io::stdout().lock();
    writeln!(out, "{value}")?;
    out.flush()
}
