//! Event logs: what the contracts emitted, with the block, time and transaction
//! of each, so that a usage history can be read back from any chain
//! ([`crate::Chain::logs`]; paging and decoding are in [`crate::history`]).
//!
//! A JSON-RPC node answers `eth_getLogs`. The embedded chain keeps no receipts,
//! so it writes the logs of every successful transaction to [`EVENTS_FILE`]
//! beside its state, one JSON line each, through an [`EventLog`]: the state file
//! records how many bytes of the event log belong to it, the logs are written
//! before the state, and on opening anything past that length (a transaction
//! whose state was never saved) is cut off. A crash so leaves the events and the
//! state in step: a transaction has both or neither.

use alloy::primitives::{Address, B256, Log};
use serde::{Deserialize, Serialize};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{ChainError, Result};

/// Name of the embedded chain's event log in its directory.
pub const EVENTS_FILE: &str = "events.jsonl";

/// Which logs to read: emitted by one of `addresses`, with a first topic (the
/// event's signature hash) among `events`, in blocks `from_block..=to_block`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFilter {
    /// The contracts; none matches nothing.
    pub addresses: Vec<Address>,
    /// Event signature hashes (`SolEvent::SIGNATURE_HASH`); none matches nothing.
    pub events: Vec<B256>,
    /// First block, included.
    pub from_block: u64,
    /// Last block, included.
    pub to_block: u64,
}

impl LogFilter {
    /// Whether `log`, in block `block`, passes the filter.
    pub fn matches(&self, block: u64, log: &Log) -> bool {
        (self.from_block..=self.to_block).contains(&block)
            && self.addresses.contains(&log.address)
            && log.topics().first().is_some_and(|t| self.events.contains(t))
    }
}

/// One emitted log and where it was emitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLog {
    /// The block that holds it.
    pub block_number: u64,
    /// That block's timestamp, Unix seconds.
    pub block_timestamp: u64,
    /// The transaction that emitted it.
    pub tx_hash: B256,
    /// Its position among the block's logs.
    pub log_index: u64,
    /// The emitting contract, topics and data.
    pub log: Log,
}

/// The embedded chain's event log: JSON lines in a file, or in memory for an
/// in-memory chain. Only the first `committed` bytes of the file belong to the
/// chain's saved state.
pub struct EventLog {
    path: Option<PathBuf>,
    committed: u64,
    memory: Vec<ChainLog>,
}

impl EventLog {
    /// An event log kept in memory only.
    pub fn in_memory() -> Self {
        EventLog { path: None, committed: 0, memory: Vec::new() }
    }

    /// The event log at `path`, of which the saved state owns `committed` bytes:
    /// a longer file is cut back to that (its tail belongs to a transaction whose
    /// state was never saved). A shorter or missing file (deleted by hand) keeps
    /// what it has: the history before it is lost, the chain works on.
    pub fn open(path: PathBuf, committed: u64) -> Result<Self> {
        let committed = match std::fs::metadata(&path) {
            Ok(meta) if meta.len() > committed => {
                let file = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| ChainError::io(&path, e))?;
                file.set_len(committed).map_err(|e| ChainError::io(&path, e))?;
                committed
            }
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(ChainError::io(&path, e)),
        };
        Ok(EventLog { path: Some(path), committed, memory: Vec::new() })
    }

    /// The event log at `path` read as of a state that owns `committed` bytes of
    /// it, without touching the file (a writer may be appending to it).
    pub fn read_only(path: PathBuf, committed: u64) -> Self {
        EventLog { path: Some(path), committed, memory: Vec::new() }
    }

    /// Bytes of the file that belong to the saved state (what the state file records).
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Writes `logs` after the committed part (over any uncommitted tail) and
    /// counts them as committed: call it before saving the state that includes them.
    pub fn append(&mut self, logs: Vec<ChainLog>) -> Result<()> {
        let Some(path) = &self.path else {
            self.memory.extend(logs);
            return Ok(());
        };
        if logs.is_empty() {
            return Ok(());
        }
        let mut text = Vec::new();
        for log in &logs {
            serde_json::to_writer(&mut text, log).expect("a log serializes");
            text.push(b'\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| ChainError::io(path, e))?;
        let end = self.committed + text.len() as u64;
        file.seek(SeekFrom::Start(self.committed))
            .and_then(|_| file.write_all(&text))
            .and_then(|_| file.set_len(end))
            // Synced before the state that counts these bytes is written.
            .and_then(|_| file.sync_data())
            .map_err(|e| ChainError::io(path, e))?;
        self.committed = end;
        Ok(())
    }

    /// The logs that pass `filter`, in the order they were emitted.
    pub fn read(&self, filter: &LogFilter) -> Result<Vec<ChainLog>> {
        let Some(path) = &self.path else {
            return Ok(self.memory.iter().filter(|l| filter.matches(l.block_number, &l.log)).cloned().collect());
        };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ChainError::io(path, e)),
        };
        let owned = &bytes[..bytes.len().min(self.committed as usize)];
        let mut out = Vec::new();
        for (i, line) in owned.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !l.is_empty()) {
            let log: ChainLog = serde_json::from_slice(line).map_err(|e| bad_line(path, i, e))?;
            if filter.matches(log.block_number, &log.log) {
                out.push(log);
            }
        }
        Ok(out)
    }
}

fn bad_line(path: &Path, index: usize, e: serde_json::Error) -> ChainError {
    ChainError::BadFile { path: path.to_owned(), what: "embedded chain event log", reason: format!("line {}: {e}", index + 1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, LogData};

    fn log(block: u64, address: Address, topic: B256) -> ChainLog {
        ChainLog {
            block_number: block,
            block_timestamp: 1_700_000_000 + block,
            tx_hash: B256::repeat_byte(block as u8),
            log_index: 0,
            log: Log { address, data: LogData::new_unchecked(vec![topic], Bytes::from(vec![block as u8])) },
        }
    }

    #[test]
    fn a_tail_the_state_does_not_own_is_cut_off_and_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(EVENTS_FILE);
        let (a, t) = (Address::repeat_byte(1), B256::repeat_byte(9));
        let filter = LogFilter { addresses: vec![a], events: vec![t], from_block: 0, to_block: u64::MAX };
        let mut events = EventLog::open(path.clone(), 0).unwrap();
        events.append(vec![log(1, a, t)]).unwrap();
        let saved = events.committed();
        events.append(vec![log(2, a, t)]).unwrap();
        // The state was saved after block 1 only: block 2's log goes.
        let mut events = EventLog::open(path.clone(), saved).unwrap();
        assert_eq!(events.read(&filter).unwrap(), vec![log(1, a, t)]);
        events.append(vec![log(2, a, B256::repeat_byte(8))]).unwrap();
        assert_eq!(events.read(&filter).unwrap(), vec![log(1, a, t)], "the new block 2 emitted another event");
        let other = LogFilter { events: vec![B256::repeat_byte(8)], from_block: 2, ..filter.clone() };
        assert_eq!(events.read(&other).unwrap().len(), 1);
        let none = LogFilter { addresses: vec![Address::repeat_byte(2)], ..filter };
        assert!(events.read(&none).unwrap().is_empty());
    }
}
