//! The proving engine as the daemon uses it: the meter circuit's proving key
//! loaded once onto a backend of `zkmeter-engine` (CPU, or the GPU when there is
//! one), and a thread pool of its own whose priority the provider sets, so proving
//! yields the cores to customer workloads.

use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use rand::rngs::OsRng;
use std::path::Path;
use std::time::{Duration, Instant};
use zkmeter_circuits::{CircuitShape, KeyError, KeyHeader, MeterCircuit, MeterWitness, keys};
use zkmeter_engine::{AnyProver, BackendKind, EngineError};
use zkmeter_verifier::encode_proof;

use crate::stream_log::Cut;

/// Why the engine could not start or prove.
#[derive(Debug, thiserror::Error)]
pub enum ProvingError {
    /// The proving key could not be loaded.
    #[error("proving key: {0}")]
    Key(#[from] KeyError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The thread pool could not start.
    #[error("cannot start the proving threads: {0}")]
    Threads(String),
}

/// The meter circuit's prover, resident.
pub struct EpochProver {
    header: KeyHeader,
    prover: AnyProver,
    pool: rayon::ThreadPool,
}

impl EpochProver {
    /// Loads the proving key at `path` (made for `slots` record slots) onto
    /// `backend`, with `threads` proving threads (0: one per core) at `nice`.
    pub fn load(path: &Path, slots: u32, backend: BackendKind, threads: usize, nice: i32) -> Result<Self, ProvingError> {
        let shape = CircuitShape::meter(slots);
        let pk = keys::load_proving_key(path, &shape)?;
        let prover = AnyProver::new(backend, pk, (&shape).into())?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("zkmeter-prove-{i}"))
            .start_handler(move |_| lower_priority(nice))
            .build()
            .map_err(|e| ProvingError::Threads(e.to_string()))?;
        Ok(EpochProver { header: shape.header, prover, pool })
    }

    /// The key's header (circuit, N, digest).
    pub fn header(&self) -> &KeyHeader {
        &self.header
    }

    /// The backend proofs run on (`cpu` or `cuda`).
    pub fn backend_name(&self) -> &'static str {
        self.prover.backend_name()
    }

    /// The verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        self.prover.verifying_key()
    }

    /// Proves a cut epoch; the proof is checked against the statement before it is
    /// returned. Returns the proof in the EVM layout and how long it took.
    pub fn prove(&self, cut: &Cut, witness: MeterWitness) -> Result<(Vec<u8>, Duration), ProvingError> {
        let started = Instant::now();
        let circuit = MeterCircuit::assigned(cut.statement.instance(), witness);
        let proof = self.pool.install(|| self.prover.prove_verified(circuit, &mut OsRng))?;
        Ok((encode_proof(&proof).to_vec(), started.elapsed()))
    }
}

/// Sets the calling thread's nice value (Linux gives each thread its own).
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    // SAFETY: setpriority only reads its arguments; `0` names the calling thread.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc != 0 {
        tracing::warn!(nice, error = %std::io::Error::last_os_error(), "cannot lower the proving threads' priority");
    }
}
