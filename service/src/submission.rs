//! The cheap checks a submission passes before its proof is verified, cheapest
//! first: sizes and encodings, public inputs below r, proof points on the curve
//! and in the subgroup, a known circuit, an existing job whose meter the
//! statement names, a previous state equal to the latest known one, and the
//! meter's signature over the new state. Only then is a pairing spent on it.

use ark_bn254::{Bn254, Fr};
use ark_groth16::Proof;
use sha3::{Digest, Keccak256};
use std::collections::BTreeMap;
use std::sync::Arc;
use zkmeter_circuits::{KeyHeader, KeyOrigin, MeterStatement, PUBLIC_INPUTS, PerClass, ResourceClass, StreamId, StreamState};
use zkmeter_contracts::meter_signature::recover;
use zkmeter_contracts::{Address, B256, circuit_id, state_digest};
use zkmeter_store::{Hash, NewReceipt, Receipt, Store, StoreError};
use zkmeter_verifier::{PROOF_LEN, Verifier, decode_proof};

use crate::batcher::Batcher;
use crate::chain_worker::ChainWorker;
use crate::convert::{FieldError, fixed, receipt_statement, row_state, state_row, stream_state};
use crate::job_cache::{ChainUnavailable, JobCache};
use crate::proto;

/// A circuit the service verifies: its key header and prepared verifying key.
pub struct Circuit {
    /// Its on-chain id.
    pub id: B256,
    /// Its key header (name, N, digest).
    pub header: KeyHeader,
    /// Where its key came from (development setup or ceremony).
    pub origin: KeyOrigin,
    /// Its verifier.
    pub verifier: Verifier,
}

/// The circuits the service verifies, by id.
#[derive(Clone, Default)]
pub struct Circuits(pub BTreeMap<B256, Arc<Circuit>>);

impl Circuits {
    /// Adds a circuit.
    pub fn add(&mut self, header: KeyHeader, origin: KeyOrigin, vk: &ark_groth16::VerifyingKey<Bn254>) {
        let id = circuit_id(&header);
        self.0.insert(id, Arc::new(Circuit { id, header, origin, verifier: Verifier::new(vk) }));
    }

    /// The circuit with this id.
    pub fn get(&self, id: &B256) -> Option<&Arc<Circuit>> {
        self.0.get(id)
    }
}

/// Why a submission was refused before its proof was verified.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// A field is missing, has the wrong size, or holds an invalid value.
    #[error("malformed submission: {0}")]
    Malformed(#[from] FieldError),
    /// The proof bytes are not a valid proof (size, coordinates, curve, subgroup).
    #[error("malformed proof: {0}")]
    BadProof(String),
    /// The statement contradicts itself (seq, count, capacities, time).
    #[error("inconsistent statement: {0}")]
    BadStatement(String),
    /// The circuit id is not one this service verifies.
    #[error("unknown circuit {0}: GetCircuit lists the circuits this service verifies")]
    UnknownCircuit(B256),
    /// No job with this id on the chain.
    #[error("unknown stream: job {0} does not exist on the settlement contract; open the job first")]
    UnknownStream(u64),
    /// The job is closed: nothing settles on it any more.
    #[error("job {0} is closed on the settlement contract: a closed job settles nothing more; stop metering it")]
    JobClosed(u64),
    /// The job exists but is served by another meter.
    #[error("job {job} is served by meter {expected}, not {given}")]
    WrongMeter {
        /// The job.
        job: u64,
        /// Its meter on chain.
        expected: Address,
        /// The meter the statement names.
        given: Address,
    },
    /// The statement does not continue the latest known state.
    #[error(
        "job {job}: the statement continues from seq {given}, but the latest known state is seq {latest} \
         ({which}); read it with GetStreamState and prove the epoch that follows it"
    )]
    WrongState {
        /// The job.
        job: u64,
        /// The seq the statement continues from.
        given: u64,
        /// The latest known seq.
        latest: u64,
        /// "stale" (already moved past) or "ahead of" the latest state.
        which: &'static str,
    },
    /// The meter signature does not recover to the job's meter.
    #[error("the meter signature does not verify: it must be the job's meter's EIP-712 signature over the new state")]
    BadSignature,
    /// The proof does not verify for the statement.
    #[error("the proof does not verify for this statement")]
    InvalidProof,
    /// The sender has sent too many invalid proofs lately.
    #[error(transparent)]
    OverBudget(#[from] crate::peer_budget::OverBudget),
    /// Too many receipts wait for settlement.
    #[error(transparent)]
    Backlogged(#[from] crate::backlog::Backlogged),
    /// Another statement from the same state was accepted already.
    #[error("job {job}: another statement ({existing}) already moves the stream from seq {seq}")]
    Conflict {
        /// The job.
        job: u64,
        /// The seq both start from.
        seq: u64,
        /// The receipt id of the statement accepted first.
        existing: String,
    },
    /// The receipt store failed.
    #[error("receipt store: {0}")]
    Store(#[from] StoreError),
    /// The chain could not be read.
    #[error("chain: {0}")]
    Chain(String),
}

impl From<ChainUnavailable> for SubmitError {
    fn from(e: ChainUnavailable) -> Self {
        SubmitError::Chain(e.to_string())
    }
}

/// A submission that passed the cheap checks: ready for the pairing check.
pub struct Checked {
    /// Its circuit.
    pub circuit: Arc<Circuit>,
    /// Its statement, with the job's capacity.
    pub statement: MeterStatement,
    /// The decoded proof.
    pub proof: Proof<Bn254>,
    /// The receipt to store once the proof verifies.
    pub receipt: NewReceipt,
}

impl Checked {
    /// The public inputs the proof must verify for.
    pub fn public_inputs(&self) -> [Fr; PUBLIC_INPUTS] {
        self.statement.public_inputs()
    }
}

/// What the checks found.
pub enum Outcome {
    /// The statement has a receipt already: the same statement was submitted before.
    Known(Box<Receipt>),
    /// New, and it passed.
    Checked(Box<Checked>),
}

/// The receipt id of a statement: Keccak-256 over the chain, the settlement
/// contract, the circuit and every field of the statement. Two submissions of
/// one statement (even with different, re-randomised proofs) share it.
pub fn statement_id(chain_id: u64, settlement: Address, circuit: &B256, s: &MeterStatement) -> Hash {
    let mut h = Keccak256::new();
    h.update(b"zkmeter.receipt.v1");
    h.update(chain_id.to_be_bytes());
    h.update(settlement.as_slice());
    h.update(circuit.as_slice());
    h.update(s.stream.job_id.to_be_bytes());
    h.update(s.stream.meter);
    for state in [&s.prev, &s.new] {
        h.update(zkmeter_circuits::field_bytes::to_be_bytes(&state.head));
        h.update(state.seq.to_be_bytes());
        h.update(state.end_ms.to_be_bytes());
    }
    h.update(s.record_count.to_be_bytes());
    for t in s.totals.0 {
        h.update(t.to_be_bytes());
    }
    h.finalize().into()
}

/// Runs the cheap checks on `req`.
pub async fn check(
    req: &proto::SubmitProofRequest,
    circuits: &Circuits,
    chain: &ChainWorker,
    jobs: &JobCache,
    store: &Store,
) -> Result<Outcome, SubmitError> {
    let circuit_id = B256::from(fixed::<32>("circuit_id", &req.circuit_id)?);
    let circuit = circuits.get(&circuit_id).ok_or(SubmitError::UnknownCircuit(circuit_id))?.clone();
    let proof_bytes: [u8; PROOF_LEN] = fixed("proof", &req.proof)?;
    let proof = decode_proof(&proof_bytes).map_err(|e| SubmitError::BadProof(e.to_string()))?;
    let signature: [u8; 65] = fixed("meter_signature", &req.meter_signature)?;
    let s = req.statement.as_ref().ok_or_else(|| FieldError::new("statement", "missing"))?;
    let meter = Address::from(fixed::<20>("statement.meter", &s.meter)?);
    let prev = stream_state("statement.prev", s.prev.as_ref())?;
    let next = stream_state("statement.next", s.next.as_ref())?;
    let totals: [u64; ResourceClass::COUNT] = s.totals.as_slice().try_into().map_err(|_| {
        FieldError::new("statement.totals", format!("{} values, expected {}", s.totals.len(), ResourceClass::COUNT))
    })?;
    let mut statement = MeterStatement {
        stream: StreamId { meter: meter.into(), job_id: s.job_id },
        prev,
        new: next,
        totals: PerClass(totals),
        record_count: s.record_count,
        capacity: PerClass::default(),
    };
    let id = statement_id(chain.chain_id(), chain.deployment().settlement, &circuit_id, &statement);
    if let Some(existing) = store.get(&id).await? {
        return Ok(Outcome::Known(Box::new(existing)));
    }

    let job_id = s.job_id;
    let job = jobs.get(job_id).await?.job;
    if job.consumer == Address::ZERO {
        return Err(SubmitError::UnknownStream(job_id));
    }
    if !job.open {
        return Err(SubmitError::JobClosed(job_id));
    }
    if job.meter != meter {
        return Err(SubmitError::WrongMeter { job: job_id, expected: job.meter, given: meter });
    }
    statement.capacity = job.capacity;
    statement.check().map_err(|e| SubmitError::BadStatement(e.to_string()))?;

    let latest = latest_state(store, chain.chain_id(), job_id, job.state).await?;
    if statement.prev != latest {
        let which = match statement.prev.seq.cmp(&latest.seq) {
            std::cmp::Ordering::Less => "stale: the stream has moved on",
            std::cmp::Ordering::Greater => "ahead: an epoch before it is missing",
            std::cmp::Ordering::Equal => "same seq, different head or end: another history",
        };
        return Err(SubmitError::WrongState { job: job_id, given: statement.prev.seq, latest: latest.seq, which });
    }

    let digest = state_digest(chain.chain_id(), chain.deployment().settlement, meter, job_id, &statement.new);
    if recover(&digest, &signature) != Some(meter) {
        return Err(SubmitError::BadSignature);
    }

    let receipt = NewReceipt {
        id,
        chain_id: chain.chain_id(),
        circuit_id: circuit_id.0,
        job_id,
        meter: meter.into(),
        prev: state_row(&statement.prev),
        next: state_row(&statement.new),
        record_count: statement.record_count,
        totals,
        proof: proof_bytes.to_vec(),
        meter_signature: signature.to_vec(),
    };
    Ok(Outcome::Checked(Box::new(Checked { circuit, statement, proof, receipt })))
}

/// The state the next epoch of `job_id` must continue from: the newest state a
/// receipt (not rejected) moved it to, or the chain's if that is newer (someone
/// settled without this service).
pub async fn latest_state(
    store: &Store,
    chain_id: u64,
    job_id: u64,
    on_chain: StreamState,
) -> Result<StreamState, SubmitError> {
    match store.latest_state(chain_id, job_id).await? {
        Some((_, _, row)) if row.seq > on_chain.seq => Ok(row_state("stored state", &row)?),
        _ => Ok(on_chain),
    }
}

/// Checks a stored receipt's proof again (after a crash left it `accepted`):
/// whether it verifies, or why it could not be checked.
pub async fn reverify(r: &Receipt, circuits: &Circuits, jobs: &JobCache, batcher: &Batcher) -> Result<bool, String> {
    let circuit = circuits
        .get(&B256::from(r.circuit_id))
        .ok_or_else(|| format!("circuit {} is not configured any more", hex::encode(r.circuit_id)))?
        .clone();
    let capacity = jobs.get(r.job_id).await.map_err(|e| e.to_string())?.job.capacity;
    let statement = receipt_statement(r, capacity).map_err(|e| e.to_string())?;
    let proof = decode_proof(&r.proof).map_err(|e| e.to_string())?;
    batcher.verify(circuit, proof, statement.public_inputs().to_vec()).await.map_err(|e| e.to_string())
}
