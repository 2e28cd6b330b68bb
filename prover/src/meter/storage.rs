//! Storage held over time, in byte-seconds.
//!
//! Bytes are sampled at each poll and integrated with the trapezoid rule: an
//! interval of `dt` ms between samples of `b0` and `b1` bytes holds
//! `(b0 + b1) × dt / 2000` byte-seconds. The part below one byte-second is carried
//! in the cursor (`[bytes at end, remainder in 1/2000 byte-s]`), so the sum of many
//! short readings equals the integral exactly. Nothing is sampled while the daemon
//! is down, so nothing is billed for that time (bytes held then were never
//! observed): after a restart the meter samples afresh and its first reading
//! starts at the restart.
//!
//! Mode "tree" counts the apparent size (`len`, what was written; not the blocks
//! the filesystem allocated, which depend on compression and sparseness) of every
//! regular file under a directory, without following symlinks; a file with several
//! hard links under it counts once per name. Mode "volume" bills the used bytes of
//! the whole filesystem, for a volume dedicated to the job.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkmeter_circuits::ResourceClass;

use super::{check_cursor, not_resumed, Cursor, MeterError, MeterSource, Reading};

const NAME: &str = "storage";

/// Trapezoid areas are in bytes × ms / 2; this many make one byte-second.
const PER_BYTE_SECOND: u128 = 2000;

/// What a storage meter counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageMode {
    /// Apparent size of the files under a directory.
    #[default]
    Tree,
    /// Used bytes of the filesystem holding a path (`statvfs`).
    Volume,
}

/// Samples and integrates the bytes under a path.
pub struct StorageSource {
    path: PathBuf,
    mode: StorageMode,
    /// Bytes, remainder and end of the last reading (or of the baseline).
    last: Option<(u64, u64, u64)>,
}

impl StorageSource {
    /// Opens `path`, which must exist (a directory in mode "tree").
    pub fn open(path: &Path, mode: StorageMode) -> Result<Self, MeterError> {
        let unavailable = |reason: String| MeterError::Unavailable { source_name: NAME, reason };
        match (std::fs::metadata(path), mode) {
            (Err(e), _) => return Err(unavailable(format!("{}: {e}; create it or fix `path`", path.display()))),
            (Ok(meta), StorageMode::Tree) if !meta.is_dir() => {
                return Err(unavailable(format!("{} is not a directory; meter a directory, or set mode = \"volume\"", path.display())))
            }
            _ => {}
        }
        let source = Self { path: path.to_owned(), mode, last: None };
        source.bytes().map_err(unavailable)?;
        Ok(source)
    }

    fn bytes(&self) -> Result<u64, String> {
        match self.mode {
            StorageMode::Tree => tree_bytes(&self.path),
            StorageMode::Volume => volume_bytes(&self.path),
        }
    }
}

/// Apparent size of the regular files under `root`. Entries that vanish during
/// the walk (a job deleting files) are skipped: they no longer hold storage.
fn tree_bytes(root: &Path) -> Result<u64, String> {
    let gone = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
    let fail = |path: &Path, e: io::Error| format!("cannot read {}: {e}", path.display());
    let mut total = 0u64;
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Err(e) if gone(&e) && dir != root => continue,
            other => other.map_err(|e| fail(&dir, e))?,
        };
        for entry in entries {
            let entry = entry.map_err(|e| fail(&dir, e))?;
            // DirEntry::metadata does not follow symlinks.
            let meta = match entry.metadata() {
                Err(e) if gone(&e) => continue,
                other => other.map_err(|e| fail(&entry.path(), e))?,
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Ok(total)
}

/// Used bytes of the filesystem holding `path`, as `df` counts them.
fn volume_bytes(path: &Path) -> Result<u64, String> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("{} contains a NUL byte", path.display()))?;
    // SAFETY: statvfs is plain old data, for which all zeroes is a valid value.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is NUL-terminated and stat is a writable statvfs.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(format!("statvfs {}: {}", path.display(), io::Error::last_os_error()));
    }
    let used = u128::from(stat.f_blocks).saturating_sub(u128::from(stat.f_bfree)) * u128::from(stat.f_frsize);
    Ok(u64::try_from(used).unwrap_or(u64::MAX))
}

/// Byte-seconds between samples of `b0` and `b1` bytes `elapsed_ms` apart, plus the
/// carried `remainder`; returns them and the new remainder, `None` past u64.
fn integrate(b0: u64, b1: u64, elapsed_ms: u64, remainder: u64) -> Option<(u64, u64)> {
    let area = (u128::from(b0) + u128::from(b1)).checked_mul(u128::from(elapsed_ms))?.checked_add(u128::from(remainder))?;
    Some((u64::try_from(area / PER_BYTE_SECOND).ok()?, (area % PER_BYTE_SECOND) as u64))
}

impl MeterSource for StorageSource {
    fn class(&self) -> ResourceClass {
        ResourceClass::Storage
    }

    fn describe(&self) -> String {
        match self.mode {
            StorageMode::Tree => format!("storage: apparent size of the files under {}", self.path.display()),
            StorageMode::Volume => format!("storage: used bytes of the volume holding {}", self.path.display()),
        }
    }

    fn resume(&mut self, last: Option<(&Cursor, u64)>, now_ms: u64) -> Result<(), MeterError> {
        self.last = Some(match last {
            Some((cursor, end_ms)) => {
                check_cursor(NAME, cursor, 2)?;
                if u128::from(cursor[1]) >= PER_BYTE_SECOND {
                    return Err(MeterError::Config {
                        source_name: NAME,
                        reason: format!("cursor remainder {} is not below {PER_BYTE_SECOND}: the log was not written by a storage meter", cursor[1]),
                    });
                }
                let bytes = self.bytes().map_err(|reason| MeterError::Read { source_name: NAME, reason })?;
                (bytes, cursor[1], now_ms.max(end_ms))
            }
            None => (self.bytes().map_err(|reason| MeterError::Read { source_name: NAME, reason })?, 0, now_ms),
        });
        Ok(())
    }

    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError> {
        let (b0, remainder, start_ms) =
            self.last.ok_or_else(|| not_resumed(NAME))?;
        if now_ms <= start_ms {
            return Ok(Vec::new());
        }
        let b1 = self.bytes().map_err(|reason| MeterError::Read { source_name: NAME, reason })?;
        let (quantity, remainder) = integrate(b0, b1, now_ms - start_ms, remainder).ok_or_else(|| MeterError::Read {
            source_name: NAME,
            reason: format!("{b0}..{b1} bytes over {} ms is more byte-seconds than a u64 holds; poll more often", now_ms - start_ms),
        })?;
        self.last = Some((b1, remainder, now_ms));
        Ok(vec![Reading { start_ms, end_ms: now_ms, quantity, cursor: vec![b1, remainder] }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_counts_apparent_sizes_and_skips_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big"), vec![0u8; 10_000]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"hello").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), vec![1u8; 1000]).unwrap();
        std::os::unix::fs::symlink(outside.path().join("big"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("dirlink")).unwrap();
        assert_eq!(tree_bytes(dir.path()), Ok(1005));
    }

    #[test]
    fn trapezoid_over_time() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![0u8; 1000]).unwrap();
        let mut storage = StorageSource::open(dir.path(), StorageMode::Tree).unwrap();
        storage.resume(None, 10_000).unwrap();
        std::fs::write(dir.path().join("g"), vec![0u8; 2000]).unwrap();
        // From 1000 to 3000 bytes over 2 s: 4000 byte-s.
        let reading = storage.poll(12_000).unwrap();
        assert_eq!(reading, vec![Reading { start_ms: 10_000, end_ms: 12_000, quantity: 4000, cursor: vec![3000, 0] }]);
        assert!(storage.poll(12_000).unwrap().is_empty());
    }

    #[test]
    fn many_short_readings_sum_exactly() {
        let (mut remainder, mut total) = (0, 0);
        for _ in 0..1000 {
            let (quantity, r) = integrate(3, 3, 1, remainder).unwrap();
            assert!(quantity <= 1);
            total += quantity;
            remainder = r;
        }
        // 3 bytes for one second, in a thousand 1 ms readings of 0.003 byte-s.
        assert_eq!((total, remainder), (3, 0));
        assert_eq!(integrate(u64::MAX, u64::MAX, u64::MAX, 0), None);
    }

    #[test]
    fn resume_bills_nothing_for_the_downtime() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![0u8; 500]).unwrap();
        let mut storage = StorageSource::open(dir.path(), StorageMode::Tree).unwrap();
        // Down from 0 to 3 000 ms: the first reading starts at the restart.
        storage.resume(Some((&vec![1500, 1999], 0)), 3_000).unwrap();
        let reading = &storage.poll(4_000).unwrap()[0];
        // (500 + 500) × 1000 / 2000 = 500, plus the carried 1999/2000.
        assert_eq!((reading.start_ms, reading.quantity), (3_000, 500));
        assert_eq!(storage.last, Some((500, 1999, 4_000)));
        assert!(matches!(storage.resume(Some((&vec![1, 2000], 0)), 1), Err(MeterError::Config { .. })));
    }

    #[test]
    fn volume_mode_reads_statvfs() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = StorageSource::open(dir.path(), StorageMode::Volume).unwrap();
        storage.resume(None, 0).unwrap();
        assert_eq!(storage.poll(1).unwrap()[0].cursor.len(), 2);
        assert!(storage.describe().contains("volume"));
    }

    #[test]
    fn missing_path_is_unavailable_with_the_path() {
        let err = StorageSource::open(Path::new("/nonexistent/job9"), StorageMode::Tree).err().unwrap();
        assert!(matches!(err, MeterError::Unavailable { .. }));
        assert!(err.to_string().contains("/nonexistent/job9"), "{err}");
        let file = tempfile::NamedTempFile::new().unwrap();
        assert!(StorageSource::open(file.path(), StorageMode::Tree).is_err());
    }
}
