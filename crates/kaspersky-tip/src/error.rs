//! Every way a lookup can fail, with the text that reaches TheHive's `errorMessage` (never a secret).

use cortex_http::{TransportError, TransportKind};

use crate::observable::DATA_TYPES;

#[derive(Debug, thiserror::Error)]
pub enum TipError {
    #[error("Missing data field")]
    MissingData,
    #[error("This analyzer does not support the data type `{0}` (supported: {types})", types = DATA_TYPES.join(", "))]
    UnsupportedDataType(String),
    #[error("Invalid {data_type}: {reason}. Nothing was sent to Kaspersky.")]
    InvalidValue { data_type: String, reason: String },
    /// `item` is the Cortex configuration item to fix.
    #[error("Invalid configuration item `{item}`: {reason}")]
    Config { item: &'static str, reason: String },
    #[error(transparent)]
    Item(#[from] cortex_worker::ItemError),
    #[error(
        "The observable's TLP:{tlp} is above this analyzer's limit `tlp_limit` (TLP:{limit}): it was not sent to Kaspersky."
    )]
    TlpAboveLimit { tlp: &'static str, limit: &'static str },

    #[error(
        "{service} rejected the request as invalid (HTTP 400): it does not accept the {data_type} `{value}`. Check the observable's value and type."
    )]
    BadRequest { service: &'static str, data_type: String, value: String },
    #[error(
        "{service} refused the credentials (HTTP 401): {credentials}, or the portal's terms and conditions were not accepted. Check {items}, and sign in once at {portal} to accept the terms."
    )]
    Unauthorized { service: &'static str, credentials: &'static str, items: &'static str, portal: &'static str },
    #[error(
        "{service} denied the request (HTTP 403): the request quota is exhausted or the licence does not allow this lookup{quota}. Wait for the daily quota to reset, or check the licence/API access with Kaspersky."
    )]
    Forbidden { service: &'static str, quota: String },
    #[error(
        "{service} refused the request as too long (HTTP 414 URI Too Long): the URL must have at most 2000 characters."
    )]
    UriTooLong { service: &'static str },
    #[error("{service} is limiting the request rate (HTTP 429): {advice}")]
    RateLimited { service: &'static str, advice: String },
    #[error("{service} had a server error (HTTP {status}): retry the analysis later.")]
    ServerError { service: &'static str, status: u16 },
    #[error("{service} answered with an unexpected HTTP status {status}.")]
    UnexpectedStatus { service: &'static str, status: u16 },
    #[error("{service} sent a response that is not a JSON object: {detail}")]
    BadBody { service: &'static str, detail: String },
    /// No HTTP answer: timeout, lost or refused connection, refused certificate or handshake.
    /// `advice` is what to do about a handshake refused over the client certificate.
    #[error("{}", transport_message(service, url, Trouble::of(error, *advice)))]
    Transport { service: &'static str, url: String, error: TransportError, advice: Option<&'static str> },
    #[error("Cannot set up the HTTPS client: {0}")]
    Client(String),
}

/// What a request without an answer comes to for a TIP user, from the kind `cortex-http` decided:
/// the analyzer words it with Cortex items, the OpenCTI connector with its own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble<'a> {
    Timeout {
        seconds: u64,
    },
    /// The server's certificate is not trusted (`detail` says why).
    Untrusted {
        detail: &'a str,
    },
    /// The server refused the handshake over the client certificate.
    HandshakeRefused {
        detail: &'a str,
        advice: &'static str,
    },
    /// Anything else: refused, lost, or a TLS failure no setting of ours fixes.
    Unreachable {
        detail: &'a str,
    },
}

impl<'a> Trouble<'a> {
    pub fn of(error: &'a TransportError, advice: Option<&'static str>) -> Trouble<'a> {
        let detail = error.detail.as_str();
        match (error.kind, advice) {
            (TransportKind::Timeout, _) => Trouble::Timeout { seconds: error.timeout_secs() },
            (TransportKind::NotConfigured, _) => {
                Trouble::Untrusted { detail: "it is self-signed and is not the certificate configured in `cacerts`" }
            }
            (TransportKind::Untrusted, _) => Trouble::Untrusted { detail },
            (TransportKind::HandshakeRefused(_), Some(advice)) => Trouble::HandshakeRefused { detail, advice },
            (
                TransportKind::HandshakeRefused(_)
                | TransportKind::Tls
                | TransportKind::Unreachable
                | TransportKind::Lost,
                _,
            ) => Trouble::Unreachable { detail },
        }
    }
}

/// How the analyzer words a [`Trouble`] (the connector keeps this wording for a refused handshake).
pub fn transport_message(service: &str, url: &str, trouble: Trouble<'_>) -> String {
    match trouble {
        Trouble::Timeout { seconds } => format!(
            "No answer from {service} at {url} within {seconds} s (configuration item `timeout`): the service or the network is slow; retry later or raise `timeout`."
        ),
        Trouble::Unreachable { detail } => {
            format!("Cannot reach {service} at {url}: {detail}. Check `api_url`, the proxy settings and the network.")
        }
        Trouble::Untrusted { detail } => format!(
            "{service} at {url} presented a TLS certificate that is not trusted ({detail}). If a TLS-inspecting proxy or a private CA is in the way, add its CA certificate to the Cortex `cacerts` setting; otherwise check `api_url`."
        ),
        Trouble::HandshakeRefused { detail, advice } => {
            format!("{service} at {url} refused the TLS handshake ({detail}): {advice}")
        }
    }
}
