//! What MDR_SendTaskLog appends to what it posts to MDR: `(sent from TheHive: case #17, task
//! "RUN_SCRIPT", log ~819)`. mdr-sync does not mirror such comments and attachments back into
//! TheHive, and MDR_SendTaskLog finds by the log id what it already sent.

use super::lines::{last_line, writable_id};

const OPEN: &str = "(sent from TheHive";

/// Where a comment or attachment posted from TheHive came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footer {
    pub case_number: Option<i64>,
    pub task_title: Option<String>,
    /// The TheHive log; without it nothing tells a second click from a first one.
    pub log_id: Option<String>,
}

impl Footer {
    /// One line. A title's double quotes and line breaks become `'` and spaces, and a log id a
    /// marker could not carry is left out, so that [`Footer::closing`] reads back what was written.
    pub fn render(&self) -> String {
        let mut parts = vec![];
        if let Some(n) = self.case_number {
            parts.push(format!("case #{n}"));
        }
        if let Some(title) = &self.task_title {
            let title: String = title.chars().map(|c| if c == '"' { '\'' } else { c }).collect();
            parts.push(format!("task \"{}\"", title.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
        if let Some(id) = self.log_id.as_deref().filter(|id| writable_id(id)) {
            parts.push(format!("log {id}"));
        }
        match parts.is_empty() {
            true => format!("{OPEN})"),
            false => format!("{OPEN}: {})", parts.join(", ")),
        }
    }

    /// The footer a comment ends with: its last line (out of its HTML paragraph), whole.
    pub fn closing(text: &str) -> Option<Footer> {
        Footer::parse(last_line(text)?)
    }

    /// The footer an attachment caption (`<author> attached <file> <footer>`) ends with.
    pub fn ending(caption: &str) -> Option<Footer> {
        let line = last_line(caption)?;
        line.match_indices(OPEN).find_map(|(at, _)| Footer::parse(&line[at..]))
    }

    /// Exactly one footer.
    fn parse(line: &str) -> Option<Footer> {
        let inner = line.strip_prefix(OPEN)?.strip_suffix(')')?;
        if inner.is_empty() {
            return Some(Footer::default());
        }
        let mut rest = inner.strip_prefix(": ")?;
        let mut footer = Footer::default();
        if let Some(after) = rest.strip_prefix("case #") {
            let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
            footer.case_number = Some(after[..digits].parse().ok()?);
            rest = next_part(&after[digits..])?;
        }
        if let Some(after) = rest.strip_prefix("task ") {
            // HTML may show the quotes as entities.
            let quote = if after.starts_with('"') { "\"" } else { "&quot;" };
            let (title, after) = after.strip_prefix(quote)?.split_once(quote)?;
            footer.task_title = Some(title.to_owned());
            rest = next_part(after)?;
        }
        if let Some(id) = rest.strip_prefix("log ") {
            footer.log_id = Some(id.to_owned()).filter(|id| writable_id(id));
            footer.log_id.as_ref()?;
            rest = "";
        }
        rest.is_empty().then_some(footer)
    }
}

/// What follows a part: nothing, or `, ` and the next part.
fn next_part(rest: &str) -> Option<&str> {
    if rest.is_empty() { Some(rest) } else { rest.strip_prefix(", ").filter(|next| !next.is_empty()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer(case: Option<i64>, task: Option<&str>, log: Option<&str>) -> Footer {
        Footer { case_number: case, task_title: task.map(str::to_owned), log_id: log.map(str::to_owned) }
    }

    #[test]
    fn renders_as_the_responder_always_has() {
        assert_eq!(
            footer(Some(17), Some("RUN_SCRIPT"), Some("~819")).render(),
            "(sent from TheHive: case #17, task \"RUN_SCRIPT\", log ~819)"
        );
        assert_eq!(footer(None, None, None).render(), "(sent from TheHive)");
        assert_eq!(footer(None, Some("a \"b\"\nc"), None).render(), "(sent from TheHive: task \"a 'b' c\")");
    }

    #[test]
    fn reads_back_what_it_wrote() {
        let cases =
            [(None, None, None), (Some(1), None, None), (None, Some("T, log x)"), None), (None, None, Some("~1"))];
        for (case, task, log) in cases.into_iter().chain([(Some(17), Some("MDR Response"), Some("AYx-9_"))]) {
            let written = footer(case, task, log);
            let comment = format!("ana wrote:\n> hi\n\n{}", written.render());
            assert_eq!(Footer::closing(&comment), Some(written.clone()), "{comment}");
            let caption = format!("ana attached a (1).txt {}", written.render());
            assert_eq!(Footer::ending(&caption), Some(written), "{caption}");
        }
    }

    #[test]
    fn read_through_mdr_html() {
        let html = "<p>ana wrote:</p>\n<blockquote>\n<p>hi</p>\n</blockquote>\n<p>(sent from TheHive: case #2, task &quot;R&quot;, log ~5)</p>";
        assert_eq!(Footer::closing(html), Some(footer(Some(2), Some("R"), Some("~5"))));
    }

    #[test]
    fn a_quoted_or_cut_footer_is_no_footer() {
        for text in [
            "SOC wrote:\n> (sent from TheHive: log ~5)\n\nplease check",
            "(sent from TheHive: log ~5) and more",
            "see (sent from TheHive: log ~5)",
            "(sent from TheHive: log ~5",
            "(sent from TheHive: log )",
            "(sent from TheHive: case #, log ~5)",
            "(sent from TheHive: log ~5, case #1)",
            "(sent from TheHivex)",
        ] {
            assert_eq!(Footer::closing(text), None, "{text:?}");
        }
        assert_eq!(Footer::ending("x attached y (sent from TheHive: log ~5)\nmore"), None);
    }
}
