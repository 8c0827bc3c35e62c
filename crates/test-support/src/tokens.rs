//! JWT-shaped tokens (docs/mdr-api.md#tokens): minted, remembered and checked by the sandbox.
//!
//! Clients read `exp` without verifying the signature, so the signature segment is just
//! random bytes; validity is decided by looking the whole token up in the issued set.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::json;

use crate::ids::{now_secs, random_bytes, random_hex};

/// An access + refresh token pair. `Debug` never shows the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// Bearer token for every endpoint except `session/confirm`.
    pub access_token: String,
    /// Single-use token for `session/confirm`.
    pub refresh_token: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair").field("access_token", &"<redacted>").field("refresh_token", &"<redacted>").finish()
    }
}

/// How the bearer of a request looked to the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BearerState {
    /// No `Authorization: Bearer` header (or an empty token).
    Missing,
    /// An unexpired access token issued by this sandbox.
    Valid,
    /// An access token issued by this sandbox, past its `exp`.
    Expired,
    /// Anything else: never issued here, or a refresh token used as bearer.
    Unknown,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Refresh,
}

struct Issued {
    kind: Kind,
    exp: i64,
    used: bool,
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshError {
    Unknown,
    Expired,
    Reused,
}

impl RefreshError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Unknown => "invalid refresh token",
            Self::Expired => "refresh token expired",
            Self::Reused => "refresh token already used",
        }
    }
}

/// Every token the sandbox has issued.
pub(crate) struct TokenStore {
    client_id: String,
    refresh_ttl: i64,
    issued: HashMap<String, Issued>,
}

impl TokenStore {
    pub(crate) fn new(client_id: &str, refresh_ttl_secs: i64) -> Self {
        Self { client_id: client_id.to_owned(), refresh_ttl: refresh_ttl_secs, issued: HashMap::new() }
    }

    /// Mints a pair sharing one session id; the access token expires after `access_ttl` seconds.
    pub(crate) fn issue(&mut self, access_ttl: i64) -> TokenPair {
        let session = random_hex::<16>();
        let now = now_secs();
        TokenPair {
            access_token: self.mint(Kind::Access, &session, now, now + access_ttl),
            refresh_token: self.mint(Kind::Refresh, &session, now, now + self.refresh_ttl),
        }
    }

    fn mint(&mut self, kind: Kind, session: &str, iat: i64, exp: i64) -> String {
        let header = json!({"alg": "HS256", "typ": "JWT"});
        let typ = if kind == Kind::Access { "access" } else { "refresh" };
        let payload = json!({
            "sub": format!("{}+{session}", self.client_id),
            "iat": iat,
            "exp": exp,
            "typ": typ,
            "jti": random_hex::<12>(),
        });
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            URL_SAFE_NO_PAD.encode(random_bytes::<32>()),
        );
        self.issued.insert(token.clone(), Issued { kind, exp, used: false });
        token
    }

    /// Classifies the value of an `Authorization` header.
    pub(crate) fn bearer_state(&self, authorization: Option<&str>) -> BearerState {
        let token = authorization
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .unwrap_or("");
        if token.is_empty() {
            return BearerState::Missing;
        }
        match self.issued.get(token) {
            Some(t) if t.kind == Kind::Access && t.exp > now_secs() => BearerState::Valid,
            Some(t) if t.kind == Kind::Access => BearerState::Expired,
            _ => BearerState::Unknown,
        }
    }

    /// Checks a refresh token without consuming it.
    pub(crate) fn check_refresh(&self, token: &str) -> Result<(), RefreshError> {
        match self.issued.get(token) {
            Some(t) if t.kind != Kind::Refresh => Err(RefreshError::Unknown),
            None => Err(RefreshError::Unknown),
            Some(t) if t.used => Err(RefreshError::Reused),
            Some(t) if t.exp <= now_secs() => Err(RefreshError::Expired),
            Some(_) => Ok(()),
        }
    }

    /// Consumes a refresh token and returns a fresh pair (`session/confirm`).
    pub(crate) fn exchange(&mut self, refresh_token: &str, access_ttl: i64) -> Result<TokenPair, RefreshError> {
        self.check_refresh(refresh_token)?;
        if let Some(t) = self.issued.get_mut(refresh_token) {
            t.used = true;
        }
        Ok(self.issue(access_ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_is_single_use_and_claims_are_readable() {
        let mut store = TokenStore::new("cid", 100);
        let pair = store.issue(60);
        let payload = pair.access_token.split('.').nth(1).expect("three segments");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json");
        assert_eq!(claims["typ"], "access");
        assert!(claims["sub"].as_str().is_some_and(|s| s.starts_with("cid+")));
        assert!(store.exchange(&pair.refresh_token, 60).is_ok());
        assert_eq!(store.exchange(&pair.refresh_token, 60), Err(RefreshError::Reused));
        assert_eq!(store.bearer_state(Some(&format!("Bearer {}", pair.access_token))), BearerState::Valid);
        assert!(!format!("{pair:?}").contains(&pair.access_token));
    }
}
