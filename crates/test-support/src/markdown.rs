//! A deliberately tiny markdown → HTML conversion for `markdown_to_html: true`.
//!
//! Supported: paragraphs (blank-line separated, text HTML-escaped, inner line breaks kept as
//! `\n`) and block quotes (`>` lines, which may interrupt a paragraph as in CommonMark).
//! Everything else (emphasis, lists, code) passes through as escaped text.

/// Converts `text` to HTML.
pub(crate) fn to_html(text: &str) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut quote: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(q) = line.strip_prefix('>') {
            flush_paragraph(&mut paragraph, &mut blocks);
            quote.push(q.strip_prefix(' ').unwrap_or(q));
        } else if line.trim().is_empty() {
            flush_paragraph(&mut paragraph, &mut blocks);
            flush_quote(&mut quote, &mut blocks);
        } else if !quote.is_empty() {
            // Lazy continuation line of the quote.
            quote.push(line);
        } else {
            paragraph.push(line);
        }
    }
    flush_paragraph(&mut paragraph, &mut blocks);
    flush_quote(&mut quote, &mut blocks);
    blocks.join("\n")
}

fn flush_paragraph(lines: &mut Vec<&str>, blocks: &mut Vec<String>) {
    if !lines.is_empty() {
        blocks.push(format!("<p>{}</p>", escape(&lines.join("\n"))));
        lines.clear();
    }
}

fn flush_quote(lines: &mut Vec<&str>, blocks: &mut Vec<String>) {
    if !lines.is_empty() {
        let inner = to_html(&lines.join("\n"));
        blocks.push(format!("<blockquote>\n{inner}\n</blockquote>"));
        lines.clear();
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn paragraph_then_quote() {
        assert_eq!(
            to_html("alice wrote:\n>hello <b>"),
            "<p>alice wrote:</p>\n<blockquote>\n<p>hello &lt;b&gt;</p>\n</blockquote>"
        );
        assert_eq!(to_html("a\n\nb"), "<p>a</p>\n<p>b</p>");
    }
}
