//! The one way files are replaced: a temporary file beside the target (`.<name>.XXXXXX.tmp`),
//! written, fsynced, then renamed over the target, so a reader sees the old file or the new one and
//! never a torn one, whenever the process is killed.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// The permissions the replacing file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    /// What a plainly created file gets (0666 less the umask), as the files Cortex reads expect.
    Default,
    /// 0600 when the file is new. An existing file's owner and group permissions, group and
    /// (where the process may give it away) owner are kept, so another user's process that shares
    /// the group still reads it; others get nothing ([`private_mode`]: 0644 becomes 0640).
    PrivateKeepExisting,
}

/// The mode a [`FileMode::PrivateKeepExisting`] file that had `mode` gets: the owner's and the
/// group's permissions, none for others and no set-id or sticky bit.
pub fn private_mode(mode: u32) -> u32 {
    mode & 0o770
}

/// Replaces `path` with `bytes`. A failure leaves the old file as it was and no temporary file.
/// The folder is fsynced too where the platform allows, so the rename survives a power cut; the
/// new file is in place either way, so a folder that refuses the sync is not an error.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: FileMode) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{name}.");
    builder.prefix(&prefix).suffix(".tmp");
    permissions(&mut builder, mode);
    let mut temp = builder.tempfile_in(dir)?;
    if mode == FileMode::PrivateKeepExisting
        && let Ok(old) = fs::metadata(path)
    {
        keep_metadata(temp.as_file(), &old)?;
    }
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    if let Ok(folder) = fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn permissions(builder: &mut tempfile::Builder<'_, '_>, mode: FileMode) {
    use std::os::unix::fs::PermissionsExt;
    let bits = match mode {
        FileMode::Default => 0o666,
        FileMode::PrivateKeepExisting => 0o600,
    };
    builder.permissions(fs::Permissions::from_mode(bits));
}

#[cfg(not(unix))]
fn permissions(_: &mut tempfile::Builder<'_, '_>, _: FileMode) {}

/// Owner and group where permitted (only root may give a file away; a member of the group may set
/// it), else the group alone, else what the process gets; then the old mode without others' bits.
#[cfg(unix)]
fn keep_metadata(file: &fs::File, old: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).is_err() {
        let _ = std::os::unix::fs::fchown(file, None, Some(old.gid()));
    }
    file.set_permissions(fs::Permissions::from_mode(private_mode(old.mode())))
}

#[cfg(not(unix))]
fn keep_metadata(file: &fs::File, old: &fs::Metadata) -> io::Result<()> {
    file.set_permissions(old.permissions())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_private_file_is_0600_and_an_old_mode_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".refresh_token");
        write_atomically(&path, b"one", FileMode::PrivateKeepExisting).unwrap();
        assert_eq!(mode(&path), 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, b"two", FileMode::PrivateKeepExisting).unwrap();
        assert_eq!((fs::read_to_string(&path).unwrap().as_str(), mode(&path)), ("two", 0o640));
        assert_eq!(names(dir.path()), [".refresh_token"], "no temporary file left");
    }

    #[test]
    fn a_private_file_keeps_owner_and_group_permissions_but_never_any_for_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".access_token");
        for (before, after) in [(0o644, 0o640), (0o666, 0o660), (0o600, 0o600), (0o604, 0o600), (0o4755, 0o750)] {
            fs::write(&path, "old").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(before)).unwrap();
            write_atomically(&path, b"new", FileMode::PrivateKeepExisting).unwrap();
            assert_eq!(mode(&path), after, "{before:04o}");
        }
    }

    #[test]
    fn a_default_file_is_readable_like_a_created_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output.json");
        fs::write(dir.path().join("plain"), "").unwrap();
        write_atomically(&path, b"{}", FileMode::Default).unwrap();
        assert_eq!(mode(&path), mode(&dir.path().join("plain")));
    }

    #[test]
    fn a_failed_rename_keeps_nothing_but_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target");
        fs::create_dir_all(path.join("x")).unwrap();
        assert!(write_atomically(&path, b"{}", FileMode::Default).is_err());
        assert_eq!(names(dir.path()), ["target"]);
    }
}
