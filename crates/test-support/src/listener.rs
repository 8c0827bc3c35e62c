//! The TCP/TLS side shared by the stand-ins (MDR, TheHive, and the TIP stand-in of the analyzer's
//! tests): accept on 127.0.0.1, one thread per connection, keep-alive, the TLS handshake completed
//! first (so a refused client certificate reaches the client as an alert), and a handler that
//! turns each request into a response (or drops the connection).

use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::http::{self, Request, Response};

/// Idle keep-alive connections are closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client whose handshake failed gets to read the alert.
const ALERT_GRACE: Duration = Duration::from_secs(2);

/// Answers one request; `None` closes the connection without an answer (a dropped connection).
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: &Request) -> Option<Response>;

    /// A TLS handshake failed (e.g. a missing or unknown client certificate), with rustls' reason.
    fn handshake_failed(&self, _reason: &str) {}
}

/// A running listener; stops accepting when dropped.
pub struct Listener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Listener {
    /// Listens on 127.0.0.1:`port` (0: any free port), over TLS with `tls`; `name` names the threads.
    pub fn start(
        name: &str,
        port: u16,
        tls: Option<Arc<ServerConfig>>,
        handler: Arc<dyn Handler>,
    ) -> io::Result<Listener> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let accept_stop = Arc::clone(&stop);
        let conn_name = format!("{name}-conn");
        let acceptor = thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || accept_loop(&listener, &accept_stop, tls, &handler, &conn_name))?;
        Ok(Listener { addr, stop, acceptor: Some(acceptor) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept; connection threads notice `stop` after their current request.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    stop: &Arc<AtomicBool>,
    tls: Option<Arc<ServerConfig>>,
    handler: &Arc<dyn Handler>,
    name: &str,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (stop, tls, handler) = (Arc::clone(stop), tls.clone(), Arc::clone(handler));
        // Detached: a test tool; idle connections end on their read timeout.
        let _ = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || serve_connection(stream, tls.as_ref(), &*handler, &stop));
    }
}

fn serve_connection(stream: TcpStream, tls: Option<&Arc<ServerConfig>>, handler: &dyn Handler, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    match tls {
        Some(config) => {
            let Ok(conn) = ServerConnection::new(Arc::clone(config)) else {
                return;
            };
            let Some((conn, stream)) = handshake(conn, stream, handler) else {
                return;
            };
            let peer = conn.peer_certificates().and_then(|chain| chain.first()).map(|cert| cert.to_vec());
            serve_stream(StreamOwned::new(conn, stream), peer, handler, stop);
        }
        None => serve_stream(stream, None, handler, stop),
    }
}

/// Completes the TLS handshake; on failure tells the handler why and lets the client read the
/// alert rustls sent (closing with the client's bytes unread would reset the connection and lose it).
fn handshake(
    mut conn: ServerConnection,
    mut tcp: TcpStream,
    handler: &dyn Handler,
) -> Option<(ServerConnection, TcpStream)> {
    while conn.is_handshaking() {
        if let Err(error) = conn.complete_io(&mut tcp) {
            handler.handshake_failed(&error.to_string());
            let _ = tcp.shutdown(std::net::Shutdown::Write);
            let _ = tcp.set_read_timeout(Some(ALERT_GRACE));
            let _ = io::copy(&mut tcp, &mut io::sink());
            return None;
        }
    }
    Some((conn, tcp))
}

fn serve_stream<S: Read + Write>(stream: S, peer: Option<Vec<u8>>, handler: &dyn Handler, stop: &AtomicBool) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request = match http::read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                // Malformed HTTP (InvalidInput, see http.rs) gets a 400; I/O and TLS failures
                // (rustls reports InvalidData) just end the connection.
                if e.kind() == io::ErrorKind::InvalidInput {
                    let _ = Response::error(400, "malformed HTTP request").write_to(reader.get_mut(), false);
                }
                return;
            }
        };
        request.peer_certificate.clone_from(&peer);
        let keep_alive = request.keep_alive() && !stop.load(Ordering::SeqCst);
        let Some(response) = handler.handle(&request) else {
            return; // Fault::Drop: close without answering.
        };
        if response.write_to(reader.get_mut(), keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}
