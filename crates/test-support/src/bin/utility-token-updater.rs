//! `utility-token-updater`: a stand-in of the MDR Integration Utility's token updater, for tests.
//!
//! Behaviour as in the public `mdr_integration/src/token_updater.py` (klsecservices/MDR-integrations,
//! later versions): every `--period` seconds read `.refresh_token` and `.access_token` (whitespace
//! stripped), decode `exp` without checking the signature, and refresh when the access token is empty
//! or `exp - timeout <= now`. The refresh re-reads `.refresh_token`, calls `session/confirm`, then
//! writes `.access_token` and then `.refresh_token`, each truncated and written in place: no lock, no
//! temporary file, no rename, no fsync. When the exchange fails it writes `''` to `.access_token` and
//! writes back the refresh token it had read. Plain HTTP only (the token logic is what is tested).
//!
//! For tests: `--once` runs one cycle, `--cycles <n>` n cycles; `--pause-at <point>` prints `paused at <point>` to stderr at
//! that point and then waits forever, so that a test can SIGKILL it exactly there.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};

/// The User-Agent of Python's `requests`, which the utility uses; the MDR stand-in can hold its calls.
const USER_AGENT: &str = "python-requests/2.31.0";

/// Stand-in of the MDR Integration Utility's token updater (plain HTTP, tests only).
#[derive(Parser, Debug)]
#[command(about)]
struct Cli {
    /// The token folder (`.access_token`, `.refresh_token`).
    #[arg(long)]
    token_dir: PathBuf,
    /// MDR API base URL, e.g. `http://127.0.0.1:41234/api/v1`.
    #[arg(long)]
    api_url: String,
    #[arg(long)]
    client_id: String,
    /// Seconds between cycles.
    #[arg(long, default_value_t = 590.0)]
    period: f64,
    /// Refresh when the access token expires within this many seconds (default: the period).
    #[arg(long)]
    timeout: Option<f64>,
    /// Run one cycle and exit.
    #[arg(long)]
    once: bool,
    /// Run this many cycles and exit (the utility itself loops until killed).
    #[arg(long)]
    cycles: Option<u64>,
    /// Stop at this point (print `paused at <point>` to stderr and wait) so a test can kill it there.
    #[arg(long, value_enum)]
    pause_at: Option<Point>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Point {
    /// After reading the refresh token, before calling `session/confirm`.
    BeforeExchange,
    /// After the exchange answered, before any write.
    AfterExchange,
    /// After writing `.access_token`, before writing `.refresh_token`.
    BetweenWrites,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let margin = cli.timeout.unwrap_or(cli.period);
    let cycles = if cli.once { Some(1) } else { cli.cycles };
    for done in 1.. {
        if let Err(e) = cycle(&cli, margin) {
            // The utility logs and goes on with its loop.
            eprintln!("token updater: {e}");
        }
        if cycles.is_some_and(|n| done >= n) {
            break;
        }
        thread::sleep(Duration::from_secs_f64(cli.period));
    }
    ExitCode::SUCCESS
}

fn cycle(cli: &Cli, margin: f64) -> io::Result<()> {
    let refresh_path = cli.token_dir.join(".refresh_token");
    let access_path = cli.token_dir.join(".access_token");
    let _refresh = read_token(&refresh_path)?;
    let access = read_token(&access_path)?;
    let due = access.is_empty() || expiry(&access).is_none_or(|exp| exp - margin <= now());
    if !due {
        return Ok(());
    }
    let refresh = read_token(&refresh_path)?;
    pause(cli, Point::BeforeExchange);
    let answer = confirm(&cli.api_url, &cli.client_id, &refresh);
    pause(cli, Point::AfterExchange);
    match answer {
        Ok((access, new_refresh)) => {
            write_in_place(&access_path, &access)?;
            pause(cli, Point::BetweenWrites);
            write_in_place(&refresh_path, &new_refresh)
        }
        Err(e) => {
            eprintln!("token updater: refresh failed: {e}");
            write_in_place(&access_path, "")?;
            pause(cli, Point::BetweenWrites);
            write_in_place(&refresh_path, &refresh)
        }
    }
}

fn pause(cli: &Cli, point: Point) {
    if cli.pause_at == Some(point) {
        eprintln!("paused at {point:?}");
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
}

fn read_token(path: &Path) -> io::Result<String> {
    Ok(std::fs::read_to_string(path)?.trim().to_owned())
}

/// `open(path, 'w').write(text)`: truncate, then write, on the same inode.
fn write_in_place(path: &Path, text: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
    file.write_all(text.as_bytes())
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// `exp` of a JWT, signature not checked.
fn expiry(token: &str) -> Option<f64> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?).ok()?;
    claims.get("exp")?.as_f64()
}

/// `POST <api_url>/<client_id>/session/confirm` with no timeout, as the utility does.
fn confirm(api_url: &str, client_id: &str, refresh: &str) -> Result<(String, String), String> {
    let rest = api_url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
    let (host, base) = rest.split_once('/').map_or((rest, String::new()), |(h, p)| (h, format!("/{p}")));
    let body = json!({"refresh_token": refresh}).to_string();
    let request = format!(
        "POST {base}/{client_id}/session/confirm HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(host).map_err(|e| e.to_string())?;
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP answer")?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(format!("HTTP {status}"));
    }
    let pair: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    match (pair["access_token"].as_str(), pair["refresh_token"].as_str()) {
        (Some(a), Some(r)) => Ok((a.to_owned(), r.to_owned())),
        _ => Err("no token pair in the answer".to_owned()),
    }
}
