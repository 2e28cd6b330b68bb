//! Files that survive a crash or a power loss whole (the embedded chain's state,
//! the deployment file), and the lock files that keep a second process off data
//! one process owns.

use std::io::Write;
use std::path::Path;

use crate::error::{ChainError, Result};

/// Replaces `path` with `bytes` so that after a crash or a power loss it holds
/// either the old content or the new one, never a mix: written to a temporary
/// file beside it, synced, renamed over it, and the directory synced (the rename
/// itself is durable only then).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ChainError::io(dir, e))?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(|e| ChainError::io(&tmp, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| ChainError::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| ChainError::io(path, e))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| ChainError::io(dir, e))
}

/// A lock file tried.
pub enum Lock {
    /// Ours until the file is dropped (also when the process dies: the kernel
    /// releases it).
    Held(std::fs::File),
    /// Another process holds it.
    Busy {
        /// Its process id, as it wrote in the file ("unknown" if it wrote none).
        holder: String,
    },
}

/// Tries to take the exclusive lock on `path` (created if missing) without
/// waiting; when taken, writes this process's id into the file so that whoever
/// finds it busy can say who holds it.
pub fn try_lock(path: &Path) -> Result<Lock> {
    use std::io::{Read, Seek};
    let io = |e| ChainError::io(path, e);
    let mut file =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Ok(Lock::Busy { holder: if holder.is_empty() { "unknown".to_owned() } else { holder.to_owned() } });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(std::process::id().to_string().as_bytes())).map_err(io)?;
    Ok(Lock::Held(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_temporary_file_leaves_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write(&path, b"{\"old\":1}").unwrap();
        // A crash mid-write leaves only a torn temporary file beside it.
        std::fs::write(dir.path().join("state.json.tmp"), b"{\"new\":").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"old\":1}");
        write(&path, b"{\"new\":2}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"new\":2}");
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn a_held_lock_names_its_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let Lock::Held(held) = try_lock(&path).unwrap() else { panic!("a fresh lock is free") };
        match try_lock(&path).unwrap() {
            Lock::Busy { holder } => assert_eq!(holder, std::process::id().to_string()),
            Lock::Held(_) => panic!("taken twice"),
        }
        drop(held);
        assert!(matches!(try_lock(&path).unwrap(), Lock::Held(_)));
    }
}
