//! Workload proofs: a provider proves that a quantised matmul or MLP inference
//! ran and gave its output, and is paid by the work units (multiply-accumulates)
//! the circuit fixes. The pipeline of one submission, cheapest check first:
//!
//! 1. sizes and encodings: 32-byte commitments below r, a 256-byte proof whose
//!    points are on the curve and in the subgroup;
//! 2. a workload circuit this service verifies, and the work units of its shape;
//! 3. the receipt store: the same request (job, circuit, model, input) submitted
//!    before gets its receipt back, with another output it is refused;
//! 4. the chain: the job exists and is open, and its consumer requested this
//!    work (`requestWork`), which is not settled yet;
//! 5. the pairing check, batched with whatever else is being verified;
//! 6. the durable receipt (recorded verified), and a ring of the settler's bell.
//!
//! The settlement contract checks all of it again; these checks only keep the
//! service from storing and sending what the chain would refuse.

use ark_bn254::Bn254;
use ark_groth16::Proof;
use sha3::{Digest, Keccak256};
use std::collections::BTreeMap;
use std::sync::Arc;
use zkmeter_circuits::workload::{Plan, WorkloadStatement};
use zkmeter_circuits::{KeyHeader, KeyOrigin};
use zkmeter_contracts::{Address, B256, WorkStatus};
use zkmeter_store::{Hash, NewWorkReceipt, Store, StoreError, WorkAccepted, WorkReceipt};
use zkmeter_verifier::{PROOF_LEN, Verifier, decode_proof};

use crate::batcher::Batcher;
use crate::chain_worker::ChainWorker;
use crate::convert::{FieldError, fixed, work_statement};
use zkmeter_circuits::field_bytes::to_be_bytes;
use crate::job_cache::{ChainUnavailable, JobCache};
use crate::proto;
use crate::settler::SettleSignal;
use crate::submission::Circuit;

/// A workload circuit the service verifies.
pub struct WorkCircuit {
    /// Its id, key header and verifier (the batcher's unit).
    pub circuit: Arc<Circuit>,
    /// The multiply-accumulates of its shape: what every statement must bill.
    pub work_units: u64,
    /// The verifier contract holding its key on the chain.
    pub verifier_contract: Address,
}

/// The workload circuits the service verifies, by id.
#[derive(Clone, Default)]
pub struct WorkCircuits(pub BTreeMap<B256, Arc<WorkCircuit>>);

/// Why a workload key cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{circuit} is not a workload circuit id ({reason}): give a workload verifying key, as `zkmeter workload setup` writes them")]
pub struct NotAWorkloadKey {
    /// The key's circuit name.
    pub circuit: String,
    /// What is wrong with it.
    pub reason: String,
}

impl WorkCircuits {
    /// Adds the workload circuit of `header` and `vk`, whose verifier on the chain
    /// is `verifier_contract`; its work units come from the plan its name spells.
    pub fn add(
        &mut self,
        header: KeyHeader,
        origin: KeyOrigin,
        vk: &ark_groth16::VerifyingKey<Bn254>,
        verifier_contract: Address,
    ) -> Result<(), NotAWorkloadKey> {
        let plan = header
            .circuit
            .parse::<Plan>()
            .map_err(|e| NotAWorkloadKey { circuit: header.circuit.clone(), reason: e.to_string() })?;
        let id = zkmeter_contracts::circuit_id(&header);
        let circuit = Arc::new(Circuit { id, header, origin, verifier: Verifier::new(vk) });
        let work_units = plan.shape().work_units();
        self.0.insert(id, Arc::new(WorkCircuit { circuit, work_units, verifier_contract }));
        Ok(())
    }

    /// The circuit with this id.
    pub fn get(&self, id: &B256) -> Option<&Arc<WorkCircuit>> {
        self.0.get(id)
    }
}

/// Why a workload submission was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// A field is missing, has the wrong size, or holds an invalid value.
    #[error("malformed workload submission: {0}")]
    Malformed(#[from] FieldError),
    /// The proof bytes are not a valid proof (size, coordinates, curve, subgroup).
    #[error("malformed proof: {0}")]
    BadProof(String),
    /// The circuit id is not a workload circuit this service verifies.
    #[error("unknown workload circuit {0}: GetCircuit lists the workload circuits this service verifies (work_circuits)")]
    UnknownCircuit(B256),
    /// The statement bills other work units than the circuit's shape takes.
    #[error("statement.work_units is {given}, but workload circuit {circuit} takes {expected} multiply-accumulates: bill exactly those")]
    WrongWorkUnits {
        /// The circuit's name.
        circuit: String,
        /// Its work units.
        expected: u64,
        /// What the statement says.
        given: u64,
    },
    /// No job with this id on the chain.
    #[error("job {0} does not exist on the settlement contract: the consumer must open it first")]
    UnknownJob(u64),
    /// The job is closed: nothing more can be billed to it.
    #[error("job {0} is closed: work can only be billed to an open job")]
    JobClosed(u64),
    /// The consumer has not requested this work on the chain.
    #[error(
        "job {job}: the consumer has not requested this work (this circuit, model and input): \
         it must call requestWork first, then submit again"
    )]
    NotRequested {
        /// The job.
        job: u64,
    },
    /// The work was settled on the chain, but not through this service.
    #[error("job {job}: this work (this circuit, model and input) is settled on the chain already; it cannot be billed twice")]
    SettledElsewhere {
        /// The job.
        job: u64,
    },
    /// The proof does not verify for the statement.
    #[error("the proof does not verify for this workload statement (is the output commitment the one the workload gave?)")]
    InvalidProof,
    /// The same request has a receipt with another output.
    #[error("{0}")]
    Conflict(StoreError),
    /// The receipt store failed.
    #[error("receipt store: {0}")]
    Store(#[from] StoreError),
    /// The chain could not be read.
    #[error("chain: {0}")]
    Chain(String),
}

impl From<ChainUnavailable> for WorkError {
    fn from(e: ChainUnavailable) -> Self {
        WorkError::Chain(e.to_string())
    }
}

impl WorkError {
    /// The outcome label the metrics count it under.
    pub fn label(&self) -> &'static str {
        match self {
            WorkError::Malformed(_) | WorkError::WrongWorkUnits { .. } => "malformed",
            WorkError::BadProof(_) => "bad_proof_encoding",
            WorkError::UnknownCircuit(_) => "unknown_circuit",
            WorkError::UnknownJob(_) | WorkError::JobClosed(_) => "unknown_job",
            WorkError::NotRequested { .. } => "not_requested",
            WorkError::SettledElsewhere { .. } => "settled_elsewhere",
            WorkError::InvalidProof => "invalid_proof",
            WorkError::Conflict(_) => "conflict",
            WorkError::Store(_) | WorkError::Chain(_) => "unavailable",
        }
    }
}

/// The receipt id of a workload request: Keccak-256 over the chain, the
/// settlement contract, the circuit, the job, the model and the input. Not the
/// output (a request has one correct output, and a second output for it must
/// meet the first receipt) and not the proof (re-randomised proofs of one
/// statement share the receipt).
pub fn work_id(chain_id: u64, settlement: Address, circuit: &B256, s: &WorkloadStatement) -> Hash {
    let mut h = Keccak256::new();
    h.update(b"zkmeter.work-receipt.v1");
    h.update(chain_id.to_be_bytes());
    h.update(settlement.as_slice());
    h.update(circuit.as_slice());
    h.update(s.job_id.to_be_bytes());
    h.update(to_be_bytes(&s.model));
    h.update(to_be_bytes(&s.input));
    h.finalize().into()
}

/// What the service needs to take a workload submission.
#[derive(Clone)]
pub struct WorkPipeline {
    /// The workload circuits verified.
    pub circuits: WorkCircuits,
    /// The chain (reads).
    pub chain: ChainWorker,
    /// The jobs as the chain last said.
    pub jobs: JobCache,
    /// The receipts.
    pub store: Store,
    /// The batch verifier.
    pub batcher: Batcher,
    /// Wakes the settler.
    pub settle: SettleSignal,
}

/// A submission that passed the cheap checks.
struct Checked {
    circuit: Arc<Circuit>,
    statement: WorkloadStatement,
    proof: Proof<Bn254>,
    receipt: NewWorkReceipt,
}

/// What the cheap checks found.
enum Outcome {
    /// The request has a receipt already, for the same output.
    Known(Box<WorkReceipt>),
    /// New, and it passed.
    Checked(Box<Checked>),
}

impl WorkPipeline {
    /// The whole pipeline for one submission: the receipt, and whether this call
    /// created it.
    pub async fn submit(&self, req: &proto::SubmitWorkRequest) -> Result<(WorkReceipt, bool), WorkError> {
        let checked = match self.check(req).await? {
            Outcome::Known(receipt) => return Ok((*receipt, false)),
            Outcome::Checked(c) => c,
        };
        let inputs = checked.statement.public_inputs().to_vec();
        let valid = self.batcher.verify(checked.circuit, checked.proof, inputs).await.map_err(|e| WorkError::Chain(e.to_string()))?;
        if !valid {
            return Err(WorkError::InvalidProof);
        }
        match self.store.accept_work(checked.receipt).await {
            Ok(WorkAccepted::New(r)) => {
                self.settle.ring();
                Ok((r, true))
            }
            Ok(WorkAccepted::Existing(r)) => Ok((r, false)),
            Err(e @ StoreError::WorkConflict { .. }) => Err(WorkError::Conflict(e)),
            Err(e) => Err(e.into()),
        }
    }

    async fn check(&self, req: &proto::SubmitWorkRequest) -> Result<Outcome, WorkError> {
        let circuit_id = B256::from(fixed::<32>("circuit_id", &req.circuit_id)?);
        let statement = work_statement(req.statement.as_ref())?;
        let proof_bytes: [u8; PROOF_LEN] = fixed("proof", &req.proof)?;
        let proof = decode_proof(&proof_bytes).map_err(|e| WorkError::BadProof(e.to_string()))?;
        let circuit = self.circuits.get(&circuit_id).ok_or(WorkError::UnknownCircuit(circuit_id))?.clone();
        if statement.work_units != circuit.work_units {
            return Err(WorkError::WrongWorkUnits {
                circuit: circuit.circuit.header.circuit.clone(),
                expected: circuit.work_units,
                given: statement.work_units,
            });
        }
        let receipt = NewWorkReceipt {
            id: work_id(self.chain.chain_id(), self.chain.deployment().settlement, &circuit_id, &statement),
            chain_id: self.chain.chain_id(),
            circuit_id: circuit_id.0,
            job_id: statement.job_id,
            model: to_be_bytes(&statement.model),
            input: to_be_bytes(&statement.input),
            output: to_be_bytes(&statement.output),
            work_units: statement.work_units,
            proof: proof_bytes.to_vec(),
        };
        if let Some(existing) = self.store.get_work(&receipt.id).await? {
            if existing.same_claim(&receipt) {
                return Ok(Outcome::Known(Box::new(existing)));
            }
            return Err(WorkError::Conflict(StoreError::WorkConflict {
                id: receipt.id,
                existing_output: existing.output,
                existing_work_units: existing.work_units,
            }));
        }

        let job_id = statement.job_id;
        let job = self.jobs.get(job_id).await?.job;
        if job.consumer == Address::ZERO {
            return Err(WorkError::UnknownJob(job_id));
        }
        if !job.open {
            return Err(WorkError::JobClosed(job_id));
        }
        let (model, input) = (statement.model, statement.input);
        let status = self
            .chain
            .run(move |chain, d| d.work_status(chain, job_id, circuit_id, model, input))
            .await
            .map_err(|e| WorkError::Chain(e.to_string()))?
            .map_err(|e| WorkError::Chain(e.to_string()))?;
        match status {
            WorkStatus::Requested => {}
            WorkStatus::None => return Err(WorkError::NotRequested { job: job_id }),
            WorkStatus::Settled => return Err(WorkError::SettledElsewhere { job: job_id }),
        }
        Ok(Outcome::Checked(Box::new(Checked { circuit: circuit.circuit.clone(), statement, proof, receipt })))
    }
}
