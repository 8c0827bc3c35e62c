//! The one outgoing HTTP(S) layer of the compiled Cortex binaries (the MDR client, the TheHive API
//! client, the TIP/OpenTIP analyzer): a crate of its own rather than a `cortex-worker` feature, so
//! that the job protocol stays free of reqwest and rustls while every client shares one set-up.
//!
//! - Trust: the system store, plus the configured CA material (`ssl_cert`, Cortex `cacerts`,
//!   `REQUESTS_CA_BUNDLE`); a self-signed server certificate that is exactly one of those
//!   certificates is accepted even with `CA:TRUE`, as Python `requests` does (see [`tls`]).
//! - Cortex's proxies, minus the hosts `NO_PROXY` exempts; redirects are not followed (a redirect
//!   would carry credentials elsewhere); a user agent; connect and request timeouts.
//! - Failures typed from the error's source chain ([`classify`]), never from its text, and read
//!   once into a service-neutral [`TransportError`] that every client's error wraps.
//! - One retry loop ([`HttpClient::execute`]) driven by one decision function ([`decide`]), each
//!   request's retries bounded by the client's [`Deadline`] (a job's end, or a budget per request).

mod failure;
mod retry;
mod settings;
mod tls;
mod transport;
mod url;

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use failure::{Failure, Untrusted, causes, classify};
pub use retry::{Attempt, Call, Deadline, MAX_ATTEMPTS, Next, RETRY_BUDGET_TIMEOUTS, decide};
pub use rustls::AlertDescription;
pub use settings::{CaSource, HttpSettings};
pub use transport::{TransportError, TransportKind};
pub use url::{HttpUrl, UrlError, display_safe};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the HTTP client is built from. No `Debug`: it holds proxy passwords and a private key.
#[derive(Clone)]
pub struct HttpConfig {
    /// Extra CA certificates (and pinned self-signed server certificates), in order.
    pub ca_sources: Vec<CaSource>,
    pub proxy_http: Option<String>,
    pub proxy_https: Option<String>,
    /// One request's timeout.
    pub timeout: Duration,
    /// When retries stop: [`Deadline::per_request`] unless the program is a job.
    pub deadline: Deadline,
    pub user_agent: &'static str,
    /// A TLS client certificate and its private key, in PEM.
    identity_pem: Option<Vec<u8>>,
}

impl HttpConfig {
    pub fn new(settings: &HttpSettings, timeout: Duration, user_agent: &'static str) -> HttpConfig {
        HttpConfig {
            ca_sources: settings.ca_sources.clone(),
            proxy_http: settings.proxy_http.clone(),
            proxy_https: settings.proxy_https.clone(),
            timeout,
            deadline: Deadline::per_request(),
            user_agent,
            identity_pem: None,
        }
    }

    /// A job's deadline ([`Deadline::for_job`]), instead of a fresh budget for each request.
    pub fn with_deadline(mut self, deadline: Deadline) -> HttpConfig {
        self.deadline = deadline;
        self
    }

    /// Puts a CA file (e.g. `ssl_cert`) before the Cortex sources.
    pub fn with_ca_file(mut self, origin: &str, path: PathBuf) -> HttpConfig {
        self.ca_sources.insert(0, CaSource::File { origin: origin.to_owned(), path });
        self
    }

    pub fn with_identity_pem(mut self, pem: Vec<u8>) -> HttpConfig {
        self.identity_pem = Some(pem);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("Cannot use the CA certificates from {origin}: {reason}")]
    CaCertificates { origin: String, reason: String },
    #[error("Invalid proxy URL in the Cortex proxy settings ({which}): {url}")]
    Proxy { which: &'static str, url: String },
    /// The client certificate PEM has no certificate or no usable private key.
    #[error("the client certificate is unusable: {0}")]
    Identity(String),
    #[error("Cannot set up the HTTPS client: {0}")]
    Client(String),
}

/// A built client and when its requests stop retrying.
#[derive(Debug)]
pub struct HttpClient {
    client: Client,
    deadline: Deadline,
    timeout: Duration,
}

impl HttpClient {
    pub fn new(config: &HttpConfig) -> Result<HttpClient, SetupError> {
        let mut builder = Client::builder()
            .use_preconfigured_tls(tls_config(config)?)
            .connect_timeout(CONNECT_TIMEOUT.min(config.timeout))
            .timeout(config.timeout)
            .user_agent(config.user_agent)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(url) = &config.proxy_https {
            let proxy = reqwest::Proxy::https(url).map_err(|_| proxy_error("https", url))?;
            builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
        }
        if let Some(url) = &config.proxy_http {
            let proxy = reqwest::Proxy::http(url).map_err(|_| proxy_error("http", url))?;
            builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
        }
        let client = builder.build().map_err(|e| SetupError::Client(causes(&e)))?;
        Ok(HttpClient { client, deadline: config.deadline, timeout: config.timeout })
    }

    /// For building requests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The one retry loop: sends what `build` makes until [`decide`] says stop, retrying until
    /// the client's [`Deadline`] for this request (taken when the call starts). `attempts` counts
    /// across calls of one logical request (a resend after a token refresh shares it). Returns the
    /// last answer, whatever its status, or the last failure read as a [`TransportError`].
    pub fn execute<E>(
        &self,
        call: Call,
        attempts: &mut u32,
        mut build: impl FnMut(&Client) -> Result<RequestBuilder, E>,
    ) -> Result<Result<Response, TransportError>, E> {
        let until = self.deadline.for_request(self.timeout);
        loop {
            *attempts += 1;
            let outcome = build(&self.client)?.send().map_err(|e| classify(&e));
            let attempt = match &outcome {
                Ok(response) => {
                    Attempt::Answered { status: response.status().as_u16(), retry_after: retry_after(response) }
                }
                Err(failure) => Attempt::Failed(failure),
            };
            match decide(call, attempt, *attempts, until.saturating_duration_since(Instant::now())) {
                Next::RetryAfter(wait) => sleep(wait),
                Next::Stop => return Ok(outcome.map_err(|failure| TransportError::new(failure, call, self.timeout))),
            }
        }
    }
}

fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn proxy_error(which: &'static str, url: &str) -> SetupError {
    SetupError::Proxy { which, url: display_safe(url) }
}

fn tls_config(config: &HttpConfig) -> Result<rustls::ClientConfig, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped, as reqwest's own native-roots loading does.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let mut configured = Vec::new();
    for source in &config.ca_sources {
        let (origin, pem) = read_source(source)?;
        let invalid = |reason: String| SetupError::CaCertificates { origin: origin.clone(), reason };
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("not a PEM bundle ({e})")))?;
        if certificates.is_empty() {
            return Err(invalid("no PEM certificate (-----BEGIN CERTIFICATE-----) found".to_owned()));
        }
        for certificate in certificates {
            roots.add(certificate.clone()).map_err(|e| invalid(format!("not a valid certificate ({e})")))?;
            configured.push(certificate);
        }
    }
    let verifier = tls::PinningVerifier::new(roots, configured, Arc::clone(&provider));
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Client(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    match &config.identity_pem {
        None => Ok(builder.with_no_client_auth()),
        Some(pem) => {
            let unusable = |what: &str| SetupError::Identity(what.to_owned());
            let chain =
                CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|_| unusable("not PEM"))?;
            if chain.is_empty() {
                return Err(unusable("no certificate"));
            }
            let key = PrivateKeyDer::from_pem_slice(pem).map_err(|_| unusable("no private key"))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| SetupError::Identity(e.to_string()))
        }
    }
}

/// The PEM text of one source and its name for messages (`origin (path)` for files).
fn read_source(source: &CaSource) -> Result<(String, Vec<u8>), SetupError> {
    match source {
        CaSource::File { origin, path } => {
            let origin = format!("{origin} ({})", path.display());
            let pem = std::fs::read(path)
                .map_err(|e| SetupError::CaCertificates { origin: origin.clone(), reason: e.to_string() })?;
            Ok((origin, pem))
        }
        CaSource::Pem { origin, text } => Ok((origin.clone(), text.clone().into_bytes())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_proxy_url_is_shown_without_its_credentials() {
        let error = proxy_error("https", "http://bob:hunter2@proxy.example:3128").to_string();
        assert_eq!(error, "Invalid proxy URL in the Cortex proxy settings (https): http://REMOVED@proxy.example:3128");
        let error = proxy_error("http", "proxy.example:port").to_string();
        assert!(error.ends_with("(http): proxy.example:port"), "{error}");
    }

    #[test]
    fn a_refused_connection_to_a_url_full_of_tls_words_is_unreachable_and_retried() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = HttpConfig::new(&HttpSettings::default(), Duration::from_secs(5), "test");
        let http = HttpClient::new(&config).unwrap();
        let url = format!("https://127.0.0.1:{port}/tls/certificate/handshake");
        let mut attempts = 0;
        let outcome = http.execute(Call::Write, &mut attempts, |client| Ok::<_, ()>(client.get(&url))).unwrap();
        let error = outcome.unwrap_err();
        assert_eq!(error.kind, TransportKind::Unreachable, "{error:?}");
        assert!(!error.detail.contains("/tls/"), "the detail is the causes, not the URL: {}", error.detail);
        assert_eq!(attempts, MAX_ATTEMPTS, "nothing was sent, so even a write is tried again");
    }

    /// A loopback server answering each connection with the next status of `statuses` (200 after
    /// them); returns its URL and the number of requests it got.
    fn scripted_server(statuses: &'static [u16]) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/status", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&count);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
                while lines.next().and_then(Result::ok).is_some_and(|line| !line.is_empty()) {}
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let status = statuses.get(n).copied().unwrap_or(200);
                let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        (url, count)
    }

    fn read_status(http: &HttpClient, url: &str) -> (u16, u32) {
        let mut attempts = 0;
        let outcome = http.execute(Call::Read, &mut attempts, |client| Ok::<_, ()>(client.get(url))).unwrap();
        (outcome.unwrap().status().as_u16(), attempts)
    }

    #[test]
    fn a_client_older_than_its_budget_still_retries_a_read_per_request_but_not_past_a_job_deadline() {
        let timeout = Duration::from_secs(1);
        let config = HttpConfig::new(&HttpSettings::default(), timeout, "test");
        let (url, served) = scripted_server(&[503]);
        let daemon = HttpClient::new(&config).unwrap();
        sleep(timeout * RETRY_BUDGET_TIMEOUTS + Duration::from_millis(300));
        assert_eq!(read_status(&daemon, &url), (200, 2), "the 503 was retried");
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 2);

        let (url, served) = scripted_server(&[503]);
        let job = HttpClient::new(&config.clone().with_deadline(Deadline::at(Instant::now()))).unwrap();
        assert_eq!(read_status(&job, &url), (503, 1), "past the job's deadline: no retry");
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
        let (url, _) = scripted_server(&[503]);
        let job = HttpClient::new(&config.with_deadline(Deadline::for_job(timeout))).unwrap();
        assert_eq!(read_status(&job, &url), (200, 2), "within the job's deadline: retried");
    }
}
