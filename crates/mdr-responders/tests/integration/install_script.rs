//! scripts/install.sh run from an unpacked release archive (install.sh beside responders/), as README.md
//! describes it. Unlike the deploy suite it needs no real binary: stand-in scripts take their place.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::workspace_root;

/// An archive unpacked into a folder that also holds Cortex's own `responders/` (e.g. /opt/cortex): the
/// archive's flavours are installed, not the neighbouring folder's.
#[test]
fn archive_install_uses_the_folder_beside_the_script() {
    let parent = tempfile::tempdir().unwrap();
    let neighbour = parent.path().join("responders/Other");
    std::fs::create_dir_all(&neighbour).unwrap();
    std::fs::write(neighbour.join("Other.json"), "{\n  \"command\": \"Other/other\"\n}\n").unwrap();

    let archive = parent.path().join("kaspersky-mdr-responders");
    let folder = archive.join("responders/KasperskyMDR");
    std::fs::create_dir_all(&folder).unwrap();
    // The archive's top level: install.sh and the list of shipped binaries it reads.
    for script in ["install.sh", "binaries.sh"] {
        std::fs::copy(workspace_root().join("scripts").join(script), archive.join(script)).unwrap();
    }
    let flavours = std::fs::read_dir(workspace_root().join("responders/KasperskyMDR")).unwrap();
    for path in flavours.map(|entry| entry.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(folder.join(path.file_name().unwrap()), &text).unwrap();
        let definition: serde_json::Value = serde_json::from_str(&text).unwrap();
        let binary = folder.join(definition["command"].as_str().unwrap().rsplit('/').next().unwrap());
        std::fs::write(&binary, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    let dest = parent.path().join("dest");
    let output = Command::new(archive.join("install.sh")).arg(&dest).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}\n{stderr}", String::from_utf8_lossy(&output.stdout));
    assert!(dest.join("KasperskyMDR/MDR_SendTaskLog.json").is_file());
    assert!(!dest.join("Other").exists(), "the neighbouring responders/ was installed");
    assert!(!stderr.contains("Other"), "{stderr}");
}

/// From the source tree with `--no-build`, the binaries come from cargo's target folder, which
/// CARGO_TARGET_DIR moves: never from a stale `target/release`.
#[test]
fn source_install_takes_binaries_from_cargo_target_dir() {
    let target = tempfile::tempdir().unwrap();
    let release = target.path().join("release");
    std::fs::create_dir_all(&release).unwrap();
    let listed = Command::new(workspace_root().join("scripts/binaries.sh")).arg("responders").output().unwrap();
    assert!(listed.status.success());
    for entry in String::from_utf8(listed.stdout).unwrap().lines() {
        let path = release.join(entry.rsplit('/').next().unwrap());
        std::fs::write(&path, "#!/bin/sh\n# from CARGO_TARGET_DIR\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dest = tempfile::tempdir().unwrap();
    let output = Command::new(workspace_root().join("scripts/install.sh"))
        .arg("--no-build")
        .arg(dest.path())
        .env("CARGO_TARGET_DIR", target.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let installed = std::fs::read_to_string(dest.path().join("KasperskyMDR/mdr-send-task-log")).unwrap();
    assert_eq!(installed, "#!/bin/sh\n# from CARGO_TARGET_DIR\n");
}
