//! The only way pulse-harden writes a file (`-o`, `--report FILE`, the Helm log): into a
//! temporary file created exclusively, with an unpredictable name, in the target's
//! directory, never through a symlink; then renamed over the target. A reader never sees
//! half a file, a link planted at the temporary name is never followed, and the result
//! never has wider permissions than it should.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The permissions of the file written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Those of the file replaced; a new file gets 0600 when `private` (the content holds a
    /// Secret), else what the umask allows (0666 less the umask).
    KeepExisting { private: bool },
    /// 0600, whatever the replaced file had.
    OwnerOnly,
}

/// Writes `path` as `write` fills it (see the module docs). A path under `/dev/` or `/proc/`
/// (`/dev/null`, `/dev/stdout`, `/dev/fd/3` from `>(…)`) is a device or a pipe: it is opened
/// and written, never replaced (replacing `/dev/null` with a file, as root, breaks the
/// machine). Any other path that is a FIFO, socket or device is refused.
pub fn replace(
    path: &Path,
    mode: Mode,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    if path.starts_with("/dev") || path.starts_with("/proc") {
        let mut file = OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        return write(&mut file).with_context(|| format!("cannot write {}", path.display()));
    }
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !(meta.is_file() || meta.is_symlink() || meta.is_dir())
    {
        anyhow::bail!(
            "{} is a FIFO, socket or device: pulse-harden writes files, or /dev and /proc paths such as /dev/stdout",
            path.display()
        );
    }
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The permissions to keep: only a regular file's (a link at `path` is replaced, not
    // followed).
    let kept = match mode {
        Mode::KeepExisting { .. } => std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.permissions()),
        Mode::OwnerOnly => None,
    };
    let private = match mode {
        Mode::KeepExisting { private } => private || kept.is_some(),
        Mode::OwnerOnly => true,
    };
    let (tmp, mut file) = create_temporary(dir, &file_name.to_string_lossy(), private)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let written = write(&mut file)
        .and_then(|()| match kept {
            Some(permissions) => file.set_permissions(permissions),
            None => Ok(()),
        })
        .and_then(|()| file.sync_all());
    drop(file);
    let renamed = written
        .with_context(|| format!("cannot write {}", path.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot replace {}", path.display()))
        });
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// A new file `.<name>.<random>.tmp` in `dir`, created exclusively (an existing file or link
/// at that name is an error, retried under another name), owner-only when `private`.
fn create_temporary(dir: &Path, name: &str, private: bool) -> std::io::Result<(PathBuf, File)> {
    let mut last = None;
    for attempt in 0..64u32 {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", unpredictable(attempt)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(if private { 0o600 } else { 0o666 })
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        #[cfg(not(unix))]
        let _ = private;
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| ErrorKind::AlreadyExists.into()))
}

/// 64 bits nobody can guess in advance: std's hasher keys come from the operating system's
/// random source, once per process.
fn unpredictable(attempt: u32) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(now);
    hasher.write_u32(std::process::id());
    hasher.write_u32(attempt);
    hasher.finish()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("pulse-harden-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn keeps_the_mode_of_the_file_it_replaces() {
        let d = dir("keep");
        let out = d.join("out.yaml");
        std::fs::write(&out, "old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&out, Mode::KeepExisting { private: false }, |f| {
            std::io::Write::write_all(f, b"new")
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
        assert_eq!(mode(&out), 0o640);
        let fresh = d.join("fresh.yaml");
        replace(&fresh, Mode::KeepExisting { private: true }, |_| Ok(())).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        replace(&out, Mode::OwnerOnly, |_| Ok(())).unwrap();
        assert_eq!(mode(&out), 0o600);
        // Nothing left behind.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn devices_are_written_not_replaced_and_fifos_refused() {
        // /proc/self/fd/N cannot be renamed over: the old way would fail, not break anything.
        let d = dir("devices");
        let out = d.join("through-proc.txt");
        let file = File::create(&out).unwrap();
        let proc = PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&file)
        ));
        replace(&proc, Mode::OwnerOnly, |f| {
            std::io::Write::write_all(f, b"x")
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "x");
        let fifo = d.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = replace(&fifo, Mode::OwnerOnly, |_| Ok(())).unwrap_err();
        assert!(
            format!("{e}").contains("is a FIFO, socket or device"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_leaves_the_target_alone() {
        let d = dir("fail");
        let out = d.join("out.yaml");
        std::fs::write(&out, "old").unwrap();
        let e = replace(&out, Mode::OwnerOnly, |_| Err(ErrorKind::Other.into())).unwrap_err();
        assert!(format!("{e:#}").starts_with("cannot write "), "{e:#}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }
}
