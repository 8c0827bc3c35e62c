//! The OpenCTI GraphQL client: pycti's operations as plain strings over blocking reqwest, with
//! a timeout on every call and bounded retries (connection refused or lost, 5xx, 429 with
//! `Retry-After`). GraphQL errors arrive as HTTP 200 with `errors[]`, as pycti reads them.

use std::time::Duration;

use serde_json::{Value, json};

use safekeeping::Secret;

use crate::config::OpenCtiConfig;

/// Attempts per call, the first included.
const MAX_ATTEMPTS: u32 = 5;
/// The longest wait between two attempts, whatever `Retry-After` asks for.
const MAX_WAIT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = concat!("opencti-kaspersky-enrichment/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No HTTP answer, read by `cortex-http` (its detail is the causes, passwords removed).
    #[error("OpenCTI could not be reached at {url}: {}", error.detail)]
    Unreachable { url: String, error: cortex_http::TransportError },
    #[error("OpenCTI answered HTTP {status} to {operation}")]
    Status { operation: &'static str, status: u16 },
    #[error("OpenCTI refused {operation}: {message}")]
    GraphQl { operation: &'static str, message: String },
    #[error("OpenCTI's answer to {operation} is not what pycti expects: {detail}")]
    Shape { operation: &'static str, detail: String },
    #[error("cannot set up the HTTP client for OpenCTI: {0}")]
    Setup(String),
}

/// A GraphQL client for one platform. Cheap to share between threads.
pub struct OpenCti {
    client: reqwest::blocking::Client,
    endpoint: String,
    token: Secret,
    headers: Vec<(String, String)>,
    retry_pause: Duration,
    timeout: Duration,
}

impl OpenCti {
    pub fn new(config: &OpenCtiConfig, ca_bundle: Option<&std::path::Path>) -> Result<OpenCti, ApiError> {
        let client = if config.ssl_verify {
            let mut http =
                cortex_http::HttpConfig::new(&cortex_http::HttpSettings::default(), config.timeout, USER_AGENT);
            if let Some(path) = ca_bundle {
                http = http.with_ca_file("REQUESTS_CA_BUNDLE", path.to_path_buf());
            }
            cortex_http::HttpClient::new(&http).map_err(|e| ApiError::Setup(e.to_string()))?.client().clone()
        } else {
            // OPENCTI_SSL_VERIFY=false, set on purpose (pycti's default, not ours): the start-up log warns.
            reqwest::blocking::Client::builder()
                .danger_accept_invalid_certs(true)
                .timeout(config.timeout)
                .connect_timeout(config.timeout.min(Duration::from_secs(10)))
                .user_agent(USER_AGENT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| ApiError::Setup(cortex_http::causes(&e)))?
        };
        Ok(OpenCti {
            client,
            endpoint: format!("{}/graphql", config.url),
            token: config.token.clone(),
            headers: config.custom_headers.clone(),
            retry_pause: Duration::from_millis(500),
            timeout: config.timeout,
        })
    }

    /// Shorter pauses between attempts (tests).
    pub fn with_retry_pause(mut self, pause: Duration) -> OpenCti {
        self.retry_pause = pause;
        self
    }

    /// One operation; returns `data`. Retries what a busy or restarting platform answers.
    pub fn call(&self, operation: &'static str, query: &str, variables: Value) -> Result<Value, ApiError> {
        let body = json!({ "query": query, "variables": variables });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .client
                .post(&self.endpoint)
                .bearer_auth(self.token.expose())
                .header("Content-Type", "application/json");
            for (name, value) in &self.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let wait = match request.json(&body).send() {
                Err(e) => {
                    let failure = cortex_http::classify(&e);
                    if attempt >= MAX_ATTEMPTS || !retryable_failure(&failure) {
                        // A call may be a mutation: read as a write that may have arrived.
                        let error = cortex_http::TransportError::new(failure, cortex_http::Call::Write, self.timeout);
                        return Err(ApiError::Unreachable { url: self.endpoint.clone(), error });
                    }
                    None
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    if status == 200 {
                        return read_data(operation, response);
                    }
                    if attempt >= MAX_ATTEMPTS || !(status == 429 || status >= 500) {
                        return Err(ApiError::Status { operation, status });
                    }
                    retry_after(&response)
                }
            };
            let backoff = self.retry_pause * 2u32.pow(attempt - 1);
            std::thread::sleep(wait.unwrap_or(backoff).min(MAX_WAIT));
        }
    }
}

fn retryable_failure(failure: &cortex_http::Failure) -> bool {
    // Nothing was sent, or the connection broke: tried again. A timeout after the request left is
    // not (the platform may still be working on it); TLS refusals never heal by themselves.
    matches!(
        failure,
        cortex_http::Failure::Unreachable { .. }
            | cortex_http::Failure::Lost { .. }
            | cortex_http::Failure::Timeout { connected: false }
    )
}

fn retry_after(response: &reqwest::blocking::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

fn read_data(operation: &'static str, response: reqwest::blocking::Response) -> Result<Value, ApiError> {
    let mut answer: Value =
        response.json().map_err(|e| ApiError::Shape { operation, detail: format!("not JSON ({e})") })?;
    if let Some(errors) = answer.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        let message = errors
            .iter()
            .map(|e| e.get("message").and_then(Value::as_str).unwrap_or("unknown error"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ApiError::GraphQl { operation, message: cortex_http::display_safe(&message) });
    }
    match answer.get_mut("data").map(Value::take) {
        Some(data) if data.is_object() => Ok(data),
        _ => Err(ApiError::Shape { operation, detail: "no `data` object".into() }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_platform_is_named_with_the_causes_not_a_debug_dump() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let config = OpenCtiConfig {
            url: url.clone(),
            token: Secret::new("secret-token"),
            ssl_verify: true,
            custom_headers: Vec::new(),
            timeout: Duration::from_secs(5),
        };
        let api = OpenCti::new(&config, None).unwrap().with_retry_pause(Duration::from_millis(1));
        let error = api.call("ping", "query { about { version } }", json!({})).unwrap_err();
        let ApiError::Unreachable { error: transport, .. } = &error else { panic!("{error:?}") };
        assert_eq!(transport.kind, cortex_http::TransportKind::Unreachable);
        let message = error.to_string();
        assert!(message.starts_with(&format!("OpenCTI could not be reached at {url}/graphql: ")), "{message}");
        assert!(!message.contains("Unreachable {") && !message.contains("secret-token"), "{message}");
    }
}
