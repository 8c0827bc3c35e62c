//! Untrusted text (MDR's incident titles, descriptions, comments, attachment captions and file
//! names, response types and parameters) written into TheHive's markdown fields so that TheHive
//! shows it as the text it is, and nothing more.
//!
//! MDR text carries what an endpoint saw: command lines, file names, URLs an attacker chose.
//! Rendered as markdown as it is, `![x](http://host/p.png)` makes every analyst's browser fetch an
//! image, `[click](javascript:...)` is a link, `<img onerror=...>` is HTML, and a line `# Benign`
//! or a table changes what the case appears to say. The rule:
//!
//! - **Prose** ([`prose`], [`inline`]): characters that act anywhere are escaped (`\` `` ` `` `*`
//!   `_` `[` `]` `|` `~` with a backslash; `<` as `&lt;`; `&` as `&amp;` where it would start an
//!   entity); characters that act at the start of a line (`#` `-` `+` `>` `=`, `1.` / `1)`) are
//!   escaped there only; leading spaces become no-break spaces (no code block); each line break
//!   stays a line break (two trailing spaces) and blank lines stay paragraph breaks.
//! - **Links**: an `http(s)://` URL in prose becomes an autolink `<url>` (readable and clickable);
//!   every other `scheme://` has its colon written `&#58;` and an e-mail address its `@` written
//!   `&#64;`, so no renderer makes them links. Nothing else can form a link or an image: `[` is
//!   always escaped. [`url`] does the same for a lone URL.
//! - **Telemetry** ([`code`], [`code_block`]): a value shown as code, in a span or fenced block
//!   whose backtick fence is longer than any backtick run inside, so nothing in it acts.
//! - **Titles** ([`title`]): plain one-line text (TheHive shows titles as text): control
//!   characters and line breaks become spaces, no leading `#`.
//!
//! Escapes are the ones markdown renderers have in common (Markdown.pl's backslash set plus `|`
//! and `~` from GFM, entities where a backslash escape is CommonMark-only), so the result is text
//! whichever renderer TheHive uses. [`escape_text`] and [`escape_line_start`] are the two halves
//! of [`prose`] for code that builds its own markup around text, such as the HTML-to-text step.

/// Line breaks inside a paragraph: two trailing spaces, the hard break every renderer knows.
const HARD_BREAK: &str = "  \n";

/// `text` as markdown showing the same text: lines, blank lines and indentation kept, nothing in
/// it acting as markup (see the module's rule). CR, CRLF and LF all end a line.
pub fn prose(text: &str) -> String {
    let lines: Vec<String> = lines(text).map(|line| escape_line_start(&escape_text(line.trim_end(), true))).collect();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            out.push('\n');
            continue;
        }
        out.push_str(line);
        match lines.get(i + 1) {
            Some(next) if !next.is_empty() => out.push_str(HARD_BREAK),
            Some(_) => out.push('\n'),
            None => {}
        }
    }
    out.trim_end().to_owned()
}

/// `text` on one line (line breaks and other control characters as spaces), escaped as
/// [`prose`]: for a value inside a sentence of ours, such as an author's name.
pub fn inline(text: &str) -> String {
    escape_line_start(&escape_text(&one_line(text), true))
}

/// A one-line plain-text title: control characters and line breaks as spaces, runs of spaces as
/// one, no leading `#` or space. Empty when nothing is left.
pub fn title(text: &str) -> String {
    one_line(text).trim_start_matches(|c: char| c == '#' || c.is_whitespace()).to_owned()
}

/// `text` as an inline code span on one line, its fence longer than any backtick run in it.
/// Empty for empty text.
pub fn code(text: &str) -> String {
    let text: String = text.chars().map(|c| if is_line_end(c) || c == '\t' { ' ' } else { clean(c) }).collect();
    if text.is_empty() {
        return String::new();
    }
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    // A span starting or ending with a backtick needs a space inside its fence; one starting and
    // ending with a space loses one on each side when rendered, so it gets one more.
    let pad = text.starts_with('`') || text.ends_with('`') || (text.starts_with(' ') && text.ends_with(' '));
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// `text` as a fenced code block (its lines kept), the fence longer than any backtick run in it.
pub fn code_block(text: &str) -> String {
    let body: Vec<String> = lines(text).map(|line| line.chars().map(clean).collect()).collect();
    let body = body.join("\n");
    let fence = "`".repeat((longest_run(&body, '`') + 1).max(3));
    format!("{fence}\n{}\n{fence}", body.trim_end_matches('\n'))
}

/// A URL from MDR: an autolink when it is a plain `http(s)` URL, otherwise shown as code.
pub fn url(text: &str) -> String {
    let text = text.trim();
    if is_http(text) && text.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"<>\"`".contains(c)) {
        format!("<{text}>")
    } else {
        code(text)
    }
}

/// `href` made a safe markdown link destination (`[label](here)`): `None` unless it is an
/// `http(s)` URL; characters that could end the destination or start markup percent-encoded.
pub fn link_target(href: &str) -> Option<String> {
    let href = href.trim();
    if !is_http(href) {
        return None;
    }
    let mut out = String::with_capacity(href.len());
    for c in href.chars() {
        if c.is_whitespace() || c.is_control() || "<>()[]\"'`\\".contains(c) {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Escapes in `text` (one line) the characters that act wherever they stand; with `links`,
/// `http(s)` URLs become autolinks (not inside a link's label). Line starts are
/// [`escape_line_start`]'s.
pub fn escape_text(text: &str, links: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if links
            && (c == 'h' || c == 'H')
            && (i == 0 || !chars[i - 1].is_alphanumeric())
            && let Some(end) = http_url_end(&chars, i)
        {
            out.push('<');
            out.extend(&chars[i..end]);
            out.push('>');
            i = end;
            continue;
        }
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '&' if starts_entity(&chars[i + 1..]) => out.push_str("&amp;"),
            ':' if chars[i + 1..].starts_with(&['/', '/']) => out.push_str("&#58;"),
            '@' if i > 0 && is_email_char(chars[i - 1]) && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) => {
                out.push_str("&#64;");
            }
            _ => out.push(clean(c)),
        }
        i += 1;
    }
    out
}

/// Escapes what would act at the start of `line` (already passed through [`escape_text`]): a
/// heading, list, quote or setext marker; leading spaces become no-break spaces.
pub fn escape_line_start(line: &str) -> String {
    let body = line.trim_start_matches([' ', '\t']);
    let mut out = String::with_capacity(line.len() + 8);
    for c in line[..line.len() - body.len()].chars() {
        out.push_str(if c == '\t' { "\u{a0}\u{a0}\u{a0}\u{a0}" } else { "\u{a0}" });
    }
    let digits = body.len() - body.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    match body.chars().next() {
        Some(c @ ('#' | '-' | '+')) => {
            out.push('\\');
            out.push(c);
            out.push_str(&body[1..]);
        }
        Some('>') => {
            out.push_str("&gt;");
            out.push_str(&body[1..]);
        }
        Some('=') => {
            out.push_str("&#61;");
            out.push_str(&body[1..]);
        }
        _ if digits > 0 && body[digits..].starts_with(['.', ')']) => {
            out.push_str(&body[..digits]);
            out.push('\\');
            out.push_str(&body[digits..]);
        }
        _ => out.push_str(body),
    }
    out
}

/// The lines of `text`, whichever of CR, CRLF or LF ends them.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split("\r\n").flat_map(|part| part.split(['\r', '\n']))
}

fn one_line(text: &str) -> String {
    let spaced: String = text.chars().map(|c| if c.is_control() || is_line_end(c) { ' ' } else { clean(c) }).collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Unicode's line and paragraph separators, which some renderers take as line ends.
fn is_line_end(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Control characters (but tab) and the private-use marks the HTML conversion uses for its own
/// markup become U+FFFD: visible, and never taken for markup.
fn clean(c: char) -> char {
    if (c.is_control() && c != '\t') || ('\u{e000}'..='\u{e00f}').contains(&c) { '\u{fffd}' } else { c }
}

fn longest_run(text: &str, c: char) -> usize {
    text.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

fn is_http(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    (lower.starts_with("http://") && text.len() > 7) || (lower.starts_with("https://") && text.len() > 8)
}

/// Where the `http(s)://` URL starting at `start` ends (exclusive), as GFM delimits one:
/// up to a space or `<`/`>`/`"`, without trailing punctuation or an unbalanced `)`/`]`.
fn http_url_end(chars: &[char], start: usize) -> Option<usize> {
    let head: String = chars[start..].iter().take(8).collect::<String>().to_ascii_lowercase();
    let scheme = if head.starts_with("https://") {
        8
    } else if head.starts_with("http://") {
        7
    } else {
        return None;
    };
    let mut end = start + scheme;
    while end < chars.len() && !chars[end].is_whitespace() && !chars[end].is_control() && !"<>\"`".contains(chars[end])
    {
        end += 1;
    }
    // Brackets counted once and updated as the end moves back: linear even on `http://x))))...`.
    let count = |c: char| chars[start..end].iter().filter(|x| **x == c).count();
    let open = [count('('), count('['), count('{')];
    let mut close = [count(')'), count(']'), count('}')];
    loop {
        let &last = chars[start + scheme..end].last()?;
        let pair = [')', ']', '}'].iter().position(|c| *c == last);
        let trailing = ".,:;!?'*_~".contains(last) || pair.is_some_and(|p| open[p] < close[p]);
        if !trailing {
            return Some(end);
        }
        if let Some(p) = pair {
            close[p] -= 1;
        }
        end -= 1;
    }
}

/// `&` followed by what a renderer would read as a character reference (`&lt;`, `&#60;`).
fn starts_entity(rest: &[char]) -> bool {
    let name = rest.iter().take(33).take_while(|c| c.is_ascii_alphanumeric() || **c == '#').count();
    name > 0 && rest.get(name) == Some(&';')
}

fn is_email_char(c: char) -> bool {
    c.is_alphanumeric() || "._+-".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live constructs left in escaped text: an image or link opener, an HTML tag, or a
    /// line starting with block markup (escaped forms start with `\\`, `&` or a no-break space).
    fn live_markup(escaped: &str) -> Vec<String> {
        let mut found = Vec::new();
        for needle in ["![", "](", "<img", "<script", "<a "] {
            for (at, _) in escaped.match_indices(needle) {
                if !escaped[..at].ends_with('\\') {
                    found.push(needle.to_owned());
                }
            }
        }
        for line in escaped.lines() {
            if line.starts_with(['#', '-', '+', '*', '|', '=', '`', '~', '<', '>', ' ']) {
                found.push(line.to_owned());
            }
        }
        found
    }

    #[test]
    fn an_image_shows_as_text_and_loads_nothing() {
        let out = prose("see ![x](http://host/pixel.png) now");
        assert_eq!(out, "see !\\[x\\](<http://host/pixel.png>) now");
        assert!(live_markup(&out).is_empty(), "{out}");
    }

    #[test]
    fn only_http_links_are_links() {
        let out = prose("[click](javascript:alert(1)) <javascript:alert(1)> [r]: javascript:x");
        assert_eq!(out, "\\[click\\](javascript:alert(1)) &lt;javascript:alert(1)> \\[r\\]: javascript:x");
        assert_eq!(prose("get ftp://h/x or mail a.b@evil.example"), "get ftp&#58;//h/x or mail a.b&#64;evil.example");
        assert_eq!(prose("at https://h.example/a_(b)."), "at <https://h.example/a_(b)>.");
        assert_eq!(prose("(http://h/x), http://h/?q=a*b*"), "(<http://h/x>), <http://h/?q=a*b>\\*");
        assert_eq!(prose("xhttp://h stays"), "xhttp&#58;//h stays");
        assert_eq!(url("https://mdr.example/a?b=1"), "<https://mdr.example/a?b=1>");
        assert_eq!(url("javascript:alert(1)"), "`javascript:alert(1)`");
        assert_eq!(url("http://h/a b"), "`http://h/a b`");
        assert_eq!(link_target("javascript:alert(1)"), None);
        assert_eq!(link_target(" HTTPS://h/a b)(\"<"), Some("HTTPS://h/a%20b%29%28%22%3C".to_owned()));
    }

    #[test]
    fn html_is_text() {
        let out = prose("<img src=x onerror=alert(1)>\n<script>alert(1)</script>");
        assert_eq!(out, "&lt;img src=x onerror=alert(1)>  \n&lt;script>alert(1)&lt;/script>");
        // Typed entities stay as typed, not decoded into markup by the renderer.
        assert_eq!(prose("&lt;img&gt; &#60;b&#62; & AT&T;x"), "&amp;lt;img&amp;gt; &amp;#60;b&amp;#62; & AT&amp;T;x");
    }

    #[test]
    fn line_start_structure_is_escaped() {
        let text = "# Benign\n## x\n- item\n+ item\n* item\n1. one\n22) two\n> quote\n===\n---\n***\n    code\n\tcode";
        let out = prose(text);
        assert_eq!(
            out,
            "\\# Benign  \n\\## x  \n\\- item  \n\\+ item  \n\\* item  \n1\\. one  \n22\\) two  \n&gt; quote  \n\
             &#61;==  \n\\---  \n\\*\\*\\*  \n\u{a0}\u{a0}\u{a0}\u{a0}code  \n\u{a0}\u{a0}\u{a0}\u{a0}code"
        );
        assert!(live_markup(&out).is_empty(), "{out}");
        // In the middle of a line they stay as typed.
        assert_eq!(prose("a # b - c + d > e = f 1. g"), "a # b - c + d > e = f 1. g");
    }

    #[test]
    fn a_table_is_text() {
        let out = prose("| a | b |\n|---|---|\n| 1 | 2 |");
        assert_eq!(out, "\\| a \\| b \\|  \n\\|---\\|---\\|  \n\\| 1 \\| 2 \\|");
    }

    #[test]
    fn emphasis_code_and_backslashes_are_text() {
        assert_eq!(prose("**b** _i_ ~~s~~ `c`"), "\\*\\*b\\*\\* \\_i\\_ \\~\\~s\\~\\~ \\`c\\`");
        assert_eq!(prose("C:\\Windows\\x.exe \\\\srv\\share\\"), "C:\\\\Windows\\\\x.exe \\\\\\\\srv\\\\share\\\\");
        assert_eq!(prose("```\nfenced\n~~~"), "\\`\\`\\`  \nfenced  \n\\~\\~\\~");
    }

    #[test]
    fn line_ends_and_controls() {
        assert_eq!(prose("a\r\nb\rc\nd\n\n\ne"), "a  \nb  \nc  \nd\n\n\ne");
        assert_eq!(prose("nul\u{0}bell\u{7}"), "nul\u{fffd}bell\u{fffd}");
        assert_eq!(prose("forged \u{e000}- mark\u{e001}"), "forged \u{fffd}- mark\u{fffd}");
        assert_eq!(inline("two\r\nlines\u{2028}# and\ttab"), "two lines # and tab");
        assert_eq!(inline("# lead"), "\\# lead");
        assert_eq!(prose(""), "");
    }

    #[test]
    fn titles_are_one_plain_line() {
        assert_eq!(title("## Fake\r\nsecond\u{2029}line\u{0}  end "), "Fake second line end");
        assert_eq!(title(" # # "), "");
        assert_eq!(title("Beacon to evil.example [x](y)"), "Beacon to evil.example [x](y)");
    }

    #[test]
    fn code_fences_outrun_backticks() {
        assert_eq!(code("cmd.exe /c whoami"), "`cmd.exe /c whoami`");
        assert_eq!(code("a ``b`` c"), "```a ``b`` c```");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code(" x "), "`  x  `");
        assert_eq!(code("two\nlines"), "`two lines`");
        assert_eq!(code(""), "");
        assert_eq!(code_block("{\n  \"a\": \"```\"\n}\r\n"), "````\n{\n  \"a\": \"```\"\n}\n````");
        assert_eq!(code_block("x"), "```\nx\n```");
    }

    #[test]
    fn long_hostile_input_takes_linear_time() {
        let text = format!("http://x{} {}", ")".repeat(200_000), "&#".repeat(100_000));
        let started = std::time::Instant::now();
        let out = prose(&text);
        assert!(out.starts_with("<http://x>)"), "{}", &out[..20]);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
