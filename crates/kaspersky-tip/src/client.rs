//! The HTTP side: one GET to TIP or OpenTIP, with the status codes mapped to actionable errors.

use std::time::Duration;

use cortex_worker::CaSource;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::RETRY_AFTER;
use serde_json::{Map, Value};

use crate::config::{Auth, Backend, Settings};
use crate::error::{TipError, chain};
use crate::observable::{Observable, percent_encode};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = concat!("kaspersky-tip-cortex-analyzer/", env!("CARGO_PKG_VERSION"));

/// What the service said about the object.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// HTTP 200 with the response object (empty when the body was empty).
    Found(Map<String, Value>),
    /// HTTP 404: the object is unknown to Kaspersky.
    NotFound,
}

/// The URL requested (without credentials; the OpenTIP query is added by `RequestBuilder::query`).
pub fn lookup_url(settings: &Settings, observable: &Observable) -> String {
    let kind = observable.kind.as_str();
    match settings.backend {
        Backend::Tip => format!(
            "{}/api/{kind}/{}?sections={}&count={}&format=json",
            settings.api_url,
            percent_encode(&observable.value),
            settings.sections(observable.kind).join(","),
            settings.count
        ),
        Backend::OpenTip => {
            format!("{}/api/v1/search/{kind}?request={}", settings.api_url, percent_encode(&observable.value))
        }
    }
}

pub fn lookup(settings: &Settings, observable: &Observable) -> Result<Answer, TipError> {
    let client = http_client(settings)?;
    let url = lookup_url(settings, observable);
    let request = authenticate(client.get(&url), &settings.auth).header("Accept", "application/json");
    let response = request.send().map_err(|error| transport_error(settings, error))?;
    interpret(settings, observable, response)
}

fn authenticate(request: RequestBuilder, auth: &Auth) -> RequestBuilder {
    match auth {
        Auth::Bearer(token) => request.bearer_auth(token.expose()),
        Auth::ApiKey(key) => request.header("x-api-key", key.expose()),
        Auth::CertificateBasic { username, password, .. } => request.basic_auth(username, Some(password.expose())),
    }
}

fn interpret(settings: &Settings, observable: &Observable, response: Response) -> Result<Answer, TipError> {
    let service = settings.backend.service();
    let status = response.status();
    match status {
        StatusCode::OK => {
            let bytes = response.bytes().map_err(|error| TipError::BadBody { service, detail: chain(&error) })?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Answer::Found(Map::new()));
            }
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(Answer::Found(map)),
                Ok(other) => {
                    Err(TipError::BadBody { service, detail: format!("expected an object, got {}", type_name(&other)) })
                }
                Err(error) => Err(TipError::BadBody { service, detail: error.to_string() }),
            }
        }
        StatusCode::NOT_FOUND => Ok(Answer::NotFound),
        StatusCode::BAD_REQUEST => Err(TipError::BadRequest {
            service,
            data_type: observable.data_type.clone(),
            value: observable.value.chars().take(200).collect(),
        }),
        StatusCode::UNAUTHORIZED => Err(match (&settings.auth, settings.backend) {
            (Auth::CertificateBasic { .. }, _) => TipError::Unauthorized {
                service,
                credentials: "bad user name, password or client certificate",
                items: "`username`, `password` and `client_cert`",
                portal: "https://tip.kaspersky.com",
            },
            (_, Backend::Tip) => TipError::Unauthorized {
                service,
                credentials: "bad API key",
                items: "`api_key` (the TIP API token; it expires after at most a year)",
                portal: "https://tip.kaspersky.com",
            },
            (_, Backend::OpenTip) => TipError::Unauthorized {
                service,
                credentials: "bad API key",
                items: "`api_key` (the OpenTIP API token; it expires after at most a year)",
                portal: "https://opentip.kaspersky.com",
            },
        }),
        StatusCode::FORBIDDEN => Err(TipError::Forbidden { service, quota: quota_hint(response) }),
        StatusCode::URI_TOO_LONG => Err(TipError::UriTooLong { service }),
        StatusCode::TOO_MANY_REQUESTS => {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(|value| value.chars().take(64).collect::<String>());
            let advice = match retry_after {
                Some(seconds) if seconds.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("retry the analysis in {seconds} seconds (Retry-After).")
                }
                Some(date) => format!("retry the analysis after {date} (Retry-After)."),
                None => "retry the analysis in a few minutes, and run fewer lookups at once.".to_owned(),
            };
            Err(TipError::RateLimited { service, advice })
        }
        status if status.is_server_error() => Err(TipError::ServerError { service, status: status.as_u16() }),
        status => Err(TipError::UnexpectedStatus { service, status: status.as_u16() }),
    }
}

/// `(DayRequests of DayQuota used today)` when a 403 body carries `LicenseInfo`.
fn quota_hint(response: Response) -> String {
    let Ok(body) = response.json::<Value>() else {
        return String::new();
    };
    let license = crate::report::section(body.as_object(), "LicenseInfo");
    let number = |name: &str| crate::report::section(license.and_then(Value::as_object), name).and_then(Value::as_u64);
    match (number("DayRequests"), number("DayQuota")) {
        (Some(used), Some(quota)) => format!(" ({used} of {quota} daily requests used)"),
        _ => String::new(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn transport_error(settings: &Settings, error: reqwest::Error) -> TipError {
    let service = settings.backend.service();
    if error.is_timeout() {
        TipError::Timeout { service, url: settings.api_url.clone(), seconds: settings.timeout.as_secs() }
    } else {
        // Without the URL: it carries the looked-up value, which the message names elsewhere if needed.
        let detail = chain(&error.without_url());
        let url = settings.api_url.clone();
        // rustls's wording for a server certificate that fails verification.
        if let Some(at) = detail.find("invalid peer certificate") {
            return TipError::UntrustedServer { service, url, detail: detail[at..].to_owned() };
        }
        if let Some(advice) = client_certificate_advice(settings, &detail) {
            let at = detail.find(ALERT).unwrap_or_default();
            return TipError::HandshakeRefused { service, url, detail: detail[at..].to_owned(), advice };
        }
        TipError::Unreachable { service, url, detail }
    }
}

/// rustls's wording for an alert the server sent to abort the handshake.
const ALERT: &str = "received fatal alert: ";

/// What to do when TIP aborts the handshake with an alert about the (missing or refused) client certificate.
fn client_certificate_advice(settings: &Settings, detail: &str) -> Option<&'static str> {
    let alert = detail.split(ALERT).nth(1)?.split(|c: char| !c.is_ascii_alphanumeric()).next()?;
    let about_certificate = matches!(
        alert,
        "CertificateRequired"
            | "BadCertificate"
            | "UnsupportedCertificate"
            | "CertificateRevoked"
            | "CertificateExpired"
            | "CertificateUnknown"
            | "UnknownCA"
            | "AccessDenied"
            | "DecryptError"
            | "HandshakeFailure"
    );
    match (&settings.auth, settings.backend) {
        _ if !about_certificate => None,
        (Auth::CertificateBasic { .. }, _) => Some(
            "it did not accept the client certificate. Check that `client_cert` holds the current certificate Kaspersky issued for this account (not expired or revoked) and its private key.",
        ),
        (_, Backend::Tip) if alert == "CertificateRequired" => Some(
            "it requires a TLS client certificate. Set `client_cert` (the certificate and key from Kaspersky, in PEM) with `username` and `password`.",
        ),
        (_, Backend::Tip) => Some(
            "it may require a TLS client certificate. If so, set `client_cert` (the certificate and key from Kaspersky, in PEM) with `username` and `password`.",
        ),
        (_, Backend::OpenTip) => None,
    }
}

/// The HTTP client: system trust store plus Cortex's CA sources, Cortex's proxies, the TIP client
/// certificate when configured, explicit timeouts. Certificate verification is never turned off.
fn http_client(settings: &Settings) -> Result<Client, TipError> {
    let mut builder = Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT.min(settings.timeout))
        .timeout(settings.timeout)
        .user_agent(USER_AGENT)
        // A redirect would carry the OpenTIP `x-api-key` header to wherever it points: neither
        // service redirects API calls, so a 3xx is reported instead of followed.
        .redirect(reqwest::redirect::Policy::none());
    for source in &settings.http.ca_sources {
        let (origin, pem) = match source {
            CaSource::File { origin, path } => {
                let origin = format!("{origin} ({})", path.display());
                let pem = std::fs::read(path).map_err(|error| {
                    TipError::Client(format!("cannot read the CA certificates of {origin}: {error}"))
                })?;
                (origin, pem)
            }
            CaSource::Pem { origin, text } => (origin.clone(), text.clone().into_bytes()),
        };
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|certificates| !certificates.is_empty())
            .ok_or_else(|| TipError::Client(format!("no usable PEM CA certificate in {origin}")))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let Some(url) = &settings.http.proxy_https {
        let proxy = reqwest::Proxy::https(url)
            .map_err(|_| TipError::Client("the Cortex https proxy setting is not a valid URL".to_owned()))?;
        builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
    }
    if let Some(url) = &settings.http.proxy_http {
        let proxy = reqwest::Proxy::http(url)
            .map_err(|_| TipError::Client("the Cortex http proxy setting is not a valid URL".to_owned()))?;
        builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
    }
    if let Auth::CertificateBasic { client_cert, .. } = &settings.auth {
        let invalid = |reason: String| TipError::Config { item: "client_cert", reason };
        let pem = std::fs::read(client_cert)
            .map_err(|error| invalid(format!("cannot read {}: {error}", client_cert.display())))?;
        let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
            invalid(format!(
                "{} must hold the client certificate and its private key in PEM (convert the PFX from Kaspersky with openssl pkcs12 -nodes)",
                client_cert.display()
            ))
        })?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|error| TipError::Client(chain(&error)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cortex_worker::Job;
    use serde_json::json;

    fn settings(config: Value) -> Settings {
        let job = Job::from_input(json!({"dataType": "url", "data": "x", "config": config}), None).unwrap();
        Settings::from_job(&job).unwrap()
    }

    #[test]
    fn tip_url_encodes_the_object_in_the_path() {
        let s = settings(json!({"backend": "tip", "api_key": "k", "sections_url": "Industries", "count": 7}));
        let url = Observable::parse("url", "http://x.test/a?b=c#d").unwrap();
        assert_eq!(
            lookup_url(&s, &url),
            "https://tip.kaspersky.com/api/url/http%3A%2F%2Fx.test%2Fa%3Fb%3Dc%23d?sections=LicenseInfo,Zone,UrlGeneralInfo,Industries&count=7&format=json"
        );
    }

    #[test]
    fn only_certificate_alerts_from_tip_get_client_certificate_advice() {
        let tip = settings(json!({"backend": "tip", "api_key": "k"}));
        let cert = settings(json!({"backend": "tip", "client_cert": "/c.pem", "username": "u", "password": "p"}));
        let opentip = settings(json!({"backend": "opentip", "api_key": "k"}));
        let alert = |name: &str| format!("error sending request: connection error: received fatal alert: {name}");
        assert!(client_certificate_advice(&tip, &alert("CertificateRequired")).unwrap().starts_with("it requires"));
        assert!(client_certificate_advice(&tip, &alert("HandshakeFailure")).unwrap().starts_with("it may require"));
        assert!(client_certificate_advice(&cert, &alert("BadCertificate")).unwrap().contains("did not accept"));
        assert_eq!(client_certificate_advice(&tip, &alert("ProtocolVersion")), None);
        assert_eq!(client_certificate_advice(&opentip, &alert("CertificateRequired")), None);
        assert_eq!(client_certificate_advice(&tip, "connection refused"), None);
    }

    #[test]
    fn opentip_url_puts_the_object_in_the_query() {
        let s = settings(json!({"backend": "opentip", "api_key": "k"}));
        let ip = Observable::parse("ip", "2001:db8::1").unwrap();
        assert_eq!(lookup_url(&s, &ip), "https://opentip.kaspersky.com/api/v1/search/ip?request=2001%3Adb8%3A%3A1");
    }
}
