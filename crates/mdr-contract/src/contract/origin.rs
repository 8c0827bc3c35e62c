//! The origin marker MDR_CreateIncident ends an incident's description with,
//! `(created from TheHive case #7 by ana; TheHive case id ~4136)`: it finds the incident again
//! after an unclear answer, and tells mdr-sync which case the incident was raised from.

use super::lines::last_line;

const PREFIX: &str = "TheHive case id ";

/// The marker, the end of the description's last line.
pub fn origin_marker(case_id: &str) -> String {
    format!("{PREFIX}{case_id})")
}

/// The TheHive case an incident was raised from by MDR_CreateIncident, read from the end of its
/// description's last line (out of its HTML paragraph); `None` for an incident raised in MDR. The
/// case's own description, quoted above, may mention other cases: it is not read.
pub fn origin_case_id(description: &str) -> Option<&str> {
    let line = last_line(description)?.strip_suffix(')')?;
    let (_, id) = line.rsplit_once(PREFIX)?;
    (!id.is_empty() && !id.contains(|c: char| c.is_whitespace() || "/?#()".contains(c))).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_case_is_read_back_from_the_marker() {
        let description =
            format!("Quoting (TheHive case id ~1) here\n\n(created from TheHive case #7; {}", origin_marker("~4136"));
        assert_eq!(origin_case_id(&description), Some("~4136"));
        let html =
            format!("<p>Seen (TheHive case id ~1)</p>\n<p>(created from TheHive case #7; {}</p>", origin_marker("~9"));
        assert_eq!(origin_case_id(&html), Some("~9"));
        assert_eq!(origin_case_id("raised by the MDR SOC"), None);
        assert_eq!(origin_case_id("TheHive case id )"), None);
        assert_eq!(origin_case_id("TheHive case id ~12"), None, "a cut marker names no case");
    }

    #[test]
    fn a_marker_above_the_last_line_names_no_case() {
        assert_eq!(origin_case_id("(created from TheHive case #7; TheHive case id ~1)\n\nlater text"), None);
        assert_eq!(origin_case_id("see TheHive case id ~1) and more"), None);
    }
}
