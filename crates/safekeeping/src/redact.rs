//! Secrets in text: URL credentials removed from configuration values and messages, server
//! answers shortened to one safe line before they reach an error message, and a value named by
//! its JSON type where the value itself must not be shown.

use serde_json::Value;

/// What replaces a secret, as in cortexutils.
pub const REMOVED: &str = "REMOVED";
/// How much of a server's answer an error message quotes.
const MAX_MESSAGE_CHARS: usize = 300;

/// `scheme://user:pass@host/…` → `Some("scheme://user:REMOVED@host/…")`; `None` when there is nothing to hide.
/// The scheme is the run of scheme characters right before `://`, so text in front of it (a pasted space,
/// a stray character) does not keep the password from being hidden.
pub fn redact_url_password(text: &str) -> Option<String> {
    let (before, rest) = text.split_once("://")?;
    let scheme = before.rsplit(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))).next()?;
    if !is_url_scheme(scheme) {
        return None;
    }
    redact_userinfo_password(rest).map(|rest| format!("{before}://{rest}"))
}

/// `user:pass@host…` → `user:REMOVED@host…`. The userinfo ends at the last `@` of the text (not at the first
/// `/`, `?` or `#`), so a password containing a raw `/`, `?`, `#` or `@` is still hidden; over-masking an odd
/// path or query is the lesser evil.
pub fn redact_userinfo_password(rest: &str) -> Option<String> {
    let at = rest.rfind('@')?;
    let (user, _password) = rest[..at].split_once(':')?;
    Some(format!("{user}:{REMOVED}{}", &rest[at..]))
}

fn is_url_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Removes the password of every `scheme://user:password@host` found in `text`, so that
/// an error message mentioning a proxy URL cannot carry its credentials. Each word goes through
/// cortex-worker's rule for configuration values (the one piece that parses userinfo); a lone
/// user part, which the input echo keeps (`ftp://anon@host`), is hidden here as it may be a token.
pub fn redact_url_passwords(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|word| redact_url_password(word).unwrap_or_else(|| hide_lone_user(word)))
        .collect()
}

/// `scheme://user@host…` → `scheme://REMOVED@host…`.
fn hide_lone_user(word: &str) -> String {
    let Some((head, tail)) = word.split_once("://") else { return word.to_owned() };
    let authority_end = tail.find(['/', '?', '#', ')', '"']).unwrap_or(tail.len());
    match tail[..authority_end].rfind('@') {
        Some(at) => format!("{head}://REMOVED{}", &tail[at..]),
        None => word.to_owned(),
    }
}

/// Shortens text for an error message and hides anything shaped like a JWT, in case a server
/// echoes the token it refused. Control characters become U+FFFD: the message stays one line, and
/// quoting it (`{:?}`) cannot turn each of them into a six-character escape.
pub fn preview(text: &str) -> String {
    let mut out: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { char::REPLACEMENT_CHARACTER } else { c })
        .collect();
    while let Some(start) = out.find("eyJ") {
        let end = out[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.=".contains(c)))
            .map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "<redacted>");
    }
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…";
    }
    out
}

/// The JSON type of a value, as messages name it instead of quoting the value (a secret item, a
/// foreign field of the wrong kind).
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_removed() {
        assert_eq!(
            redact_url_passwords("via http://bob:hunter2@proxy:3128/x and https://h/p"),
            "via http://bob:REMOVED@proxy:3128/x and https://h/p"
        );
        assert_eq!(redact_url_passwords("http://tok@h"), "http://REMOVED@h");
        assert_eq!(redact_url_passwords("no url"), "no url");
    }

    #[test]
    fn previews_hide_jwts_and_stay_short() {
        let text = "bad token eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJl was refused";
        assert_eq!(preview(text), "bad token <redacted> was refused");
        let long = "x".repeat(1000);
        assert_eq!(preview(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn previews_of_control_characters_stay_short_when_quoted() {
        // Found by fuzzing (mdr_answers): 300 of them quoted as `\u{1e}` made an 1800-character error.
        let quoted = format!("{:?}", preview(&"\u{1e}".repeat(1000)));
        assert!(quoted.chars().count() <= MAX_MESSAGE_CHARS + 3, "{quoted}");
        assert_eq!(preview("a\u{0}b\u{7f}c"), "a\u{fffd}b\u{fffd}c");
    }
}
