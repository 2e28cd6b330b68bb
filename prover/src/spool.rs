//! An append-only, checksummed, crash-safe file of serde entries: the storage
//! under every stream log.
//!
//! # Guarantees
//!
//! - When [`Spool::append`] returns `Ok`, its entries are on stable storage
//!   (written in one `write`, then `fdatasync`) and every later [`Spool::open`]
//!   returns them.
//! - An append is all-or-nothing: a crash or power loss in the middle of one
//!   leaves, after the next `open`, either none of its entries or (if the
//!   write had in fact completed) all of them, never a prefix.
//! - [`Spool::rewrite`] replaces the whole content atomically: after a crash the
//!   file holds either the old entries or the new ones.
//! - Damage to acknowledged data is never silently dropped: `open` refuses
//!   with [`SpoolError::Corrupt`] instead (see *Recovery*).
//! - One process at a time: `open` takes an exclusive `flock`, held for the
//!   life of the [`Spool`]; a second opener gets [`SpoolError::Locked`].
//!
//! # File format (version 1)
//!
//! ```text
//! file   := magic frame*
//! magic  := "ZKMLOG" 0x00 0x01              8 bytes; the last byte is the format version
//! frame  := word:u32le crc:u32le payload
//! word   := bit 31      FIRST: this frame starts an append
//!           bit 30      LAST: this frame ends an append (a one-entry append sets both)
//!           bits 25..29 reserved, zero
//!           bits 0..24  payload length in bytes, 1 ..= 16 MiB
//! crc    := CRC-32 (IEEE, as zlib) of the 4 bytes of `word` followed by `payload`
//! payload:= one entry as JSON (serde_json)
//! ```
//!
//! Each append writes one *group*: its entries as consecutive frames, the first
//! flagged FIRST, the last flagged LAST. The checksum covers the length and flags
//! as well as the payload, so a flipped bit anywhere in a frame is caught. The
//! length cap stops a garbage length from making `open` allocate or hash gigabytes.
//!
//! # Recovery
//!
//! A crash can only damage bytes written after the last successful `fdatasync`,
//! that is, the one group the interrupted append was writing: the file may end
//! inside it, its last frames may be missing, zeroed (some filesystems extend the
//! file before the data lands) or garbage, and the kernel may have persisted its
//! pages in any order, so a later frame of that group can be intact while an
//! earlier one is not. Nothing before that group can change.
//!
//! `open` reads the frames in order. Every complete group (FIRST ..= LAST, all
//! valid) is kept. At the first frame that is not valid (too few bytes left for a
//! header or for the payload it claims, a zero or over-cap length, reserved bits
//! set, or a checksum mismatch) it looks at every later byte offset for a valid
//! frame flagged FIRST:
//!
//! - none: the damage is confined to the last group, which is what a torn write
//!   looks like. The file is truncated back to the end of the last complete
//!   group (fsync'd) and the number of bytes cut is reported as
//!   [`Recovered::dropped_tail_bytes`]. A last group whose frames are all valid
//!   but which lacks its LAST frame (the file ends early) is dropped the same way.
//! - one: a later append started after the damaged group, and appends only start
//!   after the previous one was synced, so the damaged group had been
//!   acknowledged. That is corruption, not a crash: `open` refuses with
//!   [`SpoolError::Corrupt`] and changes nothing.
//!
//! A frame whose checksum is valid but whose flags break the group structure, or
//! whose JSON does not decode as an entry, cannot come from a torn write either
//! (a torn write does not produce valid checksums): `open` refuses with
//! [`SpoolError::Corrupt`] wherever it is.
//!
//! Damage confined to the last acknowledged group cannot be told apart from a
//! torn write, and is dropped like one.
//!
//! A file of at most 8 bytes that is empty, all zeros, or a prefix of the magic
//! is a creation interrupted before its header was synced (no entry can have been
//! acknowledged in it) and is initialised afresh.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The first 8 bytes of every spool file: a name, a NUL, the format version.
pub const MAGIC: [u8; 8] = *b"ZKMLOG\x00\x01";

/// The largest payload a frame may carry.
pub const MAX_PAYLOAD: usize = 16 << 20;

const HEADER: usize = 8;
const FIRST: u32 = 1 << 31;
const LAST: u32 = 1 << 30;
const RESERVED: u32 = 0x1f << 25;
const LEN_MASK: u32 = (1 << 25) - 1;

/// An open spool file, locked against other processes until dropped.
#[derive(Debug)]
pub struct Spool<E> {
    path: PathBuf,
    file: File,
    /// Where the next append goes: the end of the last complete group.
    len: u64,
    /// Set when a write or sync failed: what reached the disk is unknown, so
    /// only a fresh `open` (which runs recovery) may write again.
    poisoned: bool,
    _entries: PhantomData<fn(E) -> E>,
}

/// What [`Spool::open`] read back.
#[derive(Debug)]
pub struct Recovered<E> {
    /// Every entry of every complete append, in order.
    pub entries: Vec<E>,
    /// Bytes of an interrupted append cut from the end of the file (0 after a clean shutdown).
    pub dropped_tail_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("{path}: {action}: {source}")]
    Io { path: PathBuf, action: &'static str, source: io::Error },

    #[error(
        "{path} is locked by another process: another zkmeter-prover is using this data directory. \
         Stop it first, or give this one a data directory of its own"
    )]
    Locked { path: PathBuf },

    #[error(
        "{path} is not a zkmeter stream log (it does not start with the ZKMLOG header); \
         check that the data directory is right. The file was left untouched"
    )]
    NotASpool { path: PathBuf },

    #[error(
        "{path} is a zkmeter stream log of format version {version}, which this zkmeter-prover \
         does not read (it reads version {supported}); run the zkmeter-prover that wrote it",
        supported = MAGIC[7]
    )]
    UnsupportedVersion { path: PathBuf, version: u8 },

    #[error(
        "{path} is corrupt at byte offset {offset}: {reason}. This is damage to records that were \
         already acknowledged as durable, not an interrupted write, so zkmeter-prover will not \
         start on this stream log. Keep the file as it is (copy it aside for inspection) and \
         restore it from a backup; do not truncate or delete it to get going, which would \
         silently drop acknowledged records"
    )]
    Corrupt { path: PathBuf, offset: u64, reason: String },

    #[error("an entry cannot be encoded as JSON: {0}")]
    Encode(#[source] serde_json::Error),

    #[error("an entry encodes to {size} bytes of JSON, over the {max}-byte limit of a spool frame", max = MAX_PAYLOAD)]
    EntryTooLarge { size: usize },

    #[error(
        "{path}: an earlier write or sync failed, so what reached the disk is unknown; \
         drop this spool and open the file again (recovery drops the incomplete append)"
    )]
    Poisoned { path: PathBuf },
}

impl<E: Serialize + DeserializeOwned> Spool<E> {
    /// Opens (creating it and its parent directory if absent) and reads back every entry.
    pub fn open(path: &Path) -> Result<(Self, Recovered<E>), SpoolError> {
        let io_err = |action| io_error(path, action);
        let dir = parent_dir(path);
        create_dir_durably(dir).map_err(io_err("creating the directory"))?;
        let file = open_locked(path)?;
        // Only the lock holder rewrites, so a temp file seen now is from a rewrite
        // that crashed before its rename: the spool itself still holds the old content.
        match std::fs::remove_file(temp_path(path)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err("removing a stale rewrite file")(e)),
            _ => {}
        }

        let mut bytes = Vec::new();
        (&file).read_to_end(&mut bytes).map_err(io_err("reading"))?;
        let mut spool = Spool { path: path.to_path_buf(), file, len: 0, poisoned: false, _entries: PhantomData };

        if is_unfinished_creation(&bytes) {
            spool.file.write_all_at(&MAGIC, 0).map_err(io_err("writing the header"))?;
            spool.file.set_len(MAGIC.len() as u64).map_err(io_err("writing the header"))?;
            spool.file.sync_all().map_err(io_err("syncing"))?;
            sync_dir(dir).map_err(io_err("syncing the directory"))?;
            spool.len = MAGIC.len() as u64;
            return Ok((spool, Recovered { entries: Vec::new(), dropped_tail_bytes: 0 }));
        }
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len() - 1] != MAGIC[..MAGIC.len() - 1] {
            return Err(SpoolError::NotASpool { path: path.to_path_buf() });
        }
        if bytes[MAGIC.len() - 1] != MAGIC[MAGIC.len() - 1] {
            return Err(SpoolError::UnsupportedVersion { path: path.to_path_buf(), version: bytes[MAGIC.len() - 1] });
        }

        let (entries, good_end) = scan(&bytes).map_err(|(offset, reason)| SpoolError::Corrupt {
            path: path.to_path_buf(),
            offset: offset as u64,
            reason,
        })?;
        let dropped_tail_bytes = (bytes.len() - good_end) as u64;
        if dropped_tail_bytes > 0 {
            spool.file.set_len(good_end as u64).map_err(io_err("truncating an interrupted append"))?;
            spool.file.sync_all().map_err(io_err("syncing"))?;
        }
        spool.len = good_end as u64;
        Ok((spool, Recovered { entries, dropped_tail_bytes }))
    }

    /// Appends the entries in ONE write, then fdatasync: when it returns Ok they
    /// survive a crash or power loss. An empty slice writes nothing.
    pub fn append(&mut self, entries: &[E]) -> Result<(), SpoolError> {
        if self.poisoned {
            return Err(SpoolError::Poisoned { path: self.path.clone() });
        }
        if entries.is_empty() {
            return Ok(());
        }
        let group = encode_group(entries)?;
        let written = self.file.write_all_at(&group, self.len).and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            self.poisoned = true;
            return Err(SpoolError::Io { path: self.path.clone(), action: "appending", source });
        }
        self.len += group.len() as u64;
        Ok(())
    }

    /// Replaces the whole content atomically with `entries` (compaction): write a
    /// temp file beside it, fsync, rename over, fsync the directory.
    pub fn rewrite(&mut self, entries: &[E]) -> Result<(), SpoolError> {
        if self.poisoned {
            return Err(SpoolError::Poisoned { path: self.path.clone() });
        }
        let mut content = MAGIC.to_vec();
        if !entries.is_empty() {
            content.extend(encode_group(entries)?);
        }
        let temp = temp_path(&self.path);
        let io_err = |action| io_error(&temp, action);
        let new_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(io_err("creating the rewrite file"))?;
        // Locked before the rename, so the new file is never at `path` unlocked.
        let prepared = lock(&new_file, &temp)
            .and_then(|()| new_file.write_all_at(&content, 0).map_err(io_err("writing the rewrite file")))
            .and_then(|()| new_file.sync_all().map_err(io_err("syncing the rewrite file")))
            .and_then(|()| {
                std::fs::rename(&temp, &self.path).map_err(io_err("renaming the rewrite file over the spool"))
            });
        if let Err(e) = prepared {
            // The spool itself is untouched; the temp file is just litter.
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        // From here `path` names the new file, whatever happens next.
        self.file = new_file;
        self.len = content.len() as u64;
        if let Err(source) = sync_dir(parent_dir(&self.path)) {
            // The rename may not survive a crash, and appends would go to a file
            // that might vanish with it.
            self.poisoned = true;
            return Err(SpoolError::Io {
                path: self.path.clone(),
                action: "syncing the directory after a rewrite",
                source,
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn io_error<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io { path: path.to_path_buf(), action, source }
}

/// Frames `entries` as one group.
fn encode_group<E: Serialize>(entries: &[E]) -> Result<Vec<u8>, SpoolError> {
    let mut group = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let payload = serde_json::to_vec(entry).map_err(SpoolError::Encode)?;
        if payload.len() > MAX_PAYLOAD {
            return Err(SpoolError::EntryTooLarge { size: payload.len() });
        }
        let mut word = payload.len() as u32;
        if i == 0 {
            word |= FIRST;
        }
        if i == entries.len() - 1 {
            word |= LAST;
        }
        let word = word.to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&word);
        crc.update(&payload);
        group.extend_from_slice(&word);
        group.extend_from_slice(&crc.finalize().to_le_bytes());
        group.extend_from_slice(&payload);
    }
    Ok(group)
}

/// A frame that passed every check: its flags and where its payload lies.
struct Frame {
    word: u32,
    payload: std::ops::Range<usize>,
}

/// Checks the frame at `at`; the error says what is wrong with it.
fn frame_at(bytes: &[u8], at: usize) -> Result<Frame, String> {
    let left = bytes.len() - at;
    if left < HEADER {
        return Err(format!("the file ends {left} bytes into a frame header"));
    }
    let word = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let stored = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
    if word & RESERVED != 0 {
        return Err(format!("the frame header {word:#010x} has reserved bits set"));
    }
    let len = (word & LEN_MASK) as usize;
    if len == 0 || len > MAX_PAYLOAD {
        return Err(format!("the frame claims {len} payload bytes, outside 1..={MAX_PAYLOAD}"));
    }
    if len > left - HEADER {
        return Err(format!("the frame claims {len} payload bytes but the file ends {} bytes later", left - HEADER));
    }
    let payload = at + HEADER..at + HEADER + len;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[at..at + 4]);
    crc.update(&bytes[payload.clone()]);
    let computed = crc.finalize();
    if computed != stored {
        return Err(format!("checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"));
    }
    Ok(Frame { word, payload })
}

/// Whether a valid frame starting an append lies anywhere after offset `after`.
fn append_starts_after(bytes: &[u8], after: usize) -> bool {
    // Frames start at arbitrary offsets once the damaged frame's length can't be
    // trusted, so every offset is tried. The cheap test on the flag byte comes
    // first: JSON is ASCII, so inside payloads it almost never passes.
    (after + 1..bytes.len().saturating_sub(HEADER - 1)).any(|at| {
        let top = bytes[at + 3];
        top & 0x80 != 0 && top & 0x3e == 0 && frame_at(bytes, at).is_ok()
    })
}

/// Reads the frames after the magic: the entries of every complete group and
/// where the last one ends, or the offset and reason of corruption (see the
/// module doc for the rule).
fn scan<E: DeserializeOwned>(bytes: &[u8]) -> Result<(Vec<E>, usize), (usize, String)> {
    let mut entries = Vec::new();
    let mut group = Vec::new();
    let mut group_start = MAGIC.len();
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let frame = match frame_at(bytes, at) {
            Ok(frame) => frame,
            Err(reason) if append_starts_after(bytes, at) => {
                return Err((at, format!("{reason}, and a later append follows it")));
            }
            Err(_) => break,
        };
        let first = frame.word & FIRST != 0;
        if first != group.is_empty() {
            let reason = if first {
                "a valid frame starts a new append before the previous one ended"
            } else {
                "a valid frame continues an append that was never started"
            };
            return Err((at, reason.to_string()));
        }
        let entry = serde_json::from_slice(&bytes[frame.payload.clone()]).map_err(|e| {
            (at, format!("the frame's checksum is valid but its JSON is not an entry of this log ({e}); it may have been written by a different zkmeter-prover version"))
        })?;
        group.push(entry);
        at = frame.payload.end;
        if frame.word & LAST != 0 {
            entries.append(&mut group);
            group_start = at;
        }
    }
    Ok((entries, group_start))
}

/// A file that is empty, all zeros, or a prefix of the magic, and no longer
/// than the magic: created, but its header never synced.
fn is_unfinished_creation(bytes: &[u8]) -> bool {
    bytes.len() <= MAGIC.len() && (bytes.iter().all(|&b| b == 0) || MAGIC.starts_with(bytes))
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".rewrite");
    path.with_file_name(name)
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Creates `dir` and any missing ancestors, syncing each new directory's parent
/// so the new entries survive a crash.
pub(crate) fn create_dir_durably(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = vec![dir];
    while let Some(parent) =
        missing.last().copied().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty() && !p.is_dir())
    {
        missing.push(parent);
    }
    std::fs::create_dir_all(dir)?;
    for created in missing.iter().rev() {
        sync_dir(parent_dir(created))?;
    }
    Ok(())
}

/// Syncs a directory, making the entries created or renamed in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Takes an exclusive, non-blocking `flock` on `file`.
fn lock(file: &File, path: &Path) -> Result<(), SpoolError> {
    // SAFETY: flock only reads the descriptor, which `file` keeps open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(());
    }
    let source = io::Error::last_os_error();
    if source.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Err(SpoolError::Locked { path: path.to_path_buf() })
    } else {
        Err(SpoolError::Io { path: path.to_path_buf(), action: "locking", source })
    }
}

/// Opens (creating) `path` and locks it, making sure the lock is on the file
/// that `path` still names: a rewrite by the previous holder may have renamed a
/// new file over it between our open and our lock.
fn open_locked(path: &Path) -> Result<File, SpoolError> {
    let io_err = |action| io_error(path, action);
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("opening"))?;
        lock(&file, path)?;
        let held = file.metadata().map_err(io_err("reading metadata"))?;
        match std::fs::metadata(path) {
            Ok(named) if named.dev() == held.dev() && named.ino() == held.ino() => return Ok(file),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("reading metadata")(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::io::Write;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Rec {
        seq: u64,
        note: String,
    }

    fn rec(seq: u64) -> Rec {
        Rec { seq, note: format!("record number {seq}") }
    }

    fn open(path: &Path) -> (Spool<Rec>, Recovered<Rec>) {
        Spool::open(path).unwrap()
    }

    /// A spool holding records 0..n, one append each; returns the file's bytes
    /// and where each frame starts.
    fn spool_of(path: &Path, n: u64) -> (Vec<u8>, Vec<usize>) {
        let (mut spool, _) = open(path);
        let mut starts = Vec::new();
        for i in 0..n {
            starts.push(std::fs::metadata(path).unwrap().len() as usize);
            spool.append(&[rec(i)]).unwrap();
        }
        (std::fs::read(path).unwrap(), starts)
    }

    fn write(path: &Path, bytes: &[u8]) {
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/stream.log");
        let (mut spool, got) = open(&path);
        assert!(got.entries.is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), MAGIC);
        spool.append(&[rec(0), rec(1), rec(2)]).unwrap();
        spool.append(&[rec(3)]).unwrap();
        spool.append(&[]).unwrap();
        assert_eq!(spool.path(), path);
        drop(spool);
        let (_, got) = open(&path);
        assert_eq!(got.entries, (0..4).map(rec).collect::<Vec<_>>());
        assert_eq!(got.dropped_tail_bytes, 0);
    }

    #[test]
    fn reopen_appends_after_existing_frames() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        spool_of(&path, 2);
        let (mut spool, got) = open(&path);
        assert_eq!(got.entries, vec![rec(0), rec(1)]);
        spool.append(&[rec(2)]).unwrap();
        drop(spool);
        assert_eq!(open(&path).1.entries, vec![rec(0), rec(1), rec(2)]);
    }

    #[test]
    fn torn_tail_at_every_offset_of_the_last_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (full, starts) = spool_of(&path, 3);
        let last = starts[2];
        for cut in last..full.len() {
            write(&path, &full[..cut]);
            let (mut spool, got) = open(&path);
            assert_eq!(got.entries, vec![rec(0), rec(1)], "cut at {cut}");
            assert_eq!(got.dropped_tail_bytes, (cut - last) as u64, "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), last as u64, "cut at {cut}");
            spool.append(&[rec(7)]).unwrap();
            drop(spool);
            let (_, got) = open(&path);
            assert_eq!(got.entries, vec![rec(0), rec(1), rec(7)], "cut at {cut}");
            assert_eq!(got.dropped_tail_bytes, 0);
        }
    }

    #[test]
    fn torn_append_drops_all_of_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (mut spool, _) = open(&path);
        spool.append(&[rec(0)]).unwrap();
        let group_start = std::fs::metadata(&path).unwrap().len() as usize;
        spool.append(&[rec(1), rec(2), rec(3)]).unwrap();
        drop(spool);
        let full = std::fs::read(&path).unwrap();
        // Every cut short of the end, including those at a frame boundary inside
        // the group, leaves the append without its LAST frame.
        for cut in group_start..full.len() {
            write(&path, &full[..cut]);
            let (_, got) = open(&path);
            assert_eq!(got.entries, vec![rec(0)], "cut at {cut}");
            assert_eq!(got.dropped_tail_bytes, (cut - group_start) as u64);
        }
    }

    #[test]
    fn torn_append_with_pages_persisted_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (mut spool, _) = open(&path);
        spool.append(&[rec(0)]).unwrap();
        let group_start = std::fs::metadata(&path).unwrap().len() as usize;
        spool.append(&[rec(1), rec(2)]).unwrap();
        drop(spool);
        let mut bytes = std::fs::read(&path).unwrap();
        // The first frame of the last append never landed, its second did.
        bytes[group_start..group_start + 20].fill(0);
        write(&path, &bytes);
        let (_, got) = open(&path);
        assert_eq!(got.entries, vec![rec(0)]);
        assert_eq!(got.dropped_tail_bytes, (bytes.len() - group_start) as u64);
    }

    #[test]
    fn trailing_zeros_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (mut bytes, _) = spool_of(&path, 2);
        let good = bytes.len();
        for zeros in [1, 7, 8, 4096] {
            bytes.truncate(good);
            bytes.resize(good + zeros, 0);
            write(&path, &bytes);
            let (_, got) = open(&path);
            assert_eq!(got.entries, vec![rec(0), rec(1)]);
            assert_eq!(got.dropped_tail_bytes, zeros as u64);
            assert_eq!(std::fs::read(&path).unwrap().len(), good);
        }
    }

    #[test]
    fn flipped_byte_in_the_last_frame_is_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (full, starts) = spool_of(&path, 3);
        for at in starts[2]..full.len() {
            let mut bytes = full.clone();
            bytes[at] ^= 0x01;
            write(&path, &bytes);
            let (_, got) = open(&path);
            assert_eq!(got.entries, vec![rec(0), rec(1)], "flip at {at}");
            assert_eq!(got.dropped_tail_bytes, (full.len() - starts[2]) as u64);
        }
    }

    #[test]
    fn flipped_byte_in_a_middle_frame_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (full, starts) = spool_of(&path, 3);
        // Every byte of the frame: payload, checksum, length and flags.
        for at in starts[1]..starts[2] {
            let mut bytes = full.clone();
            bytes[at] ^= 0x01;
            write(&path, &bytes);
            match Spool::<Rec>::open(&path) {
                Err(SpoolError::Corrupt { offset, ref reason, .. }) => {
                    assert_eq!(offset, starts[1] as u64, "flip at {at}: {reason}")
                }
                other => panic!("flip at {at}: expected Corrupt, got {other:?}"),
            }
            // Refusing changes nothing on disk.
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
        let message = Spool::<Rec>::open(&path).unwrap_err().to_string();
        assert!(message.contains(&format!("offset {}", starts[1])), "{message}");
        assert!(message.contains("restore it from a backup"), "{message}");
        assert!(message.contains("do not truncate or delete"), "{message}");
    }

    #[test]
    fn valid_frame_that_does_not_decode_is_corruption_even_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (mut spool, _) = Spool::<serde_json::Value>::open(&path).unwrap();
        spool.append(&[serde_json::to_value(rec(0)).unwrap()]).unwrap();
        spool.append(&[serde_json::json!({"something": "else"})]).unwrap();
        drop(spool);
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(matches!(Spool::<Rec>::open(&path), Err(SpoolError::Corrupt { .. })));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    }

    #[test]
    fn bad_magic_and_unknown_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        write(&path, b"{\"not\": \"a spool\"}\n");
        let err = Spool::<Rec>::open(&path).unwrap_err();
        assert!(matches!(err, SpoolError::NotASpool { .. }), "{err:?}");
        assert!(err.to_string().contains("not a zkmeter stream log"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"not\": \"a spool\"}\n");

        write(&path, b"ZKMLOG\x00\x02");
        assert!(matches!(Spool::<Rec>::open(&path), Err(SpoolError::UnsupportedVersion { version: 2, .. })));
    }

    #[test]
    fn interrupted_creation_is_initialised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        for start in [&b""[..], b"ZKM", b"\0\0\0\0\0\0\0\0", &MAGIC] {
            write(&path, start);
            let (mut spool, got) = open(&path);
            assert!(got.entries.is_empty());
            spool.append(&[rec(0)]).unwrap();
            drop(spool);
            assert_eq!(open(&path).1.entries, vec![rec(0)]);
        }
    }

    #[test]
    fn garbage_huge_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (mut bytes, _) = spool_of(&path, 1);
        let good = bytes.len();
        // Over the cap (all length bits set), then one within the cap but past the end.
        for word in [FIRST | LAST | LEN_MASK, FIRST | LAST | (MAX_PAYLOAD as u32)] {
            bytes.truncate(good);
            bytes.extend_from_slice(&word.to_le_bytes());
            bytes.extend_from_slice(&[0xab; 12]);
            write(&path, &bytes);
            let (_, got) = open(&path);
            assert_eq!(got.entries, vec![rec(0)]);
            assert_eq!(got.dropped_tail_bytes, 16);
        }
        // The same garbage in the middle, with an append after it, is corruption.
        bytes.truncate(good);
        bytes.extend_from_slice(&(FIRST | LAST | LEN_MASK).to_le_bytes());
        bytes.extend_from_slice(&[0xab; 4]);
        let first_frame = bytes[MAGIC.len()..good].to_vec();
        bytes.extend_from_slice(&first_frame);
        write(&path, &bytes);
        assert!(matches!(Spool::<Rec>::open(&path), Err(SpoolError::Corrupt { offset, .. }) if offset == good as u64));
    }

    #[test]
    fn oversized_entry_is_refused_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (mut spool, _) = open(&path);
        let big = Rec { seq: 0, note: "x".repeat(MAX_PAYLOAD) };
        assert!(matches!(spool.append(&[rec(0), big]), Err(SpoolError::EntryTooLarge { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), MAGIC);
        spool.append(&[rec(1)]).unwrap();
        drop(spool);
        assert_eq!(open(&path).1.entries, vec![rec(1)]);
    }

    #[test]
    fn rewrite_replaces_contents_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        spool_of(&path, 5);
        let (mut spool, got) = open(&path);
        assert_eq!(got.entries.len(), 5);
        spool.rewrite(&[rec(3), rec(4)]).unwrap();
        assert!(!temp_path(&path).exists());
        drop(spool);
        let (mut spool, got) = open(&path);
        assert_eq!(got.entries, vec![rec(3), rec(4)]);
        spool.rewrite(&[]).unwrap();
        drop(spool);
        assert_eq!(std::fs::read(&path).unwrap(), MAGIC);
    }

    #[test]
    fn append_after_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (mut spool, _) = open(&path);
        spool.append(&[rec(0), rec(1)]).unwrap();
        spool.rewrite(&[rec(1)]).unwrap();
        spool.append(&[rec(2)]).unwrap();
        drop(spool);
        assert_eq!(open(&path).1.entries, vec![rec(1), rec(2)]);
    }

    #[test]
    fn stale_rewrite_file_is_removed_and_the_spool_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        spool_of(&path, 2);
        std::fs::File::create(temp_path(&path)).unwrap().write_all(b"half a rewrite").unwrap();
        let (_, got) = open(&path);
        assert_eq!(got.entries, vec![rec(0), rec(1)]);
        assert!(!temp_path(&path).exists());
    }

    #[test]
    fn second_open_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stream.log");
        let (mut first, _) = open(&path);
        // flock belongs to the open file description, so a second open in the
        // same process conflicts just as another process would.
        let err = Spool::<Rec>::open(&path).unwrap_err();
        assert!(matches!(err, SpoolError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("another zkmeter-prover is using this data directory"), "{err}");
        // The lock moves to the new file on rewrite.
        first.rewrite(&[rec(0)]).unwrap();
        assert!(matches!(Spool::<Rec>::open(&path), Err(SpoolError::Locked { .. })));
        drop(first);
        assert_eq!(open(&path).1.entries, vec![rec(0)]);
    }
}
