//! Deployment: scripts/install.sh yields a folder Cortex can scan and run, the catalogues list every
//! flavour as a valid Docker definition, the Dockerfile follows the Docker runner's contract, and
//! the README's configuration reference matches the flavour files.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use test_support::cortex::{self, Runner, Worker, definition_problems};
use test_support::dockerfile::{Image, elf_interpreter};

use crate::support::{Job, fixture, sandbox, workspace_root};

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

/// The shipped binaries, `<Folder>/<binary>`, from the one list install.sh and release.sh read
/// (scripts/binaries.sh: the flavours' commands and the operator tools).
fn shipped(args: &[&str]) -> Vec<String> {
    let output = Command::new(workspace_root().join("scripts/binaries.sh")).args(args).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect()
}

fn binary_name(entry: &str) -> &str {
    entry.rsplit('/').next().unwrap()
}

/// A folder with every shipped binary, as cargo built them for the tests (debug profile: no
/// release build needed to check the installation itself). `cargo test --workspace` builds the
/// other crates' binaries into the same folder.
fn bin_dir() -> tempfile::TempDir {
    let built = Path::new(env!("CARGO_BIN_EXE_mdr-token")).parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for entry in shipped(&[]) {
        let binary = binary_name(&entry);
        let candidate = built.join(binary);
        assert!(candidate.is_file(), "{} not built: run cargo build --workspace --bins first", candidate.display());
        std::os::unix::fs::symlink(candidate, dir.path().join(binary)).unwrap();
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
        cortex::apply_flavour_config(&mut job.input, definition);
        let dir = job.write();
        let run = cortex::run_job(command, &dir, &responders, cortex::job_timeout()).unwrap();
        run.accepted(Worker::Responder).unwrap_or_else(|problem| panic!("{name}: {problem}"));
        let output = &run.output;
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

#[test]
fn the_catalogue_script_and_the_image_builds_agree() {
    // Not skipped without jq: a test that passes without running anything would hide a broken script.
    let jq = Command::new("jq").arg("--version").output();
    assert!(
        jq.is_ok_and(|o| o.status.success()),
        "jq is not installed: scripts/catalog.sh and release.sh images need it (apt-get install jq)"
    );
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
    let images = ImageBuilds::plan();
    let mut expected = BTreeSet::new();
    for kind in ["responders", "analyzers"] {
        for ((_, flavour), entry) in flavour_files(kind).iter().zip(expected_catalogue(kind).as_array().unwrap()) {
            expected.insert((
                flavour["command"].as_str().unwrap().to_owned(),
                entry["dockerImage"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let planned: BTreeSet<(String, String)> =
        images.builds.iter().map(|b| (b.args["COMMAND"].clone(), b.tag.clone())).collect();
    assert_eq!(planned, expected);
    for build in &images.builds {
        assert_eq!(build.labels["org.opencontainers.image.version"], env!("CARGO_PKG_VERSION"));
    }
}

/// `scripts/release.sh images --dry-run` on an installed layout (what the archive holds), with its
/// build contexts kept: the `docker build` commands it would run.
struct ImageBuilds {
    builds: Vec<DockerBuild>,
    installed: tempfile::TempDir,
    _contexts: tempfile::TempDir,
    _bins: tempfile::TempDir,
}

struct DockerBuild {
    args: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    tag: String,
    context: PathBuf,
}

impl ImageBuilds {
    fn plan() -> Self {
        let installed = tempfile::tempdir().unwrap();
        let (_, bins) = install(installed.path());
        let contexts = tempfile::tempdir().unwrap();
        let output = Command::new(workspace_root().join("scripts/release.sh"))
            .args(["images", "--dry-run", "--from"])
            .arg(installed.path())
            .arg("--contexts")
            .arg(contexts.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let builds = String::from_utf8(output.stdout).unwrap().lines().map(DockerBuild::parse).collect();
        ImageBuilds { builds, installed, _contexts: contexts, _bins: bins }
    }
}

impl DockerBuild {
    /// `docker build --build-arg K=V --label K=V -t TAG CONTEXT` (the temporary paths have no spaces).
    fn parse(line: &str) -> Self {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[..2], ["docker", "build"], "{line}");
        let pair = |w: &str| w.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap();
        let (mut args, mut labels, mut tag, mut context) = (BTreeMap::new(), BTreeMap::new(), None, None);
        let mut rest = words[2..].iter();
        while let Some(word) = rest.next() {
            match *word {
                "--build-arg" => {
                    let (k, v) = pair(rest.next().unwrap());
                    args.insert(k, v);
                }
                "--label" => {
                    let (k, v) = pair(rest.next().unwrap());
                    labels.insert(k, v);
                }
                "-t" => tag = Some((*rest.next().unwrap()).to_owned()),
                path if context.is_none() && !path.starts_with('-') => context = Some(PathBuf::from(path)),
                other => panic!("unexpected {other} in {line}"),
            }
        }
        DockerBuild { args, labels, tag: tag.expect("a -t tag"), context: context.expect("a context") }
    }
}

#[test]
fn each_image_runs_the_archive_binary_as_the_cortex_docker_runner_expects() {
    let images = ImageBuilds::plan();
    assert!(!images.builds.is_empty());
    for build in &images.builds {
        let command = &build.args["COMMAND"];
        let (folder, _binary) = command.split_once('/').unwrap();
        let kind = ["responders", "analyzers"].into_iter().find(|k| workspace_root().join(k).join(folder).is_dir());
        let kind = kind.unwrap();
        let image = Image::build(&build.context, &build.args);
        // Cortex starts the container with no arguments: an exec-form ENTRYPOINT, no CMD whose
        // words would become arguments; root like the Cortex-Analyzers images, so the binary can
        // write into the job folder (owned by the Cortex user) mounted at /job.
        assert_eq!(image.entrypoint.len(), 1, "{command}: {:?}", image.entrypoint);
        assert!(image.cmd.is_none(), "{command}: a CMD would be passed as the job folder");
        assert!(image.user.as_deref().is_none_or(|u| u == "root" || u == "0"), "{command}: USER {:?}", image.user);
        assert_eq!(image.labels["cortex.command"], *command);

        // The entrypoint is the archive's binary of that flavour, executable, and it starts.
        let entrypoint = image.root.path().join(image.entrypoint[0].trim_start_matches('/'));
        let shipped_binary = images.installed.path().join(kind).join(command);
        assert_eq!(std::fs::read(&entrypoint).unwrap(), std::fs::read(&shipped_binary).unwrap(), "{command}");
        assert_eq!(mode(&entrypoint) & 0o111, 0o111, "{command}: entrypoint not executable");
        // The binary is linked against glibc: the base must bring a glibc loader (not an empty or
        // musl image), which is what the entrypoint's ELF interpreter asks for.
        let loader = elf_interpreter(&entrypoint).unwrap_or_else(|| panic!("{command}: not a dynamic ELF binary"));
        assert!(loader.contains("ld-linux"), "{command}: interpreter {loader}");
        let base = image.from.rsplit('/').next().unwrap_or_default();
        assert!(
            !["scratch", "alpine", "busybox"].iter().any(|musl_or_empty| base.starts_with(musl_or_empty)),
            "{command}: FROM {} has no glibc loader {loader}",
            image.from
        );
        let version = Command::new(&entrypoint).arg("--version").output().unwrap();
        assert!(version.status.success(), "{command}");
        assert!(String::from_utf8_lossy(&version.stdout).trim_end().ends_with(env!("CARGO_PKG_VERSION")));

        // Nothing else than the entrypoint and the flavour folder's definitions and README.
        let mut expected = vec![image.entrypoint[0].clone()];
        for entry in std::fs::read_dir(workspace_root().join(kind).join(folder)).unwrap().map(|e| e.unwrap().path()) {
            let name = entry.file_name().unwrap().to_str().unwrap().to_owned();
            if name.ends_with(".json") || name == "README.md" {
                let copy = image.root.path().join("worker").join(folder).join(&name);
                assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(&entry).unwrap(), "{command}: {name}");
                expected.push(format!("/worker/{folder}/{name}"));
            }
        }
        expected.sort();
        assert_eq!(image.files(), expected, "{command}");
    }
}

#[test]
fn every_shipped_binary_is_defined_and_starts_with_version() {
    let bins = bin_dir();
    let tools = shipped(&["--tools"]);
    assert!(tools.iter().any(|t| t == "KasperskyMDR/mdr-token"), "{tools:?}");
    for entry in shipped(&[]) {
        let binary = binary_name(&entry);
        let output = Command::new(bins.path().join(binary)).arg("--version").output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{binary} --version: {}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.trim_end().ends_with(&format!(" {}", env!("CARGO_PKG_VERSION"))), "{binary}: {stdout}");
    }
}

#[test]
fn flavour_config_leaves_cortex_settings_to_the_operator() {
    // Cortex's saved worker configuration overrides TLP/PAP keys of a flavour's `config`, and a
    // fixed `auto_extract` there would override the operator's extraction toggle (cortexutils reads
    // config.auto_extract first).
    for kind in ["responders", "analyzers"] {
        for (file, flavour) in flavour_files(kind) {
            for key in ["auto_extract", "check_tlp", "max_tlp", "check_pap", "max_pap"] {
                assert!(flavour["config"].get(key).is_none(), "{}: config.{key}", file.display());
            }
        }
    }
}

#[test]
fn every_flavour_command_names_a_binary_the_workspace_defines() {
    for kind in ["responders", "analyzers"] {
        for (file, flavour) in flavour_files(kind) {
            let binary = binary_name(flavour["command"].as_str().unwrap()).to_owned();
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
    let bins = bin_dir();
    let tools = shipped(&["--tools"]);
    for entry in shipped(&[]).iter().filter(|e| !tools.contains(e)) {
        let name = binary_name(entry);
        let output = Command::new(bins.path().join(name)).arg("--help").output().unwrap();
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
