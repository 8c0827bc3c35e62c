//! opencti-kaspersky-enrichment: the OpenCTI Kaspersky enrichment connector (see connectors/kaspersky-enrichment/README.md).

fn main() -> std::process::ExitCode {
    opencti_kaspersky::platform::main()
}
