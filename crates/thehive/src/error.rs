//! The one error type of the TheHive client. Its hints name the setting to fix as the program that
//! runs the client calls it: a responder's Cortex items (`thehive_url`) or `mdr-sync`'s
//! `config.yml` keys (`thehive.api_url`), chosen once by the [`Naming`] given at construction.

use cortex_http::{SetupError, TransportError, TransportKind};

/// How the running program names the settings the hints point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Naming {
    pub url: &'static str,
    pub api_key: &'static str,
    pub version: &'static str,
    /// The CA bundle or pinned certificate for TheHive.
    pub ssl_cert: &'static str,
    /// Another place trusted certificates come from, if the program has one.
    pub other_trust: Option<&'static str>,
    /// The setting naming the organisation; None when it comes from elsewhere (a job's parameters).
    pub organisation: Option<&'static str>,
    pub incident_field: &'static str,
}

impl Naming {
    /// A Cortex responder's configuration items.
    pub const RESPONDER: Naming = Naming {
        url: "`thehive_url`",
        api_key: "`thehive_api_key`",
        version: "`thehive_version`",
        ssl_cert: "`ssl_cert`",
        other_trust: Some("the Cortex `cacerts` setting"),
        organisation: None,
        incident_field: "`incident_custom_field`",
    };

    /// `mdr-sync`'s keys in the utility's `config.yml`.
    pub const SYNC_CONFIG: Naming = Naming {
        url: "`thehive.api_url`",
        api_key: "`thehive.api_key`",
        version: "`thehive.version`",
        ssl_cert: "`thehive.ssl_cert`",
        other_trust: None,
        organisation: Some("`thehive.organisation`"),
        incident_field: "`thehive.incident_custom_field`",
    };

    /// Where trusted certificates are configured, e.g. "`ssl_cert` or the Cortex `cacerts` setting".
    fn trust_places(&self) -> String {
        match self.other_trust {
            Some(other) => format!("{} or {other}", self.ssl_cert),
            None => self.ssl_cert.to_owned(),
        }
    }

    /// What to do about an untrusted chain.
    fn untrusted_fix(&self) -> String {
        let also = self.other_trust.map(|other| format!(", or add that CA to {other}")).unwrap_or_default();
        format!(
            "set {} to a PEM bundle that includes the CA that signed it (or the certificate itself when it is \
             self-signed){also}",
            self.ssl_cert
        )
    }

    /// How a request without an HTTP answer reads: the kind decided by `cortex-http`, the hint
    /// naming this program's setting.
    fn transport_message(&self, url: &str, error: &TransportError) -> String {
        let detail = &error.detail;
        match error.kind {
            TransportKind::NotConfigured => format!(
                "The TLS certificate of TheHive at {url} is not trusted: it is self-signed and is not the certificate \
                 configured in {}; put the certificate TheHive presents there",
                self.trust_places()
            ),
            TransportKind::Untrusted | TransportKind::HandshakeRefused(_) | TransportKind::Tls => {
                format!("The TLS certificate of TheHive at {url} is not trusted ({detail}): {}", self.untrusted_fix())
            }
            TransportKind::Timeout | TransportKind::Unreachable | TransportKind::Lost => {
                format!("Cannot reach TheHive at {url}: {detail}; check {} and the network", self.url)
            }
        }
    }

    /// The hint added to a refusal with HTTP `status`.
    pub fn status_hint(&self, status: u16) -> String {
        match status {
            401 => format!(" (check {})", self.api_key),
            403 => match self.organisation {
                Some(org) => {
                    format!(" (the API key's user lacks the permission in this organisation: check {org})")
                }
                None => " (the API key's user lacks the permission in this organisation)".to_owned(),
            },
            404 => format!(" (not found: check {} and {})", self.url, self.version),
            _ => String::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TheHiveError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("{value} is not a TheHive URL: set {} to an http(s) URL without credentials", naming.url)]
    InvalidUrl { value: String, naming: &'static Naming },
    #[error("the TheHive API {what} request cannot be resent")]
    NotRepeatable { what: String },
    #[error("TheHive API {what} answered HTTP {status}: {message}{hint}")]
    Status { what: String, status: u16, message: String, hint: String },
    /// No HTTP answer: timeout, lost or refused connection, untrusted certificate.
    #[error("{}", naming.transport_message(url, error))]
    Transport { url: String, error: TransportError, naming: &'static Naming },
    #[error("TheHive API {what} answered with an unexpected body: {detail}")]
    BadBody { what: String, detail: String },
    #[error("TheHive at {url} reports no version 4 or 5 ({reported}); set {}", naming.version)]
    UnknownVersion { url: String, reported: String, naming: &'static Naming },
    #[error(
        "TheHive has no case custom field `{name}` ({}): create it in TheHive as a text (string) field, or set {} \
         to the name of the field that holds the MDR incident id",
        naming.incident_field, naming.incident_field
    )]
    NoCustomField { name: String, naming: &'static Naming },
    #[error("The attachment {name} is larger than {limit_mb} MB (`attachment_max_mb`)")]
    TooLarge { name: String, limit_mb: u64 },
    #[error("Cannot store the attachment {name} in a temporary file: {reason}")]
    Spool { name: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use cortex_http::{Call, Failure, Untrusted};
    use std::time::Duration;

    fn transport(failure: Failure, naming: &'static Naming) -> TheHiveError {
        let error = TransportError::new(failure, Call::Read, Duration::from_secs(30));
        TheHiveError::Transport { url: "https://h".to_owned(), error, naming }
    }

    fn untrusted(naming: &'static Naming) -> String {
        let failure = Failure::Untrusted { reason: Untrusted::Chain, detail: "UnknownIssuer".to_owned() };
        transport(failure, naming).to_string()
    }

    fn pinned(naming: &'static Naming) -> String {
        let failure = Failure::Untrusted { reason: Untrusted::NotConfigured, detail: "self-signed".to_owned() };
        transport(failure, naming).to_string()
    }

    #[test]
    fn hints_name_the_responder_items() {
        let n = &Naming::RESPONDER;
        assert_eq!(n.status_hint(401), " (check `thehive_api_key`)");
        assert_eq!(n.status_hint(404), " (not found: check `thehive_url` and `thehive_version`)");
        assert_eq!(n.status_hint(403), " (the API key's user lacks the permission in this organisation)");
        assert_eq!(n.status_hint(500), "");
        assert!(untrusted(n).ends_with(
            "set `ssl_cert` to a PEM bundle that includes the CA that signed it (or the certificate itself when it \
             is self-signed), or add that CA to the Cortex `cacerts` setting"
        ));
        let pinned = pinned(n);
        assert!(pinned.contains("configured in `ssl_cert` or the Cortex `cacerts` setting;"), "{pinned}");
        let far = transport(Failure::Unreachable { detail: "refused".to_owned() }, n).to_string();
        assert_eq!(far, "Cannot reach TheHive at https://h: refused; check `thehive_url` and the network");
        let slow = transport(Failure::Timeout { connected: true }, n).to_string();
        assert_eq!(
            slow,
            "Cannot reach TheHive at https://h: no answer within 30 s; check `thehive_url` and the network"
        );
        let field = TheHiveError::NoCustomField { name: "mdr-id".to_owned(), naming: n }.to_string();
        assert!(field.contains("`mdr-id` (`incident_custom_field`)"), "{field}");
    }

    #[test]
    fn hints_name_the_sync_config_keys() {
        let n = &Naming::SYNC_CONFIG;
        assert_eq!(n.status_hint(401), " (check `thehive.api_key`)");
        assert_eq!(n.status_hint(404), " (not found: check `thehive.api_url` and `thehive.version`)");
        assert!(n.status_hint(403).ends_with("check `thehive.organisation`)"));
        let message = untrusted(n);
        assert!(message.contains("set `thehive.ssl_cert` to a PEM bundle"), "{message}");
        assert!(!message.contains("cacerts") && !message.contains("thehive_"), "{message}");
        let pinned = pinned(n);
        assert!(pinned.contains("configured in `thehive.ssl_cert`;"), "{pinned}");
        let version = TheHiveError::UnknownVersion { url: "h".to_owned(), reported: "3".to_owned(), naming: n };
        assert!(version.to_string().ends_with("set `thehive.version`"), "{version}");
        let field = TheHiveError::NoCustomField { name: "mdr-incident-id".to_owned(), naming: n }.to_string();
        assert!(field.contains("or set `thehive.incident_custom_field`"), "{field}");
    }
}
