//! A Dockerfile read without a Docker engine: the image one stage yields from a build context, as
//! far as the deployment tests care (its files from COPY, entrypoint, command, user, labels,
//! exposed ports). An instruction this model does not know fails the test rather than being
//! ignored. Used by the Cortex images' tests and the OpenCTI connector's.

use std::collections::BTreeMap;
use std::path::Path;

/// The image of a one-stage Dockerfile; its files live under a temporary root.
pub struct Image {
    pub from: String,
    pub root: tempfile::TempDir,
    pub entrypoint: Vec<String>,
    pub cmd: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub exposed: Vec<String>,
}

impl Image {
    /// Builds `context`'s Dockerfile with `build_args` (panics on what it cannot model).
    pub fn build(context: &Path, build_args: &BTreeMap<String, String>) -> Self {
        let text = std::fs::read_to_string(context.join("Dockerfile")).expect("a Dockerfile").replace("\\\n", " ");
        let mut args: BTreeMap<String, String> = BTreeMap::new();
        let mut image: Option<Image> = None;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (op, rest) = line.split_once(' ').expect("an instruction with arguments");
            let mut rest = rest.trim().to_owned();
            for (name, value) in &args {
                rest = rest.replace(&format!("${{{name}}}"), value);
            }
            if op == "ARG" {
                let (name, default) = rest.split_once('=').unwrap_or((&rest, ""));
                let value = build_args.get(name).cloned().unwrap_or_else(|| default.to_owned());
                args.insert(name.to_owned(), value);
                continue;
            }
            if op == "FROM" {
                assert!(image.is_none(), "one stage expected: the image is the archive's binary on a runtime base");
                image = Some(Image {
                    from: rest,
                    root: tempfile::tempdir().expect("a temporary image root"),
                    entrypoint: Vec::new(),
                    cmd: None,
                    user: None,
                    labels: BTreeMap::new(),
                    exposed: Vec::new(),
                });
                continue;
            }
            let image = image.as_mut().expect("an instruction before FROM");
            match op {
                "LABEL" => image.labels.extend(labels(&rest)),
                "COPY" => {
                    let parts: Vec<&str> = rest.split_whitespace().collect();
                    let (dest, sources) = parts.split_last().expect("COPY <source>... <dest>");
                    assert!(!sources.iter().any(|s| s.starts_with("--")), "COPY flags are not modelled: {line}");
                    let dest = image.root.path().join(dest.trim_start_matches('/'));
                    for source in sources {
                        copy_into(&context.join(source), &dest);
                    }
                }
                "WORKDIR" => std::fs::create_dir_all(image.root.path().join(rest.trim_start_matches('/')))
                    .expect("WORKDIR created"),
                "ENTRYPOINT" => image.entrypoint = serde_json::from_str(&rest).expect("an exec-form ENTRYPOINT"),
                "CMD" => image.cmd = Some(rest),
                "USER" => image.user = Some(rest),
                "EXPOSE" => image.exposed.extend(rest.split_whitespace().map(str::to_owned)),
                other => panic!("the Dockerfile model does not know {other}: extend Image::build"),
            }
        }
        image.expect("a FROM")
    }

    /// Every file of the image (below its root), sorted.
    pub fn files(&self) -> Vec<String> {
        let mut files = Vec::new();
        let mut pending = vec![self.root.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for path in std::fs::read_dir(dir).expect("an image folder").map(|e| e.expect("an entry").path()) {
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(self.root.path()).expect("below the root");
                    files.push(format!("/{}", relative.display()));
                }
            }
        }
        files.sort();
        files
    }

    /// Where an absolute image path lives on this machine.
    pub fn path(&self, in_image: &str) -> std::path::PathBuf {
        self.root.path().join(in_image.trim_start_matches('/'))
    }
}

/// `key="value" key2="value2"`, as LABEL takes them.
fn labels(mut text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    while let Some((key, rest)) = text.trim_start().split_once('=') {
        let rest = rest.strip_prefix('"').expect("quoted label values");
        let end = rest.find('"').expect("a closing quote");
        pairs.push((key.trim().to_owned(), rest[..end].to_owned()));
        text = &rest[end + 1..];
    }
    pairs
}

/// COPY: a folder's contents into `dest`, a file to `dest` (into it when `dest` is a folder path).
fn copy_into(source: &Path, dest: &Path) {
    assert!(source.exists(), "COPY source {} is not in the context", source.display());
    if source.is_dir() {
        std::fs::create_dir_all(dest).expect("COPY destination");
        for entry in std::fs::read_dir(source).expect("COPY source").map(|e| e.expect("an entry").path()) {
            copy_into(&entry, &dest.join(entry.file_name().expect("a name")));
        }
    } else {
        let target = if dest.is_dir() { dest.join(source.file_name().expect("a name")) } else { dest.to_path_buf() };
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("COPY destination");
        // Keeps the mode, as COPY does.
        std::fs::copy(source, &target).expect("COPY");
    }
}

/// The program interpreter (`PT_INTERP`) of a 64-bit little-endian ELF file: the loader the
/// image must contain for the binary to start; `None` for a static or non-ELF file.
pub fn elf_interpreter(path: &Path) -> Option<String> {
    let elf = std::fs::read(path).ok()?;
    let number = |at: usize, len: usize| -> Option<usize> {
        let bytes = elf.get(at..at + len)?;
        Some(bytes.iter().rev().fold(0usize, |n, &b| (n << 8) | usize::from(b)))
    };
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let (table, entry_size, entries) = (number(0x20, 8)?, number(0x36, 2)?, number(0x38, 2)?);
    (0..entries).map(|i| table + i * entry_size).find(|&header| number(header, 4) == Some(3)).and_then(|header| {
        let (offset, size) = (number(header + 8, 8)?, number(header + 32, 8)?);
        let text = elf.get(offset..offset + size)?;
        Some(String::from_utf8_lossy(text).trim_end_matches('\0').to_owned())
    })
}
