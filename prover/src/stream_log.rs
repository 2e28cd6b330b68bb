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
//! (the settled state, the counter cursors) in place of everything settled.
//!
//! The first entry says whose log it is: the stream, the chain and settlement
//! contract its epochs are signed for and settle on, the state it starts from (the
//! job's genesis state, whose end is the job's opening time, or a later settled
//! state when a lost log was started again) and the job's capacity. A log is never
//! used for another stream or another chain.

use ark_bn254::Fr;
use serde::{Deserialize, Serialize};
use std::path::Path;
use zkmeter_circuits::{MeterStatement, PerClass, StreamId, StreamState, UsageRecord, field_hex};

use zkmeter_circuits::Capacity;

use crate::epoch::Domain;
use crate::meter::Cursor;
use crate::spool::{Spool, SpoolError};

/// Settled records kept before the log is compacted.
const COMPACT_AFTER_SETTLED_RECORDS: usize = 4096;

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// The first entry: whose log this is.
    Stream(LogHeader),
    /// What compaction left of the settled past (second entry, if any).
    Checkpoint(Checkpoint),
    /// One reading of every source.
    Record {
        /// The numbered record.
        record: UsageRecord,
        /// Each source's counters at the record's end, in configuration order.
        cursors: Vec<Cursor>,
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

/// Whose log this is (its first entry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogHeader {
    /// The stream.
    pub stream: StreamId,
    /// The chain and settlement contract the stream's epochs are signed for.
    pub domain: Domain,
    /// The state the log starts from: the job's genesis state (its end is the
    /// job's opening time), or the settled state a lost log was started again from.
    pub start: StreamState,
    /// The job's capacity, fixed when it was opened.
    pub capacity: Capacity,
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
    /// The sources' cursors at the end of the last record dropped, and that end.
    pub cursor: Option<(Vec<Cursor>, u64)>,
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
    /// The file does not start with the header of a stream log.
    #[error("{path} does not start with a stream log header: keep the file for inspection and move it away")]
    NoHeader {
        /// The file.
        path: String,
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
    header: LogHeader,
    base: Checkpoint,
    records: Vec<UsageRecord>,
    /// The sources' cursors at the end of each record (parallel to `records`).
    cursors: Vec<Vec<Cursor>>,
    epochs: Vec<Epoch>,
    poisoned: bool,
}

impl StreamLog {
    /// Opens the existing log of `stream`; returns it and how many bytes of a torn
    /// last write were dropped, or `None` when there is no log yet.
    pub fn open(path: &Path, stream: StreamId) -> Result<Option<(Self, u64)>, LogError> {
        if !path.exists() {
            return Ok(None);
        }
        let (spool, recovered) = Spool::<Entry>::open(path)?;
        let shown = path.display().to_string();
        let mut entries = recovered.entries.into_iter();
        let header = match entries.next() {
            Some(Entry::Stream(header)) => header,
            // A creation interrupted before its header was synced: nothing was
            // ever acknowledged in it.
            None => return Ok(None),
            Some(_) => return Err(LogError::NoHeader { path: shown }),
        };
        if header.stream != stream {
            return Err(LogError::WrongStream { path: shown, expected: stream, found: header.stream });
        }
        let mut log = Self::empty(spool, header);
        for (index, entry) in entries.enumerate() {
            log.replay(index + 1, entry).map_err(|problem| match problem {
                Replay::WrongStream(found) => LogError::WrongStream { path: shown.clone(), expected: stream, found },
                Replay::Inconsistent(problem) => LogError::Inconsistent { path: shown.clone(), index: index + 1, problem },
            })?;
        }
        Ok(Some((log, recovered.dropped_tail_bytes)))
    }

    /// Starts the log of `header.stream` at `path`, from `header.start`.
    pub fn create(path: &Path, header: LogHeader) -> Result<Self, LogError> {
        let (mut spool, recovered) = Spool::<Entry>::open(path)?;
        if !recovered.entries.is_empty() {
            return Err(LogError::Inconsistent {
                path: path.display().to_string(),
                index: 0,
                problem: "a log is already there; open it instead of creating one".into(),
            });
        }
        spool.append(&[Entry::Stream(header.clone())])?;
        Ok(Self::empty(spool, header))
    }

    fn empty(spool: Spool<Entry>, header: LogHeader) -> Self {
        StreamLog {
            spool,
            stream: header.stream,
            base: Checkpoint { state: header.start, epochs: 0, totals: PerClass::default(), cursor: None },
            header,
            records: Vec::new(),
            cursors: Vec::new(),
            epochs: Vec::new(),
            poisoned: false,
        }
    }

    /// Whose log this is.
    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    fn replay(&mut self, index: usize, entry: Entry) -> Result<(), Replay> {
        let bad = |m: String| Err(Replay::Inconsistent(m));
        match entry {
            Entry::Stream(header) if index == 0 => {
                if header.stream != self.stream {
                    return Err(Replay::WrongStream(header.stream));
                }
            }
            Entry::Checkpoint(c) if index == 1 => self.base = c,
            Entry::Record { record, cursors } if index > 0 => {
                if record.seq != self.next_seq() {
                    return bad(format!("record seq {} where {} was next", record.seq, self.next_seq()));
                }
                if record.start_ms < self.last_end_ms() || record.end_ms <= record.start_ms {
                    return bad(format!("record seq {} [{}, {}) does not follow the end {}", record.seq, record.start_ms, record.end_ms, self.last_end_ms()));
                }
                self.records.push(record);
                self.cursors.push(cursors);
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

    /// The sources' cursors and the end of the last record (to resume the meters from).
    pub fn cursor(&self) -> Option<(&[Cursor], u64)> {
        match (self.records.last(), self.cursors.last()) {
            (Some(r), Some(c)) => Some((c.as_slice(), r.end_ms)),
            _ => self.base.cursor.as_ref().map(|(c, end)| (c.as_slice(), *end)),
        }
    }

    /// The end of the last record, or of the settled state (the job's opening
    /// time for a new stream): no record may start before it.
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
    pub fn append_records(&mut self, records: Vec<(UsageRecord, Vec<Cursor>)>) -> Result<(), LogError> {
        let entries: Vec<Entry> = records.into_iter().map(|(record, cursors)| Entry::Record { record, cursors }).collect();
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
        let mut entries = vec![Entry::Stream(self.header.clone()), Entry::Checkpoint(base.clone())];
        for (record, cursors) in self.records[keep_from..].iter().zip(&self.cursors[keep_from..]) {
            entries.push(Entry::Record { record: *record, cursors: cursors.clone() });
        }
        for e in &self.epochs[done..] {
            entries.push(Entry::Cut(e.cut.clone()));
            if let Some(proof) = &e.proof {
                entries.push(Entry::Proved { epoch: e.cut.epoch, proof: proof.clone() });
            }
            // An epoch settled ahead of an unsettled one is kept, so is its settlement.
            if let Some(settled) = &e.settled {
                entries.push(Entry::Settled(settled.clone()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use zkmeter_circuits::ResourceClass;

    fn stream() -> StreamId {
        StreamId { meter: [0x5a; 20], job_id: 7 }
    }

    fn header() -> LogHeader {
        LogHeader {
            stream: stream(),
            domain: Domain {
                chain_id: 31337,
                settlement: zkmeter_contracts::Address::repeat_byte(0x11),
                genesis_id: zkmeter_contracts::B256::repeat_byte(0x22),
            },
            start: stream().genesis(5),
            capacity: PerClass([0, 100, 0, 0, 0]),
        }
    }

    /// Records `from ..` (`n` of them), 10 ms each with a 2 ms gap, each with the
    /// meter cursor its seq implies, so any two records differ everywhere.
    fn records(from: u64, n: u64) -> Vec<(UsageRecord, Vec<Cursor>)> {
        (from..from + n)
            .map(|seq| {
                let record = UsageRecord { seq, start_ms: seq * 12, end_ms: seq * 12 + 10, usage: cpu(seq) };
                (record, vec![vec![seq, seq * 3]])
            })
            .collect()
    }

    /// The next `n` uncut records as an epoch. The log only checks that a cut
    /// continues its tip and numbering, so the head need not be a real Poseidon
    /// head (real cuts are tested in `epoch`); it only has to differ per cut.
    fn next_cut(log: &StreamLog, n: usize) -> Cut {
        let prev = log.tip();
        let recs = &log.uncut()[..n];
        let mut totals = PerClass::default();
        for r in recs {
            for (class, v) in r.usage.iter() {
                totals.set(class, totals.get(class) + v);
            }
        }
        let last = recs.last().expect("at least one record");
        Cut {
            epoch: log.next_epoch(),
            statement: MeterStatement {
                stream: log.stream(),
                prev,
                new: StreamState { head: Fr::from(1_000_003 * last.seq + 17), seq: prev.seq + n as u64, end_ms: last.end_ms },
                totals,
                record_count: n as u32,
                capacity: PerClass([0, 100, 0, 0, 0]),
            },
            salt: Fr::from(last.seq),
            signature: vec![0xee; 65],
            chain_id: 31337,
            settlement: vec![0x11; 20],
        }
    }

    fn settlement(epoch: u64) -> Settlement {
        Settlement { epoch, receipt: vec![epoch as u8; 32], tx_hash: vec![0xab; 32], gas: 50_000 + epoch }
    }

    fn proof(epoch: u64) -> Vec<u8> {
        vec![epoch as u8; 256]
    }

    fn cpu(total: u64) -> PerClass {
        let mut t = PerClass::default();
        t.set(ResourceClass::Cpu, total);
        t
    }

    /// Sum of the quantities of records `1 ..= n` (a record's quantity is its seq).
    fn sum_to(n: u64) -> u64 {
        n * (n + 1) / 2
    }

    /// Everything a reader of the log can see.
    #[derive(Debug, PartialEq)]
    struct View {
        tip: StreamState,
        next_seq: u64,
        next_epoch: u64,
        last_end_ms: u64,
        cursor: Option<(Vec<Cursor>, u64)>,
        uncut: Vec<UsageRecord>,
        epochs: Vec<Epoch>,
        records_of_epochs: Vec<Vec<UsageRecord>>,
        unsettled: Vec<u64>,
        settled: (u64, PerClass),
        settled_seq: u64,
    }

    fn view(log: &StreamLog) -> View {
        View {
            tip: log.tip(),
            next_seq: log.next_seq(),
            next_epoch: log.next_epoch(),
            last_end_ms: log.last_end_ms(),
            cursor: log.cursor().map(|(c, end)| (c.to_vec(), end)),
            uncut: log.uncut().to_vec(),
            epochs: log.epochs().to_vec(),
            records_of_epochs: log.epochs().iter().map(|e| log.records_of(&e.cut).to_vec()).collect(),
            unsettled: log.unsettled().map(|e| e.cut.epoch).collect(),
            settled: log.settled(),
            settled_seq: log.settled_seq(),
        }
    }

    /// The log at `path`: opened, or created when there is none.
    fn open(path: &Path) -> StreamLog {
        match StreamLog::open(path, stream()).unwrap() {
            Some((log, dropped)) => {
                assert_eq!(dropped, 0, "nothing was torn");
                log
            }
            None => StreamLog::create(path, header()).unwrap(),
        }
    }

    fn log_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("streams/job-7.log")
    }

    fn seqs(records: &[UsageRecord]) -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn a_new_log_starts_at_the_streams_genesis() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let log = open(&path);
        let genesis = View {
            tip: stream().genesis(5),
            next_seq: 1,
            next_epoch: 1,
            last_end_ms: 5,
            cursor: None,
            uncut: vec![],
            epochs: vec![],
            records_of_epochs: vec![],
            unsettled: vec![],
            settled: (0, PerClass::default()),
            settled_seq: 0,
        };
        assert_eq!(view(&log), genesis);
        assert_eq!(log.header(), &header());
        drop(log);
        // The stream entry written on creation is all a reopen finds.
        let log = open(&path);
        assert_eq!(view(&log), genesis);
        assert_eq!(log.header(), &header());
        drop(log);
        assert!(StreamLog::create(&path, header()).is_err(), "a log is never created over another");
    }

    #[test]
    fn no_log_is_none_and_a_record_before_the_start_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        assert!(StreamLog::open(&path, stream()).unwrap().is_none());
        let mut log = StreamLog::create(&path, LogHeader { start: stream().genesis(13), ..header() }).unwrap();
        // Record 1 runs [12, 22): it starts before the job was opened at 13 ms.
        assert!(matches!(log.append_records(records(1, 1)), Err(LogError::Inconsistent { .. })));
    }

    #[test]
    fn reopening_gives_back_records_cuts_proofs_and_settlements() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = open(&path);
        log.append_records(records(1, 6)).unwrap();
        log.append_records(records(7, 4)).unwrap();
        let first = next_cut(&log, 4);
        log.append_cut(first.clone()).unwrap();
        log.append_proof(1, proof(1)).unwrap();
        log.append_settled(settlement(1)).unwrap();
        let second = next_cut(&log, 3);
        log.append_cut(second.clone()).unwrap();
        log.append_proof(2, proof(2)).unwrap();

        let before = view(&log);
        assert_eq!(before.tip, second.statement.new);
        assert_eq!((before.next_seq, before.next_epoch), (11, 3));
        assert_eq!(before.cursor, Some((vec![vec![10, 30]], 130)));
        assert_eq!(seqs(&before.uncut), [8, 9, 10]);
        assert_eq!(before.records_of_epochs.iter().map(|r| seqs(r)).collect::<Vec<_>>(), [vec![1, 2, 3, 4], vec![5, 6, 7]]);
        assert_eq!(before.epochs[0], Epoch { cut: first, proof: Some(proof(1)), settled: Some(settlement(1)) });
        assert_eq!(before.epochs[1], Epoch { cut: second, proof: Some(proof(2)), settled: None });
        assert_eq!(before.unsettled, [2]);
        assert_eq!(before.settled, (1, cpu(sum_to(4))));
        assert_eq!(before.settled_seq, 4);

        drop(log);
        assert_eq!(view(&open(&path)), before);
    }

    #[test]
    fn a_record_with_a_seq_gap_is_refused_and_poisons_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = open(&path);
        log.append_records(records(1, 3)).unwrap();
        let good = view(&log);

        // Seq 4 is fine, seq 6 skips 5: the whole append is refused.
        let mut gap = records(4, 1);
        gap.extend(records(6, 1));
        let err = log.append_records(gap).unwrap_err();
        assert!(matches!(&err, LogError::Inconsistent { problem, .. } if problem.contains("seq 6")), "{err}");
        // The refused append may have half-applied in memory, so nothing more may be written.
        assert!(matches!(log.append_records(records(4, 1)), Err(LogError::Poisoned { .. })));
        assert!(matches!(log.append_proof(1, proof(1)), Err(LogError::Poisoned { .. })));

        drop(log);
        let mut log = open(&path);
        assert_eq!(view(&log), good, "nothing of the refused append reached the file");
        log.append_records(records(4, 1)).unwrap();
        assert_eq!(log.next_seq(), 5);
    }

    #[test]
    fn a_repeated_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(&log_path(&dir));
        log.append_records(records(1, 3)).unwrap();
        assert!(matches!(log.append_records(records(3, 1)), Err(LogError::Inconsistent { .. })));
    }

    #[test]
    fn a_cut_not_continuing_the_tip_is_refused_and_poisons_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = open(&path);
        log.append_records(records(1, 6)).unwrap();
        log.append_cut(next_cut(&log, 3)).unwrap();
        let good = view(&log);

        let mut stale = next_cut(&log, 2);
        stale.statement.prev = stream().genesis(0);
        let err = log.append_cut(stale).unwrap_err();
        assert!(matches!(&err, LogError::Inconsistent { problem, .. } if problem.contains("epoch 2")), "{err}");
        assert!(matches!(log.append_proof(1, proof(1)), Err(LogError::Poisoned { .. })));
        assert!(matches!(log.append_records(records(7, 1)), Err(LogError::Poisoned { .. })));
        assert!(matches!(log.append_settled(settlement(1)), Err(LogError::Poisoned { .. })));

        drop(log);
        assert_eq!(view(&open(&path)), good, "the file holds only the entries before the refused cut");
    }

    #[test]
    fn cuts_that_skip_an_epoch_number_or_cover_unlogged_records_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        type Break = fn(&mut Cut);
        let broken: [(&str, Break); 2] = [
            ("skips an epoch number", |c| c.epoch += 1),
            ("covers a record not logged yet", |c| c.statement.new.seq += 1),
        ];
        for (i, (why, break_it)) in broken.into_iter().enumerate() {
            let mut log = open(&dir.path().join(format!("{i}.log")));
            log.append_records(records(1, 4)).unwrap();
            let mut cut = next_cut(&log, 4);
            break_it(&mut cut);
            assert!(matches!(log.append_cut(cut), Err(LogError::Inconsistent { .. })), "a cut that {why}");
        }
    }

    #[test]
    fn proofs_and_settlements_of_unknown_epochs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(&dir.path().join("a.log"));
        log.append_records(records(1, 2)).unwrap();
        log.append_cut(next_cut(&log, 2)).unwrap();
        assert!(matches!(log.append_proof(2, proof(2)), Err(LogError::Inconsistent { .. })));
        let mut log = open(&dir.path().join("b.log"));
        assert!(matches!(log.append_settled(settlement(1)), Err(LogError::Inconsistent { .. })));
    }

    #[test]
    fn a_log_of_another_stream_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = open(&path);
        log.append_records(records(1, 2)).unwrap();
        drop(log);
        let bytes = std::fs::read(&path).unwrap();

        let other = StreamId { job_id: 8, ..stream() };
        match StreamLog::open(&path, other) {
            Err(LogError::WrongStream { expected, found, .. }) => assert_eq!((expected, found), (other, stream())),
            Err(e) => panic!("expected WrongStream, got {e}"),
            Ok(_) => panic!("opened the log of job 7 as job 8's (or found none)"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        // The refusal released the file.
        assert_eq!(open(&path).next_seq(), 3);
    }

    #[test]
    fn a_torn_last_write_is_dropped_on_reopen_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = open(&path);
        log.append_records(records(1, 3)).unwrap();
        let good = view(&log);
        let good_len = std::fs::metadata(&path).unwrap().len();
        log.append_records(records(4, 2)).unwrap();
        let full_len = std::fs::metadata(&path).unwrap().len();
        drop(log);

        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(full_len - 3).unwrap();
        let (mut log, dropped) = StreamLog::open(&path, stream()).unwrap().unwrap();
        assert_eq!(dropped, full_len - 3 - good_len, "the torn append is dropped whole, not just its cut-off bytes");
        assert_eq!(view(&log), good);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);

        log.append_records(records(4, 2)).unwrap();
        drop(log);
        assert_eq!(open(&path).next_seq(), 6);
    }

    /// Records per epoch in the compaction tests: 64 settled epochs reach the threshold.
    const EPOCH: usize = 64;
    const EPOCHS_TO_COMPACT: usize = COMPACT_AFTER_SETTLED_RECORDS / EPOCH;

    /// Logs `epochs` full epochs of fresh records after the log's last record, cut
    /// and proved but not settled.
    fn cut_epochs(log: &mut StreamLog, epochs: usize) {
        log.append_records(records(log.next_seq(), (epochs * EPOCH) as u64)).unwrap();
        for _ in 0..epochs {
            let cut = next_cut(log, EPOCH);
            let number = cut.epoch;
            log.append_cut(cut).unwrap();
            log.append_proof(number, proof(number)).unwrap();
        }
    }

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn compaction_keeps_the_settled_past_and_what_is_not_settled() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = open(&path);
        cut_epochs(&mut log, EPOCHS_TO_COMPACT);
        // One more epoch cut and proved, and five records not cut, outlive compaction.
        log.append_records(records(log.next_seq(), 10)).unwrap();
        let pending = next_cut(&log, 5);
        log.append_cut(pending.clone()).unwrap();
        log.append_proof(pending.epoch, proof(pending.epoch)).unwrap();

        for epoch in 1..EPOCHS_TO_COMPACT as u64 {
            log.append_settled(settlement(epoch)).unwrap();
        }
        assert_eq!(log.epochs().len(), EPOCHS_TO_COMPACT + 1, "not compacted below the threshold");
        let before = file_len(&path);
        log.append_settled(settlement(EPOCHS_TO_COMPACT as u64)).unwrap();
        assert!(file_len(&path) < before / 10, "compacted from {before} bytes to {}", file_len(&path));

        let settled_records = COMPACT_AFTER_SETTLED_RECORDS as u64;
        let last = settled_records + 10;
        let after = view(&log);
        assert_eq!(after.epochs, vec![Epoch { cut: pending.clone(), proof: Some(proof(pending.epoch)), settled: None }]);
        assert_eq!(seqs(&after.records_of_epochs[0]), (settled_records + 1..=settled_records + 5).collect::<Vec<_>>());
        assert_eq!(seqs(&after.uncut), (settled_records + 6..=last).collect::<Vec<_>>());
        assert_eq!(after.tip, pending.statement.new);
        assert_eq!((after.next_seq, after.next_epoch), (last + 1, EPOCHS_TO_COMPACT as u64 + 2));
        assert_eq!(after.cursor, Some((vec![vec![last, last * 3]], last * 12 + 10)));
        assert_eq!(after.settled, (EPOCHS_TO_COMPACT as u64, cpu(sum_to(settled_records))));
        assert_eq!(after.settled_seq, settled_records);

        drop(log);
        let mut log = open(&path);
        assert_eq!(view(&log), after);

        log.append_settled(settlement(pending.epoch)).unwrap();
        log.append_records(records(last + 1, 1)).unwrap();
        let next = next_cut(&log, 6);
        log.append_cut(next.clone()).unwrap();
        drop(log);
        let log = open(&path);
        assert_eq!(log.tip(), next.statement.new);
        assert_eq!(log.settled(), (EPOCHS_TO_COMPACT as u64 + 1, cpu(sum_to(settled_records + 5))));
        assert_eq!(seqs(log.records_of(&next)), (settled_records + 6..=last + 1).collect::<Vec<_>>());
    }

    #[test]
    fn compaction_of_every_record_keeps_the_meter_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = open(&path);
        cut_epochs(&mut log, EPOCHS_TO_COMPACT);
        for epoch in 1..=EPOCHS_TO_COMPACT as u64 {
            log.append_settled(settlement(epoch)).unwrap();
        }
        let n = COMPACT_AFTER_SETTLED_RECORDS as u64;
        let after = view(&log);
        assert!(after.epochs.is_empty() && after.uncut.is_empty(), "everything was settled and compacted away");
        // The meter resumes from the last record's counters, or would bill the downtime again.
        assert_eq!(after.cursor, Some((vec![vec![n, n * 3]], n * 12 + 10)));
        assert_eq!(after.last_end_ms, n * 12 + 10);
        assert_eq!((after.next_seq, after.next_epoch, after.settled_seq), (n + 1, EPOCHS_TO_COMPACT as u64 + 1, n));
        assert_eq!(after.settled, (EPOCHS_TO_COMPACT as u64, cpu(sum_to(n))));
        drop(log);
        let mut log = open(&path);
        assert_eq!(view(&log), after);

        // A second round compacts again on top of the first checkpoint.
        cut_epochs(&mut log, EPOCHS_TO_COMPACT);
        for epoch in EPOCHS_TO_COMPACT as u64 + 1..=2 * EPOCHS_TO_COMPACT as u64 {
            log.append_settled(settlement(epoch)).unwrap();
        }
        assert!(log.epochs().is_empty());
        let again = view(&log);
        assert_eq!(again.cursor, Some((vec![vec![2 * n, 6 * n]], 2 * n * 12 + 10)));
        assert_eq!(again.settled, (2 * EPOCHS_TO_COMPACT as u64, cpu(sum_to(2 * n))));
        assert_eq!(again.next_seq, 2 * n + 1);
        drop(log);
        assert_eq!(view(&open(&path)), again);
    }

    #[test]
    fn compaction_keeps_an_epoch_settled_ahead_of_its_turn() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = open(&path);
        cut_epochs(&mut log, EPOCHS_TO_COMPACT);
        log.append_records(records(log.next_seq(), 4)).unwrap();
        for _ in 0..2 {
            let cut = next_cut(&log, 2);
            log.append_cut(cut).unwrap();
        }
        let (late, early) = (EPOCHS_TO_COMPACT as u64 + 1, EPOCHS_TO_COMPACT as u64 + 2);
        log.append_settled(settlement(early)).unwrap();
        for epoch in 1..=EPOCHS_TO_COMPACT as u64 {
            log.append_settled(settlement(epoch)).unwrap();
        }
        let after = view(&log);
        assert_eq!(after.unsettled, [late]);
        assert_eq!(after.epochs[1].settled, Some(settlement(early)));
        assert_eq!(after.settled.0, EPOCHS_TO_COMPACT as u64 + 1);
        drop(log);
        assert_eq!(view(&open(&path)), after, "the early settlement survives the rewrite");
    }
}
