//! The observable to look up: TheHive data type + value, validated and normalised before any network call.

use std::net::IpAddr;

use crate::error::TipError;

/// The lookup type both services use in their paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hash,
    Ip,
    Domain,
    Url,
}

impl Kind {
    /// `hash`, `ip`, `domain`, `url`: the path segment and the `sections_*` suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hash => "hash",
            Kind::Ip => "ip",
            Kind::Domain => "domain",
            Kind::Url => "url",
        }
    }

    pub const ALL: [Kind; 4] = [Kind::Hash, Kind::Ip, Kind::Domain, Kind::Url];
}

/// TheHive data types this analyzer accepts (`fqdn` is looked up as a domain).
pub const DATA_TYPES: [&str; 5] = ["hash", "ip", "domain", "fqdn", "url"];

/// The service's URL length limit (longer gives HTTP 414).
pub const MAX_URL_LEN: usize = 2000;

/// A validated observable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observable {
    pub kind: Kind,
    /// TheHive's data type as given (`fqdn` stays `fqdn`).
    pub data_type: String,
    /// The normalised value sent to the service.
    pub value: String,
}

impl Observable {
    /// Hashes: 32/40/64 hex digits, optional `0x`, lower-cased. IPs: IPv4 or IPv6 (brackets allowed), written
    /// canonically. Domains/FQDNs: dotted labels of letters, digits, `-`, `_`, lower-cased, trailing dot
    /// removed. URLs: at most 2000 characters, no spaces or control characters.
    pub fn parse(data_type: &str, data: &str) -> Result<Observable, TipError> {
        let data = data.trim();
        let invalid = |reason: String| TipError::InvalidValue { data_type: data_type.to_owned(), reason };
        let (kind, value) = match data_type {
            "hash" => (Kind::Hash, parse_hash(data).map_err(invalid)?),
            "ip" => (Kind::Ip, parse_ip(data).map_err(invalid)?),
            "domain" | "fqdn" => (Kind::Domain, parse_domain(data).map_err(invalid)?),
            "url" => (Kind::Url, parse_url(data).map_err(invalid)?),
            other => return Err(TipError::UnsupportedDataType(other.to_owned())),
        };
        Ok(Observable { kind, data_type: data_type.to_owned(), value })
    }
}

fn parse_hash(data: &str) -> Result<String, String> {
    let hex = data.strip_prefix("0x").or_else(|| data.strip_prefix("0X")).unwrap_or(data);
    if matches!(hex.len(), 32 | 40 | 64) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!("`{}` is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hexadecimal digits)", shorten(data)))
    }
}

fn parse_ip(data: &str) -> Result<String, String> {
    let bare = data.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(data);
    bare.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| format!("`{}` is not an IPv4 or IPv6 address", shorten(data)))
}

fn parse_domain(data: &str) -> Result<String, String> {
    let name = data.strip_suffix('.').unwrap_or(data).to_lowercase();
    let bad = || format!("`{}` is not a valid domain name", shorten(data));
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.chars().count() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    };
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(bad());
    }
    Ok(name)
}

fn parse_url(data: &str) -> Result<String, String> {
    if data.is_empty() {
        return Err("the URL is empty".to_owned());
    }
    let length = data.chars().count();
    if length > MAX_URL_LEN {
        return Err(format!("the URL has {length} characters; Kaspersky accepts at most {MAX_URL_LEN}"));
    }
    if data.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{}` contains spaces or control characters", shorten(data)));
    }
    Ok(data.to_owned())
}

/// At most 100 characters of a value for an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `/`, `?`, `#`, `:` are encoded too).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn value(data_type: &str, data: &str) -> Result<String, String> {
        Observable::parse(data_type, data).map(|o| o.value).map_err(|e| e.to_string())
    }

    #[test]
    fn hashes() {
        let md5 = "44D88612FEA8A8F36DE82E1278ABB02F";
        assert_eq!(value("hash", md5).unwrap(), md5.to_lowercase());
        assert_eq!(value("hash", &format!(" 0x{md5} ")).unwrap(), md5.to_lowercase());
        assert_eq!(value("hash", &"a".repeat(40)).unwrap().len(), 40);
        assert_eq!(value("hash", &"b".repeat(64)).unwrap().len(), 64);
        for bad in ["", "abc", &"a".repeat(33), &"g".repeat(32), &"a".repeat(128)] {
            let error = value("hash", bad).unwrap_err();
            assert!(error.contains("is not an MD5, SHA-1 or SHA-256 hash"), "{error}");
        }
    }

    #[test]
    fn ips() {
        assert_eq!(value("ip", "192.0.2.1").unwrap(), "192.0.2.1");
        assert_eq!(value("ip", "[2001:DB8:0::7]").unwrap(), "2001:db8::7");
        for bad in ["192.0.2", "http://192.0.2.1", "999.1.1.1", "example.com"] {
            assert!(value("ip", bad).unwrap_err().contains("is not an IPv4 or IPv6 address"));
        }
    }

    #[test]
    fn domains() {
        assert_eq!(value("domain", "Example.COM.").unwrap(), "example.com");
        assert_eq!(value("fqdn", "a_b.x-y.example").unwrap(), "a_b.x-y.example");
        assert_eq!(value("domain", "bücher.example").unwrap(), "bücher.example");
        let long_label = format!("{}.com", "a".repeat(64));
        for bad in ["com", "a..b", "-a.com", "a-.com", "a b.com", "a/b.com", long_label.as_str()] {
            assert!(value("domain", bad).unwrap_err().contains("not a valid domain name"), "{bad}");
        }
        let observable = Observable::parse("fqdn", "www.example.com").unwrap();
        assert_eq!((observable.kind, observable.data_type.as_str()), (Kind::Domain, "fqdn"));
    }

    #[test]
    fn urls() {
        assert_eq!(value("url", " http://x.test/a?b=c#d ").unwrap(), "http://x.test/a?b=c#d");
        let max = format!("http://x.test/{}", "a".repeat(MAX_URL_LEN - 14));
        assert!(value("url", &max).is_ok());
        let error = value("url", &format!("{max}a")).unwrap_err();
        assert!(error.contains("2001 characters; Kaspersky accepts at most 2000"), "{error}");
        assert!(value("url", "http://x.test/a b").unwrap_err().contains("spaces"));
        assert!(value("url", "").is_err());
    }

    #[test]
    fn other_types_are_not_supported() {
        let error = Observable::parse("mail", "a@b.c").unwrap_err().to_string();
        assert!(error.contains("`mail`"), "{error}");
    }

    #[test]
    fn percent_encoding_encodes_reserved_characters() {
        assert_eq!(percent_encode("http://x.test/a?b=c&d#e"), "http%3A%2F%2Fx.test%2Fa%3Fb%3Dc%26d%23e");
        assert_eq!(percent_encode("2001:db8::7"), "2001%3Adb8%3A%3A7");
        assert_eq!(percent_encode("é~_-."), "%C3%A9~_-.");
    }
}
