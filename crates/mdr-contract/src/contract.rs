//! The conventions the responders and `mdr-sync` both write and read in TheHive and MDR: one typed
//! owner each, with its writer and its reader side by side.

/// Written into the incident's description: finds it again after an unclear answer, and tells
/// `mdr-sync` which case the incident was raised from ([`origin_case_id`]).
pub fn origin_marker(case_id: &str) -> String {
    format!("{ORIGIN_PREFIX}{case_id})")
}

const ORIGIN_PREFIX: &str = "TheHive case id ";

/// The TheHive case an incident was raised from by MDR_CreateIncident, read from the marker at
/// the end of its description; `None` for an incident raised in MDR. The last marker counts: the
/// case's own description, quoted before it, may mention another.
pub fn origin_case_id(description: &str) -> Option<&str> {
    let (_, rest) = description.rsplit_once(ORIGIN_PREFIX)?;
    let id = rest.split_once(')')?.0.trim();
    (!id.is_empty() && !id.contains(|c: char| c.is_whitespace() || "/?#".contains(c))).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_case_is_read_back_from_the_marker() {
        let description =
            format!("Quoting (TheHive case id ~1) here\n\n(created from TheHive case #7; {})", origin_marker("~4136"));
        assert_eq!(origin_case_id(&description), Some("~4136"));
        assert_eq!(origin_case_id("raised by the MDR SOC"), None);
        assert_eq!(origin_case_id("TheHive case id )"), None);
        assert_eq!(origin_case_id("TheHive case id ~12"), None, "a cut marker names no case");
    }
}
