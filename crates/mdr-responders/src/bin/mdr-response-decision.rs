//! MDR_ApproveResponse and MDR_DeclineResponse: the flavour's `config.service` picks the decision.

fn main() -> std::process::ExitCode {
    mdr_responders::main(
        "mdr-response-decision",
        "Confirms (service confirm_response) or declines (service decline_response) the Kaspersky MDR response \
         named in a TheHive response task",
        mdr_responders::actions::respond_by_service,
    )
}
