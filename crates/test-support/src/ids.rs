//! Clock and identifier helpers.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Random bytes from the ring provider's CSPRNG (already a dependency through rustls).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut buf)
        .expect("the system random source is available");
    buf
}

/// Lower-case hex of `N` random bytes.
pub(crate) fn random_hex<const N: usize>() -> String {
    random_bytes::<N>().iter().map(|b| format!("{b:02x}")).collect()
}

/// A 20-character opaque id shaped like the real ones (`2NJMGXkBNGNeZ5iut24S`).
pub(crate) fn new_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<15>())
}

/// Milliseconds since the Unix epoch, as the API uses everywhere.
pub(crate) fn now_ms() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970");
    i64::try_from(d.as_millis()).expect("milliseconds fit in i64")
}

/// Seconds since the Unix epoch, as JWT claims use.
pub(crate) fn now_secs() -> i64 {
    now_ms() / 1000
}
