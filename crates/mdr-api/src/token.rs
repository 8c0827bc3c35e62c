//! The MDR token folder: read the access token, rotate the pair when it is stale, never lose the
//! newest refresh token.
//!
//! Refresh tokens are single use: `session/confirm` consumes the one on disk and returns a new
//! pair. Losing the new refresh token locks the customer out until someone issues one in the MDR
//! console, so a refresh runs under an exclusive lock in the token folder, re-reads the files once
//! the lock is held (another job may have refreshed meanwhile), checks that the folder is writable
//! before spending the token, and writes the new refresh token before the access token, each with
//! write-to-temp + fsync + rename so a crash leaves either the old or the new file, never a torn one.
//! The file names are those of the MDR Integration Utility, which may share the folder.
//!
//! Token lifetimes, rotation and the utility's own writes: docs/mdr-api.md#tokens.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use safekeeping::{FileMode, Secret, write_atomically};

pub const ACCESS_FILE: &str = ".access_token";
pub const REFRESH_FILE: &str = ".refresh_token";
/// The newest refresh token MDR issued to us, written under our lock before the public files. The
/// MDR Integration Utility never touches it, so when the utility writes back a spent token (its
/// failure path) the live one is still here.
pub const OWN_REFRESH_FILE: &str = ".mdr-responders.refresh_token";
/// Taken only while refreshing; readers of a valid access token never wait.
pub const LOCK_FILE: &str = ".token.lock";

/// An access token this close to expiry is refreshed first rather than risk a mid-job rejection.
const EXPIRY_MARGIN_SECS: u64 = 60;
/// Beside the MDR Integration Utility, which refreshes 60 s before expiry with its sample settings,
/// the responders use the access token until it has really expired (or MDR refuses it), so that
/// the two never refresh on the same schedule; a refusal mid-job is answered by one refresh.
const SHARED_EXPIRY_MARGIN_SECS: u64 = 5;
/// Files the utility keeps in its token folder (its default `token_dir` is `conf`).
const UTILITY_FILES: [&str; 2] = [".last_check", "config.yml"];
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);
/// The utility rewrites its token files in place; a reader can catch one empty for a moment.
const EMPTY_FILE_RETRIES: u32 = 10;
const EMPTY_FILE_PAUSE: Duration = Duration::from_millis(50);

/// A pair returned by `session/confirm`.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: Secret,
    pub refresh: Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("Cannot read the MDR token file {path}: {reason}; check `token_dir`")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "No MDR refresh token in {path}: paste the refresh token generated in the MDR console (Settings > API) there, \
         or point `token_dir` at the MDR Integration Utility's token folder"
    )]
    NoRefreshToken { path: PathBuf },
    #[error(
        "The MDR refresh token in {path} expired {ago} ago: generate a new one in the MDR console (Settings > API) \
         and write it to that file"
    )]
    RefreshExpired { path: PathBuf, ago: String },
    #[error(
        "Cannot write to the MDR token folder {dir}: {reason}; the Cortex user needs write access to `token_dir` to rotate tokens \
         (nothing was exchanged, the refresh token on disk is still valid)"
    )]
    NotWritable { dir: PathBuf, reason: String },
    #[error("Gave up after {secs} s waiting for the lock {path}: another job holds it; try again")]
    LockTimeout { path: PathBuf, secs: u64 },
    #[error(
        "MDR issued new tokens but they could not be saved in {dir}: {reason}. Generate a new refresh token in the MDR console"
    )]
    SaveFailed { dir: PathBuf, reason: String },
    #[error(
        "MDR issued new tokens and the new refresh token was saved in {dir}, but the access token could not be \
         written: {reason}; fix the folder (space, permissions) and run the responder again: no new refresh token is needed"
    )]
    AccessNotSaved { dir: PathBuf, reason: String },
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The `exp` claim of a JWT, read without verifying the signature (only MDR can verify it; we
/// only need to know when to refresh). None when the token is not a readable JWT.
pub fn jwt_expiry(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?;
    exp.as_u64().or_else(|| exp.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// When a token was issued, for ordering: `(iat, exp)`, zero where unreadable.
fn issued(token: &Secret) -> (u64, u64) {
    let claim = |name: &str| {
        let payload = token.expose().split('.').nth(1)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        claims.get(name)?.as_u64()
    };
    (claim("iat").unwrap_or(0), claim("exp").unwrap_or(0))
}

/// Usable now: present and not expiring within the margin. A token whose expiry cannot be read is
/// tried as it is; a rejection then triggers the refresh.
fn usable(token: &Secret, now: u64, margin: u64) -> bool {
    match jwt_expiry(token.expose()) {
        Some(exp) => exp > now + margin,
        None => true,
    }
}

/// The token folder shared with the MDR Integration Utility and other jobs.
#[derive(Debug, Clone)]
pub struct TokenStore {
    dir: PathBuf,
    margin: u64,
}

impl TokenStore {
    /// The folder is taken as shared with the utility when its files are there.
    pub fn new(dir: impl Into<PathBuf>) -> TokenStore {
        let dir = dir.into();
        let shared = UTILITY_FILES.iter().any(|f| dir.join(f).exists());
        TokenStore { margin: if shared { SHARED_EXPIRY_MARGIN_SECS } else { EXPIRY_MARGIN_SECS }, dir }
    }

    /// A job's folder: also shared with the utility when `config_path` names its `config.yml`.
    pub fn for_settings(settings: &crate::settings::MdrSettings) -> TokenStore {
        let mut store = TokenStore::new(&settings.token_dir);
        if settings.utility_config.is_some() {
            store.margin = SHARED_EXPIRY_MARGIN_SECS;
        }
        store
    }

    /// A usable access token: the one on disk, or a fresh one obtained through `exchange`.
    pub fn access_token<E, F>(&self, exchange: F) -> Result<Secret, E>
    where
        E: From<TokenError>,
        F: FnMut(&Secret) -> Result<TokenPair, E>,
    {
        if let Some(token) = self.read(ACCESS_FILE)?
            && usable(&token, now_secs(), self.margin)
        {
            return Ok(token);
        }
        self.refresh(None, exchange)
    }

    /// Called when the API refused `rejected`: returns a newer token another job saved meanwhile,
    /// or refreshes.
    pub fn replace_rejected<E, F>(&self, rejected: &Secret, exchange: F) -> Result<Secret, E>
    where
        E: From<TokenError>,
        F: FnMut(&Secret) -> Result<TokenPair, E>,
    {
        self.refresh(Some(rejected), exchange)
    }

    fn refresh<E, F>(&self, rejected: Option<&Secret>, mut exchange: F) -> Result<Secret, E>
    where
        E: From<TokenError>,
        F: FnMut(&Secret) -> Result<TokenPair, E>,
    {
        let _lock = self.lock()?;
        if let Some(token) = self.newer_usable_access(rejected)? {
            return Ok(token);
        }
        let refresh = self.newest_refresh_token()?;
        self.check_writable()?;
        let pair = match exchange(&refresh) {
            Ok(pair) => pair,
            Err(err) => return self.after_failed_exchange(rejected, &refresh, err, exchange),
        };
        self.save(&pair)?;
        Ok(pair.access)
    }

    /// Seeds the folder from a refresh token given by hand (the one the MDR console shows): under
    /// the lock, once the folder is known writable, exchanges it and saves the new pair (refresh
    /// token first). When the exchange fails nothing is written.
    pub fn seed<E, F>(&self, refresh: &Secret, mut exchange: F) -> Result<(), E>
    where
        E: From<TokenError>,
        F: FnMut(&Secret) -> Result<TokenPair, E>,
    {
        let _lock = self.lock()?;
        self.check_writable()?;
        let pair = exchange(refresh)?;
        self.save(&pair)?;
        Ok(())
    }

    /// Rotates now, whatever the access token's expiry, the way a refresh does: under the lock,
    /// re-reading the files, refresh token written first. Returns the new access token.
    pub fn rotate<E, F>(&self, mut exchange: F) -> Result<Secret, E>
    where
        E: From<TokenError>,
        F: FnMut(&Secret) -> Result<TokenPair, E>,
    {
        let _lock = self.lock()?;
        let current = self.read(ACCESS_FILE)?;
        let refresh = self.newest_refresh_token()?;
        self.check_writable()?;
        match exchange(&refresh) {
            Ok(pair) => {
                self.save(&pair)?;
                Ok(pair.access)
            }
            Err(err) => self.after_failed_exchange(current.as_ref(), &refresh, err, exchange),
        }
    }

    /// The refresh token may have been consumed by a process that does not take our lock (the
    /// MDR Integration Utility): if the files changed meanwhile, use what it saved, once.
    fn after_failed_exchange<E, F>(
        &self,
        rejected: Option<&Secret>,
        spent: &Secret,
        err: E,
        mut exchange: F,
    ) -> Result<Secret, E>
    where
        E: From<TokenError>,
        F: FnMut(&Secret) -> Result<TokenPair, E>,
    {
        if let Some(token) = self.newer_usable_access(rejected)? {
            return Ok(token);
        }
        // The public file may hold a token the utility wrote meanwhile, or ours a token the public
        // file lost; each is tried once, and the refused one never again.
        for name in [REFRESH_FILE, OWN_REFRESH_FILE] {
            if let Some(other) = self.read_quietly(name)
                && other != *spent
                && jwt_expiry(other.expose()).is_none_or(|exp| exp > now_secs())
            {
                let pair = exchange(&other)?;
                self.save(&pair)?;
                return Ok(pair.access);
            }
        }
        Err(err)
    }

    /// The refresh token to spend: the public one, unless ours was issued later (the utility
    /// wrote back an older, spent token) or the public one is missing or expired.
    fn newest_refresh_token(&self) -> Result<Secret, TokenError> {
        let own = self.read_quietly(OWN_REFRESH_FILE).filter(|t| jwt_expiry(t.expose()).is_none_or(|e| e > now_secs()));
        match (self.refresh_token(), own) {
            (Ok(public), Some(own)) if issued(&own) > issued(&public) => Ok(own),
            (Ok(public), _) => Ok(public),
            (Err(TokenError::NoRefreshToken { .. } | TokenError::RefreshExpired { .. }), Some(own)) => Ok(own),
            (Err(err), _) => Err(err),
        }
    }

    /// Our own file: unreadable (another user wrote it) counts as absent, never as a failure.
    fn read_quietly(&self, name: &str) -> Option<Secret> {
        self.read(name).ok().flatten()
    }

    fn newer_usable_access(&self, rejected: Option<&Secret>) -> Result<Option<Secret>, TokenError> {
        let current = self.read(ACCESS_FILE)?;
        Ok(current.filter(|t| usable(t, now_secs(), self.margin) && Some(t) != rejected))
    }

    fn refresh_token(&self) -> Result<Secret, TokenError> {
        let path = self.dir.join(REFRESH_FILE);
        for attempt in 0..=EMPTY_FILE_RETRIES {
            if let Some(token) = self.read(REFRESH_FILE)? {
                if let Some(exp) = jwt_expiry(token.expose()) {
                    let now = now_secs();
                    if exp <= now {
                        return Err(TokenError::RefreshExpired { path, ago: human_duration(now - exp) });
                    }
                }
                return Ok(token);
            }
            if attempt < EMPTY_FILE_RETRIES {
                sleep(EMPTY_FILE_PAUSE);
            }
        }
        Err(TokenError::NoRefreshToken { path })
    }

    /// Reads a token file, trimmed; a missing or blank file is None.
    fn read(&self, name: &str) -> Result<Option<Secret>, TokenError> {
        let path = self.dir.join(name);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let text = text.trim();
                Ok((!text.is_empty()).then(|| Secret::new(text)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TokenError::Unreadable { path, reason: e.to_string() }),
        }
    }

    fn lock(&self) -> Result<File, TokenError> {
        lock_exclusive(&self.dir, LOCK_FILE)
    }

    /// Spending the refresh token is only safe when the new one can be saved afterwards.
    fn check_writable(&self) -> Result<(), TokenError> {
        let probe = self.dir.join(format!(".write-probe.{}.tmp", std::process::id()));
        let result = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&probe);
        let _ = fs::remove_file(&probe);
        result.map(drop).map_err(|e| TokenError::NotWritable { dir: self.dir.clone(), reason: e.to_string() })
    }

    /// A job killed mid-write leaves its temporary file behind (never a torn token file). Token
    /// files are only written under the lock, which the caller holds, so any such file is stale.
    fn remove_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        let prefixes = [
            format!(".{ACCESS_FILE}."),
            format!(".{REFRESH_FILE}."),
            format!(".{OWN_REFRESH_FILE}."),
            ".write-probe.".to_owned(),
        ];
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") && prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Refresh token first: if we die between the two writes, the next job refreshes again with a
    /// valid refresh token instead of holding an access token and a spent refresh token.
    fn save(&self, pair: &TokenPair) -> Result<(), TokenError> {
        self.remove_stale_temporaries();
        let failed = |e: io::Error| TokenError::SaveFailed { dir: self.dir.clone(), reason: e.to_string() };
        // Ours first: whatever happens to the public files from here on, the live token is kept.
        write_private(&self.dir, OWN_REFRESH_FILE, pair.refresh.expose()).map_err(failed)?;
        write_private(&self.dir, REFRESH_FILE, pair.refresh.expose()).map_err(failed)?;
        // The refresh token is safe now: do not send the operator to the MDR console for a new one.
        write_private(&self.dir, ACCESS_FILE, pair.access.expose())
            .map_err(|e| TokenError::AccessNotSaved { dir: self.dir.clone(), reason: e.to_string() })
    }
}

/// Takes an exclusive lock on `dir/name` (created if needed), waiting up to 30 s; the lock is
/// released when the returned file is dropped, also when the process dies.
pub fn lock_exclusive(dir: &Path, name: &str) -> Result<File, TokenError> {
    let path = dir.join(name);
    let not_writable = |e: io::Error| TokenError::NotWritable { dir: dir.to_owned(), reason: e.to_string() };
    let file =
        OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).map_err(not_writable)?;
    let deadline = Instant::now() + LOCK_TIMEOUT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
            Err(fs::TryLockError::WouldBlock) => {
                return Err(TokenError::LockTimeout { path, secs: LOCK_TIMEOUT.as_secs() });
            }
            Err(fs::TryLockError::Error(e)) => return Err(not_writable(e)),
        }
    }
}

/// Replaces `dir/name` with `content`: readers see the old or the new file, and the new file keeps
/// the old one's group, owner and their permissions (a utility running as another user must still
/// read it), never any permission for others.
pub fn write_private(dir: &Path, name: &str, content: &str) -> io::Result<()> {
    write_atomically(&dir.join(name), content.as_bytes(), FileMode::PrivateKeepExisting)
}

/// A short human duration, the largest unit first: `42 s`, `17 min`, `2 h`, `5 h 12 min`, `6 days 23 h`.
pub fn human_duration(secs: u64) -> String {
    let (major, unit, minor, minor_unit) = match secs {
        s if s < 120 => return format!("{s} s"),
        s if s < 3600 => return format!("{} min", s / 60),
        s if s < 172_800 => (s / 3600, "h", s % 3600 / 60, "min"),
        s => (s / 86_400, "days", s % 86_400 / 3600, "h"),
    };
    match minor {
        0 => format!("{major} {unit}"),
        _ => format!("{major} {unit} {minor} {minor_unit}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[derive(Debug)]
    enum TestError {
        Token(TokenError),
        Refused,
    }

    impl From<TokenError> for TestError {
        fn from(e: TokenError) -> Self {
            TestError::Token(e)
        }
    }

    fn jwt(exp: u64, tag: &str) -> String {
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{exp},"sub":"{tag}"}}"#));
        format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")
    }

    fn pair(tag: &str) -> TokenPair {
        TokenPair {
            access: Secret::new(jwt(now_secs() + 3600, tag)),
            refresh: Secret::new(jwt(now_secs() + 86400, tag)),
        }
    }

    fn store_with(access: &str, refresh: &str) -> (tempfile::TempDir, TokenStore) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(ACCESS_FILE), access).unwrap();
        fs::write(dir.path().join(REFRESH_FILE), refresh).unwrap();
        let store = TokenStore::new(dir.path());
        (dir, store)
    }

    fn file(dir: &tempfile::TempDir, name: &str) -> String {
        fs::read_to_string(dir.path().join(name)).unwrap()
    }

    #[test]
    fn durations_name_the_largest_unit_first() {
        let shown = [59, 3599, 7200, 3600 * 5 + 60 * 12, 172_800, 86_400 * 6 + 3600 * 23].map(human_duration);
        assert_eq!(shown, ["59 s", "59 min", "2 h", "5 h 12 min", "2 days", "6 days 23 h"]);
    }

    #[test]
    fn reads_exp_without_verifying() {
        assert_eq!(jwt_expiry(&jwt(1_900_000_000, "a")), Some(1_900_000_000));
        assert_eq!(jwt_expiry("not-a-jwt"), None);
        assert_eq!(jwt_expiry("a.%%%.c"), None);
    }

    #[test]
    fn a_valid_access_token_is_used_without_refresh() {
        let access = jwt(now_secs() + 3600, "a");
        let (_dir, store) = store_with(&format!("{access}\n"), "r");
        let token: Result<Secret, TestError> = store.access_token(|_| panic!("must not refresh"));
        assert_eq!(token.unwrap().expose(), access);
    }

    #[test]
    fn an_expiring_access_token_is_rotated_refresh_first() {
        let old_refresh = jwt(now_secs() + 86400, "old");
        let (dir, store) = store_with(&jwt(now_secs() + 30, "a"), &old_refresh);
        fs::set_permissions(dir.path().join(REFRESH_FILE), fs::Permissions::from_mode(0o600)).unwrap();
        let calls = Cell::new(0);
        let new = pair("new");
        let token: Result<Secret, TestError> = store.access_token(|r| {
            calls.set(calls.get() + 1);
            assert_eq!(r.expose(), old_refresh);
            Ok(new.clone())
        });
        assert_eq!(token.unwrap(), new.access);
        assert_eq!(calls.get(), 1);
        assert_eq!(file(&dir, REFRESH_FILE), new.refresh.expose());
        assert_eq!(file(&dir, ACCESS_FILE), new.access.expose());
        let mode = fs::metadata(dir.path().join(REFRESH_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn an_access_token_that_cannot_be_written_does_not_ask_for_a_new_refresh_token() {
        let (dir, store) = store_with("", &jwt(now_secs() + 86400, "old"));
        let new = pair("new");
        let token: Result<Secret, TestError> = store.access_token(|_| {
            // Something makes the access file impossible to replace (here, a non-empty folder in its place).
            fs::remove_file(dir.path().join(ACCESS_FILE)).unwrap();
            fs::create_dir_all(dir.path().join(ACCESS_FILE).join("x")).unwrap();
            Ok(new.clone())
        });
        let Err(TestError::Token(err)) = token else { panic!("the access file cannot be written") };
        assert_eq!(file(&dir, REFRESH_FILE), new.refresh.expose(), "the new refresh token is saved");
        let message = err.to_string();
        assert!(message.contains("the new refresh token was saved"), "{message}");
        assert!(!message.contains("Generate a new refresh token"), "{message}");
    }

    #[test]
    fn a_refresh_clears_temporary_files_left_by_killed_jobs() {
        let (dir, store) = store_with("", &jwt(now_secs() + 86400, "r"));
        for stale in ["..access_token.1.2.tmp", "..refresh_token.3.4.tmp", ".write-probe.5.tmp"] {
            fs::write(dir.path().join(stale), "partial").unwrap();
        }
        fs::write(dir.path().join("unrelated.tmp"), "kept").unwrap();
        let token: Result<Secret, TestError> = store.access_token(|_| Ok(pair("new")));
        token.unwrap();
        let mut names: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, [".access_token", OWN_REFRESH_FILE, ".refresh_token", LOCK_FILE, "unrelated.tmp"]);
    }

    #[test]
    fn a_refresh_keeps_the_mode_and_group_of_the_token_files() {
        let (dir, store) = store_with("", &jwt(now_secs() + 86400, "r"));
        // A real group other than the process's own (tests run as root, which may also keep the owner).
        let group = ["daemon", "nogroup", "bin"].iter().find_map(|g| {
            let line = fs::read_to_string("/etc/group").ok()?;
            line.lines().find(|l| l.starts_with(&format!("{g}:")))?.split(':').nth(2)?.parse::<u32>().ok()
        });
        for name in [ACCESS_FILE, REFRESH_FILE] {
            let path = dir.path().join(name);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
            if let Some(gid) = group {
                let _ = std::os::unix::fs::chown(&path, None, Some(gid));
            }
        }
        let before: Vec<(u32, u32)> = [ACCESS_FILE, REFRESH_FILE]
            .iter()
            .map(|n| fs::metadata(dir.path().join(n)).map(|m| (m.uid(), m.gid())).unwrap())
            .collect();
        let token: Result<Secret, TestError> = store.access_token(|_| Ok(pair("new")));
        token.unwrap();
        for (name, owner) in [ACCESS_FILE, REFRESH_FILE].iter().zip(before) {
            let meta = fs::metadata(dir.path().join(name)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o640, "{name}");
            assert_eq!((meta.uid(), meta.gid()), owner, "{name}");
        }
    }

    fn issued_jwt(iat: u64, tag: &str) -> String {
        let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"iat":{iat},"exp":{},"sub":"{tag}"}}"#, iat + 86400));
        format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")
    }

    #[test]
    fn a_spent_token_written_back_by_the_utility_is_not_spent_again() {
        let now = now_secs();
        let (r0, r1) = (issued_jwt(now - 100, "r0"), issued_jwt(now - 10, "r1"));
        // We exchanged R0 for R1; the utility, refused on R0, wrote '' and R0 back.
        let (dir, store) = store_with("", &r0);
        fs::write(dir.path().join(OWN_REFRESH_FILE), &r1).unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        let fresh = pair("fresh");
        let token: Result<Secret, TestError> = store.access_token(|r| {
            seen.borrow_mut().push(r.expose().to_owned());
            Ok(fresh.clone())
        });
        assert_eq!(token.unwrap(), fresh.access);
        assert_eq!(*seen.borrow(), vec![r1], "R0 is older than ours: never sent");
        // The folder is repaired: both files hold the live token.
        assert_eq!(file(&dir, REFRESH_FILE), fresh.refresh.expose());
        assert_eq!(file(&dir, OWN_REFRESH_FILE), fresh.refresh.expose());
    }

    #[test]
    fn a_refused_public_token_falls_back_to_ours() {
        let now = now_secs();
        let (public, own) = (issued_jwt(now - 5, "pasted-wrong"), issued_jwt(now - 50, "ours"));
        let (dir, store) = store_with("", &public);
        fs::write(dir.path().join(OWN_REFRESH_FILE), &own).unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        let fresh = pair("fresh");
        let token: Result<Secret, TestError> = store.access_token(|r| {
            seen.borrow_mut().push(r.expose().to_owned());
            if r.expose() == public { Err(TestError::Refused) } else { Ok(fresh.clone()) }
        });
        assert_eq!(token.unwrap(), fresh.access);
        assert_eq!(*seen.borrow(), vec![public, own]);
        assert_eq!(file(&dir, REFRESH_FILE), fresh.refresh.expose());
    }

    #[test]
    fn beside_the_utility_the_access_token_is_used_until_it_expires() {
        let access = jwt(now_secs() + 30, "a");
        let (dir, store) = store_with(&access, &jwt(now_secs() + 86400, "r"));
        let refreshed: Result<Secret, TestError> = store.access_token(|_| Ok(pair("new")));
        assert_ne!(refreshed.unwrap().expose(), access, "alone: refreshed 60 s before expiry");
        fs::write(dir.path().join(ACCESS_FILE), &access).unwrap();
        fs::write(dir.path().join(".last_check"), "0").unwrap();
        let store = TokenStore::new(dir.path());
        let token: Result<Secret, TestError> = store.access_token(|_| panic!("the utility refreshes on this margin"));
        assert_eq!(token.unwrap().expose(), access);
    }

    #[test]
    fn a_failed_exchange_keeps_the_refresh_token() {
        let refresh = jwt(now_secs() + 86400, "keep");
        let (dir, store) = store_with("", &refresh);
        let token: Result<Secret, TestError> = store.access_token(|_| Err(TestError::Refused));
        assert!(matches!(token, Err(TestError::Refused)));
        assert_eq!(file(&dir, REFRESH_FILE), refresh);
    }

    #[test]
    fn a_rejected_token_is_replaced_by_a_newer_one_on_disk() {
        let rejected = Secret::new(jwt(now_secs() + 3600, "rejected"));
        let newer = jwt(now_secs() + 3600, "newer");
        let (_dir, store) = store_with(&newer, "r");
        let token: Result<Secret, TestError> = store.replace_rejected(&rejected, |_| panic!("must not refresh"));
        assert_eq!(token.unwrap().expose(), newer);
        // The same token on disk as the rejected one: refresh.
        let (_dir, store) = store_with(rejected.expose(), &jwt(now_secs() + 86400, "r"));
        let fresh = pair("fresh");
        let token: Result<Secret, TestError> = store.replace_rejected(&rejected, |_| Ok(fresh.clone()));
        assert_eq!(token.unwrap(), fresh.access);
    }

    #[test]
    fn a_refresh_token_rotated_by_someone_else_is_retried_once() {
        let spent = jwt(now_secs() + 86400, "spent");
        let rotated = jwt(now_secs() + 86400, "rotated");
        let (dir, store) = store_with("", &spent);
        let seen = std::cell::RefCell::new(Vec::new());
        let fresh = pair("fresh");
        let token: Result<Secret, TestError> = store.access_token(|r| {
            seen.borrow_mut().push(r.expose().to_owned());
            if r.expose() == spent {
                // Meanwhile the utility rotated the files (it does not take our lock).
                fs::write(dir.path().join(REFRESH_FILE), &rotated).unwrap();
                Err(TestError::Refused)
            } else {
                Ok(fresh.clone())
            }
        });
        assert_eq!(token.unwrap(), fresh.access);
        assert_eq!(*seen.borrow(), vec![spent, rotated]);
    }

    #[test]
    fn refresh_problems_are_explained_before_spending_anything() {
        let (_dir, store) = store_with("", "");
        let err: TestError = store.access_token(|_| panic!("no token to spend")).unwrap_err();
        assert!(matches!(err, TestError::Token(TokenError::NoRefreshToken { .. })), "{err:?}");

        let (_dir, store) = store_with("", &jwt(now_secs() - 7200, "old"));
        let err: TestError = store.access_token(|_| panic!("expired")).unwrap_err();
        let TestError::Token(err) = err else { panic!("wrong error") };
        assert!(err.to_string().contains("expired 2 h ago"), "{err}");
    }

    #[test]
    fn concurrent_refreshes_exchange_once() {
        let (dir, store) = store_with("", &jwt(now_secs() + 86400, "r"));
        let exchanges = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let token: Result<Secret, TestError> = store.access_token(|_| {
                        exchanges.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        sleep(Duration::from_millis(50));
                        Ok(pair("once"))
                    });
                    token.unwrap();
                });
            }
        });
        assert_eq!(exchanges.into_inner(), 1);
        assert!(jwt_expiry(&file(&dir, ACCESS_FILE)).is_some());
    }
}
