//! mdr-sync: mirrors Kaspersky MDR incidents into TheHive (see the README section "mdr-sync").

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use mdr_sync::Mode;

#[derive(Parser)]
#[command(
    name = "mdr-sync",
    version,
    about = "Mirrors Kaspersky MDR incidents, comments, attachments and proposed responses into TheHive"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The MDR Integration Utility's config.yml (plus mdr-sync's own keys)
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
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

#[derive(clap::Subcommand)]
enum Command {
    /// Print the last pass, the last successful pass, the cursor and the parked incidents; exit 0
    /// healthy, 1 degraded (parked incidents), 2 failing (no successful pass in 3 intervals)
    Status {
        /// One JSON object instead of text
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(config) = cli.config else {
        Cli::command().error(ErrorKind::MissingRequiredArgument, "--config <FILE> is required").exit()
    };
    if let Some(Command::Status { json }) = cli.command {
        return ExitCode::from(mdr_sync::status(&config, json));
    }
    let mode = match (cli.check, cli.once) {
        (true, _) => Mode::Check,
        (_, true) => Mode::Once,
        _ => Mode::Every(Duration::from_secs(cli.interval)),
    };
    ExitCode::from(mdr_sync::run(&config, mode))
}
