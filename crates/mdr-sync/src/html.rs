//! MDR comment text as TheHive shows it: MDR stores a comment posted with `markdown_to_html` (as
//! the responders post theirs, and as the console's comments come) as HTML, which a TheHive log
//! would show tags and all. This turns that HTML back into markdown: paragraphs, line breaks,
//! quotes, lists, emphasis, code and http(s) links kept, headings as bold lines, other tags
//! (images among them) dropped, no text ever dropped. Text is taken as HTML only when it holds a
//! block tag or a closing tag, so `a < b` or a plain mention of `<b>` is text.
//!
//! The markup is ours; MDR's text in it is inert ([`inert`]): entities are decoded to text first
//! and the text is escaped after, never the reverse, so `&lt;img onerror=...&gt;` reaches TheHive
//! as the text `<img onerror=...>`, not as a tag. Code and `<pre>` text become code spans and
//! blocks; a link to anything but http(s) keeps only its label.

use mdr_contract::inert;

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

/// Marks markup of our own (list markers, quote prefixes, rules) in the text being built, in
/// pairs, so that the last step escapes line starts in MDR's text only. [`inert`] turns the
/// character into U+FFFD in MDR's text, so MDR's text cannot forge it.
const OWN: char = '\u{e000}';
/// Starts a line of a code block: kept as it is by the last step.
const VERBATIM: char = '\u{e001}';
/// Open links and emphases kept track of; deeper ones are taken as plain text, so that hostile
/// nesting costs no more than this many copies of the text.
const MAX_OPEN: usize = 32;

/// The comment as inert markdown for TheHive: HTML converted (see the module doc), any other
/// text escaped as [`inert::prose`]. MDR's text never becomes markup (the `&lt;img&gt;` of a
/// comment is the text `<img>`, shown as such).
pub fn readable(text: &str) -> String {
    if !is_html(text) {
        return inert::prose(text);
    }
    let mut out = Converter::default();
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

/// An open `<a>`: its target, the quote depth, where its label starts and the label's text.
struct Link {
    href: Option<String>,
    depth: usize,
    start: usize,
    text: String,
}

/// An open emphasis or heading: its markdown marker, the quote depth and where its text starts.
struct Wrap {
    tag: &'static str,
    marker: &'static str,
    depth: usize,
    start: usize,
}

#[derive(Default)]
struct Converter {
    root: String,
    /// The text of each open quote, gathered apart: it is prefixed line by line when it closes.
    quotes: Vec<String>,
    /// Open lists: `None` for bullets, `Some(n)` for the next number.
    lists: Vec<Option<u32>>,
    links: Vec<Link>,
    wraps: Vec<Wrap>,
    /// The text of an open `<code>` outside `<pre>`, shown as a code span when it closes.
    code: Option<String>,
    /// The text of an open `<pre>` and how deep it is nested, shown as a code block.
    pre: (usize, String),
}

impl Converter {
    fn current(&mut self) -> &mut String {
        match self.quotes.last_mut() {
            Some(quote) => quote,
            None => &mut self.root,
        }
    }

    /// MDR's text: decoded first, then made inert (never the reverse: a decoded `<` is text).
    fn text(&mut self, raw: &str) {
        let decoded = decode(raw).replace("\r\n", "\n").replace('\r', "\n");
        if self.pre.0 > 0 {
            self.pre.1.push_str(&decoded);
            return;
        }
        if let Some(code) = self.code.as_mut() {
            code.push_str(&decoded);
            return;
        }
        // Outside <pre>, the line breaks between tags are markup layout, not text.
        if decoded.trim().is_empty() && decoded.contains('\n') {
            return;
        }
        for link in &mut self.links {
            link.text.push_str(&decoded);
        }
        self.push_text(&decoded);
    }

    /// Decoded text, escaped where it acts anywhere (line starts are escaped last); URLs become
    /// links outside a link's label.
    fn push_text(&mut self, decoded: &str) {
        let links = self.links.is_empty();
        let lines: Vec<String> = decoded.split('\n').map(|line| inert::escape_text(line, links)).collect();
        self.push(&lines.join("\n"));
    }

    fn push(&mut self, s: &str) {
        self.current().push_str(s);
    }

    /// Markup of ours at the start of a line, marked so that the last step leaves it alone.
    fn own(&mut self, markup: &str) {
        self.push(&format!("{OWN}{markup}{OWN}"));
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
        if self.pre.0 > 0 {
            return self.tag_in_pre(tag);
        }
        if self.code.is_some() {
            match (tag.name, tag.closing) {
                ("code", true) => self.close_code(),
                ("br", _) => self.text(" "),
                _ => {}
            }
            return;
        }
        match (tag.name, tag.closing) {
            ("br", _) => self.push("\n"),
            ("hr", _) => {
                self.paragraph();
                self.own("---");
                self.push("\n\n");
            }
            ("p" | "div" | "table" | "html" | "body", _) => self.paragraph(),
            ("tr", true) => self.line(),
            ("td" | "th", true) => self.push(" "),
            // A heading is shown as a bold line: MDR's text gets no heading level in the case.
            (h, false) if h.len() == 2 && h.starts_with('h') => {
                self.paragraph();
                self.open_wrap(h, "**");
            }
            (h, true) if h.len() == 2 && h.starts_with('h') => {
                self.close_wrap(h);
                self.paragraph();
            }
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
                self.own(&format!("{}{marker}", "  ".repeat(depth)));
            }
            ("li", true) => self.line(),
            ("strong" | "b" | "em" | "i" | "s" | "del", false) => {
                let marker = match tag.name {
                    "strong" | "b" => "**",
                    "em" | "i" => "*",
                    _ => "~~",
                };
                self.open_wrap(tag.name, marker);
            }
            ("strong" | "b" | "em" | "i" | "s" | "del", true) => self.close_wrap(tag.name),
            ("code", false) => self.code = Some(String::new()),
            ("pre", false) => {
                self.paragraph();
                self.pre.0 = 1;
            }
            ("a", false) if self.links.len() < MAX_OPEN => {
                let start = self.current().len();
                self.links.push(Link { href: tag.href.clone(), depth: self.quotes.len(), start, text: String::new() });
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

    fn tag_in_pre(&mut self, tag: &Tag) {
        match (tag.name, tag.closing) {
            ("br", _) => self.pre.1.push('\n'),
            ("pre", false) => self.pre.0 += 1,
            ("pre", true) => {
                self.pre.0 -= 1;
                if self.pre.0 == 0 {
                    self.close_pre();
                }
            }
            _ => {}
        }
    }

    fn close_pre(&mut self) {
        let text = std::mem::take(&mut self.pre.1);
        let block = inert::code_block(text.trim_matches('\n'));
        let lines: Vec<String> = block.lines().map(|line| format!("{VERBATIM}{line}")).collect();
        self.line();
        self.push(&lines.join("\n"));
        self.paragraph();
    }

    fn close_code(&mut self) {
        let Some(text) = self.code.take() else { return };
        for link in &mut self.links {
            link.text.push_str(&text);
        }
        self.push(&inert::code(&text));
    }

    fn open_wrap(&mut self, tag: &'static str, marker: &'static str) {
        if self.wraps.len() >= MAX_OPEN {
            return;
        }
        let start = self.current().len();
        self.wraps.push(Wrap { tag, marker, depth: self.quotes.len(), start });
    }

    /// Puts the markers around the text since the opening tag, outside its spaces; nothing
    /// when there is no text (an empty `**` pair could read as a rule) or the quote changed.
    fn close_wrap(&mut self, tag: &str) {
        let Some(at) = self.wraps.iter().rposition(|w| w.tag == tag) else { return };
        let Wrap { marker, depth, start, .. } = self.wraps.remove(at);
        if depth != self.quotes.len() {
            return;
        }
        let text = self.current();
        let Some(inner) = text.get(start..) else { return };
        let core = inner.trim();
        // Nested same markers (`~~~~` would open a code block) and wraps across lines are left out.
        let same = |c: char| marker.starts_with(c);
        if core.is_empty() || core.contains(['\n', OWN, VERBATIM]) || core.starts_with(same) || core.ends_with(same) {
            return;
        }
        let lead = &inner[..inner.len() - inner.trim_start().len()];
        let trail = &inner[inner.trim_end().len()..];
        let wrapped = format!("{lead}{marker}{core}{marker}{trail}");
        text.truncate(start);
        text.push_str(&wrapped);
    }

    /// A link keeps its label; it links only to an http(s) target. A label that is the target
    /// itself becomes an autolink.
    fn close_link(&mut self) {
        let Some(link) = self.links.pop() else { return };
        if link.depth != self.quotes.len() {
            return;
        }
        let Some(href) = link.href.filter(|h| !h.trim().is_empty()) else { return };
        let Some(target) = inert::link_target(&href) else { return };
        let text = self.current();
        let Some(label) = text.get(link.start..).map(str::to_owned) else { return };
        if label.trim().is_empty() || label.contains([OWN, VERBATIM]) {
            return;
        }
        text.truncate(link.start);
        if link.text.trim() == href.trim() {
            text.push_str(&inert::url(&href));
        } else {
            text.push_str(&format!("[{label}]({target})"));
        }
    }

    fn close_quote(&mut self) {
        let Some(quote) = self.quotes.pop() else { return };
        let quoted: Vec<String> = quote
            .trim()
            .lines()
            .map(|l| if l.trim().is_empty() { format!("{OWN}>{OWN}") } else { format!("{OWN}> {OWN}{l}") })
            .collect();
        self.push(&quoted.join("\n"));
        self.paragraph();
    }

    fn finish(mut self) -> String {
        if self.pre.0 > 0 {
            self.pre.0 = 0;
            self.close_pre();
        }
        // An unclosed <code> keeps its text, as text.
        if let Some(code) = self.code.take() {
            self.push_text(&code);
        }
        while !self.quotes.is_empty() {
            self.close_quote();
        }
        let mut out = String::new();
        let mut blank = 0;
        for line in self.root.trim().lines() {
            let line = line.trim_end();
            blank = if line.is_empty() { blank + 1 } else { 0 };
            if blank < 2 {
                out.push_str(finish_line(line).trim_end());
                out.push('\n');
            }
        }
        out.trim_end().to_owned()
    }
}

/// One line of the result: our leading markup as it is, a code line as it is, and the start of
/// MDR's text escaped where it would act (a `-`, `#`, `1.`...).
fn finish_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(after) = rest.strip_prefix(OWN) {
        let Some(end) = after.find(OWN) else { break };
        out.push_str(&after[..end]);
        rest = &after[end + OWN.len_utf8()..];
    }
    match rest.strip_prefix(VERBATIM) {
        Some(code) => out.push_str(code),
        None => out.push_str(&inert::escape_line_start(rest)),
    }
    out.retain(|c| c != OWN && c != VERBATIM);
    out
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
    fn plain_text_is_escaped_only_where_it_would_act() {
        // Was copied verbatim: `<` and typed entities now stay text in TheHive.
        for (text, inert) in [
            ("a < b and c > d", "a &lt; b and c > d"),
            ("x <3 y", "x &lt;3 y"),
            ("no tags at all\n\nat all", "no tags at all\n\nat all"),
            ("&amp; stays as typed", "&amp;amp; stays as typed"),
        ] {
            assert_eq!(readable(text), inert);
        }
    }

    #[test]
    fn paragraphs_quotes_and_entities() {
        // As MDR renders `alice wrote:\n>hello <b>` with markdown_to_html.
        let html = "<p>alice wrote:</p>\n<blockquote>\n<p>hello &lt;b&gt;</p>\n</blockquote>";
        assert_eq!(readable(html), "alice wrote:\n\n> hello &lt;b>");
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
             See [the report](https://mdr.example/x?a=1&b=2) or <https://h>.\n\n```\nline 1\n  line 2\n```"
        );
    }

    #[test]
    fn unknown_and_broken_markup_keeps_its_text() {
        assert_eq!(readable("<p>x<span>y</span><!-- note --></p><custom>z</custom>"), "xy\n\n&lt;custom>z&lt;/custom>");
        assert_eq!(readable("mentions <b> and <script> only"), "mentions &lt;b> and &lt;script> only");
        // An unclosed emphasis keeps its text without a dangling marker.
        assert_eq!(readable("<p>unclosed <b>bold"), "unclosed bold");
        assert_eq!(readable("<p>a</p><blockquote>never closed"), "a\n\n> never closed");
        assert_eq!(readable("<p>use <!-- to open a comment</p>"), "use &lt;!-- to open a comment");
        assert_eq!(readable("<p>a<!-- hidden -->b</p>"), "ab");
        assert_eq!(readable("<p>tag cut <b"), "tag cut &lt;b");
        // A link opened in a quote and closed after it keeps its text, unlinked.
        assert_eq!(readable("<blockquote><p>ab<a href=\"https://u\">é</p></blockquote>xé</a>"), "> abé\n\nxé");
        assert_eq!(readable("<p>open <code>a < b"), "open a &lt; b");
        assert_eq!(readable("<p><pre>never closed"), "```\nnever closed\n```");
    }

    #[test]
    fn escaped_html_stays_text() {
        let html = "<p>&lt;img src=x onerror=alert(1)&gt; and &lt;script&gt;alert(1)&lt;/script&gt;</p>";
        let out = readable(html);
        assert_eq!(out, "&lt;img src=x onerror=alert(1)> and &lt;script>alert(1)&lt;/script>");
        // Double-escaped stays one level escaped: the analyst sees what MDR's text said.
        assert_eq!(readable("<p>&amp;lt;b&amp;gt;</p>"), "&amp;lt;b&amp;gt;");
        // Live tags MDR's HTML might hold are dropped or taken as text, never passed on.
        let out = readable("<p>x<img src=\"http://h/p.png\" onerror=\"alert(1)\">y<script>z</script></p>");
        assert_eq!(out, "xy&lt;script>z&lt;/script>");
    }

    #[test]
    fn only_http_links_link_and_no_image_loads() {
        let html = "<p><a href=\"javascript:alert(1)\">click</a> <a href=\"data:text/html,x\">d</a> \
                    <a href=\"https://ok.example/a b(c)\">ok</a> ![x](http://h/p.png) [y](javascript:z)</p>";
        assert_eq!(
            readable(html),
            "click d [ok](https://ok.example/a%20b%28c%29) !\\[x\\](<http://h/p.png>) \\[y\\](javascript:z)"
        );
        // A label that is a URL is shown as text inside a link (no nested link).
        assert_eq!(readable("<p><a href=\"https://a\">see http://b_c</a></p>"), "[see http&#58;//b\\_c](https://a)");
    }

    #[test]
    fn structure_in_the_text_stays_text() {
        let html = "<h1>Verdict: # benign</h1><p># Heading\n- item\n1. one\n| a | b |\n|---|---|\n&gt; quote\n===</p>";
        assert_eq!(
            readable(html),
            "**Verdict: # benign**\n\n\\# Heading\n\\- item\n1\\. one\n\\| a \\| b \\|\n\\|---\\|---\\|\n&gt; quote\n&#61;=="
        );
        // Split across tags, a line start is still a line start.
        assert_eq!(readable("<p>1<span>. x</span></p>"), "1\\. x");
        assert_eq!(readable("<ul><li>- <b></b>x</li></ul>"), "- \\- x");
        // Nested same emphasis would read as a code fence or rule: left out.
        assert_eq!(readable("<p><del><del>x</del></del> <b><b></b></b></p>"), "~~x~~");
    }

    #[test]
    fn code_keeps_its_text_behind_a_long_enough_fence() {
        assert_eq!(readable("<p>run <code>a`b ``c</code></p>"), "run ```a`b ``c```");
        let pre = "<pre><code>```\n# not a heading\n&lt;img&gt;\n```</code></pre><p>after</p>";
        assert_eq!(readable(pre), "````\n```\n# not a heading\n<img>\n```\n````\n\nafter");
        assert_eq!(readable("<blockquote><pre>- a\n\n&gt; b</pre></blockquote>"), "> ```\n> - a\n>\n> > b\n> ```");
    }

    #[test]
    fn hostile_nesting_stays_cheap() {
        let html = format!(
            "{}{}{}",
            "<a href=\"https://h\"><b>".repeat(20_000),
            "x ".repeat(20_000),
            "</b></i>".repeat(20_000)
        );
        let started = std::time::Instant::now();
        let out = readable(&html);
        assert!(out.contains("x x"), "{}", &out[..40]);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn line_ends_and_controls() {
        assert_eq!(readable("<p>a\r\nb\rc\u{0}</p>"), "a\nb\nc\u{fffd}");
        assert_eq!(readable("<p>forged \u{e000}- x\u{e000}</p>"), "forged \u{fffd}- x\u{fffd}");
    }
}
