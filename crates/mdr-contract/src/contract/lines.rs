//! Where markers live: the first or last line of a text, as their writer puts them.

/// Whether `id` can stand in a marker and be read back as it is: not empty, no white space or
/// control character, none of the characters that delimit markers or that an HTML rendering
/// rewrites. An MDR or TheHive id that is not is never written into a marker.
pub fn writable_id(id: &str) -> bool {
    !id.is_empty() && !id.chars().any(|c| c.is_whitespace() || c.is_control() || "[]()<>&\"'`,".contains(c))
}

/// The text's last line holding something, trimmed, without the HTML tags wrapping it: MDR keeps
/// a comment posted with `markdown_to_html` as HTML, so its last paragraph reads `<p>…</p>`.
pub(crate) fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().map(unwrapped).find(|line| !line.is_empty())
}

/// The first line holding something, trimmed.
pub(crate) fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|line| !line.is_empty())
}

/// `line` trimmed, without the opening tags before and the closing tags after its text.
fn unwrapped(line: &str) -> &str {
    let mut line = line.trim();
    loop {
        let before = line.len();
        if let Some(rest) = line.strip_prefix('<')
            && let Some((tag, after)) = rest.split_once('>')
            && is_tag_name(tag)
        {
            line = after.trim_start();
        }
        if let Some(rest) = line.strip_suffix('>')
            && let Some((before_tag, tag)) = rest.rsplit_once('<')
            && (tag.strip_prefix('/').is_some_and(is_tag_name) || is_break(tag))
        {
            line = before_tag.trim_end();
        }
        if line.len() == before {
            return line;
        }
    }
}

fn is_tag_name(tag: &str) -> bool {
    !tag.is_empty() && tag.len() <= 10 && tag.chars().all(|c| c.is_ascii_alphanumeric())
}

fn is_break(tag: &str) -> bool {
    matches!(tag.trim_end_matches('/').trim(), "br")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_is_read_through_html_wrappers() {
        assert_eq!(last_line("a\n\n[x]\n\n"), Some("[x]"));
        assert_eq!(last_line("<p>a</p>\n<p>(sent from TheHive)</p>"), Some("(sent from TheHive)"));
        assert_eq!(last_line("<div><p>x</p></div>\n</div>\n"), Some("x"));
        assert_eq!(last_line("x<br />"), Some("x"));
        assert_eq!(last_line("a < b"), Some("a < b"));
        assert_eq!(last_line(" \n "), None);
        assert_eq!(first_line("\n  **ID**: x  \nb"), Some("**ID**: x"));
    }

    #[test]
    fn ids_that_a_marker_cannot_carry_are_refused() {
        for good in ["MDR_fc51163f-00a4-4d07-826e-bb92963bc856", "-NzExample", "~4136", "AYx_9"] {
            assert!(writable_id(good), "{good}");
        }
        for bad in ["", "a b", "a\nb", "x]", "(x", "a,b", "&amp;", "`x`"] {
            assert!(!writable_id(bad), "{bad:?}");
        }
    }
}
