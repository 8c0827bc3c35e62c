//! mdr-sync: mirrors Kaspersky MDR incidents into TheHive (see the README section "mdr-sync").

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mdr_sync::Mode;

#[derive(Parser)]
#[command(
    name = "mdr-sync",
    version,
    about = "Mirrors Kaspersky MDR incidents, comments, attachments and proposed responses into TheHive"
)]
struct Cli {
    /// The MDR Integration Utility's config.yml (plus mdr-sync's own keys)
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Validate the configuration, reach both APIs and exit
    #[arg(long, conflicts_with_all = ["once", "interval"])]
    check: bool,
    /// Make one pass and exit
    #[arg(long, conflicts_with = "interval")]
    once: bool,
    /// Seconds between passes when looping (SIGTERM lets the current incident finish)
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    interval: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mode = match (cli.check, cli.once) {
        (true, _) => Mode::Check,
        (_, true) => Mode::Once,
        _ => Mode::Every(Duration::from_secs(cli.interval)),
    };
    ExitCode::from(mdr_sync::run(&cli.config, mode))
}
