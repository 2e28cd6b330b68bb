//! iden3's binary container, which `.r1cs`, `.ptau` and `.zkey` files share:
//!
//! ```text
//! magic      4 bytes   "r1cs", "ptau" or "zkey"
//! version    u32 LE
//! sections   u32 LE    how many follow
//! section*   u32 LE id, u64 LE size, then `size` bytes
//! ```
//!
//! A section id may in principle repeat; none of the files zkmeter reads uses that,
//! so [`BinFile::section`] refuses a repeated one. Sections may come in any order
//! (snarkjs's `zkey new` writes 1, 2, 4, 3, 9, 8, 5, 6, 7, 10; `zkey contribute`
//! writes them in order). Reading is by offset, so a 1.2 GB `.ptau` is never
//! loaded whole; writing goes to a temporary file that is synced and renamed over
//! the target only once complete.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::CeremonyError;

/// Where one section's bytes lie in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// Offset of the first byte after the section header.
    pub offset: u64,
    /// Bytes in the section.
    pub size: u64,
}

/// A container file opened for reading, its section table checked against its length.
#[derive(Debug)]
pub struct BinFile {
    path: PathBuf,
    file: File,
    len: u64,
    sections: BTreeMap<u32, Vec<Section>>,
    section_name: fn(u32) -> &'static str,
}

impl BinFile {
    /// Opens `path`, checking its magic is `kind` and its version at most
    /// `max_version`, and reads the section table. A section that runs past the
    /// end of the file is reported as truncation, naming it with `section_name`.
    pub fn open(
        path: &Path,
        kind: &[u8; 4],
        max_version: u32,
        section_name: fn(u32) -> &'static str,
    ) -> Result<Self, CeremonyError> {
        let read_err = |source| CeremonyError::Read { path: path.to_owned(), source };
        let file = File::open(path).map_err(read_err)?;
        let len = file.metadata().map_err(read_err)?.len();
        let kind_name = String::from_utf8_lossy(kind).into_owned();
        let mut head = [0u8; 12];
        if len < 12 {
            return Err(CeremonyError::NotThisKind { path: path.to_owned(), kind: kind_name });
        }
        file.read_exact_at(&mut head, 0).map_err(read_err)?;
        if &head[..4] != kind {
            return Err(CeremonyError::NotThisKind { path: path.to_owned(), kind: kind_name });
        }
        let version = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
        if version == 0 || version > max_version {
            return Err(CeremonyError::Malformed {
                path: path.to_owned(),
                what: format!("it is a version {version} {kind_name} file; this build reads versions up to {max_version}"),
            });
        }
        let count = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        let mut sections: BTreeMap<u32, Vec<Section>> = BTreeMap::new();
        let mut at = 12u64;
        for _ in 0..count {
            let mut header = [0u8; 12];
            if at + 12 > len {
                return Err(CeremonyError::Truncated {
                    path: path.to_owned(),
                    what: format!("the header of its section table entry at byte {at}"),
                    needed: at + 12,
                    len,
                });
            }
            file.read_exact_at(&mut header, at).map_err(read_err)?;
            let id = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
            let size = u64::from_le_bytes(header[4..].try_into().expect("8 bytes"));
            let offset = at + 12;
            let end = offset.checked_add(size).unwrap_or(u64::MAX);
            if end > len {
                return Err(CeremonyError::Truncated {
                    path: path.to_owned(),
                    what: format!("section {id} ({})", section_name(id)),
                    needed: end,
                    len,
                });
            }
            sections.entry(id).or_default().push(Section { offset, size });
            at = end;
        }
        Ok(BinFile { path: path.to_owned(), file, len, sections, section_name })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty (it never is once opened: the header alone has 12 bytes).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether section `id` is present.
    pub fn has(&self, id: u32) -> bool {
        self.sections.contains_key(&id)
    }

    /// Section `id`, which must be present once.
    pub fn section(&self, id: u32) -> Result<Section, CeremonyError> {
        match self.sections.get(&id).map(Vec::as_slice) {
            Some([one]) => Ok(*one),
            Some(_) => Err(self.malformed(format!("section {id} ({}) appears more than once", (self.section_name)(id)))),
            None => Err(CeremonyError::MissingSection {
                path: self.path.clone(),
                section: id,
                name: (self.section_name)(id),
            }),
        }
    }

    /// Section `id`, checking it holds exactly `size` bytes.
    pub fn section_of_size(&self, id: u32, size: u64) -> Result<Section, CeremonyError> {
        let section = self.section(id)?;
        if section.size != size {
            return Err(self.malformed(format!(
                "section {id} ({}) has {} bytes where its header calls for {size}",
                (self.section_name)(id),
                section.size
            )));
        }
        Ok(section)
    }

    /// Fills `buf` from `offset`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), CeremonyError> {
        self.file.read_exact_at(buf, offset).map_err(|source| CeremonyError::Read { path: self.path.clone(), source })
    }

    /// `len` bytes of section `id` from `start` within it.
    pub fn read_range(&self, id: u32, start: u64, len: u64) -> Result<Vec<u8>, CeremonyError> {
        let section = self.section(id)?;
        if start + len > section.size {
            return Err(self.malformed(format!(
                "section {id} ({}) has {} bytes, fewer than the {} needed here",
                (self.section_name)(id),
                section.size,
                start + len
            )));
        }
        let mut buf = vec![0u8; usize::try_from(len).expect("sections fit in memory")];
        self.read_at(section.offset + start, &mut buf)?;
        Ok(buf)
    }

    /// The whole of section `id`.
    pub fn read_section(&self, id: u32) -> Result<Vec<u8>, CeremonyError> {
        let section = self.section(id)?;
        self.read_range(id, 0, section.size)
    }

    /// Copies section `id` unchanged into `out` (as section `id` there).
    pub fn copy_section(&self, id: u32, out: &mut BinWriter) -> Result<(), CeremonyError> {
        const CHUNK: u64 = 1 << 22;
        let section = self.section(id)?;
        out.begin_section(id, section.size)?;
        let mut buf = vec![0u8; CHUNK.min(section.size) as usize];
        let mut done = 0;
        while done < section.size {
            let n = CHUNK.min(section.size - done) as usize;
            self.read_at(section.offset + done, &mut buf[..n])?;
            out.write(&buf[..n])?;
            done += n as u64;
        }
        Ok(())
    }

    /// Whether section `id` holds the same bytes here and in `other`.
    pub fn section_equals(&self, id: u32, other: &[u8]) -> Result<bool, CeremonyError> {
        let section = self.section(id)?;
        if section.size != other.len() as u64 {
            return Ok(false);
        }
        const CHUNK: usize = 1 << 22;
        let mut buf = vec![0u8; CHUNK.min(other.len())];
        for (i, theirs) in other.chunks(CHUNK).enumerate() {
            let ours = &mut buf[..theirs.len()];
            self.read_at(section.offset + (i * CHUNK) as u64, ours)?;
            if ours != theirs {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// An error about this file's structure.
    pub fn malformed(&self, what: String) -> CeremonyError {
        CeremonyError::Malformed { path: self.path.clone(), what }
    }

    /// Feeds the whole file, in order, to `consume`, in chunks: for hashing a file
    /// that may be larger than memory.
    pub fn stream(&self, mut consume: impl FnMut(&[u8])) -> Result<(), CeremonyError> {
        let read_err = |source| CeremonyError::Read { path: self.path.clone(), source };
        let mut file = File::open(&self.path).map_err(read_err)?;
        let mut buf = vec![0u8; 1 << 22];
        loop {
            let n = file.read(&mut buf).map_err(read_err)?;
            if n == 0 {
                return Ok(());
            }
            consume(&buf[..n]);
        }
    }
}

/// A container file being written: to `<path>.tmp`, renamed over `path` by
/// [`BinWriter::finish`] after a sync; dropped unfinished, the temporary file is
/// removed and `path` is left as it was.
pub struct BinWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    /// Bytes still owed to the section being written.
    owed: u64,
}

impl BinWriter {
    /// Starts `path` with the container header.
    pub fn create(path: &Path, kind: &[u8; 4], version: u32, sections: u32) -> Result<Self, CeremonyError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).map_err(|source| CeremonyError::Write { path: tmp.clone(), source })?;
        let mut writer =
            BinWriter { path: path.to_owned(), tmp, out: Some(BufWriter::with_capacity(1 << 22, file)), owed: 0 };
        writer.write(kind)?;
        writer.write(&version.to_le_bytes())?;
        writer.write(&sections.to_le_bytes())?;
        Ok(writer)
    }

    /// Starts section `id` of `size` bytes; exactly that many must be written next.
    pub fn begin_section(&mut self, id: u32, size: u64) -> Result<(), CeremonyError> {
        assert_eq!(self.owed, 0, "the previous section was not written in full");
        self.write(&id.to_le_bytes())?;
        self.write(&size.to_le_bytes())?;
        self.owed = size;
        Ok(())
    }

    /// Writes bytes of the current section (or of the file header).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), CeremonyError> {
        self.owed = self.owed.saturating_sub(bytes.len() as u64);
        let out = self.out.as_mut().expect("open until finished");
        out.write_all(bytes).map_err(|source| CeremonyError::Write { path: self.tmp.clone(), source })
    }

    /// Writes a whole section at once.
    pub fn section(&mut self, id: u32, bytes: &[u8]) -> Result<(), CeremonyError> {
        self.begin_section(id, bytes.len() as u64)?;
        self.write(bytes)
    }

    /// Flushes and syncs the temporary file and renames it over the target.
    pub fn finish(mut self) -> Result<(), CeremonyError> {
        assert_eq!(self.owed, 0, "the last section was not written in full");
        let out = self.out.take().expect("open until finished");
        let write_err = |source| CeremonyError::Write { path: self.tmp.clone(), source };
        let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|source| CeremonyError::Write { path: self.path.clone(), source })?;
        // The rename is durable once the folder's entry is.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = File::open(dir)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for BinWriter {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
