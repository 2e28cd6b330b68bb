//! The operations a proof spends its time in, behind one trait, and the choice of
//! backend (`auto`, `cpu`, `cuda`).

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_poly::Radix2EvaluationDomain;
use std::fmt;
use std::str::FromStr;

use crate::error::EngineError;

/// Which transform [`ProverBackend::ntt`] applies. "Coset" means the coset
/// `g·H` of the domain `H` with `g = Fr::GENERATOR`, as ark-poly's
/// `get_coset(F::GENERATOR)` and ark-groth16's `LibsnarkReduction` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ntt {
    /// Coefficients → evaluations on `H`.
    Forward,
    /// Evaluations on `H` → coefficients.
    Inverse,
    /// Coefficients → evaluations on `g·H`.
    CosetForward,
    /// Evaluations on `g·H` → coefficients.
    CosetInverse,
}

/// MSMs over bases that are loaded once per proving key, and NTTs over BN254's
/// scalar field. Every result must equal arkworks' exactly (`VariableBaseMSM`,
/// ark-poly's radix-2 domain): proofs then do not depend on the backend.
pub trait ProverBackend: Send + Sync {
    /// G1 bases in the form this backend computes with (for the GPU: resident in
    /// device memory).
    type G1Bases: Send + Sync;
    /// G2 bases, likewise.
    type G2Bases: Send + Sync;

    /// A short name for logs and benchmarks.
    fn name(&self) -> &'static str;

    /// Prepares G1 bases; called once per proving key.
    fn load_g1(&self, bases: &[G1Affine]) -> Result<Self::G1Bases, EngineError>;

    /// Prepares G2 bases; called once per proving key.
    fn load_g2(&self, bases: &[G2Affine]) -> Result<Self::G2Bases, EngineError>;

    /// Σ scalars[i]·bases[i]; there is one scalar per base loaded.
    fn msm_g1(&self, bases: &Self::G1Bases, scalars: &[Fr]) -> Result<G1Projective, EngineError>;

    /// Σ scalars[i]·bases[i] in G2.
    fn msm_g2(&self, bases: &Self::G2Bases, scalars: &[Fr]) -> Result<G2Projective, EngineError>;

    /// Transforms `values` (exactly `domain.size` of them) in place.
    fn ntt(&self, domain: &Radix2EvaluationDomain<Fr>, values: &mut Vec<Fr>, op: Ntt) -> Result<(), EngineError>;
}

/// The backend asked for on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendKind {
    /// The GPU when this build has CUDA and a GPU answers; the CPU otherwise.
    #[default]
    Auto,
    /// All CPU cores.
    Cpu,
    /// The GPU, or an error.
    Cuda,
}

impl FromStr for BackendKind {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendKind::Auto),
            "cpu" => Ok(BackendKind::Cpu),
            "cuda" | "gpu" => Ok(BackendKind::Cuda),
            _ => Err(EngineError::UnknownBackend(s.to_owned())),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Auto => "auto",
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
        })
    }
}
