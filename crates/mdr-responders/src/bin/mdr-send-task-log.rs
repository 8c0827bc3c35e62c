//! MDR_SendTaskLog: posts a TheHive task log as a comment on the linked Kaspersky MDR incident.

fn main() -> std::process::ExitCode {
    mdr_responders::main(
        "MDR_SendTaskLog",
        "Sends a TheHive task log as a comment to the Kaspersky MDR incident linked to its case",
        mdr_responders::actions::send_task_log,
    )
}
