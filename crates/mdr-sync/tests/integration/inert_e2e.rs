//! The `mdr-sync` binary mirroring an incident whose texts carry markdown, HTML and line-break
//! injections: what the TheHive stand-in receives shows them as text (images, non-http links,
//! HTML, headings and tables inert), while the readable text is all there.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::json;
use test_support::{Sandbox, SandboxOptions, Seed, TheHiveOptions, TheHiveSandbox, TheHiveVersion};

const BIN: &str = env!("CARGO_BIN_EXE_mdr-sync");
const INCIDENT: &str = "-NzInjectedIncident1";

fn seed() -> Seed {
    let file = base64::engine::general_purpose::STANDARD.encode(b"process tree\n");
    Seed::from_json(json!({
        "incidents": [{
            "incident_id": INCIDENT, "incident_number": 4242, "priority": "HIGH", "status": "Open",
            "creation_time": 1_718_000_000_000_i64, "update_time": 1_718_000_100_000_i64,
            "summary": "## Beacon\r\n# to evil.example <b>x</b>",
            "description": "PowerShell ran `iex`:\n![x](http://attacker.example/pixel.png)\n[click](javascript:alert(1))\n\
                            <img src=x onerror=alert(1)>\n# Benign\n| a | b |\n|---|---|\nline\r\nnext",
            "affected_hosts": ["HOST-01"],
            "comments": [
                {"comment_id": "-NzInjectedComment01", "author_name": "Security Team", "creation_time": 1_718_000_010_000_i64,
                 "text": "<p>Seen &lt;img src=x onerror=alert(1)&gt; and <a href=\"javascript:alert(1)\">click</a></p>\
                          <h1>Benign</h1><p>![p](http://attacker.example/c.png)</p>"},
                {"comment_id": "-NzInjectedComment02", "author_name": "Eve\r\n# x", "creation_time": 1_718_000_020_000_i64,
                 "text": "# Verdict: benign\r\n| t | t |\n|---|---|\n```\nfenced\n```"}
            ],
            "attachments": [
                {"attachment_id": "-NzInjectedAttach001", "author_name": "Security Team", "creation_time": 1_718_000_030_000_i64,
                 "caption": "![c](http://attacker.example/cap.png)\n# Caption", "file_size": 13,
                 "full_name": "tree `a` |b| *c*.txt", "link": "https://mdr.example/a"},
                {"attachment_id": "-NzInjectedAttach002", "author_name": "Security Team", "creation_time": 1_718_000_040_000_i64,
                 "caption": "", "file_size": 5000, "full_name": "big.bin", "link": "javascript:alert(1)"}
            ],
            "responses": [
                {"response_id": "MDR_11111111-2222-3333-4444-555555555555", "type": "RUN_SCRIPT\n# x", "status": "New",
                 "asset_id": "0x01", "description": "![d](http://attacker.example/d.png)\n**ID**: MDR_evil",
                 "parameters": {"cmd": "powershell -enc `x` ``y``"}}
            ]
        }],
        "assets": [],
        "attachment_files": {"-NzInjectedAttach001": file}
    }))
    .unwrap()
}

fn setup(dir: &Path, hive: &TheHiveSandbox, mdr: &Sandbox, version: u8) -> PathBuf {
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    mdr.write_token_dir(&dir.join("conf"), 3600).unwrap();
    let yaml = format!(
        "api_url: {}\nclient_id: {}\nthehive:\n  api_url: {}\n  api_key: {}\n  version: {version}\n\
         mdr_sync:\n  download_attachments_size_limit: 1000\n",
        mdr.api_url(),
        mdr.client_id(),
        hive.url(),
        hive.api_key()
    );
    let path = dir.join("conf/config.yml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// What no markdown field may carry: a CR, a live tag, an image or a link of MDR's (ours is the
/// console link), a line starting a heading, table, setext heading or HTML block (after any
/// quote prefix). An escaped `\](` is text.
fn assert_inert(what: &str, text: &str) {
    assert!(!text.contains('\r'), "{what}: a CR in {text:?}");
    for live in ["<img", "<script", "<a ", "<b>", "!["] {
        assert!(!text.contains(live), "{what}: {live:?} in {text:?}");
    }
    let theirs = text.replace("[Open in the MDR console](https://", "");
    for (at, _) in theirs.match_indices("](") {
        assert!(theirs[..at].ends_with('\\'), "{what}: a link at {at} in {text:?}");
    }
    for line in text.lines() {
        let line = line.trim_start_matches(['>', ' ']);
        assert!(!line.starts_with(['#', '|', '=', '<']), "{what}: line {line:?} in {text:?}");
    }
}

fn mirrors_inert(version: TheHiveVersion) {
    let mdr = Sandbox::start(SandboxOptions::new(seed())).unwrap();
    let hive = TheHiveSandbox::start(TheHiveOptions::new(version)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let v = if version == TheHiveVersion::V4 { 4 } else { 5 };
    let config = setup(dir.path(), &hive, &mdr, v);
    let out = Command::new(BIN).args(["--config", config.to_str().unwrap(), "--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("FAILED"), "{stderr}");

    let (cases, tasks, logs) = hive.records();
    assert_eq!(cases.len(), 1, "{cases:?}");
    let case = &cases[0];
    // A title is plain one-line text: no line break, no leading `#`.
    assert_eq!(case["title"], "MDR K-4242: Beacon # to evil.example <b>x</b>");
    let description = case["description"].as_str().unwrap();
    assert_inert("case description", description);
    assert_eq!(
        description,
        "PowerShell ran \\`iex\\`:  \n!\\[x\\](<http://attacker.example/pixel.png>)  \n\\[click\\](javascript:alert(1))  \n\
         &lt;img src=x onerror=alert(1)>  \n\\# Benign  \n\\| a \\| b \\|  \n\\|---\\|---\\|  \nline  \nnext\n\n\
         **Affected hosts**: HOST-01\n\n[Open in the MDR console](https://mdr.kaspersky.com/incidents/-NzInjectedIncident1)"
    );

    let task_of = |title: &str| tasks.iter().find(|t| t["title"] == title).unwrap_or_else(|| panic!("{tasks:?}"));
    let response = task_of("RUN_SCRIPT # x");
    let response_description = response["description"].as_str().unwrap();
    assert_inert("response task", response_description);
    assert_eq!(
        response_description,
        "**ID**: MDR_11111111-2222-3333-4444-555555555555  \n**Details**: ```{\"cmd\":\"powershell -enc `x` ``y``\"}```  \n\
         **Comment**: !\\[d\\](<http://attacker.example/d.png>)  \n\\*\\*ID\\*\\*: MDR\\_evil"
    );

    let comments = task_of("MDR Response");
    let messages: Vec<&str> =
        logs.iter().filter(|l| l["task"] == comments["_id"]).map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    for message in &messages {
        assert_inert("log", message);
    }
    assert_eq!(
        messages[0],
        "Security Team wrote:\n> Seen &lt;img src=x onerror=alert(1)> and click\n>\n> **Benign**\n>\n\
         > !\\[p\\](<http://attacker.example/c.png>)\n\n[MDR comment -NzInjectedComment01]"
    );
    assert_eq!(
        messages[1],
        "Eve # x wrote:\n> \\# Verdict: benign  \n> \\| t \\| t \\|  \n> \\|---\\|---\\|  \n> \\`\\`\\`  \n> fenced  \n> \\`\\`\\`\
         \n\n[MDR comment -NzInjectedComment02]"
    );
    assert_eq!(
        messages[2],
        "Security Team attached ``tree `a` |b| *c*.txt`` (13 bytes):\n> !\\[c\\](<http://attacker.example/cap.png>)  \n\
         > \\# Caption\n\n[MDR attachment -NzInjectedAttach001]"
    );
    assert_eq!(
        messages[3],
        "Security Team attached `big.bin` (5000 bytes)\n\nNot copied: larger than `download_attachments_size_limit` \
         (1000 bytes); download it from the MDR console (`javascript:alert(1)`).\n\n[MDR attachment -NzInjectedAttach002]"
    );

    // Nothing mirrored twice: the markers are found again as they were written.
    let writes = hive.journal().len();
    let out = Command::new(BIN).args(["--config", config.to_str().unwrap(), "--once"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(dir.path().join("conf/.mdr-sync-state.json")).unwrap();
    let out = Command::new(BIN).args(["--config", config.to_str().unwrap(), "--once"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (cases, tasks, logs) = hive.records();
    assert_eq!((cases.len(), tasks.len(), logs.len()), (1, 2, 4), "a replayed pass wrote again");
    let reads = ["/_search", "/api/v1/query", "GET "];
    let new_writes = hive.journal()[writes..].iter().filter(|e| !reads.iter().any(|r| e.endpoint.contains(r))).count();
    assert_eq!(new_writes, 0);
}

#[test]
fn thehive4_receives_mdr_text_inert() {
    mirrors_inert(TheHiveVersion::V4);
}

#[test]
fn thehive5_receives_mdr_text_inert() {
    mirrors_inert(TheHiveVersion::V5);
}
