//! # zkmeter-engine
//!
//! zkmeter's Groth16 prover for BN254: the same proofs as
//! `ark_groth16::Groth16::<Bn254>::prove` (same key and proof types, same randomness
//! drawn in the same order, so every verifier, snarkjs and the settlement contract
//! take them unchanged), made faster by doing once, per proving key, everything
//! that does not depend on the witness, and by faster MSMs.
//!
//! A proof is four steps, one module each, in the order [`prover`] runs them:
//!
//! 1. [`synthesize`] (from `zkmeter_circuits::assignment`): run the circuit's witness
//!    code only (no constraint matrices, no linear combinations).
//! 2. [`qap`]: `h = (A·z ∘ B·z − C·z) / Z`, the vector ark-groth16's
//!    `LibsnarkReduction` gives, with six NTTs instead of its seven, on matrices
//!    compacted when the key was loaded.
//! 3. The MSMs A, B (G1), B (G2), L and H, run concurrently on a [`backend`]:
//!    [`cpu`] (batch-affine Pippenger over prepared bases, see [`msm`]'s notes) or,
//!    with the `cuda` feature, `cuda` (sppark, bases resident on the GPU).
//! 4. [`prover`]: combine them into `ark_groth16::Proof` exactly as ark-groth16 does.
//!
//! Start reading at [`prover::Prover::prove_assignment`]. [`prover::AnyProver`]
//! picks the backend from `--backend auto|cpu|cuda`.
//!
//! What it does not do: setup (keys come from `zkmeter_circuits::keys`), key files,
//! verification beyond [`prover::Prover::prove_verified`]'s self-check, or
//! scheduling proofs.

pub mod backend;
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod error;
pub mod montgomery;
pub mod msm;
pub mod prover;
pub mod qap;

pub use backend::{BackendKind, Ntt, ProverBackend};
pub use cpu::CpuBackend;
pub use error::EngineError;
pub use prover::{AnyProver, Prover, R1cs, Timings};
pub use zkmeter_circuits::assignment::{Assignment, synthesize};
