//! MDR_CreateIncident: opens a Kaspersky MDR incident from a TheHive case and links them.

fn main() -> std::process::ExitCode {
    mdr_responders::main(
        "MDR_CreateIncident",
        "Creates a Kaspersky MDR incident from a TheHive case and links the case to it (never twice)",
        mdr_responders::actions::create_incident,
    )
}
