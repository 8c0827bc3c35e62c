//! Who may post to the HTTP callback: a bearer JWT signed with a key of the registration's `jwks`
//! (RS256, `iss` = "opencti", `sub` = "connector", not expired), as pycti 7 checks it, or, when the
//! platform gave no `jwks` (before pycti 7), the connector's own OpenCTI token.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::Value;

use safekeeping::Secret;

/// How callbacks are authenticated.
pub enum Verifier {
    Jwks(Vec<RsaKey>),
    SharedToken(Secret),
}

pub struct RsaKey {
    kid: Option<String>,
    n: Vec<u8>,
    e: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("the bearer token is not valid")]
    Invalid,
}

impl Verifier {
    /// From the registration's `jwks` (RSA keys only; others are ignored), else the shared token.
    pub fn new(jwks: Option<&Value>, token: &Secret) -> Verifier {
        let keys: Vec<RsaKey> = jwks
            .and_then(|j| j.get("keys"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
            .filter_map(|k| {
                let field = |name: &str| URL_SAFE_NO_PAD.decode(k.get(name)?.as_str()?.trim_end_matches('=')).ok();
                Some(RsaKey {
                    kid: k.get("kid").and_then(Value::as_str).map(str::to_owned),
                    n: field("n")?,
                    e: field("e")?,
                })
            })
            .collect();
        if jwks.is_some() { Verifier::Jwks(keys) } else { Verifier::SharedToken(token.clone()) }
    }

    /// Checks an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), AuthError> {
        let bearer = authorization
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        match self {
            Verifier::SharedToken(token) => {
                if constant_time_eq(bearer.as_bytes(), token.expose().as_bytes()) {
                    Ok(())
                } else {
                    Err(AuthError::Invalid)
                }
            }
            Verifier::Jwks(keys) => verify_jwt(bearer, keys, now()).ok_or(AuthError::Invalid),
        }
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn verify_jwt(token: &str, keys: &[RsaKey], now: u64) -> Option<()> {
    let mut parts = token.split('.');
    let (header64, claims64, signature64) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header64).ok()?).ok()?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return None;
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let signature = URL_SAFE_NO_PAD.decode(signature64).ok()?;
    let signed = &token.as_bytes()[..header64.len() + 1 + claims64.len()];
    let verified = keys.iter().filter(|k| kid.is_none() || k.kid.as_deref() == kid).any(|k| {
        RsaPublicKeyComponents { n: &k.n, e: &k.e }.verify(&RSA_PKCS1_2048_8192_SHA256, signed, &signature).is_ok()
    });
    if !verified {
        return None;
    }
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims64).ok()?).ok()?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if claim("iss") != Some("opencti") || claim("sub") != Some("connector") {
        return None;
    }
    let time = |name: &str| claims.get(name).and_then(Value::as_u64);
    if time("exp").is_some_and(|exp| exp <= now) || time("nbf").is_some_and(|nbf| nbf > now + 60) {
        return None;
    }
    Some(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
