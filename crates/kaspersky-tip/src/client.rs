//! The HTTP side: one lookup GET to TIP or OpenTIP (retried as a read), status codes mapped to actionable errors.
//! With [`Service::patience`] set (the OpenCTI connector), 429 and 5xx answers are waited out a bounded
//! number of times before they become errors.

use cortex_http::{AlertDescription, Call, HttpClient, HttpConfig, SetupError, TransportError, TransportKind, causes};
use reqwest::StatusCode;
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::RETRY_AFTER;
use serde_json::{Map, Value};

use std::thread::sleep;
use std::time::Duration;

use crate::config::{Auth, Backend, Patience, Service};
use crate::error::TipError;
use crate::observable::{Observable, percent_encode};

const USER_AGENT: &str = concat!("kaspersky-tip-cortex-analyzer/", env!("CARGO_PKG_VERSION"));

/// What the service said about the object.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// HTTP 200 with the response object (empty when the body was empty).
    Found(Map<String, Value>),
    /// HTTP 404: the object is unknown to Kaspersky.
    NotFound,
}

/// The URL requested, query included (credentials go in headers or the TLS handshake, never in the URL).
pub fn lookup_url(settings: &Service, observable: &Observable) -> String {
    let kind = observable.kind.as_str();
    match settings.backend {
        Backend::Tip => format!(
            "{}/api/{kind}/{}?sections={}&count={}&format=json",
            settings.api_url.as_str(),
            percent_encode(&observable.value),
            settings.sections(observable.kind).join(","),
            settings.count
        ),
        Backend::OpenTip => {
            format!("{}/api/v1/search/{kind}?request={}", settings.api_url.as_str(), percent_encode(&observable.value))
        }
    }
}

pub fn lookup(settings: &Service, observable: &Observable) -> Result<Answer, TipError> {
    let http = http_client(settings)?;
    let url = lookup_url(settings, observable);
    let mut waited = 0;
    loop {
        let mut attempts = 0;
        let outcome = http.execute(Call::Read, &mut attempts, |client| {
            Ok::<_, TipError>(authenticate(client.get(&url), &settings.auth).header("Accept", "application/json"))
        })?;
        let response = outcome.map_err(|error| transport_error(settings, error))?;
        let wait = settings.patience.and_then(|patience| {
            patient_wait(patience, response.status().as_u16(), retry_after_seconds(&response), waited)
        });
        match wait {
            Some(wait) => {
                waited += 1;
                sleep(wait);
            }
            None => return interpret(settings, observable, response),
        }
    }
}

/// How long to wait before asking again after `status`, or `None` to report the answer now:
/// only 429 and 5xx, at most `patience.attempts` times, never longer than `patience.max_wait`
/// (a longer `Retry-After` is reported, not waited for).
pub fn patient_wait(patience: Patience, status: u16, retry_after: Option<u64>, waited: u32) -> Option<Duration> {
    if !(status == 429 || (500..=599).contains(&status)) || waited >= patience.attempts {
        return None;
    }
    let backoff = Duration::from_secs(1u64 << waited.min(6));
    let wait = retry_after.map_or(backoff, Duration::from_secs);
    (wait <= patience.max_wait).then_some(wait)
}

fn retry_after_seconds(response: &Response) -> Option<u64> {
    response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

fn authenticate(request: RequestBuilder, auth: &Auth) -> RequestBuilder {
    match auth {
        Auth::Bearer(token) => request.bearer_auth(token.expose()),
        Auth::ApiKey(key) => request.header("x-api-key", key.expose()),
        Auth::CertificateBasic { username, password, .. } => request.basic_auth(username, Some(password.expose())),
    }
}

fn interpret(settings: &Service, observable: &Observable, response: Response) -> Result<Answer, TipError> {
    let service = settings.backend.service();
    let status = response.status();
    match status {
        StatusCode::OK => {
            let bytes = response.bytes().map_err(|error| TipError::BadBody { service, detail: causes(&error) })?;
            decode_found(settings.backend, &bytes)
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

/// Decodes the body of a 200 answer: a JSON object, or nothing at all (an empty answer).
pub fn decode_found(backend: Backend, body: &[u8]) -> Result<Answer, TipError> {
    let service = backend.service();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Answer::Found(Map::new()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(Answer::Found(map)),
        Ok(other) => {
            Err(TipError::BadBody { service, detail: format!("expected an object, got {}", type_name(&other)) })
        }
        Err(error) => Err(TipError::BadBody { service, detail: error.to_string() }),
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

fn transport_error(settings: &Service, error: TransportError) -> TipError {
    // The detail comes from the error's causes, not reqwest's message: the URL carries the looked-up value.
    let advice = match error.kind {
        TransportKind::HandshakeRefused(alert) => client_certificate_advice(settings, alert),
        _ => None,
    };
    TipError::Transport { service: settings.backend.service(), url: settings.api_url.to_string(), error, advice }
}

/// What to do when TIP aborts the handshake with an alert about the (missing or refused) client certificate.
fn client_certificate_advice(settings: &Service, alert: AlertDescription) -> Option<&'static str> {
    use AlertDescription as A;
    let about_certificate = matches!(
        alert,
        A::CertificateRequired
            | A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
            | A::DecryptError
            | A::HandshakeFailure
    );
    match (&settings.auth, settings.backend) {
        _ if !about_certificate => None,
        (Auth::CertificateBasic { .. }, _) => Some(
            "it did not accept the client certificate. Check that `client_cert` holds the current certificate Kaspersky issued for this account (not expired or revoked) and its private key.",
        ),
        (_, Backend::Tip) if alert == A::CertificateRequired => Some(
            "it requires a TLS client certificate. Set `client_cert` (the certificate and key from Kaspersky, in PEM) with `username` and `password`.",
        ),
        (_, Backend::Tip) => Some(
            "it may require a TLS client certificate. If so, set `client_cert` (the certificate and key from Kaspersky, in PEM) with `username` and `password`.",
        ),
        (_, Backend::OpenTip) => None,
    }
}

/// The HTTP client (`cortex-http`): system trust store plus Cortex's CA sources, Cortex's proxies,
/// the TIP client certificate when configured, explicit timeouts, no redirects (a redirect would
/// carry the OpenTIP `x-api-key` header to wherever it points). Verification is never turned off.
fn http_client(settings: &Service) -> Result<HttpClient, TipError> {
    let mut config = HttpConfig::new(&settings.http, settings.timeout, USER_AGENT);
    let mut client_cert_path = String::new();
    if let Auth::CertificateBasic { client_cert, .. } = &settings.auth {
        client_cert_path = client_cert.display().to_string();
        let pem = std::fs::read(client_cert).map_err(|error| TipError::Config {
            item: "client_cert",
            reason: format!("cannot read {client_cert_path}: {error}"),
        })?;
        config = config.with_identity_pem(pem);
    }
    HttpClient::new(&config).map_err(|error| match error {
        SetupError::CaCertificates { origin, reason } => {
            TipError::Client(format!("cannot use the CA certificates of {origin}: {reason}"))
        }
        SetupError::Proxy { which, .. } => TipError::Client(format!("the Cortex {which} proxy setting is not a valid URL")),
        SetupError::Identity(_) => TipError::Config {
            item: "client_cert",
            reason: format!(
                "{client_cert_path} must hold the client certificate and its private key in PEM (convert the PFX from Kaspersky with openssl pkcs12 -nodes)"
            ),
        },
        SetupError::Client(reason) => TipError::Client(reason),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cortex_worker::Job;
    use serde_json::json;

    fn settings(config: Value) -> Service {
        let job = Job::from_input(json!({"dataType": "url", "data": "x", "config": config}), None).unwrap();
        crate::config::Settings::from_job(&job).unwrap().service
    }

    #[test]
    fn patience_waits_out_429_and_5xx_a_bounded_number_of_times() {
        let patience = Patience { attempts: 2, max_wait: Duration::from_secs(5) };
        assert_eq!(patient_wait(patience, 429, Some(3), 0), Some(Duration::from_secs(3)));
        assert_eq!(patient_wait(patience, 503, None, 0), Some(Duration::from_secs(1)));
        assert_eq!(patient_wait(patience, 500, None, 1), Some(Duration::from_secs(2)));
        assert_eq!(patient_wait(patience, 500, None, 2), None, "no third wait");
        assert_eq!(patient_wait(patience, 429, Some(60), 0), None, "too long a Retry-After is reported");
        for status in [200, 400, 401, 403, 404] {
            assert_eq!(patient_wait(patience, status, Some(1), 0), None, "{status}");
        }
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
        use AlertDescription as A;
        assert!(client_certificate_advice(&tip, A::CertificateRequired).unwrap().starts_with("it requires"));
        assert!(client_certificate_advice(&tip, A::HandshakeFailure).unwrap().starts_with("it may require"));
        assert!(client_certificate_advice(&cert, A::BadCertificate).unwrap().contains("did not accept"));
        assert_eq!(client_certificate_advice(&tip, A::ProtocolVersion), None);
        assert_eq!(client_certificate_advice(&opentip, A::CertificateRequired), None);
    }

    #[test]
    fn opentip_url_puts_the_object_in_the_query() {
        let s = settings(json!({"backend": "opentip", "api_key": "k"}));
        let ip = Observable::parse("ip", "2001:db8::1").unwrap();
        assert_eq!(lookup_url(&s, &ip), "https://opentip.kaspersky.com/api/v1/search/ip?request=2001%3Adb8%3A%3A1");
    }
}
