//! Minimal HTTP/1.1 framing: request parsing (Content-Length and chunked bodies) and response writing.

use std::io::{self, BufRead, Read, Write};

/// Largest body accepted; the sandbox is a test tool, not a file store.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest request head line accepted.
const MAX_LINE: usize = 64 * 1024;

/// One parsed HTTP request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query, still percent-encoded.
    pub path: String,
    pub version: String,
    /// Header names as the client spelt them; [`Request::header`] ignores case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// DER of the certificate the client presented in the TLS handshake (verified by rustls
    /// against the server config's client CA); `None` over plain HTTP or without one.
    pub peer_certificate: Option<Vec<u8>>,
}

impl Request {
    /// First header with that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the client wants the connection kept open after this exchange.
    pub(crate) fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.version == "HTTP/1.0" { conn.contains("keep-alive") } else { !conn.contains("close") }
    }
}

/// Reads one request; `Ok(None)` on a clean end of stream before any byte.
pub(crate) fn read_request<S: Read + Write>(reader: &mut io::BufReader<S>) -> io::Result<Option<Request>> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid("malformed request line"));
    };
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        version: version.to_owned(),
        headers: read_headers(reader)?,
        body: Vec::new(),
        peer_certificate: None,
    };
    if request.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        reader.get_mut().write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        reader.get_mut().flush()?;
    }
    request.body = read_body(reader, &request)?;
    Ok(Some(request))
}

fn read_headers<R: BufRead>(reader: &mut R) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("eof in headers"))?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line.split_once(':').ok_or_else(|| invalid("malformed header"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

fn read_body<R: BufRead>(reader: &mut R, request: &Request) -> io::Result<Vec<u8>> {
    let chunked = request.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(reader);
    }
    let len: usize = match request.header("content-length") {
        Some(v) => v.parse().map_err(|_| invalid("bad content-length"))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(invalid("body too large"));
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked<R: BufRead>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("eof in chunk size"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, then the final empty line.
            read_headers(reader)?;
            return Ok(body);
        }
        // `body.len() <= MAX_BODY` here, so this cannot overflow as `body.len() + size` could.
        if size > MAX_BODY - body.len() {
            return Err(invalid("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(invalid("missing chunk terminator"));
        }
    }
}

/// One line without its CRLF; `None` at end of stream.
fn read_line<R: BufRead>(reader: &mut R) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = reader.take(MAX_LINE as u64).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(invalid("line too long or truncated"));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    String::from_utf8(buf).map(Some).map_err(|_| invalid("non-UTF-8 header"))
}

/// Framing errors use `InvalidInput` so the server can tell them from TLS errors (`InvalidData`).
fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

/// A response ready to be written.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::raw(status, "application/json; charset=utf-8", value.to_string().into_bytes())
    }

    /// The JSON error shape `{"message": ...}`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, &serde_json::json!({ "message": message }))
    }

    /// Any body with a content type.
    pub fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self { status, headers: vec![("Content-Type".to_owned(), content_type.to_owned())], body }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Serializes status line, headers and body; always with Content-Length.
    pub(crate) fn write_to<W: Write>(&self, out: &mut W, keep_alive: bool) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        let conn = if keep_alive { "keep-alive" } else { "close" };
        head.push_str(&format!("Connection: {conn}\r\n\r\n"));
        out.write_all(head.as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_chunk_size_is_refused_not_a_panic() {
        let mut body: &[u8] = b"1\r\na\r\nffffffffffffffff\r\n";
        let error = read_chunked(&mut body).expect_err("too large");
        assert_eq!((error.kind(), error.to_string().as_str()), (io::ErrorKind::InvalidInput, "body too large"));
    }
}
