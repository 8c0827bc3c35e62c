//! How a message is quoted when posted to the other side: `<author> wrote:`, then every line of
//! the text as a `> ` line (the Python responder quoted only the first, so the rest escaped).

/// A message and its author, as quoted in an MDR comment or a TheHive log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub author: String,
    pub text: String,
}

impl Quote {
    /// `<author> wrote:` and the quoted text; the author on one line.
    pub fn render(&self) -> String {
        let author = self.author.split_whitespace().collect::<Vec<_>>().join(" ");
        format!("{author} wrote:\n{}", quote_lines(&self.text))
    }

    /// A quote as [`Quote::render`] wrote it: the first line and the `>` lines right after it.
    pub fn parse(text: &str) -> Option<Quote> {
        let mut lines = text.lines();
        let author = lines.next()?.strip_suffix(" wrote:")?.to_owned();
        let quoted: Vec<&str> =
            lines.map_while(|line| line.strip_prefix('>').map(|rest| rest.strip_prefix(' ').unwrap_or(rest))).collect();
        (!quoted.is_empty()).then(|| Quote { author, text: quoted.join("\n") })
    }
}

/// Every line of `text` as a `> ` line, blank lines as `>`; line ends normalised, trailing
/// white space dropped; an empty text is one `>`.
pub fn quote_lines(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> =
        text.trim_end().lines().map(|l| if l.trim().is_empty() { ">".to_owned() } else { format!("> {l}") }).collect();
    if lines.is_empty() { ">".to_owned() } else { lines.join("\n") }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn quote(author: &str, text: &str) -> Quote {
        Quote { author: author.to_owned(), text: text.to_owned() }
    }

    #[test]
    fn every_line_is_quoted() {
        assert_eq!(quote("ana@soc", "first\r\n\nsecond  \n\n").render(), "ana@soc wrote:\n> first\n>\n> second");
        assert_eq!(quote("SOC", "").render(), "SOC wrote:\n>");
        assert_eq!(quote("a\nb", "x\ry").render(), "a b wrote:\n> x\n> y");
    }

    #[test]
    fn reads_back_the_normalised_text() {
        for (text, normalised) in [
            ("a\n\nb", "a\n\nb"),
            ("> nested\n  indented", "> nested\n  indented"),
            ("x  \n \ny\r\n", "x  \n\ny"),
            ("", ""),
            ("[MDR comment c1]", "[MDR comment c1]"),
        ] {
            let written = quote("SOC", text).render();
            assert_eq!(Quote::parse(&written), Some(quote("SOC", normalised)), "{written:?}");
            assert_eq!(Quote::parse(&format!("{written}\n\n[MDR comment c9]")), Some(quote("SOC", normalised)));
        }
        assert_eq!(Quote::parse("no quote"), None);
    }
}
