//! What the explorer shows, as its JSON endpoints return it. Token amounts are
//! decimal strings (they can pass 2^53, where JavaScript numbers stop being exact);
//! per-class arrays are in class order: gpu, cpu, storage, network, energy.

use serde::Serialize;

/// The resource classes, in the order of every per-class array.
pub const CLASSES: [&str; 5] = ["gpu", "cpu", "storage", "network", "energy"];

/// The base unit of each class.
pub const UNITS: [&str; 5] = ["GPU-ms", "core-ms", "byte-s", "bytes", "mJ"];

/// A job as the jobs list shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct JobSummary {
    /// The job id.
    pub id: u64,
    /// Who opened it.
    pub consumer: String,
    /// Whose meter serves it.
    pub provider: String,
    /// The meter.
    pub meter: String,
    /// Open or closed.
    pub open: bool,
    /// Unix seconds.
    pub expires_at: u64,
    /// The job's capacity per class (units per ms).
    pub capacity: [u64; 5],
    /// Escrow left per class.
    pub escrow: [String; 5],
    /// Records settled so far.
    pub settled_seq: u64,
    /// End of the last settled record (the opening time before the first), Unix ms.
    pub settled_end_ms: u64,
}

/// One epoch of a job, as the service's receipt and the chain know it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Epoch {
    /// The job.
    pub job_id: u64,
    /// Seq of the last record before the epoch.
    pub prev_seq: u64,
    /// Seq of its last record.
    pub seq: u64,
    /// Start of its interval: the previous epoch's end, Unix ms.
    pub start_ms: u64,
    /// End of its last record, Unix ms.
    pub end_ms: u64,
    /// Usage per class.
    pub totals: [u64; 5],
    /// The receipt's status: accepted, verified, submitted, settled or rejected.
    pub status: String,
    /// Why it was rejected, or the last settlement error.
    pub reason: Option<String>,
    /// The settlement transaction, 0x-hex.
    pub tx_hash: Option<String>,
    /// Gas of the settlement.
    pub gas: Option<u64>,
    /// Tokens billed (burned from the escrow) per class, once settled.
    pub burned: Option<[String; 5]>,
    /// Tokens paid to the provider per class, once settled (burned less the fee).
    pub minted: Option<[String; 5]>,
}

/// A job with its epochs, oldest first.
#[derive(Clone, Debug, Serialize)]
pub struct JobPage {
    /// The job.
    pub job: JobSummary,
    /// Its epochs.
    pub epochs: Vec<Epoch>,
}

/// Everything a browser needs to check one epoch's proof itself.
#[derive(Clone, Debug, Serialize)]
pub struct EpochProof {
    /// The epoch.
    pub epoch: Epoch,
    /// The circuit's name.
    pub circuit: String,
    /// The stream's heads before and after, decimal (field elements).
    pub prev_head: String,
    /// The head after.
    pub new_head: String,
    /// Records in the epoch.
    pub record_count: u32,
    /// The job's capacity per class (units per ms).
    pub capacity: [u64; 5],
    /// The verifying key in snarkjs's `verification_key.json` format.
    pub verification_key: serde_json::Value,
    /// The proof in snarkjs's `proof.json` format.
    pub proof: serde_json::Value,
    /// The public inputs as the service computed them (decimal); the page computes
    /// its own from the statement it shows and never trusts these.
    pub public_inputs: Vec<String>,
}

/// A cumulative amount per class at a moment.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Point {
    /// Unix ms.
    pub time_ms: u64,
    /// Per class, so far.
    pub amounts: [String; 5],
}

/// A provider's or consumer's account.
#[derive(Clone, Debug, Serialize)]
pub struct Account {
    /// The address, 0x-hex.
    pub address: String,
    /// Tokens held per class.
    pub balances: [String; 5],
    /// Tokens earned over time (as a provider), cumulative.
    pub earned: Vec<Point>,
    /// Tokens spent over time (as a consumer), cumulative.
    pub spent: Vec<Point>,
    /// The jobs it opened or serves.
    pub jobs: Vec<u64>,
}

/// How the service is doing, from its metrics.
#[derive(Clone, Debug, Serialize, Default)]
pub struct ServiceStats {
    /// Submissions by outcome since the service started.
    pub submissions: Vec<(String, u64)>,
    /// Proofs verified per second over the last minute.
    pub verified_per_second: f64,
    /// Verification batches since start, and the mean batch size.
    pub batches: u64,
    /// Mean proofs per batch.
    pub mean_batch: f64,
    /// Receipts verified but not settled yet.
    pub pending_settlements: u64,
    /// Receipts settled.
    pub settled: u64,
}
