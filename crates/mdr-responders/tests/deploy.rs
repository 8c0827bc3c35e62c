//! Deployment: scripts/install.sh yields a folder Cortex can scan and run, the catalogues list every
//! flavour as a valid Docker definition, the Dockerfile follows the Docker runner's contract, and
//! the README's configuration reference matches the flavour files.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::{Job, Runner, definition_problems, fixture, sandbox, workspace_root};

/// The binaries this crate builds, as cargo built them for the tests (debug profile: no release
/// build needed to check the installation itself).
const BINARIES: &[(&str, &str)] = &[
    ("mdr-send-task-log", env!("CARGO_BIN_EXE_mdr-send-task-log")),
    ("mdr-close-incident", env!("CARGO_BIN_EXE_mdr-close-incident")),
    ("mdr-response-decision", env!("CARGO_BIN_EXE_mdr-response-decision")),
    ("mdr-create-incident", env!("CARGO_BIN_EXE_mdr-create-incident")),
    ("mdr-token", env!("CARGO_BIN_EXE_mdr-token")),
];

/// Every flavour file of `kind` (`responders` or `analyzers`), sorted by path, as Cortex-Analyzers'
/// catalogue job lists them.
fn flavour_files(kind: &str) -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    let Ok(folders) = std::fs::read_dir(workspace_root().join(kind)) else { return files };
    for folder in folders.map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        for file in std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()) {
            if file.extension().is_some_and(|e| e == "json") {
                let value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
                files.push((file, value));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A folder with the binaries install.sh should copy: this crate's, and the analyzer's when the
/// workspace build produced it (the TIP crate may not be finished).
fn bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in BINARIES {
        std::os::unix::fs::symlink(path, dir.path().join(name)).unwrap();
    }
    let built = Path::new(BINARIES[0].1).parent().unwrap();
    for (_, flavour) in flavour_files("analyzers") {
        let binary = flavour["command"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
        let candidate = built.join(&binary);
        if candidate.is_file() && !dir.path().join(&binary).exists() {
            std::os::unix::fs::symlink(candidate, dir.path().join(binary)).unwrap();
        }
    }
    dir
}

fn install(dest: &Path) -> (String, tempfile::TempDir) {
    let bins = bin_dir();
    let output = Command::new(workspace_root().join("scripts/install.sh"))
        .arg("--bin-dir")
        .arg(bins.path())
        .arg(dest.join("responders"))
        .arg(dest.join("analyzers"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "install.sh failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    (stdout, bins)
}

/// What Cortex's `WorkerSrv.scan` does with a local folder: every `*.json` one level down, each
/// `command` resolved against the scanned folder and kept inside it.
fn scan(folder: &Path) -> Vec<(Value, PathBuf)> {
    let mut found = Vec::new();
    for sub in std::fs::read_dir(folder).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        for file in std::fs::read_dir(&sub).unwrap().map(|e| e.unwrap().path()) {
            if file.extension().is_some_and(|e| e == "json") {
                let definition: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
                let problems = definition_problems(&definition, Runner::Process);
                assert!(problems.is_empty(), "{}: {problems:?}", file.display());
                let command = folder.join(definition["command"].as_str().unwrap());
                let resolved = command.canonicalize().unwrap();
                assert!(
                    resolved.starts_with(folder.canonicalize().unwrap()),
                    "{} leaves the folder",
                    command.display()
                );
                assert!(mode(&command) & 0o111 == 0o111, "{} is not executable by everyone", command.display());
                found.push((definition, command));
            }
        }
    }
    found.sort_by(|a, b| a.0["name"].as_str().cmp(&b.0["name"].as_str()));
    found
}

/// A job Cortex would send each flavour, from the TheHive samples, that succeeds on the stand-in.
fn sample_job(flavour: &str) -> Value {
    match flavour {
        "MDR_SendTaskLog" => fixture("th4/input_case_task_log.json"),
        "MDR_CloseIncident" => fixture("th4/input_case.json"),
        "MDR_ApproveResponse" | "MDR_DeclineResponse" => fixture("th4/input_case_task.json"),
        "MDR_CreateIncident" => {
            let mut input = fixture("th4/input_case.json");
            let case = &mut input["data"];
            case["_id"] = "~4099".into();
            case["status"] = "Open".into();
            case["tags"] = json!(["host:HOST-02"]);
            case["customFields"] = json!({"mdr-incident-id": {"string": null, "order": 0}});
            input
        }
        other => panic!("no sample job for {other}: add one here"),
    }
}

#[test]
fn install_yields_a_folder_cortex_can_scan_and_run() {
    let dest = tempfile::tempdir().unwrap();
    let (stdout, _bins) = install(dest.path());
    let responders = dest.path().join("responders").canonicalize().unwrap();
    assert!(stdout.contains(&format!("responder.urls = [\"{}\"]", responders.display())), "{stdout}");

    // Every responder flavour is there, byte for byte, with the modes Cortex needs.
    let installed = scan(&responders);
    let names: Vec<&str> = installed.iter().map(|(d, _)| d["name"].as_str().unwrap()).collect();
    let expected: Vec<String> =
        flavour_files("responders").iter().map(|(_, f)| f["name"].as_str().unwrap().to_owned()).collect();
    let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for (source, _) in flavour_files("responders") {
        let folder = source.parent().unwrap().file_name().unwrap();
        let copy = responders.join(folder).join(source.file_name().unwrap());
        assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&source).unwrap());
        assert_eq!(mode(&copy), 0o644);
        assert_eq!(mode(copy.parent().unwrap()), 0o755);
    }
    assert_eq!(mode(&responders.join("KasperskyMDR/mdr-token")), 0o755, "the token tool is installed beside");

    // Analyzers: whatever flavours have a built binary, each a valid definition.
    let analyzers = dest.path().join("analyzers").canonicalize().unwrap();
    assert!(stdout.contains(&format!("analyzer.urls = [\"{}\"]", analyzers.display())), "{stdout}");
    scan(&analyzers);

    // Each installed binary runs as Cortex runs it: from the scanned folder, on a job whose config
    // Cortex assembled from the flavour, and answers a report Cortex and TheHive accept.
    for (definition, command) in &installed {
        let name = definition["name"].as_str().unwrap();
        let mdr = sandbox(true);
        let (mut job, _) = Job::new(sample_job(name), &mdr);
        support::apply_flavour_config(&mut job.input, definition);
        let dir = job.write();
        let mut process = support::cortex_job_command(command.to_str().unwrap(), &dir);
        process.current_dir(&responders);
        let (output, timed_out) = support::run_process(process, None, support::job_timeout());
        assert!(!timed_out, "{name} hung");
        let raw = std::fs::read(dir.join("output/output.json")).unwrap_or_default();
        let doc: Value = serde_json::from_slice(&raw).unwrap_or_else(|_| {
            panic!("{name}: no output document; stderr: {}", String::from_utf8_lossy(&output.stderr))
        });
        let problems = support::report_problems(&doc);
        assert!(problems.is_empty(), "{name}: {problems:?}\n{doc}");
        assert_eq!(output.status.code(), Some(0), "{name}");
        assert!(output.stdout.is_empty(), "{name}: job-folder mode prints nothing");
    }
}

#[test]
fn install_is_repeatable_and_skips_flavours_without_a_binary() {
    let dest = tempfile::tempdir().unwrap();
    install(dest.path());
    let (stdout, _bins) = install(dest.path());
    assert!(stdout.contains("Installed"), "{stdout}");
    let leftovers: Vec<_> = std::fs::read_dir(dest.path().join("responders/KasperskyMDR"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A flavour file of another version left in the folder is pointed out.
    std::fs::write(dest.path().join("responders/KasperskyMDR/MDR_ConfirmResponse.json"), "{}").unwrap();
    let output = Command::new(workspace_root().join("scripts/install.sh"))
        .args(["--bin-dir", bin_dir().path().to_str().unwrap()])
        .arg(dest.path().join("responders"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MDR_ConfirmResponse.json is not part of this version"), "{stderr}");

    // With no binaries at all, nothing is installed and the script says so.
    let empty = tempfile::tempdir().unwrap();
    let output = Command::new(workspace_root().join("scripts/install.sh"))
        .args(["--bin-dir", empty.path().to_str().unwrap()])
        .arg(dest.path().join("elsewhere"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no binary") && stderr.contains("no flavour installed"), "{stderr}");
    assert!(!dest.path().join("elsewhere/KasperskyMDR").exists());
}

/// The image prefix: ghcr.io/<owner of [workspace.package] repository, lower case>.
fn image_prefix() -> String {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let line = manifest.lines().find(|l| l.starts_with("repository")).unwrap();
    let url = line.split('"').nth(1).unwrap();
    let owner = url.trim_start_matches("https://github.com/").split('/').next().unwrap();
    format!("ghcr.io/{}", owner.to_lowercase())
}

/// What scripts/catalog.sh generates, computed independently: Cortex-Analyzers' jq program.
fn expected_catalogue(kind: &str) -> Value {
    let prefix = image_prefix();
    let entries = flavour_files(kind)
        .into_iter()
        .map(|(_, mut flavour)| {
            let object = flavour.as_object_mut().unwrap();
            object.shift_remove("command");
            let name = object["name"].as_str().unwrap().to_lowercase();
            let image = format!("{prefix}/{name}:{}", object["version"].as_str().unwrap());
            object.insert("dockerImage".to_owned(), image.into());
            flavour
        })
        .collect();
    Value::Array(entries)
}

#[test]
fn catalogues_list_every_flavour_as_a_docker_definition() {
    for kind in ["responders", "analyzers"] {
        let path = workspace_root().join("catalogs").join(format!("{kind}.json"));
        let catalogue: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let expected = expected_catalogue(kind);
        if catalogue != expected {
            let name = |v: &Value| v["name"].as_str().unwrap_or("?").to_owned();
            let stale: Vec<String> = (0..catalogue.as_array().unwrap().len().max(expected.as_array().unwrap().len()))
                .filter(|i| catalogue.get(i) != expected.get(i))
                .map(|i| expected.get(i).or(catalogue.get(i)).map(name).unwrap_or_default())
                .collect();
            panic!(
                "{} is stale (entries {stale:?} differ from the flavour files): run scripts/catalog.sh",
                path.display()
            );
        }
        let entries = catalogue.as_array().unwrap();
        assert_eq!(entries.len(), flavour_files(kind).len());
        let mut ids = BTreeSet::new();
        for entry in entries {
            let problems = definition_problems(entry, Runner::Docker);
            assert!(problems.is_empty(), "{kind}: {}: {problems:?}", entry["name"]);
            // Cortex's worker id: name_version with dots as underscores; must be unique.
            let id =
                format!("{}_{}", entry["name"].as_str().unwrap(), entry["version"].as_str().unwrap()).replace('.', "_");
            assert!(ids.insert(id.clone()), "duplicate definition id {id}");
        }
    }
    let responders: Vec<String> = expected_catalogue("responders")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    for name in ["MDR_SendTaskLog", "MDR_CloseIncident", "MDR_ApproveResponse", "MDR_DeclineResponse"] {
        assert!(responders.iter().any(|n| n == name), "{name} missing from the catalogue");
    }
}

fn has_jq() -> bool {
    Command::new("jq").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn the_catalogue_script_and_the_image_builds_agree() {
    if !has_jq() {
        // .ci/run installs jq, so CI always runs this; a developer without jq is told what was skipped.
        assert!(std::env::var_os("CI").is_none(), "jq is missing on CI: .ci/run should have installed it");
        eprintln!("jq not installed: scripts/catalog.sh not run (the committed catalogues are still checked)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let status =
        Command::new(workspace_root().join("scripts/catalog.sh")).arg("--out").arg(out.path()).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    for kind in ["responders", "analyzers"] {
        let generated: Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join(format!("{kind}.json"))).unwrap()).unwrap();
        assert_eq!(generated, expected_catalogue(kind), "{kind}");
    }

    // One `docker build` per flavour, its COMMAND the flavour's and its tag the catalogue's image.
    let output =
        Command::new(workspace_root().join("scripts/release.sh")).args(["images", "--dry-run"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let builds: BTreeSet<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    let mut expected = BTreeSet::new();
    for kind in ["responders", "analyzers"] {
        for ((_, flavour), entry) in flavour_files(kind).iter().zip(expected_catalogue(kind).as_array().unwrap()) {
            let command = flavour["command"].as_str().unwrap();
            let image = entry["dockerImage"].as_str().unwrap();
            expected.insert(format!(
                "docker build --build-arg COMMAND={command} --label org.opencontainers.image.version={} -t {image} .",
                env!("CARGO_PKG_VERSION")
            ));
        }
    }
    assert_eq!(builds, expected);
}

/// The instructions of the Dockerfile's last stage (the image Cortex runs), continuation lines joined.
fn final_stage() -> Vec<String> {
    let text = std::fs::read_to_string(workspace_root().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let instructions: Vec<String> =
        joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect();
    let last_from = instructions.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    instructions[last_from..].to_vec()
}

#[test]
fn the_dockerfile_follows_the_cortex_docker_runner_contract() {
    let text = std::fs::read_to_string(workspace_root().join("Dockerfile")).unwrap();
    let stage = final_stage();
    // Cortex starts the container with no arguments: an exec-form ENTRYPOINT, and no CMD whose
    // words would become arguments.
    let entrypoints: Vec<&String> = stage.iter().filter(|l| l.starts_with("ENTRYPOINT")).collect();
    assert_eq!(entrypoints, [&"ENTRYPOINT [\"/worker/entrypoint\"]".to_owned()]);
    assert!(!stage.iter().any(|l| l.starts_with("CMD")), "a CMD would be passed as the job folder");
    // Minimal runtime with glibc, libgcc and CA certificates; root, like the Cortex-Analyzers images,
    // so the binary can write into the job folder Cortex mounts at /job.
    assert!(stage[0].starts_with("FROM gcr.io/distroless/cc-debian12"), "{}", stage[0]);
    assert!(!stage.iter().any(|l| l.starts_with("USER")), "the job folder belongs to the Cortex user");
    assert!(stage.iter().any(|l| l == "COPY --from=build /out/worker /worker"));
    // Built from source in the release profile, from the lock file, only the selected binary.
    assert!(text.contains("cargo build --release --locked --bin \"${COMMAND#*/}\""));
    assert!(text.contains("install -D -m 0755 \"target/release/${COMMAND#*/}\" /out/worker/entrypoint"));
    let rust = text.lines().find(|l| l.starts_with("ARG RUST_VERSION=")).unwrap();
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let msrv = manifest.lines().find(|l| l.starts_with("rust-version")).unwrap().split('"').nth(1).unwrap();
    assert_eq!(rust, format!("ARG RUST_VERSION={msrv}"), "the builder uses the workspace's rust-version");

    // The build context leaves out what the image never needs.
    let ignore = std::fs::read_to_string(workspace_root().join(".dockerignore")).unwrap();
    for entry in ["target/", ".git/"] {
        assert!(ignore.lines().any(|l| l == entry), ".dockerignore lacks {entry}");
    }

    // Every COMMAND a flavour can pass names a binary the workspace defines.
    for kind in ["responders", "analyzers"] {
        for (file, flavour) in flavour_files(kind) {
            let binary = flavour["command"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
            let defined = std::fs::read_dir(workspace_root().join("crates")).unwrap().any(|c| {
                let crate_dir = c.unwrap().path();
                crate_dir.join(format!("src/bin/{binary}.rs")).is_file()
            });
            assert!(defined, "{}: no crate defines the binary {binary}", file.display());
        }
    }
}

#[test]
fn without_arguments_the_binaries_read_the_job_at_slash_job() {
    // The Docker runner passes no argument: the default must be /job (cortexutils' default).
    for (name, path) in BINARIES.iter().filter(|(n, _)| *n != "mdr-token") {
        let output = Command::new(path).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("[default: /job]"), "{name}: {help}");
    }
}

/// The rows of the README's "## Configuration" table: the item names in backquotes at their start.
fn readme_configuration_items() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let start = readme.find("\n## Configuration\n").expect("README has a ## Configuration section");
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    let mut names = BTreeSet::new();
    for row in section[..end].lines().filter(|l| l.starts_with("| `")) {
        let first_cell = row.split('|').nth(1).unwrap();
        names.extend(first_cell.split('`').skip(1).step_by(2).map(str::to_owned));
    }
    names
}

#[test]
fn the_readme_configuration_reference_matches_the_flavour_files() {
    let documented = readme_configuration_items();
    let mut declared = BTreeSet::new();
    for (file, flavour) in flavour_files("responders") {
        for item in flavour["configurationItems"].as_array().unwrap() {
            let name = item["name"].as_str().unwrap();
            assert!(
                documented.contains(name),
                "{}: item {name} is not in README's configuration table",
                file.display()
            );
            declared.insert(name.to_owned());
        }
    }
    let stale: Vec<&String> = documented.difference(&declared).collect();
    assert!(stale.is_empty(), "README documents items no flavour declares: {stale:?}");
}
