//! Packaging: the release archive's `connectors/kaspersky-enrichment/` folder (laid out by
//! `scripts/release.sh connectors`, as the archive build does) is the Docker build context of its
//! Dockerfile, whose entrypoint is the connector binary the workspace builds; the compose file sets
//! only keys the connector reads, with values it accepts. No Docker engine needed: the Dockerfile
//! is read with test-support's model of it.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use opencti_kaspersky::config::{Config, ConfigSource};
use test_support::dockerfile::{Image, elf_interpreter};

const FOLDER: &str = "kaspersky-enrichment";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

fn built_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opencti-kaspersky-enrichment"))
}

/// `scripts/binaries.sh --connectors`: the connectors a release ships, `<folder>/<binary>`.
fn shipped_connectors() -> Vec<String> {
    let output =
        Command::new(workspace_root().join("scripts/binaries.sh")).arg("--connectors").output().expect("binaries.sh");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
}

/// The archive's `connectors/` folder, laid out from the binary cargo built for the tests.
fn lay_out() -> tempfile::TempDir {
    let bins = tempfile::tempdir().expect("tempdir");
    let binary = built_binary();
    std::os::unix::fs::symlink(&binary, bins.path().join(binary.file_name().expect("a name"))).expect("symlink");
    let out = tempfile::tempdir().expect("tempdir");
    let output = Command::new(workspace_root().join("scripts/release.sh"))
        .args(["connectors", "--bin-dir"])
        .arg(bins.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("release.sh");
    assert!(output.status.success(), "release.sh connectors: {}", String::from_utf8_lossy(&output.stderr));
    out
}

#[test]
fn the_release_ships_the_connector_folder_with_the_binary_the_workspace_builds() {
    let binary_name = built_binary().file_name().expect("a name").to_string_lossy().into_owned();
    assert_eq!(shipped_connectors(), [format!("{FOLDER}/{binary_name}")]);
    let defined = workspace_root().join(format!("crates/opencti-kaspersky/src/bin/{binary_name}.rs"));
    assert!(defined.is_file(), "{} defines the shipped binary", defined.display());

    let out = lay_out();
    let folder = out.path().join(FOLDER);
    let mut expected = vec![binary_name.clone()];
    for source in std::fs::read_dir(workspace_root().join("connectors").join(FOLDER)).expect("connector folder") {
        let source = source.expect("entry").path();
        let name = source.file_name().expect("a name").to_string_lossy().into_owned();
        let copy = std::fs::read(folder.join(&name)).unwrap_or_else(|e| panic!("{name} not shipped: {e}"));
        assert_eq!(copy, std::fs::read(&source).expect("source"), "{name} differs from the source tree's");
        expected.push(name);
    }
    expected.sort();
    let mut shipped: Vec<String> = std::fs::read_dir(&folder)
        .expect("shipped folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    shipped.sort();
    assert_eq!(shipped, expected);
    for name in ["Dockerfile", "docker-compose.yml", "config.yml.sample", "README.md"] {
        assert!(shipped.contains(&name.to_owned()), "{name} missing from the shipped folder");
    }
    let mode = std::fs::metadata(folder.join(&binary_name)).expect("binary").permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
}

#[test]
fn the_shipped_folder_builds_an_image_whose_entrypoint_is_the_connector() {
    let out = lay_out();
    let context = out.path().join(FOLDER);
    let image = Image::build(&context, &BTreeMap::new());
    // An exec-form entrypoint of one word, no CMD: the connector reads the environment only.
    assert_eq!(image.entrypoint.len(), 1, "{:?}", image.entrypoint);
    assert!(image.cmd.is_none(), "a CMD would become the connector's arguments");
    assert_eq!(image.files(), [image.entrypoint[0].clone()], "the image holds the binary and nothing else");

    let entrypoint = image.path(&image.entrypoint[0]);
    assert_eq!(std::fs::read(&entrypoint).expect("entrypoint"), std::fs::read(built_binary()).expect("binary"));
    assert_eq!(std::fs::metadata(&entrypoint).expect("entrypoint").permissions().mode() & 0o111, 0o111);
    let loader = elf_interpreter(&entrypoint).expect("a dynamic ELF binary");
    assert!(loader.contains("ld-linux"), "interpreter {loader}");
    let base = image.from.rsplit('/').next().unwrap_or_default();
    assert!(
        !["scratch", "alpine", "busybox"].iter().any(|musl_or_empty| base.starts_with(musl_or_empty)),
        "FROM {} has no glibc loader {loader}",
        image.from
    );
    let version = Command::new(&entrypoint).arg("--version").output().expect("--version");
    assert!(version.status.success());
    let stdout = String::from_utf8_lossy(&version.stdout);
    assert!(stdout.trim_end().ends_with(&format!(" {}", env!("CARGO_PKG_VERSION"))), "{stdout}");

    // The port it exposes is the callback's default one.
    let env = BTreeMap::from([
        ("OPENCTI_URL".to_owned(), "http://opencti:8080".to_owned()),
        ("OPENCTI_TOKEN".to_owned(), "t".to_owned()),
        ("KASPERSKY_API_KEY".to_owned(), "k".to_owned()),
    ]);
    let config = Config::from_source(&ConfigSource::from_parts(env, None)).expect("defaults");
    assert_eq!(image.exposed, [config.connector.listen_api_port.to_string()]);
}

#[test]
fn the_compose_file_sets_only_keys_the_connector_reads_with_values_it_accepts() {
    let path = workspace_root().join("connectors").join(FOLDER).join("docker-compose.yml");
    let compose: serde_yaml::Value = serde_yaml::from_slice(&std::fs::read(&path).expect("compose")).expect("YAML");
    let services = compose["services"].as_mapping().expect("services");
    assert_eq!(services.len(), 1);
    let service = services.values().next().expect("a service");
    let image = service["image"].as_str().expect("image");
    let binary_name = built_binary().file_name().expect("a name").to_string_lossy().into_owned();
    assert!(image.rsplit('/').next().unwrap_or_default().starts_with(&format!("{binary_name}:")), "image {image}");

    let env: BTreeMap<String, String> = service["environment"]
        .as_sequence()
        .expect("environment as a list")
        .iter()
        .map(|item| {
            let (key, value) = item.as_str().expect("KEY=value").split_once('=').expect("KEY=value");
            (key.to_owned(), value.to_owned())
        })
        .collect();
    assert!(env.contains_key("OPENCTI_URL") && env.contains_key("KASPERSKY_API_KEY"));
    let source = ConfigSource::from_parts(env.clone(), None);
    Config::from_source(&source).unwrap_or_else(|e| panic!("the compose values are refused: {e}"));
    let read = source.keys_read();
    let ignored: Vec<&String> = env.keys().filter(|key| !read.contains(key)).collect();
    assert!(ignored.is_empty(), "the compose file sets keys the connector never reads: {ignored:?}");
}
