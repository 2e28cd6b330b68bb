//! Workload proofs in the daemon: for each `[[workload]]` job, input files the
//! consumer drops into the job's inbox are run on the CPU, proved with the
//! workload circuit's key on the daemon's prover backend (as meter epochs are),
//! and submitted to the verifier service (`SubmitWork`), which settles them with
//! the contract's `settleWork`: the provider is paid by the verified
//! multiply-accumulates, not by a meter reading.
//!
//! The consumer authorises each input on the chain (`requestWork` with the
//! model and input commitments) and hands the file over off-chain; a proof of an
//! input the consumer has not requested is refused by the service, and the daemon
//! keeps retrying it (the request may be on its way). The output goes back to
//! the consumer in the proof file, which holds it.
//!
//! Progress lives in files under `<data_dir>/work/job-<id>/`, one per input
//! file name: `proved/<name>.json` (the [`WorkloadProofFile`]: statement, output
//! and proof), then `settled/<name>.json` (the same file, once the service says
//! settled) or `rejected/<name>.txt` (why no proof of it can settle). Inbox files
//! are never changed or removed. Nothing here needs to be written durably before
//! it is acted on: running a workload is deterministic, so a lost proof file is
//! proved again with the same statement, and the service answers a second
//! submission of one request with the receipt it has.

use rand::rngs::OsRng;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use zkmeter_circuits::keys::{load_proving_key, workload_key_paths};
use zkmeter_circuits::workload::{CircuitIdError, Matrix, Model, Plan, execute};
use zkmeter_circuits::{CircuitShape, KeyHeader, WorkloadCircuit, WorkloadProofFile};
use zkmeter_contracts::{B256, circuit_id};
use zkmeter_engine::{AnyProver, EngineError};
use zkmeter_verifier::encode_proof;

use crate::client::{ClientError, ReceiptState, VerifierClient};
use crate::config::{Config, WorkloadConfig};
use crate::metrics::Metrics;
use crate::proving::proving_pool;

/// Why a workload job cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The circuit id does not name a workload circuit.
    #[error("workload of job {job_id}: {source}")]
    Circuit {
        /// The job.
        job_id: u64,
        /// Why.
        source: CircuitIdError,
    },
    /// The model file cannot be read or does not fit the circuit.
    #[error("workload of job {job_id}: model {path}: {reason}")]
    Model {
        /// The job.
        job_id: u64,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The circuit's proving key cannot be loaded.
    #[error("workload of job {job_id}: {source} (make it with `zkmeter workload setup`)")]
    Key {
        /// The job.
        job_id: u64,
        /// Why.
        source: zkmeter_circuits::KeyError,
    },
    /// The prover backend refused the key (no GPU for `cuda`, a key that does not fit).
    #[error("workload of job {job_id}: {source}")]
    Engine {
        /// The job.
        job_id: u64,
        /// Why.
        source: EngineError,
    },
    /// The proving threads cannot start.
    #[error("workload of job {job_id}: {reason}")]
    Threads {
        /// The job.
        job_id: u64,
        /// Why.
        reason: String,
    },
    /// A progress directory cannot be made.
    #[error("workload of job {job_id}: cannot create {path}: {source}")]
    Io {
        /// The job.
        job_id: u64,
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// One workload job, loaded: its circuit's key, the model, and where its inputs
/// and progress are.
pub struct WorkloadJob {
    config: WorkloadConfig,
    model: Model,
    plan: Plan,
    /// The key's header, which every proof file names.
    key: KeyHeader,
    prover: AnyProver,
    circuit_id: B256,
    pool: rayon::ThreadPool,
    dir: PathBuf,
    idle: AtomicBool,
}

impl WorkloadJob {
    /// Loads the job's circuit key and model and makes its progress directories.
    pub fn load(config: &Config, wc: &WorkloadConfig) -> Result<Self, WorkloadError> {
        let job_id = wc.job_id;
        let plan: Plan = wc.circuit.parse().map_err(|source| WorkloadError::Circuit { job_id, source })?;
        let bad_model = |reason: String| WorkloadError::Model { job_id, path: wc.model.clone(), reason };
        let bytes = std::fs::read(&wc.model).map_err(|e| bad_model(e.to_string()))?;
        let model = Model::parse(&bytes).map_err(|e| bad_model(e.to_string()))?;
        let shape = model.shape(plan.shape().rows()).map_err(|e| bad_model(e.to_string()))?;
        if shape != *plan.shape() {
            return Err(bad_model(format!(
                "its shape with {} rows is {shape}, but circuit {} is for {}",
                plan.shape().rows(),
                wc.circuit,
                plan.shape()
            )));
        }
        let (pk_path, _) = workload_key_paths(&config.keys_dir, &plan);
        let shape = CircuitShape::workload(&plan);
        let pk = load_proving_key(&pk_path, &shape).map_err(|source| WorkloadError::Key { job_id, source })?;
        let prover = AnyProver::new(config.backend, pk, (&shape).into())
            .map_err(|source| WorkloadError::Engine { job_id, source })?;
        let circuit_id = circuit_id(&shape.header);
        let pool = proving_pool(config.proving.threads, config.proving.nice)
            .map_err(|e| WorkloadError::Threads { job_id, reason: e.to_string() })?;
        let dir = config.data_dir.join("work").join(format!("job-{job_id}"));
        for sub in ["proved", "settled", "rejected"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| WorkloadError::Io { job_id, path, source })?;
        }
        Ok(WorkloadJob {
            config: wc.clone(),
            model,
            plan,
            key: shape.header,
            prover,
            circuit_id,
            pool,
            dir,
            idle: AtomicBool::new(false),
        })
    }

    /// The job.
    pub fn job_id(&self) -> u64 {
        self.config.job_id
    }

    /// Whether the last pass found nothing left to prove or settle.
    pub fn idle(&self) -> bool {
        self.idle.load(Ordering::SeqCst)
    }

    fn proved(&self, name: &str) -> PathBuf {
        self.dir.join("proved").join(format!("{name}.json"))
    }

    fn settled(&self, name: &str) -> PathBuf {
        self.dir.join("settled").join(format!("{name}.json"))
    }

    fn rejected(&self, name: &str) -> PathBuf {
        self.dir.join("rejected").join(format!("{name}.txt"))
    }

    /// The inbox's input files not settled or rejected yet, by name.
    fn open_inputs(&self) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.config.inbox)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            // Hidden files are how a consumer writes an input before renaming it in.
            if name.starts_with('.') || !entry.file_type()?.is_file() {
                continue;
            }
            if !self.settled(&name).exists() && !self.rejected(&name).exists() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Runs and proves one input; `Err` is why it can never be proved.
    fn prove(&self, name: &str) -> Result<WorkloadProofFile, String> {
        let bytes = std::fs::read(self.config.inbox.join(name)).map_err(|e| format!("cannot read it: {e}"))?;
        let input = Matrix::parse(&bytes).map_err(|e| e.to_string())?;
        let execution = execute(&self.model, &input).map_err(|e| e.to_string())?;
        if execution.shape != *self.plan.shape() {
            return Err(format!("its shape is {}, but this job's circuit is for {}", execution.shape, self.plan.shape()));
        }
        let statement = execution.statement(self.config.job_id);
        let circuit = WorkloadCircuit::assigned(self.plan.clone(), &statement, execution.witness.clone());
        // Checked against the statement before it is returned.
        let proof = self.pool.install(|| self.prover.prove_verified(circuit, &mut OsRng)).map_err(|e| e.to_string())?;
        Ok(WorkloadProofFile { key: self.key.clone(), statement, output: execution.output, proof })
    }

    fn reject(&self, metrics: &Metrics, name: &str, why: &str) {
        metrics.workload(self.job_id(), "rejected");
        tracing::error!(job_id = self.job_id(), input = name, "input cannot be settled: {why}");
        if let Err(e) = std::fs::write(self.rejected(name), format!("{why}\n")) {
            tracing::error!(job_id = self.job_id(), input = name, "cannot record the rejection: {e}");
        }
    }
}

/// Proves a job's inputs one after another and submits each proof until it is
/// settled, until `stopping` is set.
pub async fn run(job: Arc<WorkloadJob>, config: &Config, metrics: &Metrics, mut client: VerifierClient, stopping: impl Fn() -> bool) {
    let job_id = job.job_id();
    let poll = Duration::from_millis(config.submit.poll_ms);
    let mut backoff = crate::backoff::Backoff::new(config);
    // Receipt ids of this run's submissions: polled instead of submitting again.
    let mut receipts: HashMap<String, Vec<u8>> = HashMap::new();
    while !stopping() {
        let names = match job.open_inputs() {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(job_id, inbox = %job.config.inbox.display(), "cannot list the inbox: {e}");
                backoff.wait().await;
                continue;
            }
        };
        let mut waiting = false;
        for name in &names {
            if stopping() {
                return;
            }
            match step(&job, metrics, &mut client, &mut receipts, name).await {
                Ok(done) => waiting |= !done,
                Err(e) => {
                    waiting = true;
                    metrics.submission("unavailable");
                    tracing::warn!(job_id, input = %name, "{e}");
                    backoff.wait().await;
                }
            }
        }
        job.idle.store(!waiting && names.iter().all(|n| job.settled(n).exists() || job.rejected(n).exists()), Ordering::SeqCst);
        if !waiting {
            backoff.reset();
        }
        tokio::time::sleep(poll).await;
    }
}

/// Moves one input on by one step: prove it, submit it, or see it settled.
/// Returns whether it is finished (settled or rejected).
async fn step(
    job: &Arc<WorkloadJob>,
    metrics: &Metrics,
    client: &mut VerifierClient,
    receipts: &mut HashMap<String, Vec<u8>>,
    name: &str,
) -> Result<bool, ClientError> {
    let proved = job.proved(name);
    let file = match WorkloadProofFile::read(&proved) {
        Ok(file) => file,
        Err(_) => {
            let (j, n) = (job.clone(), name.to_owned());
            let started = std::time::Instant::now();
            let made = tokio::task::spawn_blocking(move || j.prove(&n)).await.expect("proving does not panic");
            match made {
                Ok(file) => {
                    metrics.workload(job.job_id(), "proved");
                    tracing::info!(job_id = job.job_id(), input = name, work_units = file.statement.work_units, seconds = started.elapsed().as_secs_f64(), "workload proved");
                    if let Err(e) = file.write(&proved) {
                        tracing::warn!(job_id = job.job_id(), input = name, "cannot keep the proof ({e}); submitting it anyway");
                    }
                    file
                }
                Err(why) => {
                    job.reject(metrics, name, &why);
                    return Ok(true);
                }
            }
        }
    };
    let submitted = match receipts.get(name) {
        Some(id) => client.work_receipt(id).await.map(|state| (id.clone(), state)),
        None => client.submit_work(job.circuit_id, &file.statement, &encode_proof(&file.proof)).await,
    };
    let state = match submitted {
        Ok((id, state)) => {
            if receipts.insert(name.to_owned(), id).is_none() {
                metrics.submission("accepted");
            }
            state
        }
        Err(ClientError::Refused { code: tonic::Code::FailedPrecondition, message }) => {
            metrics.submission("refused");
            tracing::info!(job_id = job.job_id(), input = name, "waiting: {message}");
            return Ok(false);
        }
        Err(ClientError::Refused { message, .. }) => {
            metrics.submission("refused");
            job.reject(metrics, name, &format!("the verifier refused its proof: {message}"));
            return Ok(true);
        }
        Err(e) => return Err(e),
    };
    match state {
        ReceiptState::Settled { tx_hash, .. } => {
            tracing::info!(job_id = job.job_id(), input = name, tx = %hex::encode(tx_hash), "workload settled");
            metrics.workload(job.job_id(), "settled");
            if let Err(e) = file.write(&job.settled(name)) {
                tracing::warn!(job_id = job.job_id(), input = name, "cannot record the settlement ({e}); it is asked again");
                return Ok(false);
            }
            let _ = std::fs::remove_file(&proved);
            receipts.remove(name);
            Ok(true)
        }
        ReceiptState::Rejected(reason) => {
            receipts.remove(name);
            job.reject(metrics, name, &format!("the verifier rejected its settlement: {reason}"));
            Ok(true)
        }
        ReceiptState::Pending(_) => Ok(false),
    }
}

/// Loads every `[[workload]]` job of `config`.
pub fn load_all(config: &Config) -> Result<Vec<Arc<WorkloadJob>>, WorkloadError> {
    config.workloads.iter().map(|wc| WorkloadJob::load(config, wc).map(Arc::new)).collect()
}
