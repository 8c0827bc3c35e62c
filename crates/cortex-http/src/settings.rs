//! Proxies and extra trust anchors for outgoing HTTPS, taken from where Cortex puts them.
//!
//! Cortex adds `proxy_http`/`proxy_https` to `config` (and a nested `proxy.{http,https}` copy), writes a
//! non-blank `config.cacerts` to `input/cacerts` and points `REQUESTS_CA_BUNDLE` at that file; Python
//! `requests` honours all of this implicitly, so compiled responders must do it explicitly.
//!
//! The sources: docs/cortex-jobs.md#how-config-is-built (proxies) and #job-folder (`cacerts`).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use safekeeping::redact::{redact_url_password, redact_userinfo_password};

const ORIGIN_INPUT_FILE: &str = "Cortex cacerts (input/cacerts)";
const ORIGIN_CONFIG: &str = "Cortex cacerts (config)";
const ORIGIN_ENV: &str = "REQUESTS_CA_BUNDLE";

/// Where to get extra trust anchors and proxies for outgoing HTTPS; HTTP clients consume this.
#[derive(Clone, PartialEq, Default)]
pub struct HttpSettings {
    /// `config.proxy.http`, else `config.proxy_http` (non-blank strings, trimmed).
    pub proxy_http: Option<String>,
    /// `config.proxy.https`, else `config.proxy_https`.
    pub proxy_https: Option<String>,
    /// Extra CA certificates, in the order listed by [`HttpSettings::from_parts`].
    pub ca_sources: Vec<CaSource>,
}

/// One bundle of PEM certificates and where it came from (for error messages).
#[derive(Clone, PartialEq)]
pub enum CaSource {
    File { origin: String, path: PathBuf },
    Pem { origin: String, text: String },
}

impl HttpSettings {
    /// The settings of a Cortex job: its `config` object and job folder, and `REQUESTS_CA_BUNDLE`
    /// from the environment.
    pub fn from_cortex(config: Option<&Value>, dir: Option<&Path>) -> HttpSettings {
        HttpSettings::from_parts(config, dir, std::env::var_os("REQUESTS_CA_BUNDLE"))
    }

    /// Builds the settings without touching the process environment. CA sources, in order:
    /// `<dir>/input/cacerts` when that file exists, else a non-blank inline `config.cacerts`; then
    /// `requests_ca_bundle` when non-empty, unless it names the same file as `<dir>/input/cacerts`
    /// (Cortex sets it to exactly that file).
    pub fn from_parts(
        config: Option<&Value>,
        dir: Option<&Path>,
        requests_ca_bundle: Option<OsString>,
    ) -> HttpSettings {
        let proxy =
            |nested: &str, flat: &str| non_blank(config, &["proxy", nested]).or_else(|| non_blank(config, &[flat]));
        let input_cacerts = dir.map(|dir| dir.join("input").join("cacerts"));
        let cortex_ca = cortex_cacerts(config, input_cacerts.as_deref());
        let env_ca = requests_ca_bundle
            .filter(|bundle| !bundle.is_empty())
            .map(PathBuf::from)
            // Cortex points REQUESTS_CA_BUNDLE at input/cacerts itself: do not load it twice.
            .filter(|bundle| !input_cacerts.as_deref().is_some_and(|cacerts| same_file(cacerts, bundle)))
            .map(|path| CaSource::File { origin: ORIGIN_ENV.to_owned(), path });
        HttpSettings {
            proxy_http: proxy("http", "proxy_http"),
            proxy_https: proxy("https", "proxy_https"),
            ca_sources: cortex_ca.into_iter().chain(env_ca).collect(),
        }
    }
}

/// The string at `path` under `config`, trimmed; `None` when missing, not a string, or blank.
fn non_blank(config: Option<&Value>, path: &[&str]) -> Option<String> {
    let value = path.iter().try_fold(config?, |value, key| value.get(key))?;
    let text = value.as_str()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The file Cortex wrote from `config.cacerts`, or the inline text when the file is not there
/// (stdin mode, or a runner that did not write it).
fn cortex_cacerts(config: Option<&Value>, input_cacerts: Option<&Path>) -> Option<CaSource> {
    if let Some(path) = input_cacerts.filter(|path| path.is_file()) {
        return Some(CaSource::File { origin: ORIGIN_INPUT_FILE.to_owned(), path: path.to_path_buf() });
    }
    let text = config?.get("cacerts")?.as_str()?;
    (!text.trim().is_empty()).then(|| CaSource::Pem { origin: ORIGIN_CONFIG.to_owned(), text: text.to_owned() })
}

/// Same path, or the same file reached through another spelling (`/job/./input/cacerts`, a symlink).
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// A proxy URL with its password hidden; scheme-less `user:pass@host:port` is handled too.
fn redacted_proxy(proxy: &str) -> String {
    let redacted = if proxy.contains("://") { redact_url_password(proxy) } else { redact_userinfo_password(proxy) };
    redacted.unwrap_or_else(|| proxy.to_owned())
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSettings")
            .field("proxy_http", &self.proxy_http.as_deref().map(redacted_proxy))
            .field("proxy_https", &self.proxy_https.as_deref().map(redacted_proxy))
            .field("ca_sources", &self.ca_sources)
            .finish()
    }
}

impl fmt::Debug for CaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaSource::File { origin, path } => {
                f.debug_struct("File").field("origin", origin).field("path", path).finish()
            }
            CaSource::Pem { origin, text } => f
                .debug_struct("Pem")
                .field("origin", origin)
                .field("text", &format_args!("<{} bytes of PEM>", text.len()))
                .finish(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn job_dir_with_cacerts() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("input")).unwrap();
        std::fs::write(dir.path().join("input/cacerts"), PEM).unwrap();
        dir
    }

    fn file(origin: &str, path: PathBuf) -> CaSource {
        CaSource::File { origin: origin.to_owned(), path }
    }

    #[test]
    fn nested_proxy_wins_over_flat_and_blanks_are_ignored() {
        let config = json!({"proxy": {"http": "http://nested:3128", "https": "  "},
                            "proxy_http": "http://flat:3128", "proxy_https": " https://flat:3129 "});
        let settings = HttpSettings::from_parts(Some(&config), None, None);
        assert_eq!(settings.proxy_http.as_deref(), Some("http://nested:3128"));
        assert_eq!(settings.proxy_https.as_deref(), Some("https://flat:3129"));
        let nulls = json!({"proxy_http": null, "proxy_https": "", "proxy": 5});
        assert_eq!(HttpSettings::from_parts(Some(&nulls), None, None), HttpSettings::default());
    }

    #[test]
    fn input_cacerts_file_comes_first_and_replaces_inline_text() {
        let dir = job_dir_with_cacerts();
        let config = json!({"cacerts": PEM});
        let settings = HttpSettings::from_parts(Some(&config), Some(dir.path()), Some("/etc/ssl/extra.pem".into()));
        assert_eq!(
            settings.ca_sources,
            [
                file("Cortex cacerts (input/cacerts)", dir.path().join("input/cacerts")),
                file("REQUESTS_CA_BUNDLE", PathBuf::from("/etc/ssl/extra.pem")),
            ]
        );
    }

    #[test]
    fn inline_cacerts_are_used_without_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = json!({"cacerts": PEM});
        let settings = HttpSettings::from_parts(Some(&config), Some(dir.path()), None);
        assert_eq!(settings.ca_sources, [CaSource::Pem { origin: "Cortex cacerts (config)".into(), text: PEM.into() }]);
        let blank = json!({"cacerts": " \n "});
        assert!(HttpSettings::from_parts(Some(&blank), None, Some(OsString::new())).ca_sources.is_empty());
    }

    #[test]
    fn requests_ca_bundle_pointing_at_input_cacerts_is_not_duplicated() {
        let dir = job_dir_with_cacerts();
        let same = dir.path().join("input/cacerts").into_os_string();
        let settings = HttpSettings::from_parts(None, Some(dir.path()), Some(same));
        assert_eq!(settings.ca_sources, [file("Cortex cacerts (input/cacerts)", dir.path().join("input/cacerts"))]);
        let other_spelling = dir.path().join("input/../input/./cacerts").into_os_string();
        let settings = HttpSettings::from_parts(None, Some(dir.path()), Some(other_spelling));
        assert_eq!(settings.ca_sources.len(), 1);
    }

    #[test]
    fn requests_ca_bundle_alone_in_stdin_mode() {
        let settings = HttpSettings::from_parts(None, None, Some("/b.pem".into()));
        assert_eq!(settings.ca_sources, [file("REQUESTS_CA_BUNDLE", PathBuf::from("/b.pem"))]);
    }

    #[test]
    fn debug_hides_proxy_passwords_and_pem_text() {
        let settings = HttpSettings {
            proxy_http: Some("http://user:hunter2@proxy:3128".into()),
            proxy_https: Some("user:hunter3@proxy:3129".into()),
            ca_sources: vec![CaSource::Pem { origin: "Cortex cacerts (config)".into(), text: PEM.into() }],
        };
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter"), "{debug}");
        assert!(debug.contains("http://user:REMOVED@proxy:3128"), "{debug}");
        assert!(debug.contains("user:REMOVED@proxy:3129"), "{debug}");
        assert!(debug.contains(&format!("<{} bytes of PEM>", PEM.len())), "{debug}");
        assert!(!debug.contains("BEGIN CERTIFICATE"), "{debug}");
    }

    #[test]
    fn a_cortex_job_folder_gives_its_input_cacerts_and_proxy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("input")).unwrap();
        std::fs::write(dir.path().join("input/cacerts"), "PEM").unwrap();
        let config = json!({"cacerts": "inline", "proxy": {"https": "http://p:1"}});
        let settings = HttpSettings::from_cortex(Some(&config), Some(dir.path()));
        assert_eq!(settings.proxy_https.as_deref(), Some("http://p:1"));
        let expected = CaSource::File {
            origin: "Cortex cacerts (input/cacerts)".to_owned(),
            path: dir.path().join("input/cacerts"),
        };
        assert_eq!(settings.ca_sources.first(), Some(&expected));
    }
}
