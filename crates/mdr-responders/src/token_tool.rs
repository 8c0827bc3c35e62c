//! The `mdr-token` command: seed a token folder from the refresh token the MDR console shows, show
//! the folder's status, and rotate the tokens on demand, so that a team without the MDR
//! Integration Utility can run the responders alone.
//!
//! Everything goes through [`TokenStore`], the code the responders use: the same lock
//! (`.token.lock`), the same re-read once the lock is held, the same write order (refresh token,
//! then access token, each atomically with mode 0600). Settings resolve as in a responder job, the
//! flags standing where the Cortex items do (over `--config-path`, the utility's `config.yml`, over
//! the defaults), and TLS trusts the same certificates (system store, `ssl_cert`, `REQUESTS_CA_BUNDLE`). No token is
//! ever printed: status shows presence, file mode and expiry only.

use std::fs;
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cortex_http::HttpSettings;
use mdr_contract::utility_config::{MdrKey, MdrLayer, Source, Sourced, UtilityConfig};

use crate::settings::{self, ConfigError};
use mdr_api::MdrSettings;
use mdr_api::client::{MdrClient, MdrError};
use mdr_api::token::{
    ACCESS_FILE, LOCK_FILE, REFRESH_FILE, TokenError, TokenStore, human_duration, jwt_expiry, now_secs,
};
use safekeeping::Secret;

/// The connection options of the command line, named like the Cortex configuration items.
#[derive(Debug, Clone, Default)]
pub struct ToolOptions {
    pub config_path: Option<PathBuf>,
    pub api_url: Option<String>,
    pub client_id: Option<String>,
    pub token_dir: Option<PathBuf>,
    pub ssl_cert: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("Missing `{item}`: pass --{flag}, or --config-path with the MDR Integration Utility's config.yml")]
    Missing { item: &'static str, flag: &'static str },
    #[error(transparent)]
    Config(ConfigError),
    #[error(transparent)]
    Mdr(#[from] MdrError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(
        "No refresh token on {origin}: paste the refresh token generated in the MDR console (Settings > API), \
         or pass --refresh-token-file"
    )]
    NoToken { origin: String },
    #[error("Cannot read the refresh token from {origin}: {reason}")]
    Unreadable { origin: String, reason: String },
    #[error("The text given is not a refresh token (it contains spaces or line breaks inside)")]
    Malformed,
    #[error("The refresh token given expired {ago} ago: generate a new one in the MDR console (Settings > API)")]
    Expired { ago: String },
    #[error(
        "{path} already holds a refresh token valid until {until}: seeding would replace it; pass --force to do so"
    )]
    WouldReplace { path: PathBuf, until: String },
    #[error("Cannot create the token folder {dir}: {reason}")]
    CreateDir { dir: PathBuf, reason: String },
    #[error(
        "MDR refused the refresh token given (HTTP {status}: {message}): a console refresh token works once and for \
         24 h; generate a new one in the MDR console (Settings > API). The token folder was not changed"
    )]
    SeedRefused { status: u16, message: String },
    #[error("Cannot write the report: {0}")]
    Output(#[from] io::Error),
}

impl From<ConfigError> for ToolError {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Missing { key, .. } => ToolError::missing(key),
            other => ToolError::Config(other),
        }
    }
}

impl ToolError {
    fn missing(key: MdrKey) -> ToolError {
        ToolError::Missing { item: key.name(), flag: key.flag() }
    }
}

impl ToolOptions {
    /// The settings a responder job with these values as configuration items would use.
    pub fn settings(&self) -> Result<MdrSettings, ToolError> {
        // The proxies come from the environment (reqwest reads them); trust adds REQUESTS_CA_BUNDLE.
        let http = HttpSettings::from_parts(None, None, std::env::var_os("REQUESTS_CA_BUNDLE"));
        let timeout = std::time::Duration::from_secs(mdr_api::settings::DEFAULT_TIMEOUT_SECS);
        let utility = self.utility_config()?;
        Ok(settings::resolve_mdr(self.layer(), utility.as_ref(), Source::CommandLine, timeout, http)?)
    }

    /// Only the token folder (status needs no API settings).
    pub fn token_dir(&self) -> Result<PathBuf, ToolError> {
        // Given on the command line: config.yml is not needed, so it is not read.
        if let Some(dir) = self.layer().token_dir {
            return Ok(dir.value);
        }
        let utility = self.utility_config()?.ok_or(ToolError::missing(MdrKey::TokenDir))?;
        Ok(utility.token_dir)
    }

    fn utility_config(&self) -> Result<Option<UtilityConfig>, ToolError> {
        let Some(path) = &self.config_path else { return Ok(None) };
        let utility = UtilityConfig::load(path, Some("--config-path")).map_err(ConfigError::from)?;
        Ok(Some(utility))
    }

    /// The flags, highest of the sources.
    fn layer(&self) -> MdrLayer {
        // As for an item: trimmed, and blank counts as not given.
        let flag = |value: &Option<String>| {
            let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
            Some(Sourced::new(value.to_owned(), Source::CommandLine))
        };
        let path = |value: &Option<PathBuf>| {
            let value = value.as_ref().filter(|v| !v.as_os_str().is_empty())?;
            Some(Sourced::new(value.clone(), Source::CommandLine))
        };
        MdrLayer {
            api_url: flag(&self.api_url),
            client_id: flag(&self.client_id),
            token_dir: path(&self.token_dir),
            ssl_cert: path(&self.ssl_cert),
        }
    }
}

/// Where `seed` reads the console's refresh token from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    Stdin,
    File(PathBuf),
}

impl TokenSource {
    fn describe(&self) -> String {
        match self {
            TokenSource::Stdin => "standard input".to_owned(),
            TokenSource::File(path) => path.display().to_string(),
        }
    }

    /// Reads and checks the token. On a terminal a prompt goes to standard error and one line is
    /// read; otherwise the whole input.
    pub fn read(&self) -> Result<Secret, ToolError> {
        let source = self.describe();
        let unreadable = |e: io::Error| ToolError::Unreadable { origin: source.clone(), reason: e.to_string() };
        let text = match self {
            TokenSource::File(path) => fs::read_to_string(path).map_err(unreadable)?,
            TokenSource::Stdin if io::stdin().is_terminal() => {
                let mut err = io::stderr();
                let _ = write!(err, "Paste the refresh token from the MDR console (Settings > API), then Enter: ");
                let _ = err.flush();
                let mut line = String::new();
                io::stdin().lock().read_line(&mut line).map_err(unreadable)?;
                line
            }
            TokenSource::Stdin => {
                let mut text = String::new();
                io::stdin().lock().read_to_string(&mut text).map_err(unreadable)?;
                text
            }
        };
        checked_token(text.trim(), &source)
    }
}

fn checked_token(text: &str, source: &str) -> Result<Secret, ToolError> {
    if text.is_empty() {
        return Err(ToolError::NoToken { origin: source.to_owned() });
    }
    if text.contains(char::is_whitespace) {
        return Err(ToolError::Malformed);
    }
    if let Some(exp) = jwt_expiry(text) {
        let now = now_secs();
        if exp <= now {
            return Err(ToolError::Expired { ago: human_duration(now - exp) });
        }
    }
    Ok(Secret::new(text))
}

/// `mdr-token seed`: exchanges `refresh` once and writes both files (0600). Refuses to replace a
/// refresh token still valid unless `force`.
pub fn seed(options: &ToolOptions, refresh: &Secret, force: bool, out: &mut dyn Write) -> Result<(), ToolError> {
    let settings = options.settings()?;
    let dir = &settings.token_dir;
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| ToolError::CreateDir { dir: dir.clone(), reason: e.to_string() })?;
    }
    if !force {
        let existing = read_token(&dir.join(REFRESH_FILE));
        // An empty file (the MDR Integration Utility creates them so) holds no token to protect.
        if let Some(Ok(token)) = existing
            && !token.is_empty()
        {
            let exp = jwt_expiry(&token);
            if exp.is_none_or(|exp| exp > now_secs()) {
                let until = exp.map_or_else(|| "an unknown date".to_owned(), utc);
                return Err(ToolError::WouldReplace { path: dir.join(REFRESH_FILE), until });
            }
        }
    }
    let client = MdrClient::new(&settings)?;
    TokenStore::new(dir).seed(refresh, |r| client.confirm_session(r)).map_err(|e| match e {
        MdrError::RefreshRefused { status, message } => ToolError::SeedRefused { status, message },
        other => ToolError::from(other),
    })?;
    writeln!(out, "Seeded {}: MDR accepted the refresh token and issued a new pair.", dir.display())?;
    write_status(dir, out)?;
    Ok(())
}

/// `mdr-token refresh`: rotates now, through the responders' code path.
pub fn refresh(options: &ToolOptions, out: &mut dyn Write) -> Result<(), ToolError> {
    let settings = options.settings()?;
    let client = MdrClient::new(&settings)?;
    let store = TokenStore::for_settings(&settings);
    store.rotate(|r| client.confirm_session(r).map_err(ToolError::from))?;
    writeln!(out, "Rotated the tokens in {}.", settings.token_dir.display())?;
    write_status(&settings.token_dir, out)?;
    Ok(())
}

/// What `status` found: whether the responders can obtain an access token unattended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// A usable refresh token (or a valid access token and a refresh token of unknown expiry).
    Ready,
    /// Someone has to seed the folder again.
    NeedsSeed,
}

/// `mdr-token status`: presence, mode and expiry of each file, never a token.
pub fn status(options: &ToolOptions, out: &mut dyn Write) -> Result<Health, ToolError> {
    let dir = options.token_dir()?;
    write_status(&dir, out)
}

fn write_status(dir: &Path, out: &mut dyn Write) -> Result<Health, ToolError> {
    let now = now_secs();
    writeln!(out, "Token folder {}", dir.display())?;
    let mut refresh_ok = false;
    for (name, what) in [(REFRESH_FILE, "refresh token"), (ACCESS_FILE, "access token")] {
        let path = dir.join(name);
        let line = match read_token(&path) {
            None => "missing".to_owned(),
            Some(Err(reason)) => format!("unreadable ({reason})"),
            Some(Ok(token)) if token.is_empty() => format!("empty{}", mode_note(&path)),
            Some(Ok(token)) => {
                let validity = match jwt_expiry(&token) {
                    Some(exp) if exp > now => {
                        refresh_ok |= name == REFRESH_FILE;
                        format!("valid until {} (in {})", utc(exp), human_duration(exp - now))
                    }
                    Some(exp) => format!("EXPIRED at {} ({} ago)", utc(exp), human_duration(now - exp)),
                    None => {
                        refresh_ok |= name == REFRESH_FILE;
                        "present, expiry unreadable (not a JWT)".to_owned()
                    }
                };
                format!("{validity}{}", mode_note(&path))
            }
        };
        writeln!(out, "  {name:<15} {what:<14} {line}")?;
    }
    let lock = match fs::File::open(dir.join(LOCK_FILE)) {
        Err(_) => "absent (no refresh has run here yet)",
        Ok(file) => match file.try_lock_shared() {
            Ok(()) => "free",
            Err(_) => "held: a refresh is running now",
        },
    };
    writeln!(out, "  {LOCK_FILE:<15} {:<14} {lock}", "lock")?;
    for line in refresh_checks(dir) {
        writeln!(out, "  {line}")?;
    }
    let health = if refresh_ok { Health::Ready } else { Health::NeedsSeed };
    match health {
        Health::Ready => writeln!(out, "Ready: the responders refresh the access token themselves when it expires.")?,
        Health::NeedsSeed => writeln!(
            out,
            "Needs a new refresh token: generate one in the MDR console (Settings > API) and run `mdr-token seed`."
        )?,
    }
    Ok(health)
}

/// What a refresh by this user will need: a writable folder, and for each token file whether its
/// replacement can keep the file's owner and group (tried on a probe file, never on the tokens).
fn refresh_checks(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, fchown};
    let probe_path = dir.join(format!(".write-probe.{}.tmp", std::process::id()));
    let probe = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&probe_path);
    let probe = match probe {
        Ok(probe) => probe,
        Err(e) => {
            return vec![format!(
                "folder: NOT writable by this user ({e}): a refresh would fail; give the Cortex user write access"
            )];
        }
    };
    let mut lines = vec!["folder: writable by this user".to_owned()];
    for name in [REFRESH_FILE, ACCESS_FILE] {
        let Ok(meta) = fs::metadata(dir.join(name)) else { continue };
        // What the replacement gets: nothing for others, whatever the file has now.
        let (uid, gid, mode) = (meta.uid(), meta.gid(), safekeeping::private_mode(meta.mode()));
        let keeps = if fchown(&probe, Some(uid), Some(gid)).is_ok() {
            format!("a refresh leaves mode {mode:04o}, owner {uid} and group {gid}")
        } else if fchown(&probe, None, Some(gid)).is_ok() {
            let me = fs::metadata(&probe_path).map(|m| m.uid()).unwrap_or(0);
            format!("a refresh leaves mode {mode:04o} and group {gid}; the owner becomes {me} (only root keeps it)")
        } else {
            format!("a refresh leaves mode {mode:04o} but NOT group {gid}: this user is not in that group")
        };
        lines.push(format!("{name}: {keeps}"));
    }
    drop(probe);
    let _ = fs::remove_file(&probe_path);
    lines
}

/// The trimmed content of a token file; None when missing.
fn read_token(path: &Path) -> Option<Result<String, String>> {
    match fs::read_to_string(path) {
        Ok(text) => Some(Ok(text.trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(e.kind().to_string())),
    }
}

/// The file's mode, and the command that closes it when others have any permission on it.
fn mode_note(path: &Path) -> String {
    let Ok(meta) = fs::metadata(path) else { return String::new() };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 == 0 {
        return format!(", mode {mode:04o}");
    }
    format!(
        ", mode {mode:04o}: WARNING: every local user may read it and take over the MDR API access; run `chmod o-rwx {}` \
         (a refresh also removes it)",
        path.display()
    )
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_251_199), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(1_900_000_000), "2030-03-17 17:46:40 UTC");
    }

    #[test]
    fn status_says_what_a_refresh_will_keep() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(REFRESH_FILE), "r").unwrap();
        std::fs::set_permissions(dir.path().join(REFRESH_FILE), std::fs::Permissions::from_mode(0o640)).unwrap();
        let lines = refresh_checks(dir.path());
        assert_eq!(lines[0], "folder: writable by this user");
        assert!(lines[1].starts_with(".refresh_token: a refresh leaves mode 0640"), "{lines:?}");
        std::fs::set_permissions(dir.path().join(REFRESH_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        let lines = refresh_checks(dir.path());
        assert!(lines[1].starts_with(".refresh_token: a refresh leaves mode 0640"), "nothing for others: {lines:?}");
        assert_eq!(lines.len(), 2, "no access file, no line: {lines:?}");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "the probe is removed");
    }

    #[test]
    fn token_text_is_checked_before_anything_is_spent() {
        assert!(matches!(checked_token("", "x"), Err(ToolError::NoToken { .. })));
        assert!(matches!(checked_token("a b", "x"), Err(ToolError::Malformed)));
        assert!(checked_token("opaque-token", "x").is_ok());
    }

    #[test]
    fn options_resolve_like_a_job() {
        let options = ToolOptions {
            client_id: Some("c".into()),
            token_dir: Some("/t".into()),
            api_url: Some("https://h/api/v1/".into()),
            ..ToolOptions::default()
        };
        let settings = options.settings().unwrap();
        assert_eq!((settings.api_url.as_str(), settings.client_id.as_str()), ("https://h/api/v1", "c"));
        let err = ToolOptions { token_dir: Some("/t".into()), ..ToolOptions::default() }.settings().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Missing `client_id`: pass --client-id, or --config-path with the MDR Integration Utility's config.yml"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        let yml = dir.path().join("conf/config.yml");
        std::fs::write(&yml, "api_url: https://mdr.example.invalid/api/v1\n").unwrap();
        let options = ToolOptions { config_path: Some(yml), ..ToolOptions::default() };
        assert_eq!(options.token_dir().unwrap(), dir.path().join("conf"));
        assert!(matches!(options.settings(), Err(ToolError::Missing { item: "client_id", .. })));
    }
}
