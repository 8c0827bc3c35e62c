//! Secret strings (API keys, tokens, passwords) that cannot leak through `Debug`, `Display` or a
//! panic message.

use std::fmt;

/// A secret value. Formatting it prints a placeholder; only [`Secret::expose`] gives the text, for
/// the code that must send or store it (an HTTP header, a token file).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("eyJhbGciOi.sentinel.sig");
        assert!(!format!("{s:?} {s} {:?}", Some(&s)).contains("sentinel"));
        assert_eq!(s.expose(), "eyJhbGciOi.sentinel.sig");
    }
}
