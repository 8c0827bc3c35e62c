//! What went wrong with one request, read from the error's source chain (typed, never its text:
//! a URL whose host name contains "tls" must not turn a refused connection into a TLS error).

use std::error::Error as StdError;

use rustls::{AlertDescription, CertificateError};

use crate::tls::NotConfigured;

/// Why a request got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server's certificate was refused by this side.
    Untrusted { reason: Untrusted, detail: String },
    /// The server ended the handshake with an alert (e.g. it wants a client certificate).
    HandshakeRefused { alert: AlertDescription, detail: String },
    /// Another TLS failure (no common protocol version, a malformed message, ...).
    Tls { detail: String },
    /// No connection was made (name resolution, refused, unreachable): nothing was sent.
    Unreachable { detail: String },
    /// No answer within the timeout; `connected` says whether the request may have left.
    Timeout { connected: bool },
    /// The connection broke after it was made: the request may have reached the server.
    Lost { detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    /// A self-signed certificate that is none of the configured ones.
    NotConfigured,
    /// No path to a trusted CA, expired, wrong host name, ...
    Chain,
}

impl Failure {
    /// The request cannot have reached the server.
    pub fn never_sent(&self) -> bool {
        !matches!(self, Failure::Lost { .. } | Failure::Timeout { connected: true })
    }
}

/// Classifies a reqwest error by the types in its source chain and reqwest's own flags.
pub fn classify(err: &reqwest::Error) -> Failure {
    if let Some(tls) = rustls_error(err) {
        return tls_failure(tls);
    }
    if err.is_timeout() {
        return Failure::Timeout { connected: !err.is_connect() };
    }
    let detail = causes(err);
    if err.is_connect() { Failure::Unreachable { detail } } else { Failure::Lost { detail } }
}

fn tls_failure(error: &rustls::Error) -> Failure {
    let detail = error.to_string();
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if other.0.downcast_ref::<NotConfigured>().is_some() =>
        {
            Failure::Untrusted { reason: Untrusted::NotConfigured, detail: NotConfigured.to_string() }
        }
        rustls::Error::InvalidCertificate(_) => Failure::Untrusted { reason: Untrusted::Chain, detail },
        rustls::Error::AlertReceived(alert) => Failure::HandshakeRefused { alert: *alert, detail },
        _ => Failure::Tls { detail },
    }
}

/// The `rustls::Error` somewhere in the chain. hyper-rustls wraps it in an `io::Error`, whose
/// `source()` skips the wrapped error itself, so each `io::Error` is opened by hand.
fn rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(err);
    while let Some(error) = next {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let wrapped = error.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
        if let Some(tls) = wrapped.and_then(|inner| rustls_error(inner)) {
            return Some(tls);
        }
        next = error.source();
    }
    None
}

/// The causes below reqwest's own message (which carries the URL), on one line, each once.
pub fn causes(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() { err.to_string() } else { parts.join(": ") }
}
