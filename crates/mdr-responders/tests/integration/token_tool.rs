//! mdr-token against the MDR stand-in: seeding from the console's refresh token, status without
//! secrets, rotation on demand under the responders' lock, and refusals that leave the folder alone.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use test_support::Sandbox;

use crate::support::{Job, SEND, TOKEN_TOOL, sandbox};

struct Tool {
    output: Output,
}

impl Tool {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    fn assert_ok(&self) -> String {
        assert_eq!(self.code(), Some(0), "stdout: {}\nstderr: {}", self.stdout(), self.stderr());
        self.stdout()
    }

    fn assert_no_secret(&self, secrets: &[&str]) {
        let text = format!("{}{}", self.stdout(), self.stderr());
        for secret in secrets {
            assert!(!text.contains(secret), "a token was printed: {text}");
        }
    }
}

fn tool(args: &[&str], stdin: Option<&str>) -> Tool {
    let mut command = Command::new(TOKEN_TOOL);
    command.args(args).env_remove("REQUESTS_CA_BUNDLE").stdin(std::process::Stdio::null());
    let (output, timed_out) =
        crate::support::run_process(command, stdin.map(|s| s.as_bytes().to_vec()), crate::support::job_timeout())
            .unwrap();
    assert!(!timed_out, "mdr-token hung");
    Tool { output }
}

/// The connection options for `mdr`, with its CA written beside the token folder.
fn connection(mdr: &Sandbox, token_dir: &Path) -> Vec<String> {
    let ca = token_dir.with_extension("ca.pem");
    std::fs::write(&ca, mdr.ca_pem().unwrap()).unwrap();
    [
        "--token-dir",
        token_dir.to_str().unwrap(),
        "--api-url",
        &mdr.api_url(),
        "--client-id",
        mdr.client_id(),
        "--ssl-cert",
        ca.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn args<'a>(command: &'a str, connection: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec![command];
    all.extend(connection.iter().map(String::as_str));
    all.extend(extra);
    all
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A refresh token as the MDR console shows it: valid, never exchanged.
fn console_token(mdr: &Sandbox) -> String {
    mdr.issue_tokens(3600).refresh_token
}

fn fresh_folder() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("mdr-tokens");
    (root, dir)
}

#[test]
fn seed_exchanges_the_console_token_once_and_writes_both_files_0600() {
    let mdr = sandbox(true);
    let (_root, dir) = fresh_folder();
    let given = console_token(&mdr);
    let connection = connection(&mdr, &dir);
    let run = tool(&args("seed", &connection, &[]), Some(&format!("{given}\n")));
    let stdout = run.assert_ok();

    let refresh = read(&dir, ".refresh_token");
    let access = read(&dir, ".access_token");
    assert_ne!(refresh, given, "the console token is spent; the new one is saved");
    assert!(mdr.refresh_token_usable(&refresh), "the saved refresh token works");
    assert!(!mdr.refresh_token_usable(&given), "the console token was exchanged");
    assert_eq!(mdr.calls("session/confirm").len(), 1);
    assert_eq!((mode(&dir.join(".refresh_token")), mode(&dir.join(".access_token"))), (0o600, 0o600));
    assert_eq!(mode(&dir), 0o700, "a folder the tool creates is private");
    assert!(stdout.contains("Seeded") && stdout.contains("Ready"), "{stdout}");
    run.assert_no_secret(&[&given, &refresh, &access]);

    // A responder uses the seeded folder without refreshing.
    let job = Job::on("th4/input_case_task_log.json", &mdr);
    for name in [".access_token", ".refresh_token"] {
        std::fs::copy(dir.join(name), job.token_dir().join(name)).unwrap();
    }
    job.run(SEND).assert_success();
    assert_eq!(mdr.calls("session/confirm").len(), 1, "the seeded access token was used as it is");
}

#[test]
fn seed_fills_the_empty_files_the_utility_creates_without_force() {
    let mdr = sandbox(true);
    let (_root, dir) = fresh_folder();
    std::fs::create_dir(&dir).unwrap();
    // The MDR Integration Utility creates empty token files when they are missing.
    std::fs::write(dir.join(".refresh_token"), "").unwrap();
    std::fs::write(dir.join(".access_token"), "\n").unwrap();
    let connection = connection(&mdr, &dir);
    tool(&args("seed", &connection, &[]), Some(&console_token(&mdr))).assert_ok();
    assert!(mdr.refresh_token_usable(&read(&dir, ".refresh_token")));
}

#[test]
fn seed_reads_a_file_and_never_takes_the_token_on_the_command_line() {
    let mdr = sandbox(true);
    let (root, dir) = fresh_folder();
    let given = console_token(&mdr);
    let file = root.path().join("console-token.txt");
    std::fs::write(&file, format!("  {given}\r\n")).unwrap();
    let connection = connection(&mdr, &dir);
    tool(&args("seed", &connection, &["--refresh-token-file", file.to_str().unwrap()]), None).assert_ok();
    assert!(mdr.refresh_token_usable(&read(&dir, ".refresh_token")));

    let run = tool(&args("seed", &connection, &["--refresh-token", &given]), None);
    assert_eq!(run.code(), Some(2), "no such option: {}", run.stderr());
}

#[test]
fn refresh_rotates_under_the_same_lock_as_the_responders() {
    let mdr = sandbox(true);
    let (_root, dir) = fresh_folder();
    let connection = connection(&mdr, &dir);
    tool(&args("seed", &connection, &[]), Some(&console_token(&mdr))).assert_ok();
    let (old_refresh, old_access) = (read(&dir, ".refresh_token"), read(&dir, ".access_token"));

    // While a responder holds the lock, the tool waits for it instead of spending the token.
    let lock = mdr_api::token::lock_exclusive(&dir, mdr_api::token::LOCK_FILE).unwrap();
    let waiting = std::thread::spawn({
        let args: Vec<String> = args("refresh", &connection, &[]).iter().map(|s| (*s).to_owned()).collect();
        move || tool(&args.iter().map(String::as_str).collect::<Vec<_>>(), None)
    });
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(mdr.calls("session/confirm").len(), 1, "no exchange while the lock is held");
    drop(lock);
    let run = waiting.join().unwrap();
    let stdout = run.assert_ok();
    assert!(stdout.contains("Rotated"), "{stdout}");

    let (new_refresh, new_access) = (read(&dir, ".refresh_token"), read(&dir, ".access_token"));
    assert_ne!(new_refresh, old_refresh);
    assert_ne!(new_access, old_access);
    assert!(mdr.refresh_token_usable(&new_refresh));
    assert!(!mdr.refresh_token_usable(&old_refresh), "refresh tokens are single use");
    assert_eq!(mode(&dir.join(".refresh_token")), 0o600);
    run.assert_no_secret(&[&old_refresh, &new_refresh, &old_access, &new_access]);
}

#[test]
fn a_token_file_others_can_read_is_flagged_and_closed_by_the_next_refresh() {
    let mdr = sandbox(true);
    let (_root, dir) = fresh_folder();
    let connection = connection(&mdr, &dir);
    tool(&args("seed", &connection, &[]), Some(&console_token(&mdr))).assert_ok();
    let (refresh, access) = (dir.join(".refresh_token"), dir.join(".access_token"));
    std::fs::set_permissions(&refresh, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&access, std::fs::Permissions::from_mode(0o666)).unwrap();

    let status = tool(&["status", "--token-dir", dir.to_str().unwrap()], None).assert_ok();
    for (path, mode) in [(&refresh, "0644"), (&access, "0666")] {
        let line = status.lines().find(|l| l.contains(&format!("mode {mode}"))).unwrap_or_else(|| panic!("{status}"));
        assert!(line.contains("WARNING") && line.contains(&format!("chmod o-rwx {}", path.display())), "{line}");
    }
    assert!(status.contains("a refresh leaves mode 0640") && status.contains("a refresh leaves mode 0660"), "{status}");

    tool(&args("refresh", &connection, &[]), None).assert_ok();
    assert_eq!((mode(&refresh), mode(&access)), (0o640, 0o660), "group kept, others removed");
    let status = tool(&["status", "--token-dir", dir.to_str().unwrap()], None).assert_ok();
    assert!(!status.contains("WARNING") && status.contains("mode 0640"), "{status}");
}

#[test]
fn settings_come_from_the_utility_config_yml_like_the_responders() {
    let mdr = sandbox(true);
    let utility = tempfile::tempdir().unwrap();
    let conf = utility.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(conf.join("mdr.pem"), mdr.ca_pem().unwrap()).unwrap();
    let yml = conf.join("config.yml");
    std::fs::write(
        &yml,
        // With sections that are mdr-sync's and the utility's, typos included: not the tool's to refuse.
        format!(
            "api_url: {}\nclient_id: {}\nssl_cert: conf/mdr.pem\nmdr-sync: {{max_incident_at_time: 2}}\n\
             thehive: {{organization: SOC}}\nkuma: {{api_token: t}}\n",
            mdr.api_url(),
            mdr.client_id()
        ),
    )
    .unwrap();
    let config = ["--config-path", yml.to_str().unwrap()];
    tool(&[&["seed"][..], &config].concat(), Some(&console_token(&mdr))).assert_ok();
    // token_dir defaults to the utility's conf folder.
    let seeded = read(&conf, ".refresh_token");
    assert!(mdr.refresh_token_usable(&seeded));
    tool(&[&["refresh"][..], &config].concat(), None).assert_ok();
    assert_ne!(read(&conf, ".refresh_token"), seeded);
    let status = tool(&[&["status"][..], &config].concat(), None);
    assert!(status.assert_ok().contains(conf.to_str().unwrap()));
}

#[test]
fn status_shows_presence_mode_and_expiry_but_no_token() {
    let mdr = sandbox(true);
    let (_root, dir) = fresh_folder();
    let connection = connection(&mdr, &dir);
    tool(&args("seed", &connection, &[]), Some(&console_token(&mdr))).assert_ok();
    let run = tool(&["status", "--token-dir", dir.to_str().unwrap()], None);
    let stdout = run.assert_ok();
    for expected in
        [".refresh_token", ".access_token", ".token.lock", "valid until", "UTC", "mode 0600", "free", "Ready"]
    {
        assert!(stdout.contains(expected), "{expected} missing in:\n{stdout}");
    }
    run.assert_no_secret(&[&read(&dir, ".refresh_token"), &read(&dir, ".access_token")]);
    assert_eq!(mdr.journal().len(), 1, "status calls nothing (only the seed's exchange)");

    // Nothing there: exit code 1 and what to do.
    let (_root, empty) = fresh_folder();
    std::fs::create_dir(&empty).unwrap();
    let run = tool(&["status", "--token-dir", empty.to_str().unwrap()], None);
    assert_eq!(run.code(), Some(1));
    assert!(run.stdout().contains("missing") && run.stdout().contains("mdr-token seed"), "{}", run.stdout());

    // An expired refresh token is named as such.
    std::fs::write(empty.join(".refresh_token"), mdr.issue_tokens(-10).access_token).unwrap();
    let run = tool(&["status", "--token-dir", empty.to_str().unwrap()], None);
    assert_eq!(run.code(), Some(1));
    assert!(run.stdout().contains("EXPIRED"), "{}", run.stdout());
}

#[test]
fn a_refused_refresh_token_is_explained_and_the_folder_left_alone() {
    let mdr = sandbox(true);
    let (_root, dir) = fresh_folder();
    let connection = connection(&mdr, &dir);
    tool(&args("seed", &connection, &[]), Some(&console_token(&mdr))).assert_ok();
    let before = (read(&dir, ".refresh_token"), read(&dir, ".access_token"));

    // A valid refresh token is not replaced by accident.
    let run = tool(&args("seed", &connection, &[]), Some(&console_token(&mdr)));
    assert_eq!(run.code(), Some(1));
    assert!(run.stderr().contains("pass --force"), "{}", run.stderr());

    // A token MDR refuses (already used): clear message, nothing written.
    let spent = console_token(&mdr);
    tool(&args("seed", &connection, &["--force"]), Some(&spent)).assert_ok();
    let after_first = (read(&dir, ".refresh_token"), read(&dir, ".access_token"));
    assert_ne!(after_first, before);
    let run = tool(&args("seed", &connection, &["--force"]), Some(&spent));
    assert_eq!(run.code(), Some(1));
    let stderr = run.stderr();
    assert!(stderr.contains("MDR refused the refresh token given") && stderr.contains("was not changed"), "{stderr}");
    assert_eq!((read(&dir, ".refresh_token"), read(&dir, ".access_token")), after_first);
    run.assert_no_secret(&[&spent, &after_first.0]);

    // Not a token at all, or an expired one: refused before anything is sent.
    let calls = mdr.journal().len();
    let run = tool(&args("seed", &connection, &["--force"]), Some("two words"));
    assert!(run.stderr().contains("not a refresh token"), "{}", run.stderr());
    let run = tool(&args("seed", &connection, &["--force"]), Some(&mdr.issue_tokens(-10).access_token));
    assert!(run.stderr().contains("expired"), "{}", run.stderr());
    let run = tool(&args("seed", &connection, &["--force"]), Some(""));
    assert!(run.stderr().contains("No refresh token on standard input"), "{}", run.stderr());
    assert_eq!(mdr.journal().len(), calls);
    assert_eq!((read(&dir, ".refresh_token"), read(&dir, ".access_token")), after_first);
}

#[test]
fn missing_settings_name_the_option() {
    let run = tool(&["refresh", "--token-dir", "/nonexistent"], None);
    assert_eq!(run.code(), Some(1));
    assert!(run.stderr().contains("Missing `client_id`: pass --client-id"), "{}", run.stderr());
    let run = tool(&["status"], None);
    assert!(run.stderr().contains("Missing `token_dir`: pass --token-dir"), "{}", run.stderr());
    // A typo in a key the tool reads is named, with the file as the option gave it.
    let dir = tempfile::tempdir().unwrap();
    let yml = dir.path().join("config.yml");
    std::fs::write(&yml, "client-id: c\n").unwrap();
    let run = tool(&["refresh", "--token-dir", "/nonexistent", "--config-path", yml.to_str().unwrap()], None);
    assert_eq!(run.code(), Some(1));
    let expected = format!("--config-path {}: unknown key `client-id`: did you mean `client_id`?", yml.display());
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
}
