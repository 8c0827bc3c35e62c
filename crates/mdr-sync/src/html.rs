//! MDR comment text as TheHive shows it: MDR stores a comment posted with `markdown_to_html` (as
//! the responders post theirs, and as the console's comments come) as HTML, which a TheHive log
//! would show tags and all. This turns that HTML back into markdown-like text: paragraphs,
//! line breaks, quotes, lists, emphasis, code and links kept, other tags dropped, entities
//! decoded, no text ever dropped. Text is taken as HTML only when it holds a block tag or a
//! closing tag, so `a < b` or a plain mention of `<b>` stays as it is.

/// The tags the conversion knows; anything else in angle brackets is taken as text.
const KNOWN: &[&str] = &[
    "p",
    "br",
    "div",
    "span",
    "blockquote",
    "ul",
    "ol",
    "li",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "del",
    "code",
    "pre",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "tr",
    "td",
    "th",
    "thead",
    "tbody",
    "img",
    "html",
    "body",
    "sup",
    "sub",
];
/// Tags a markdown renderer wraps text in: one of them (or any closing tag) makes the text HTML.
const BLOCKS: &[&str] =
    &["p", "br", "div", "blockquote", "ul", "ol", "li", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table"];

/// The readable form of `text`: converted when it is HTML, unchanged otherwise.
pub fn readable(text: &str) -> String {
    if !is_html(text) {
        return text.to_owned();
    }
    let mut out = Converter { root: String::new(), quotes: Vec::new(), lists: Vec::new(), links: Vec::new(), pre: 0 };
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.text(&rest[..start]);
        rest = &rest[start..];
        // A comment is dropped only when it is closed: an unclosed `<!--` is text, kept.
        if let Some(end) = rest.strip_prefix("<!--").and_then(|after| after.find("-->")) {
            rest = &rest[4 + end + 3..];
            continue;
        }
        match rest.find('>').and_then(|end| Tag::parse(&rest[1..end]).map(|tag| (end, tag))) {
            Some((end, tag)) => {
                out.tag(&tag);
                rest = &rest[end + 1..];
            }
            None => {
                out.text("<");
                rest = &rest[1..];
            }
        }
    }
    out.text(rest);
    out.finish()
}

fn is_html(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        if Tag::parse(&rest[..end]).is_some_and(|t| t.closing || BLOCKS.contains(&t.name)) {
            return true;
        }
    }
    false
}

/// An opening or closing tag with the attribute the conversion uses.
struct Tag {
    name: &'static str,
    closing: bool,
    href: Option<String>,
}

impl Tag {
    /// `inner` is what stands between `<` and `>`; `None` when it is no known tag.
    fn parse(inner: &str) -> Option<Tag> {
        let (closing, inner) = match inner.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, inner),
        };
        let name_end = inner.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(inner.len());
        let lower = inner[..name_end].to_ascii_lowercase();
        let name = KNOWN.iter().find(|k| **k == lower)?;
        Some(Tag { name, closing, href: attribute(&inner[name_end..], "href") })
    }
}

/// The value of `name="..."` (or single-quoted) among the attributes.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let lower = attributes.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let value = &attributes[at..];
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &value[1..];
    value.find(quote).map(|end| decode(&value[..end]))
}

struct Converter {
    root: String,
    /// The text of each open quote, gathered apart: it is prefixed line by line when it closes.
    quotes: Vec<String>,
    /// Open lists: `None` for bullets, `Some(n)` for the next number.
    lists: Vec<Option<u32>>,
    /// Open links: their target, the quote depth and where their text starts in it.
    links: Vec<(Option<String>, usize, usize)>,
    pre: usize,
}

impl Converter {
    fn current(&mut self) -> &mut String {
        match self.quotes.last_mut() {
            Some(quote) => quote,
            None => &mut self.root,
        }
    }

    fn text(&mut self, raw: &str) {
        let decoded = decode(raw);
        // Outside <pre>, the line breaks between tags are markup layout, not text.
        if self.pre > 0 || !(decoded.trim().is_empty() && decoded.contains('\n')) {
            self.current().push_str(&decoded);
        }
    }

    fn push(&mut self, s: &str) {
        self.current().push_str(s);
    }

    /// Ends the current line of text with a blank line, once.
    fn paragraph(&mut self) {
        let text = self.current();
        let trimmed = text.trim_end_matches([' ', '\t']).len();
        text.truncate(trimmed);
        if !text.is_empty() {
            while !text.ends_with("\n\n") {
                text.push('\n');
            }
        }
    }

    fn line(&mut self) {
        let text = self.current();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
    }

    fn tag(&mut self, tag: &Tag) {
        match (tag.name, tag.closing) {
            ("br", _) => self.push("\n"),
            ("hr", _) => {
                self.paragraph();
                self.push("---\n\n");
            }
            ("p" | "div" | "table" | "html" | "body", _) => self.paragraph(),
            ("tr", true) => self.line(),
            ("td" | "th", true) => self.push(" "),
            (h, false) if h.len() == 2 && h.starts_with('h') => {
                self.paragraph();
                let level = h[1..].parse::<usize>().unwrap_or(1);
                self.push(&format!("{} ", "#".repeat(level)));
            }
            (h, true) if h.len() == 2 && h.starts_with('h') => self.paragraph(),
            ("ul", false) => {
                self.line();
                self.lists.push(None);
            }
            ("ol", false) => {
                self.line();
                self.lists.push(Some(1));
            }
            ("ul" | "ol", true) => {
                self.lists.pop();
                if self.lists.is_empty() {
                    self.paragraph();
                }
            }
            ("li", false) => {
                self.line();
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "- ".to_owned(),
                };
                self.push(&format!("{}{marker}", "  ".repeat(depth)));
            }
            ("li", true) => self.line(),
            ("strong" | "b", _) => self.push("**"),
            ("em" | "i", _) => self.push("*"),
            ("s" | "del", _) => self.push("~~"),
            ("code", _) if self.pre == 0 => self.push("`"),
            ("pre", false) => {
                self.paragraph();
                self.push("```\n");
                self.pre += 1;
            }
            ("pre", true) => {
                self.pre = self.pre.saturating_sub(1);
                self.line();
                self.push("```");
                self.paragraph();
            }
            ("a", false) => {
                let start = self.current().len();
                self.links.push((tag.href.clone(), self.quotes.len(), start));
            }
            ("a", true) => self.close_link(),
            ("blockquote", false) => {
                self.paragraph();
                self.quotes.push(String::new());
            }
            ("blockquote", true) => self.close_quote(),
            _ => {}
        }
    }

    fn close_link(&mut self) {
        let Some((href, depth, start)) = self.links.pop() else { return };
        let Some(href) = href.filter(|h| !h.is_empty() && depth == self.quotes.len()) else { return };
        let text = self.current();
        let Some(label) = text.get(start..).map(str::to_owned) else { return };
        if label.trim() == href {
            return;
        }
        text.truncate(start);
        text.push_str(&format!("[{label}]({href})"));
    }

    fn close_quote(&mut self) {
        let Some(quote) = self.quotes.pop() else { return };
        let quoted: Vec<String> =
            quote.trim().lines().map(|l| if l.trim().is_empty() { ">".to_owned() } else { format!("> {l}") }).collect();
        self.push(&quoted.join("\n"));
        self.paragraph();
    }

    fn finish(mut self) -> String {
        while !self.quotes.is_empty() {
            self.close_quote();
        }
        let mut out = String::new();
        let mut blank = 0;
        for line in self.root.trim().lines() {
            let line = line.trim_end();
            blank = if line.is_empty() { blank + 1 } else { 0 };
            if blank < 2 {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.trim_end().to_owned()
    }
}

/// Decodes the character references HTML text can hold.
fn decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| entity(&rest[1..e]));
        match (end, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    let number = |digits: &str, radix| u32::from_str_radix(digits, radix).ok().and_then(char::from_u32);
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => match name.strip_prefix('#') {
            Some(hex) if hex.starts_with(['x', 'X']) => number(&hex[1..], 16),
            Some(dec) => number(dec, 10),
            None => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn plain_text_is_left_alone() {
        for text in ["a < b and c > d", "x <3 y", "no tags at all\n\nat all", "&amp; stays as typed"] {
            assert_eq!(readable(text), text);
        }
    }

    #[test]
    fn paragraphs_quotes_and_entities() {
        // As MDR renders `alice wrote:\n>hello <b>` with markdown_to_html.
        let html = "<p>alice wrote:</p>\n<blockquote>\n<p>hello &lt;b&gt;</p>\n</blockquote>";
        assert_eq!(readable(html), "alice wrote:\n\n> hello <b>");
        assert_eq!(readable("<p>a</p>\n<p>b<br>c &amp; d&nbsp;&#233;&#x21;</p>"), "a\n\nb\nc & d é!");
        let nested = "<blockquote><p>outer</p><blockquote><p>inner</p></blockquote></blockquote><p>after</p>";
        assert_eq!(readable(nested), "> outer\n>\n> > inner\n\nafter");
    }

    #[test]
    fn lists_emphasis_code_and_links() {
        let html = "<p>Do <strong>this</strong> and <em>that</em>:</p><ol><li>isolate</li><li>run <code>kill</code></li></ol>\
                    <ul><li>one<ul><li>sub</li></ul></li></ul><p>See <a href=\"https://mdr.example/x?a=1&amp;b=2\">the report</a> \
                    or <a href=\"https://h\">https://h</a>.</p><pre><code>line 1\n  line 2</code></pre>";
        assert_eq!(
            readable(html),
            "Do **this** and *that*:\n\n1. isolate\n2. run `kill`\n\n- one\n  - sub\n\n\
             See [the report](https://mdr.example/x?a=1&b=2) or https://h.\n\n```\nline 1\n  line 2\n```"
        );
    }

    #[test]
    fn unknown_and_broken_markup_keeps_its_text() {
        assert_eq!(readable("<p>x<span>y</span><!-- note --></p><custom>z</custom>"), "xy\n\n<custom>z</custom>");
        assert_eq!(readable("mentions <b> and <script> only"), "mentions <b> and <script> only");
        assert_eq!(readable("<p>unclosed <b>bold"), "unclosed **bold");
        assert_eq!(readable("<p>a</p><blockquote>never closed"), "a\n\n> never closed");
        assert_eq!(readable("<p>use <!-- to open a comment</p>"), "use <!-- to open a comment");
        assert_eq!(readable("<p>a<!-- hidden -->b</p>"), "ab");
        assert_eq!(readable("<p>tag cut <b"), "tag cut <b");
        // A link opened in a quote and closed after it keeps its text, unlinked.
        assert_eq!(readable("<blockquote><p>ab<a href=\"u\">é</p></blockquote>xé</a>"), "> abé\n\nxé");
    }
}
