//! What a request that got no HTTP answer means, decided once for every client: which failures are
//! one kind, whether a write may have reached the server, and a detail safe to show. Each client's
//! error wraps a [`TransportError`] and adds only its own hint (the setting to fix).

use std::time::Duration;

use rustls::AlertDescription;
use safekeeping::redact::redact_url_passwords;

use crate::failure::{Failure, Untrusted};
use crate::retry::Call;

/// Why no HTTP answer came, as a service-neutral kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No answer within the request timeout.
    Timeout,
    /// The connection was made, then broke before the answer was read.
    Lost,
    /// No connection was made: nothing was sent.
    Unreachable,
    /// The server's certificate is refused (no path to a trusted CA, expired, wrong host name).
    Untrusted,
    /// A self-signed server certificate that is none of the configured ones.
    NotConfigured,
    /// The server ended the handshake with this alert (e.g. it wants a client certificate).
    HandshakeRefused(AlertDescription),
    /// Another TLS failure (no common protocol version, a malformed message, ...).
    Tls,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportKind,
    /// The causes on one line, URL passwords removed; for a timeout, "no answer within N s".
    pub detail: String,
    /// The request timeout in force.
    pub timeout: Duration,
    /// Whether the request may have reached the server (a connection was made).
    pub may_have_arrived: bool,
    pub call: Call,
}

impl TransportError {
    /// The one reading of a [`Failure`] of a `call` sent with `timeout`.
    pub fn new(failure: Failure, call: Call, timeout: Duration) -> TransportError {
        let may_have_arrived = !failure.never_sent();
        let (kind, detail) = match failure {
            Failure::Timeout { .. } => (TransportKind::Timeout, format!("no answer within {} s", timeout.as_secs())),
            Failure::Lost { detail } => (TransportKind::Lost, detail),
            Failure::Unreachable { detail } => (TransportKind::Unreachable, detail),
            Failure::Untrusted { reason: Untrusted::NotConfigured, detail } => (TransportKind::NotConfigured, detail),
            Failure::Untrusted { reason: Untrusted::Chain, detail } => (TransportKind::Untrusted, detail),
            Failure::HandshakeRefused { alert, detail } => (TransportKind::HandshakeRefused(alert), detail),
            Failure::Tls { detail } => (TransportKind::Tls, detail),
        };
        TransportError { kind, detail: redact_url_passwords(&detail), timeout, may_have_arrived, call }
    }

    /// A body whose reading broke off after the answer began: the connection was lost.
    pub fn broken_body(call: Call, timeout: Duration, detail: &str) -> TransportError {
        let detail = redact_url_passwords(detail);
        TransportError { kind: TransportKind::Lost, detail, timeout, may_have_arrived: true, call }
    }

    /// A write that may have been carried out although no answer came back.
    pub fn maybe_sent(&self) -> bool {
        self.call == Call::Write && self.may_have_arrived
    }

    /// A refusal of the TLS handshake or of the server's certificate: retrying does not help,
    /// configuration does.
    pub fn is_tls(&self) -> bool {
        matches!(
            self.kind,
            TransportKind::Untrusted
                | TransportKind::NotConfigured
                | TransportKind::HandshakeRefused(_)
                | TransportKind::Tls
        )
    }

    pub fn timeout_secs(&self) -> u64 {
        self.timeout.as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(30);

    #[test]
    fn each_failure_has_one_kind_and_a_redacted_detail() {
        let lost =
            TransportError::new(Failure::Lost { detail: "reset via http://u:pw@proxy:3128".into() }, Call::Read, T);
        assert_eq!(lost.kind, TransportKind::Lost);
        assert_eq!(lost.detail, "reset via http://u:REMOVED@proxy:3128");
        let timeout = TransportError::new(Failure::Timeout { connected: true }, Call::Read, T);
        assert_eq!((timeout.kind, timeout.detail.as_str()), (TransportKind::Timeout, "no answer within 30 s"));
        let pinned = Failure::Untrusted { reason: Untrusted::NotConfigured, detail: "self-signed".into() };
        assert_eq!(TransportError::new(pinned, Call::Read, T).kind, TransportKind::NotConfigured);
        let alert = Failure::HandshakeRefused { alert: AlertDescription::CertificateRequired, detail: "x".into() };
        let refused = TransportError::new(alert, Call::Read, T);
        assert_eq!(refused.kind, TransportKind::HandshakeRefused(AlertDescription::CertificateRequired));
        assert!(refused.is_tls() && !lost.is_tls());
    }

    #[test]
    fn only_a_write_that_may_have_arrived_is_maybe_sent() {
        let lost = || Failure::Lost { detail: "reset".into() };
        assert!(TransportError::new(lost(), Call::Write, T).maybe_sent());
        assert!(!TransportError::new(lost(), Call::Read, T).maybe_sent(), "a read is harmless to repeat");
        let refused = Failure::Unreachable { detail: "refused".into() };
        assert!(!TransportError::new(refused, Call::Write, T).maybe_sent(), "nothing left");
        assert!(TransportError::new(Failure::Timeout { connected: true }, Call::Write, T).maybe_sent());
        assert!(!TransportError::new(Failure::Timeout { connected: false }, Call::Write, T).maybe_sent());
    }
}
