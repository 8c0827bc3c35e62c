//! KasperskyTIP_Lookup / KasperskyOpenTIP_Lookup: looks an observable up in Kaspersky TIP or OpenTIP.

fn main() -> std::process::ExitCode {
    kaspersky_tip::main()
}
