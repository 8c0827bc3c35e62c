//! The dependency arrows between the workspace's crates are exactly those `crates/README.md`
//! allows: `cargo metadata` against the table, so that a shortcut (the daemon importing responder
//! code, the HTTP layer importing the job protocol) fails here instead of in a later review.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;
use test_support::cortex::workspace_root;

const SUPPORT: &str = "test-support";

/// `crate -> allowed crates`, from the table's rows `| \`name\` | holds | a, b |`.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(workspace_root().join("crates/README.md")).unwrap();
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
            let name = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            let deps = cells.get(2)?.split(',').map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
            Some((name.to_owned(), deps.collect()))
        })
        .collect()
}

/// Each workspace member and its dependencies on other members, with their kind (`None` = normal).
fn arrows() -> Vec<(String, String, Option<String>)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let members: BTreeSet<&str> = packages.iter().map(|p| p["name"].as_str().unwrap()).collect();
    let mut arrows = Vec::new();
    for package in packages {
        for dep in package["dependencies"].as_array().unwrap() {
            let target = dep["name"].as_str().unwrap();
            if members.contains(target) {
                let kind = dep["kind"].as_str().map(str::to_owned);
                arrows.push((package["name"].as_str().unwrap().to_owned(), target.to_owned(), kind));
            }
        }
    }
    arrows
}

#[test]
fn every_crate_depends_only_on_what_crates_readme_allows() {
    let allowed = allowed();
    let arrows = arrows();
    let mut wrong = Vec::new();
    for (from, to, kind) in &arrows {
        let Some(permitted) = allowed.get(from) else {
            wrong.push(format!("{from} has no row in crates/README.md"));
            continue;
        };
        let ok = permitted.contains(to) || (kind.as_deref() == Some("dev") && to == SUPPORT);
        if !ok {
            wrong.push(format!("{from} -> {to} ({})", kind.as_deref().unwrap_or("normal")));
        }
    }
    assert!(wrong.is_empty(), "arrows crates/README.md does not allow:\n{}", wrong.join("\n"));
    assert!(arrows.iter().any(|(from, to, _)| from == "mdr-sync" && to == "mdr-api"), "the metadata was read");
}

#[test]
fn the_table_itself_keeps_the_layers() {
    let allowed = allowed();
    // The job protocol, the HTTP layer and the vendor clients know no program above them.
    for low in ["safekeeping", "cortex-worker", "cortex-http", "mdr-api", "thehive"] {
        let deps = &allowed[low];
        for high in ["mdr-responders", "mdr-sync", "mdr-contract", "cortex-worker", SUPPORT] {
            assert!(!deps.contains(high), "{low} may not depend on {high}");
        }
    }
    assert!(!allowed["mdr-api"].contains("thehive") && !allowed["thehive"].contains("mdr-api"));
    assert!(!allowed["mdr-sync"].contains("mdr-responders") && !allowed["mdr-sync"].contains("cortex-worker"));
    assert!(allowed.values().all(|deps| !deps.contains(SUPPORT)), "test-support is never a normal dependency");
}
