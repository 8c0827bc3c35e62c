//! `opencti-sandbox`: the OpenCTI stand-in and the Kaspersky TIP stand-in (the one the analyzer and
//! connector tests use) on 127.0.0.1, seeded with one golden case of the OpenCTI connector, for the
//! connector's benchmark (bench/connector.py) and manual runs.
//!
//! Prints `opencti_url=`, `opencti_token=`, `tip_url=`, `tip_token=`, `entity_id=` and
//! `message=<a listen message without work id>`, one per line, then serves until stdin reaches
//! EOF; then prints one JSON line of counts (works by state, bundles pushed, TIP lookups, the most
//! lookups answered at once) and exits.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use test_support::opencti::{BrokerInfo, OpenCtiOptions, OpenCtiSandbox};

#[allow(dead_code, unused_imports, unreachable_pub)]
#[path = "../../../kaspersky-tip/tests/integration/common/standin.rs"]
mod standin;
#[allow(dead_code, unused_imports, unreachable_pub)]
#[path = "../../../kaspersky-tip/tests/integration/common/tls.rs"]
mod tls;

const OPENCTI_TOKEN: &str = "opencti-sandbox-token";

/// Local stand-ins of OpenCTI and Kaspersky TIP (127.0.0.1 only).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// A golden case folder of the connector (input.json, tip.json).
    #[arg(long)]
    golden: PathBuf,
    /// Works `bench-0` … `bench-<n-1>` created waiting.
    #[arg(long, default_value_t = 0)]
    works: usize,
    /// The TIP stand-in answers the case's lookup after this many milliseconds.
    #[arg(long, default_value_t = 0)]
    tip_delay_ms: u64,
    /// Answer a `jwks` at registration, as pycti 7 needs (callbacks then need a JWT).
    #[arg(long)]
    jwks: bool,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opencti-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_json(path: &std::path::Path) -> Result<Value, Box<dyn std::error::Error>> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?)
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let input = read_json(&cli.golden.join("input.json"))?;
    let tip_case = read_json(&cli.golden.join("tip.json"))?;
    // The looked-up object: the last part of `/api/<kind>/<object>`.
    let object = tip_case["request"]["path"]
        .as_str()
        .and_then(|p| p.splitn(4, '/').nth(3))
        .ok_or("tip.json: no request.path")?;
    let entity_id = input["stix_entity"]["id"].as_str().ok_or("input.json: no stix_entity.id")?;

    let broker = BrokerInfo {
        host: "127.0.0.1".into(),
        port: 1,
        user: "guest".into(),
        pass: "guest".into(),
        vhost: "/".into(),
        listen: "listen_bench".into(),
        push_exchange: "amqp.worker.exchange".into(),
        push_routing: "push_routing_bench".into(),
    };
    let opencti = OpenCtiSandbox::start(OpenCtiOptions { token: OPENCTI_TOKEN.into(), jwks: cli.jwks, broker })?;
    opencti.add_observable(entity_id, input["enrichment_entity"].clone());
    for i in 0..cli.works {
        opencti.create_work(&format!("bench-{i}"));
    }
    let tip = standin::StandIn::start();
    let delay = Duration::from_millis(cli.tip_delay_ms);
    tip.force_with_delay(object, 200, &[], &tip_case["answer"].to_string(), delay);

    // The platform's listen message, as the connector tests build it.
    let message = json!({
        "internal": { "work_id": null, "applicant_id": null, "draft_id": null, "trigger": "update", "mode": "manual" },
        "event": {
            "event_type": "INTERNAL_ENRICHMENT",
            "entity_id": entity_id,
            "entity_type": input["enrichment_entity"]["entity_type"],
            "stix_entity": input["stix_entity"].to_string(),
            "stix_objects": input["stix_objects"].to_string(),
        }
    });
    {
        let mut out = io::stdout().lock();
        writeln!(out, "opencti_url={}", opencti.url())?;
        writeln!(out, "opencti_token={OPENCTI_TOKEN}")?;
        writeln!(out, "tip_url={}", tip.url())?;
        writeln!(out, "tip_token={}", standin::TIP_TOKEN)?;
        writeln!(out, "entity_id={entity_id}")?;
        writeln!(out, "message={message}")?;
        out.flush()?;
    }
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;

    let works: Vec<_> = (0..cli.works).filter_map(|i| opencti.work(&format!("bench-{i}"))).collect();
    let counts = json!({
        "works_complete": works.iter().filter(|w| w.status == "complete" && w.in_error == Some(false)).count(),
        "works_in_error": works.iter().filter(|w| w.in_error == Some(true)).count(),
        "pushed": opencti.pushed().len(),
        "tip_requests": tip.requests().len(),
        "tip_max_concurrent": tip.max_concurrent(),
    });
    let mut out = io::stdout().lock();
    writeln!(out, "{counts}")?;
    out.flush()?;
    Ok(())
}
