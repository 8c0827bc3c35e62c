//! Secrets in free text: URL credentials removed from messages. The `Secret` type itself is
//! `cortex_worker::Secret`, shared with the other crates.

/// Removes the password of every `scheme://user:password@host` found in `text`, so that
/// an error message mentioning a proxy URL cannot carry its credentials. Each word goes through
/// cortex-worker's rule for configuration values (the one piece that parses userinfo); a lone
/// user part, which the input echo keeps (`ftp://anon@host`), is hidden here as it may be a token.
pub fn redact_url_passwords(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|word| cortex_worker::redact_url_password(word).unwrap_or_else(|| hide_lone_user(word)))
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
}
