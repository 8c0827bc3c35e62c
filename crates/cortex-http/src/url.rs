//! Configured service URLs (`api_url`, TheHive's URL, a console URL), checked once and safe to show.

use std::fmt;

/// Why a configured URL was refused; the text completes "`<item>` …" in the caller's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is not an http(s) URL")]
    NotHttp,
    #[error("has no host")]
    NoHost,
    #[error("contains spaces or control characters")]
    Blank,
}

/// An `http://` or `https://` URL with a host and no blanks, without its trailing slashes, so a
/// path can be appended with `/`. `Display` (unlike [`HttpUrl::as_str`], for requests) hides the
/// userinfo, whose password may hold any character.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    text: String,
    https: bool,
}

impl HttpUrl {
    /// Surrounding blanks and trailing slashes are dropped before the checks.
    pub fn parse(text: &str) -> Result<HttpUrl, UrlError> {
        let text = text.trim();
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Blank);
        }
        let (scheme, rest) = text.split_once("://").ok_or(UrlError::NotHttp)?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(UrlError::NotHttp),
        };
        let url = HttpUrl { text: format!("{scheme}://{}", rest.trim_end_matches('/')), https };
        if url.host().is_empty() {
            return Err(UrlError::NoHost);
        }
        Ok(url)
    }

    /// The whole URL, credentials included: for building requests only.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host without port or brackets (`::1` for `http://[::1]:8080`).
    pub fn host(&self) -> &str {
        let authority = self.authority();
        match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        }
    }

    /// Whether the URL names the machine itself, where plain http stays on the machine.
    pub fn is_loopback(&self) -> bool {
        matches!(self.host(), "127.0.0.1" | "localhost" | "::1")
    }

    /// Any `@` counts: a password may hold a raw `/`, `?` or `#`, so the userinfo ends at the last `@`.
    pub fn has_credentials(&self) -> bool {
        self.after_scheme().contains('@')
    }

    pub fn has_query_or_fragment(&self) -> bool {
        self.authority_and_path().contains(['?', '#'])
    }

    fn after_scheme(&self) -> &str {
        self.text.split_once("://").map_or("", |(_, rest)| rest)
    }

    /// What follows the userinfo.
    fn authority_and_path(&self) -> &str {
        let rest = self.after_scheme();
        rest.rfind('@').map_or(rest, |at| &rest[at + 1..])
    }

    fn authority(&self) -> &str {
        self.authority_and_path().split(['/', '?', '#']).next().unwrap_or_default()
    }
}

/// `text` as it may appear in a message: a URL's userinfo becomes `REMOVED`. For the value of a
/// refused URL, which has no [`HttpUrl`] to show it.
pub fn display_safe(text: &str) -> String {
    match text.split_once("://") {
        Some((scheme, rest)) => match rest.rfind('@') {
            Some(at) => format!("{scheme}://REMOVED{}", &rest[at..]),
            None => text.to_owned(),
        },
        None => match text.rfind('@') {
            Some(at) => format!("REMOVED{}", &text[at..]),
            None => text.to_owned(),
        },
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&display_safe(&self.text))
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpUrl({self})")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn http_and_https_with_a_host_and_no_blanks() {
        let url = HttpUrl::parse(" https://mdr.example/api/v1/ ").unwrap();
        assert_eq!((url.as_str(), url.is_https(), url.host()), ("https://mdr.example/api/v1", true, "mdr.example"));
        let v6 = HttpUrl::parse("http://[::1]:8080").unwrap();
        assert!(!v6.is_https() && v6.is_loopback() && v6.host() == "::1");
        assert_eq!(HttpUrl::parse("HTTP://127.0.0.1:9/x").unwrap().host(), "127.0.0.1");
        for (text, error) in [
            ("mdr.example", UrlError::NotHttp),
            ("ftp://h", UrlError::NotHttp),
            ("https://", UrlError::NoHost),
            ("https:///path", UrlError::NoHost),
            ("https://h/a b", UrlError::Blank),
            ("https://:8080/x", UrlError::NoHost),
        ] {
            assert_eq!(HttpUrl::parse(text).unwrap_err(), error, "{text:?}");
        }
    }

    #[test]
    fn credentials_never_show() {
        let url = HttpUrl::parse("https://bob:p/a?s#s@h.example:443/api").unwrap();
        assert!(url.has_credentials() && !url.has_query_or_fragment());
        assert_eq!(url.host(), "h.example");
        assert_eq!(url.to_string(), "https://REMOVED@h.example:443/api");
        assert!(!format!("{url:?}").contains("p/a"));
        assert_eq!(display_safe("tok@h/x"), "REMOVED@h/x");
        assert_eq!(display_safe("https://h/x"), "https://h/x");
        assert!(HttpUrl::parse("https://h/x?q=1").unwrap().has_query_or_fragment());
    }
}
