//! Workload receipts as rows. They move through the same [`Status`] machine as
//! meter receipts, except that they are recorded once their proof verified, so
//! they start [`Status::Verified`] and are never [`Status::Accepted`].

use crate::receipt::{Hash, Status};

/// A workload receipt to record: the request, its output and its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWorkReceipt {
    /// The request's hash (chain, circuit, job, model, input), computed by the
    /// service: the idempotency key.
    pub id: Hash,
    /// The chain it settles on.
    pub chain_id: u64,
    /// The workload circuit.
    pub circuit_id: Hash,
    /// The job billed.
    pub job_id: u64,
    /// Model commitment, 32 bytes big-endian.
    pub model: Hash,
    /// Input commitment.
    pub input: Hash,
    /// Output commitment.
    pub output: Hash,
    /// Multiply-accumulates the proof bills.
    pub work_units: u64,
    /// The proof (256 bytes, EVM layout).
    pub proof: Vec<u8>,
}

/// A recorded workload receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkReceipt {
    /// The request's hash.
    pub id: Hash,
    /// The chain it settles on.
    pub chain_id: u64,
    /// The workload circuit.
    pub circuit_id: Hash,
    /// The job billed.
    pub job_id: u64,
    /// Model commitment.
    pub model: Hash,
    /// Input commitment.
    pub input: Hash,
    /// Output commitment.
    pub output: Hash,
    /// Multiply-accumulates the proof bills.
    pub work_units: u64,
    /// The proof.
    pub proof: Vec<u8>,
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

impl WorkReceipt {
    /// Whether `r` claims what this receipt records (the same output and work
    /// units for the same request); the proof bytes may differ (Groth16 proofs
    /// can be re-randomised).
    pub fn same_claim(&self, r: &NewWorkReceipt) -> bool {
        (self.id, self.output, self.work_units) == (r.id, r.output, r.work_units)
    }
}

/// What [`crate::Store::accept_work`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkAccepted {
    /// The receipt is new.
    New(WorkReceipt),
    /// The request had been recorded before with the same output: its receipt, unchanged.
    Existing(WorkReceipt),
}

impl WorkAccepted {
    /// The receipt, new or not.
    pub fn receipt(&self) -> &WorkReceipt {
        match self {
            WorkAccepted::New(r) | WorkAccepted::Existing(r) => r,
        }
    }
}
