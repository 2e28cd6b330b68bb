//! What can go wrong while loading a key or proving.

use ark_relations::gr1cs::SynthesisError;

/// Why the engine could not load a key or make a proof.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The proving key was made for another circuit (or another size of this one).
    #[error(
        "the proving key does not match the circuit: its {what} has {key} entries but the circuit needs {circuit}; use the key made for this circuit (`zkmeter setup` with the same record slots)"
    )]
    KeyMismatch {
        /// Which part of the key.
        what: &'static str,
        /// Entries in the key.
        key: usize,
        /// Entries the circuit's matrices call for.
        circuit: usize,
    },
    /// The circuit assigned a different number of variables than its matrices have.
    #[error(
        "the circuit assigned {found} {what} variables but its constraint matrices have {expected}: the circuit given to `prove` is not the one the prover was built for"
    )]
    WitnessShape {
        /// Instance or witness.
        what: &'static str,
        /// Variables in the matrices.
        expected: usize,
        /// Variables the circuit assigned.
        found: usize,
    },
    /// The circuit failed while assigning its variables.
    #[error("witness synthesis failed: {0}")]
    Synthesis(#[from] SynthesisError),
    /// More constraints than BN254's scalar field has roots of unity for.
    #[error("{0} constraints and inputs need an evaluation domain larger than BN254's 2^28: split the circuit")]
    DomainTooLarge(usize),
    /// The proof does not verify against the circuit's own public inputs.
    #[error(
        "the proof does not verify: the witness does not satisfy the circuit (or a backend computed a wrong result; rerun with --backend cpu to tell which)"
    )]
    Unsatisfied,
    /// `--backend` was not one of the known names.
    #[error("unknown backend {0:?}: use auto, cpu or cuda")]
    UnknownBackend(String),
    /// The CUDA backend was asked for in a build without it.
    #[error(
        "the CUDA backend is not compiled into this build: rebuild with `cargo build --release --features cuda` (nvcc from engine/scripts/install-cuda-toolchain.sh), or use --backend cpu"
    )]
    CudaNotBuilt,
    /// A CUDA call failed (no GPU, driver too old, out of memory, …).
    #[error("CUDA backend: {0}")]
    Cuda(String),
}
