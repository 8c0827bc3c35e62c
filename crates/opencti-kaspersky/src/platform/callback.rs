//! `CONNECTOR_LISTEN_PROTOCOL=API`: the platform's worker posts each listen message to our HTTP
//! endpoint. Answers as pycti's: 202 once processed, 401 bad credentials, 400 bad JSON, 500 when
//! processing could not finish (the worker then requeues the message, so nothing is lost).

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tiny_http::{Header, Method, Response, Server};

use super::jwt::Verifier;
use super::log;
use super::message::{Context, Handled, Message};

/// The largest body accepted (a playbook bundle can be large, but not unbounded).
const MAX_BODY: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address}: {reason}")]
pub struct BindError {
    address: String,
    reason: String,
}

/// A running callback server.
pub struct Callback {
    server: Arc<Server>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Callback {
    /// Binds and starts `workers` threads; each handles one message at a time.
    pub fn start(
        address: &str,
        path: String,
        verifier: Verifier,
        context: Arc<Context>,
        workers: usize,
        stop: Arc<AtomicBool>,
    ) -> Result<Callback, BindError> {
        let server =
            Server::http(address).map_err(|e| BindError { address: address.to_owned(), reason: e.to_string() })?;
        let server = Arc::new(server);
        let verifier = Arc::new(verifier);
        let threads = (0..workers.max(1))
            .map(|_| {
                let (server, verifier, context, path, stop) =
                    (Arc::clone(&server), Arc::clone(&verifier), Arc::clone(&context), path.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match server.recv_timeout(Duration::from_millis(200)) {
                            Ok(Some(request)) => serve(request, &path, &verifier, &context),
                            Ok(None) => {}
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        Ok(Callback { server, threads })
    }

    /// The bound port (the configured one, or the one the system chose for port 0).
    pub fn port(&self) -> Option<u16> {
        self.server.server_addr().to_ip().map(|a| a.port())
    }

    /// Waits for the worker threads (they end once `stop` is set).
    pub fn join(self) {
        self.server.unblock();
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn serve(mut request: tiny_http::Request, path: &str, verifier: &Verifier, context: &Context) {
    let url_path = request.url().split('?').next().unwrap_or_default().to_owned();
    if url_path != path {
        return answer(request, 404, json!({ "error": "Not found" }));
    }
    if *request.method() != Method::Post {
        return answer(request, 405, json!({ "error": "Method not allowed" }));
    }
    let authorization =
        request.headers().iter().find(|h| h.field.equiv("Authorization")).map(|h| h.value.as_str().to_owned());
    if verifier.check(authorization.as_deref()).is_err() {
        log::warn("callback refused: invalid credentials");
        return answer(request, 401, json!({ "error": "Invalid credentials" }));
    }
    let mut body = Vec::new();
    if request.as_reader().take(MAX_BODY + 1).read_to_end(&mut body).is_err() || body.len() as u64 > MAX_BODY {
        return answer(request, 400, json!({ "error": "Invalid JSON payload" }));
    }
    let message = match Message::parse(&body) {
        Ok(message) => message,
        Err(e) => {
            log::warn(&format!("callback refused: {e}"));
            return answer(request, 400, json!({ "error": "Invalid JSON payload" }));
        }
    };
    match context.handle(&message) {
        Handled::Processed | Handled::InError(_) => {
            answer(request, 202, json!({ "message": "Message successfully received" }))
        }
        Handled::Failed(reason) => {
            log::error(&format!("message for {} not processed: {reason}", message.entity_id));
            answer(request, 500, json!({ "error": "Error processing message" }))
        }
    }
}

fn answer(request: tiny_http::Request, status: u16, body: Value) {
    let mut response = Response::from_string(body.to_string()).with_status_code(status);
    if let Ok(header) = Header::from_bytes("Content-Type", "application/json") {
        response = response.with_header(header);
    }
    // The client may have gone; nothing more to do then.
    let _ = request.respond(response);
}
