//! MDR_CloseIncident: closes the Kaspersky MDR incident linked to a TheHive case.

fn main() -> std::process::ExitCode {
    mdr_responders::main(
        "MDR_CloseIncident",
        "Closes the Kaspersky MDR incident linked to a TheHive case with the case's resolution and summary",
        mdr_responders::actions::close_incident,
    )
}
