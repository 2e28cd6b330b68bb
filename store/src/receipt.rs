//! Receipts as rows, and the status machine they move through.

use std::fmt;
use std::str::FromStr;

/// A 32-byte hash (receipt ids, circuit ids, transaction hashes, field elements).
pub type Hash = [u8; 32];

/// Where a receipt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Recorded before its proof's verification was, by a version before
    /// receipts were written verified; the service verifies these again at start-up.
    Accepted,
    /// The proof verified; waiting for settlement.
    Verified,
    /// A settlement transaction is being sent (or was, and is being retried).
    Submitted,
    /// Settled on the chain. Final.
    Settled,
    /// Refused. Final; frees the stream state for another statement.
    Rejected,
}

impl Status {
    /// All statuses.
    pub const ALL: [Status; 5] = [Status::Accepted, Status::Verified, Status::Submitted, Status::Settled, Status::Rejected];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Accepted => "accepted",
            Status::Verified => "verified",
            Status::Submitted => "submitted",
            Status::Settled => "settled",
            Status::Rejected => "rejected",
        }
    }

    /// The statuses a receipt may move to `self` from: verification finishes,
    /// settlement is sent (and re-sent while retried), a dropped transaction puts
    /// the receipt back to verified, and anything not final may be rejected.
    pub fn allowed_from(self) -> &'static [Status] {
        match self {
            Status::Accepted => &[],
            Status::Verified => &[Status::Accepted, Status::Submitted],
            Status::Submitted => &[Status::Verified, Status::Submitted],
            Status::Settled => &[Status::Verified, Status::Submitted],
            Status::Rejected => &[Status::Accepted, Status::Verified, Status::Submitted],
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| format!("unknown receipt status {s:?}"))
    }
}

/// A stream's state: hash-chain head, seq of the last record, its end time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamStateRow {
    /// The head, 32 bytes big-endian.
    pub head: Hash,
    /// Seq of the last record.
    pub seq: u64,
    /// End of the last record, Unix milliseconds.
    pub end_ms: u64,
}

/// A receipt to record: the statement, its proof and the meter's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReceipt {
    /// The statement's hash, computed by the service: the idempotency key.
    pub id: Hash,
    /// The chain it settles on.
    pub chain_id: u64,
    /// The circuit.
    pub circuit_id: Hash,
    /// The job (stream).
    pub job_id: u64,
    /// The job's meter address.
    pub meter: [u8; 20],
    /// The state the statement moves from.
    pub prev: StreamStateRow,
    /// The state it moves to.
    pub next: StreamStateRow,
    /// Records in the epoch.
    pub record_count: u32,
    /// Per-class totals.
    pub totals: [u64; 5],
    /// The proof (256 bytes, EVM layout).
    pub proof: Vec<u8>,
    /// The meter's signature (65 bytes).
    pub meter_signature: Vec<u8>,
}

/// A recorded receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The statement's hash.
    pub id: Hash,
    /// The chain it settles on.
    pub chain_id: u64,
    /// The circuit.
    pub circuit_id: Hash,
    /// The job (stream).
    pub job_id: u64,
    /// The job's meter address.
    pub meter: [u8; 20],
    /// The state the statement moves from.
    pub prev: StreamStateRow,
    /// The state it moves to.
    pub next: StreamStateRow,
    /// Records in the epoch.
    pub record_count: u32,
    /// Per-class totals.
    pub totals: [u64; 5],
    /// The proof.
    pub proof: Vec<u8>,
    /// The meter's signature.
    pub meter_signature: Vec<u8>,
    /// Where it stands.
    pub status: Status,
    /// Why it was rejected, or the last settlement error while retried.
    pub reason: Option<String>,
    /// The settlement transaction, once known.
    pub tx_hash: Option<Hash>,
    /// Gas the settlement used, once settled.
    pub gas_used: Option<u64>,
    /// Settlement attempts (moves to submitted).
    pub attempts: u32,
    /// When recorded, Unix milliseconds (the store's clock).
    pub created_at_ms: u64,
    /// When last changed, Unix milliseconds.
    pub updated_at_ms: u64,
}

/// What [`crate::Store::accept`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// The receipt is new.
    New(Receipt),
    /// The statement had been recorded before: its receipt, unchanged.
    Existing(Receipt),
}

impl Accepted {
    /// The receipt, new or not.
    pub fn receipt(&self) -> &Receipt {
        match self {
            Accepted::New(r) | Accepted::Existing(r) => r,
        }
    }
}

/// Which receipts [`crate::Store::list`] returns; `None` filters nothing.
#[derive(Clone, Debug, Default)]
pub struct ReceiptFilter {
    /// Only this job's.
    pub job_id: Option<u64>,
    /// Only this meter's.
    pub meter: Option<[u8; 20]>,
    /// Only in this status.
    pub status: Option<Status>,
    /// Only created at or after this time (Unix ms).
    pub from_ms: Option<u64>,
    /// Only created before this time (Unix ms).
    pub to_ms: Option<u64>,
    /// Only those whose epoch ends at this record seq.
    pub next_seq: Option<u64>,
    /// Newest first (by creation) instead of oldest first.
    pub newest_first: bool,
    /// Only after this (created_at_ms, id) position in the order asked for: the
    /// last of the previous page.
    pub after: Option<(u64, Hash)>,
    /// At most this many (0: none).
    pub limit: u32,
}
