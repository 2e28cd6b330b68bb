//! The proving engine as the daemon uses it: the meter circuit's proving key
//! loaded once onto a backend of `zkmeter-engine` (CPU, or the GPU when there is
//! one), and a thread pool of its own whose priority the provider sets, so proving
//! yields the cores to customer workloads. On a GPU shared with customer jobs,
//! [`GpuGate`] holds each proof back while the GPU is busier than the provider
//! allows, for a bounded time (a proof is small next to the jobs it bills, but
//! it should not slow them).

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
        Ok(EpochProver { header: shape.header, prover, pool: proving_pool(threads, nice)? })
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

/// A pool of `threads` proving threads (0: one per core) at `nice`: meter epochs
/// and workload proofs both prove in one of these.
pub fn proving_pool(threads: usize, nice: i32) -> Result<rayon::ThreadPool, ProvingError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("zkmeter-prove-{i}"))
        .start_handler(move |_| lower_priority(nice))
        .build()
        .map_err(|e| ProvingError::Threads(e.to_string()))
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

/// Holds proofs back while a GPU is busy with other work.
pub struct GpuGate {
    nvml: nvml_wrapper::Nvml,
    busy_percent: u32,
    max_defer: Duration,
}

impl GpuGate {
    /// A gate that waits while any GPU's utilisation is above `busy_percent`, for
    /// at most `max_defer` per proof; `None` (with the reason) where NVML is absent.
    pub fn open(busy_percent: u32, max_defer: Duration) -> Result<Self, String> {
        let nvml = nvml_wrapper::Nvml::init().map_err(|e| format!("NVML could not be loaded ({e})"))?;
        Ok(GpuGate { nvml, busy_percent, max_defer })
    }

    /// The busiest GPU's utilisation now, percent.
    fn busiest(&self) -> Option<u32> {
        let count = self.nvml.device_count().ok()?;
        (0..count).filter_map(|i| self.nvml.device_by_index(i).ok()?.utilization_rates().ok()).map(|u| u.gpu).max()
    }

    /// Waits until no GPU is busier than allowed, or `max_defer` has passed;
    /// returns how long it waited. NVML averages utilisation over its last sample
    /// period (up to a second), which may still include the previous proof.
    pub fn wait(&self, stopping: &dyn Fn() -> bool) -> Duration {
        let started = Instant::now();
        while started.elapsed() < self.max_defer && !stopping() {
            match self.busiest() {
                Some(busy) if busy > self.busy_percent => std::thread::sleep(Duration::from_millis(250)),
                _ => break,
            }
        }
        started.elapsed()
    }
}
