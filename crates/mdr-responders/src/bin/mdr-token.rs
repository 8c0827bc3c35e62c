//! mdr-token: seeds, inspects and rotates the MDR token folder the responders share with the MDR
//! Integration Utility, through the same locking and write order as the responders.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use mdr_responders::token_tool::{self, Health, TokenSource, ToolError, ToolOptions};

#[derive(Parser)]
#[command(
    name = "mdr-token",
    version,
    about = "Seeds, shows and rotates the Kaspersky MDR token folder (.refresh_token, .access_token) used by the responders",
    after_help = "Tokens are never printed. `seed` reads the refresh token from standard input (or --refresh-token-file), \
                  never from the command line, where other users could see it."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Exchanges the refresh token shown in the MDR console (Settings > API) once and writes both token files (0600)
    Seed {
        #[command(flatten)]
        connection: Connection,
        /// Read the refresh token from this file instead of standard input
        #[arg(long, value_name = "FILE")]
        refresh_token_file: Option<PathBuf>,
        /// Replace a refresh token that is still valid
        #[arg(long)]
        force: bool,
    },
    /// Shows each token file's presence, mode and expiry (exit code 1 when a new refresh token is needed)
    Status {
        #[command(flatten)]
        folder: Folder,
    },
    /// Rotates the tokens now (a new 7-day refresh token), under the responders' lock
    Refresh {
        #[command(flatten)]
        connection: Connection,
    },
}

/// Options named like the responders' configuration items.
#[derive(Args)]
struct Connection {
    #[command(flatten)]
    folder: Folder,
    /// MDR REST API base URL [default: from --config-path, else https://mdr.kaspersky.com/api/v1]
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// Client ID shown with the API token in the MDR console
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// PEM file of extra CA certificates to trust (added to the system trust store)
    #[arg(long, value_name = "FILE")]
    ssl_cert: Option<PathBuf>,
}

#[derive(Args)]
struct Folder {
    /// Token folder (the responders' `token_dir`) [default: from --config-path]
    #[arg(long, value_name = "DIR")]
    token_dir: Option<PathBuf>,
    /// The MDR Integration Utility's conf/config.yml: api_url, client_id, token_dir and ssl_cert come from it when not given
    #[arg(long, value_name = "FILE")]
    config_path: Option<PathBuf>,
}

impl Folder {
    fn options(self) -> ToolOptions {
        ToolOptions { config_path: self.config_path, token_dir: self.token_dir, ..ToolOptions::default() }
    }
}

impl Connection {
    fn options(self) -> ToolOptions {
        ToolOptions {
            api_url: self.api_url,
            client_id: self.client_id,
            ssl_cert: self.ssl_cert,
            ..self.folder.options()
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let result: Result<ExitCode, ToolError> = match cli.command {
        Command::Seed { connection, refresh_token_file, force } => {
            let source = refresh_token_file.map_or(TokenSource::Stdin, TokenSource::File);
            source.read().and_then(|token| token_tool::seed(&connection.options(), &token, force, &mut out))
        }
        .map(|()| ExitCode::SUCCESS),
        Command::Status { folder } => token_tool::status(&folder.options(), &mut out).map(|health| match health {
            Health::Ready => ExitCode::SUCCESS,
            Health::NeedsSeed => ExitCode::FAILURE,
        }),
        Command::Refresh { connection } => {
            token_tool::refresh(&connection.options(), &mut out).map(|()| ExitCode::SUCCESS)
        }
    };
    let _ = out.flush();
    result.unwrap_or_else(|err| {
        let _ = writeln!(std::io::stderr(), "mdr-token: {err}");
        ExitCode::FAILURE
    })
}
