//! Secret strings (tokens) that cannot leak through `Debug`, `Display` or a panic message.

use std::fmt;

/// A secret value. Formatting it prints a placeholder; only [`Secret::expose`] gives the text,
/// and the only callers are the HTTP header builder and the token file writer.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Removes the password of every `scheme://user:password@host` found in `text`, so that
/// an error message mentioning a proxy URL cannot carry its credentials.
pub fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == ')' || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                // A lone user part may itself be a token: hide it too.
                match userinfo.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:REMOVED")),
                    None => out.push_str("REMOVED"),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("eyJhbGciOi.sentinel.sig");
        assert!(!format!("{s:?} {s}").contains("sentinel"));
        assert_eq!(s.expose(), "eyJhbGciOi.sentinel.sig");
    }

    #[test]
    fn url_passwords_are_removed() {
        assert_eq!(
            redact_url_passwords("via http://bob:hunter2@proxy:3128/x and https://h/p"),
            "via http://bob:REMOVED@proxy:3128/x and https://h/p"
        );
        assert_eq!(redact_url_passwords("http://tok@h"), "http://REMOVED@h");
        assert_eq!(redact_url_passwords("no url"), "no url");
    }
}
