//! The stream log: the durable history of one stream (one meter serving one
//! job), and the source of truth of everything the daemon does with it.
//!
//! Every step is an entry appended (and fsync'd, see [`crate::spool`]) before the
//! next step relies on it:
//!
//! 1. `Record`: a reading, numbered, with the meter's counter cursor.
//! 2. `Cut`: an epoch — the statement its records make (salt included) and the
//!    meter's EIP-712 signature over its new state. Written before proving, so a
//!    proof made again after a crash proves the *same* statement: the verifier
//!    service then recognises it and answers with the receipt it already has.
//! 3. `Proved`: the epoch's proof, so a crash after proving does not prove again.
//! 4. `Settled`: a settled receipt came back. Only then is the epoch done.
//!
//! Once enough settled records pile up, the log is rewritten with a `Checkpoint`
//! (the settled state, the counter cursor) in place of everything settled.

use ark_bn254::Fr;
use serde::{Deserialize, Serialize};
use std::path::Path;
use zkmeter_circuits::{MeterStatement, PerClass, StreamId, StreamState, UsageRecord, field_hex};

use crate::meter::Cursor;
use crate::spool::{Spool, SpoolError};

/// Settled records kept before the log is compacted.
const COMPACT_AFTER_SETTLED_RECORDS: usize = 4096;

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// The first entry: whose log this is.
    Stream {
        /// The stream.
        stream: StreamId,
    },
    /// What compaction left of the settled past (second entry, if any).
    Checkpoint(Checkpoint),
    /// One reading.
    Record {
        /// The numbered record.
        record: UsageRecord,
        /// The meter's counters at the record's end.
        cursor: Cursor,
    },
    /// An epoch was cut.
    Cut(Cut),
    /// An epoch was proved.
    Proved {
        /// The epoch number.
        epoch: u64,
        /// The proof, 256 bytes in the EVM layout.
        #[serde(with = "hex_bytes")]
        proof: Vec<u8>,
    },
    /// An epoch was settled on the chain.
    Settled(Settlement),
}

/// The settled past that compaction dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The state the last settled epoch left.
    pub state: StreamState,
    /// Epochs settled so far.
    pub epochs: u64,
    /// Per-class totals settled so far.
    pub totals: PerClass,
    /// The meter's cursor at the end of the last record dropped, and that end.
    pub cursor: Option<(Cursor, u64)>,
}

/// An epoch: which records, what they prove, the meter's signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cut {
    /// Epoch number, from 1.
    pub epoch: u64,
    /// The statement (its records are those with seq in `prev.seq+1 ..= new.seq`).
    pub statement: MeterStatement,
    /// The salt of the closing head.
    #[serde(with = "field_hex")]
    pub salt: Fr,
    /// The meter's EIP-712 signature over `statement.new` (65 bytes).
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
    /// The chain id of the signature's domain.
    pub chain_id: u64,
    /// The settlement contract of the signature's domain (20 bytes).
    #[serde(with = "hex_bytes")]
    pub settlement: Vec<u8>,
}

/// A settled receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    /// Epoch number.
    pub epoch: u64,
    /// The verifier's receipt id (32 bytes).
    #[serde(with = "hex_bytes")]
    pub receipt: Vec<u8>,
    /// The settlement transaction (32 bytes; empty when the chain was found
    /// settled past this epoch without its receipt).
    #[serde(with = "hex_bytes")]
    pub tx_hash: Vec<u8>,
    /// Gas the settlement used (0 when unknown).
    pub gas: u64,
}

/// An epoch and how far it got.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// The cut.
    pub cut: Cut,
    /// Its proof, once made.
    pub proof: Option<Vec<u8>>,
    /// Its settlement, once seen.
    pub settled: Option<Settlement>,
}

/// Why a stream log cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file failed (I/O, corruption, locked).
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The file is some other stream's log.
    #[error("{path} is the log of stream {found}, not of {expected}: each [[stream]] needs its own job id")]
    WrongStream {
        /// The file.
        path: String,
        /// The stream configured.
        expected: StreamId,
        /// The stream the log is for.
        found: StreamId,
    },
    /// An earlier write failed, so memory and file may differ.
    #[error("{path}: an earlier write failed; the stream is reopened from its log")]
    Poisoned {
        /// The file.
        path: String,
    },
    /// The entries contradict each other: the file was edited or a bug wrote it.
    #[error("{path}: entry {index} is inconsistent with the ones before it ({problem}); keep the file for inspection")]
    Inconsistent {
        /// The file.
        path: String,
        /// The entry's position.
        index: usize,
        /// What does not fit.
        problem: String,
    },
}

/// One stream's log, read back into memory.
pub struct StreamLog {
    spool: Spool<Entry>,
    stream: StreamId,
    base: Checkpoint,
    records: Vec<UsageRecord>,
    /// The meter's cursor at the end of each record (parallel to `records`).
    cursors: Vec<Cursor>,
    epochs: Vec<Epoch>,
    poisoned: bool,
}

impl StreamLog {
    /// Opens (or starts) the log of `stream`; returns it and how many bytes of a
    /// torn last write were dropped.
    pub fn open(path: &Path, stream: StreamId) -> Result<(Self, u64), LogError> {
        let (mut spool, recovered) = Spool::<Entry>::open(path)?;
        let shown = path.display().to_string();
        if recovered.entries.is_empty() {
            spool.append(&[Entry::Stream { stream }])?;
        }
        let mut log = StreamLog {
            spool,
            stream,
            base: Checkpoint { state: stream.genesis(), epochs: 0, totals: PerClass::default(), cursor: None },
            records: Vec::new(),
            cursors: Vec::new(),
            epochs: Vec::new(),
            poisoned: false,
        };
        for (index, entry) in recovered.entries.into_iter().enumerate() {
            log.replay(index, entry).map_err(|problem| match problem {
                Replay::WrongStream(found) => LogError::WrongStream { path: shown.clone(), expected: stream, found },
                Replay::Inconsistent(problem) => LogError::Inconsistent { path: shown.clone(), index, problem },
            })?;
        }
        Ok((log, recovered.dropped_tail_bytes))
    }

    fn replay(&mut self, index: usize, entry: Entry) -> Result<(), Replay> {
        let bad = |m: String| Err(Replay::Inconsistent(m));
        match entry {
            Entry::Stream { stream } if index == 0 => {
                if stream != self.stream {
                    return Err(Replay::WrongStream(stream));
                }
            }
            Entry::Checkpoint(c) if index == 1 => self.base = c,
            Entry::Record { record, cursor } if index > 0 => {
                if record.seq != self.next_seq() {
                    return bad(format!("record seq {} where {} was next", record.seq, self.next_seq()));
                }
                self.records.push(record);
                self.cursors.push(cursor);
            }
            Entry::Cut(cut) if index > 0 => {
                if cut.epoch != self.next_epoch() || cut.statement.prev != self.tip() || cut.statement.new.seq >= self.next_seq() {
                    return bad(format!("epoch {} does not continue the log", cut.epoch));
                }
                self.epochs.push(Epoch { cut, proof: None, settled: None });
            }
            Entry::Proved { epoch, proof } if index > 0 => match self.epoch_mut(epoch) {
                Some(e) => e.proof = Some(proof),
                None => return bad(format!("proof of unknown epoch {epoch}")),
            },
            Entry::Settled(s) if index > 0 => match self.epoch_mut(s.epoch) {
                Some(e) => e.settled = Some(s),
                None => return bad(format!("settlement of unknown epoch {}", s.epoch)),
            },
            other => return bad(format!("unexpected {other:?}")),
        }
        Ok(())
    }

    fn epoch_mut(&mut self, epoch: u64) -> Option<&mut Epoch> {
        let i = epoch.checked_sub(self.base.epochs + 1)?;
        self.epochs.get_mut(usize::try_from(i).ok()?)
    }

    /// The stream.
    pub fn stream(&self) -> StreamId {
        self.stream
    }

    /// The seq the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.records.last().map_or(self.base.state.seq, |r| r.seq) + 1
    }

    /// The number the next epoch gets.
    pub fn next_epoch(&self) -> u64 {
        self.epochs.last().map_or(self.base.epochs, |e| e.cut.epoch) + 1
    }

    /// The meter cursor and end of the last record (to resume the meter from).
    pub fn cursor(&self) -> Option<(&Cursor, u64)> {
        match (self.records.last(), self.cursors.last()) {
            (Some(r), Some(c)) => Some((c, r.end_ms)),
            _ => self.base.cursor.as_ref().map(|(c, end)| (c, *end)),
        }
    }

    /// The end of the last record, or of the settled state (0 for a new stream).
    pub fn last_end_ms(&self) -> u64 {
        self.records.last().map_or(self.base.state.end_ms, |r| r.end_ms)
    }

    /// The state after the last cut epoch: where the next epoch starts.
    pub fn tip(&self) -> StreamState {
        self.epochs.last().map_or(self.base.state, |e| e.cut.statement.new)
    }

    /// Records not in any epoch yet, oldest first.
    pub fn uncut(&self) -> &[UsageRecord] {
        let tip = self.tip().seq;
        let start = self.records.partition_point(|r| r.seq <= tip);
        &self.records[start..]
    }

    /// The records of an epoch.
    pub fn records_of(&self, cut: &Cut) -> &[UsageRecord] {
        let first = self.records.partition_point(|r| r.seq <= cut.statement.prev.seq);
        let last = self.records.partition_point(|r| r.seq <= cut.statement.new.seq);
        &self.records[first..last]
    }

    /// Epochs cut but not settled, oldest first.
    pub fn unsettled(&self) -> impl Iterator<Item = &Epoch> {
        self.epochs.iter().filter(|e| e.settled.is_none())
    }

    /// Every epoch still held (compaction drops settled ones).
    pub fn epochs(&self) -> &[Epoch] {
        &self.epochs
    }

    /// The seq of the last record of the settled epochs that come before any
    /// unsettled one (the stream is settled up to it).
    pub fn settled_seq(&self) -> u64 {
        self.epochs.iter().take_while(|e| e.settled.is_some()).last().map_or(self.base.state.seq, |e| e.cut.statement.new.seq)
    }

    /// Totals and count of the settled epochs, compacted ones included.
    pub fn settled(&self) -> (u64, PerClass) {
        let mut totals = self.base.totals;
        let mut count = self.base.epochs;
        for e in self.epochs.iter().filter(|e| e.settled.is_some()) {
            count += 1;
            for (class, v) in e.cut.statement.totals.iter() {
                totals.set(class, totals.get(class) + v);
            }
        }
        (count, totals)
    }

    /// Appends readings as the next records, in one durable write.
    pub fn append_records(&mut self, records: Vec<(UsageRecord, Cursor)>) -> Result<(), LogError> {
        let entries: Vec<Entry> = records.into_iter().map(|(record, cursor)| Entry::Record { record, cursor }).collect();
        self.write(entries)
    }

    /// Records a cut epoch.
    pub fn append_cut(&mut self, cut: Cut) -> Result<(), LogError> {
        self.write(vec![Entry::Cut(cut)])
    }

    /// Records an epoch's proof.
    pub fn append_proof(&mut self, epoch: u64, proof: Vec<u8>) -> Result<(), LogError> {
        self.write(vec![Entry::Proved { epoch, proof }])
    }

    /// Records an epoch's settlement, and compacts the log when enough settled
    /// records have piled up.
    pub fn append_settled(&mut self, settlement: Settlement) -> Result<(), LogError> {
        self.write(vec![Entry::Settled(settlement)])?;
        let settled_records = self.records.partition_point(|r| r.seq <= self.settled_seq());
        if settled_records >= COMPACT_AFTER_SETTLED_RECORDS {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the log with a checkpoint in place of the settled prefix.
    fn compact(&mut self) -> Result<(), LogError> {
        let done = self.epochs.iter().take_while(|e| e.settled.is_some()).count();
        let state = self.epochs[done - 1].cut.statement.new;
        let keep_from = self.records.partition_point(|r| r.seq <= state.seq);
        let mut totals = self.base.totals;
        for e in &self.epochs[..done] {
            for (class, v) in e.cut.statement.totals.iter() {
                totals.set(class, totals.get(class) + v);
            }
        }
        let cursor = match keep_from.checked_sub(1) {
            Some(last) => Some((self.cursors[last].clone(), self.records[last].end_ms)),
            None => self.base.cursor.clone(),
        };
        let base = Checkpoint { state, epochs: self.base.epochs + done as u64, totals, cursor };
        let mut entries = vec![Entry::Stream { stream: self.stream }, Entry::Checkpoint(base.clone())];
        for (record, cursor) in self.records[keep_from..].iter().zip(&self.cursors[keep_from..]) {
            entries.push(Entry::Record { record: *record, cursor: cursor.clone() });
        }
        for e in &self.epochs[done..] {
            entries.push(Entry::Cut(e.cut.clone()));
            if let Some(proof) = &e.proof {
                entries.push(Entry::Proved { epoch: e.cut.epoch, proof: proof.clone() });
            }
        }
        self.guarded(|spool| spool.rewrite(&entries))?;
        self.records.drain(..keep_from);
        self.cursors.drain(..keep_from);
        self.epochs.drain(..done);
        self.base = base;
        Ok(())
    }

    /// Applies `entries` in memory, then writes them durably. A failure on
    /// either side leaves memory and file apart, so the log then refuses every
    /// call until it is opened again (the daemon restarts the stream).
    fn write(&mut self, entries: Vec<Entry>) -> Result<(), LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned { path: self.spool.path().display().to_string() });
        }
        let path = self.spool.path().display().to_string();
        for entry in entries.iter().cloned() {
            if let Err(problem) = self.replay(usize::MAX, entry) {
                self.poisoned = true;
                let problem = match problem {
                    Replay::Inconsistent(p) => p,
                    Replay::WrongStream(s) => format!("an entry of stream {s}"),
                };
                return Err(LogError::Inconsistent { path, index: usize::MAX, problem });
            }
        }
        self.guarded(|spool| spool.append(&entries))
    }

    fn guarded(&mut self, op: impl FnOnce(&mut Spool<Entry>) -> Result<(), SpoolError>) -> Result<(), LogError> {
        op(&mut self.spool).map_err(|e| {
            self.poisoned = true;
            LogError::Spool(e)
        })
    }
}

enum Replay {
    WrongStream(StreamId),
    Inconsistent(String),
}

/// Serde for byte strings as hex.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(D::Error::custom)
    }
}
