//! Settings with their origin, stacked: each program lists its sources from highest to lowest
//! (a responder: Cortex items, then `config.yml`; `mdr-token`: its flags, then `config.yml`) and
//! the first one that gives a value wins. The origin stays with the value for messages.

use std::fmt;
use std::path::PathBuf;

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Cortex,
    CommandLine,
    /// The utility's `config.yml`.
    File(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Cortex => f.write_str("Cortex configuration"),
            Source::CommandLine => f.write_str("command line"),
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Default => f.write_str("built-in default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Sourced<T> {
        Sourced { value, source }
    }
}

/// The MDR connection settings: the same names in `config.yml`, as Cortex items and, dashed, as
/// `mdr-token` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdrKey {
    ApiUrl,
    ClientId,
    TokenDir,
    SslCert,
}

impl MdrKey {
    pub const ALL: [MdrKey; 4] = [MdrKey::ApiUrl, MdrKey::ClientId, MdrKey::TokenDir, MdrKey::SslCert];

    /// The `config.yml` key and Cortex item.
    pub fn name(self) -> &'static str {
        match self {
            MdrKey::ApiUrl => "api_url",
            MdrKey::ClientId => "client_id",
            MdrKey::TokenDir => "token_dir",
            MdrKey::SslCert => "ssl_cert",
        }
    }

    /// The command-line flag, without its dashes.
    pub fn flag(self) -> &'static str {
        match self {
            MdrKey::ApiUrl => "api-url",
            MdrKey::ClientId => "client-id",
            MdrKey::TokenDir => "token-dir",
            MdrKey::SslCert => "ssl-cert",
        }
    }
}

impl fmt::Display for MdrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one source says about the MDR connection; unset fields leave the choice to lower sources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MdrLayer {
    pub api_url: Option<Sourced<String>>,
    pub client_id: Option<Sourced<String>>,
    pub token_dir: Option<Sourced<PathBuf>>,
    pub ssl_cert: Option<Sourced<PathBuf>>,
}

impl MdrLayer {
    /// Field by field, `self` wins over `lower`.
    pub fn or(self, lower: MdrLayer) -> MdrLayer {
        MdrLayer {
            api_url: self.api_url.or(lower.api_url),
            client_id: self.client_id.or(lower.client_id),
            token_dir: self.token_dir.or(lower.token_dir),
            ssl_cert: self.ssl_cert.or(lower.ssl_cert),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_higher_layer_wins_field_by_field() {
        let high = MdrLayer { client_id: Some(Sourced::new("c".into(), Source::Cortex)), ..MdrLayer::default() };
        let file = Source::File("conf/config.yml".into());
        let low = MdrLayer {
            client_id: Some(Sourced::new("other".into(), file.clone())),
            token_dir: Some(Sourced::new("conf".into(), file.clone())),
            ..MdrLayer::default()
        };
        let both = high.or(low);
        assert_eq!(both.client_id, Some(Sourced::new("c".into(), Source::Cortex)));
        assert_eq!(both.token_dir, Some(Sourced::new("conf".into(), file)));
        assert_eq!(both.api_url, None);
        assert_eq!(Source::Cortex.to_string(), "Cortex configuration");
        assert_eq!(MdrKey::ALL.map(MdrKey::flag), ["api-url", "client-id", "token-dir", "ssl-cert"]);
    }
}
