//! Finding and parsing the job input: `<dir>/input/input.json` when it is a regular file, else standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::job::InputError;

const FILE_PLACE: &str = "input/input.json";
const STDIN_PLACE: &str = "standard input";

/// Where the job input comes from, which also decides where the document goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// `<dir>/input/input.json` exists: output goes to `<dir>/output/output.json`.
    JobFolder(PathBuf),
    /// Anything else (cortexutils forgets the folder): input from stdin, output to stdout.
    Stdin,
}

pub(crate) fn locate(dir: &Path) -> Source {
    if input_file(dir).is_file() { Source::JobFolder(dir.to_path_buf()) } else { Source::Stdin }
}

pub(crate) fn read_job_folder(dir: &Path) -> Result<Value, InputError> {
    let bytes = std::fs::read(input_file(dir))
        .map_err(|error| InputError::Unreadable { place: FILE_PLACE, reason: error.to_string() })?;
    parse(&bytes, "in input/input.json")
}

/// A terminal on stdin means nobody is going to type a job: fail like cortexutils instead of waiting.
pub(crate) fn read_stdin(stdin: &mut dyn Read, stdin_is_tty: bool) -> Result<Value, InputError> {
    if stdin_is_tty {
        return Err(InputError::NoInput);
    }
    let mut bytes = Vec::new();
    stdin
        .read_to_end(&mut bytes)
        .map_err(|error| InputError::Unreadable { place: STDIN_PLACE, reason: error.to_string() })?;
    parse(&bytes, "on standard input")
}

fn input_file(dir: &Path) -> PathBuf {
    dir.join("input").join("input.json")
}

/// Parses any JSON value (the object check belongs to `Job`). The error keeps only serde's position and
/// category, never a piece of the input, which may contain secrets.
fn parse(bytes: &[u8], place: &'static str) -> Result<Value, InputError> {
    // Tolerate a UTF-8 byte order mark: editors add one, and it is not content.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Empty { place });
    }
    serde_json::from_slice(bytes).map_err(|error| InputError::InvalidJson { place, reason: error.to_string() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from_stdin(text: &str) -> Result<Value, InputError> {
        read_stdin(&mut text.as_bytes(), false)
    }

    #[test]
    fn stdin_parses_any_json_value() {
        assert_eq!(from_stdin(" {\"a\": [1]}\n").unwrap(), json!({"a": [1]}));
        assert_eq!(from_stdin("\u{feff}[1]").unwrap(), json!([1]));
    }

    #[test]
    fn terminal_stdin_is_not_read() {
        let mut never_read = "{\"dataType\": \"x\"}".as_bytes();
        let error = read_stdin(&mut never_read, true).unwrap_err();
        assert_eq!(error.to_string(), "Input file doesnt exist");
        assert_eq!(never_read.len(), 17);
    }

    #[test]
    fn empty_and_invalid_input_have_clear_messages_without_content() {
        assert_eq!(from_stdin(" \n").unwrap_err().to_string(), "Empty input on standard input");
        let invalid = from_stdin("{\"api_key\": \"hunter2\"").unwrap_err().to_string();
        assert!(invalid.starts_with("Invalid input JSON on standard input: "), "{invalid}");
        assert!(!invalid.contains("hunter2"), "{invalid}");
        let invalid = from_stdin("{\"a\": hunter2}").unwrap_err().to_string();
        assert!(!invalid.contains("hunter2"), "{invalid}");
    }

    #[test]
    fn job_folder_needs_a_regular_input_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(locate(dir.path()), Source::Stdin);
        std::fs::create_dir_all(dir.path().join("input/input.json")).unwrap();
        assert_eq!(locate(dir.path()), Source::Stdin, "a directory named input.json is not an input file");
        assert_eq!(locate(&dir.path().join("missing")), Source::Stdin);

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("input")).unwrap();
        std::fs::write(dir.path().join("input/input.json"), "").unwrap();
        assert_eq!(locate(dir.path()), Source::JobFolder(dir.path().to_path_buf()));
        assert_eq!(read_job_folder(dir.path()).unwrap_err().to_string(), "Empty input in input/input.json");
        std::fs::write(dir.path().join("input/input.json"), "nope").unwrap();
        let error = read_job_folder(dir.path()).unwrap_err().to_string();
        assert!(error.starts_with("Invalid input JSON in input/input.json: expected"), "{error}");
    }
}
