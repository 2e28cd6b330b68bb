//! Single Groth16 verification against a verifying key prepared once.

use ark_bn254::{Bn254, Fr};
use ark_ec::{AffineRepr, CurveGroup, pairing::Pairing};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, VerifyingKey, prepare_verifying_key};
use std::ops::Neg;
use thiserror::Error;

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// The statement has a different number of public inputs than the key expects.
    #[error(
        "the verifying key expects {expected} public inputs, got {got}: the statement was \
         built for another circuit or truncated; send exactly {expected} inputs"
    )]
    WrongInputCount {
        /// Number of public inputs the verifying key has.
        expected: usize,
        /// Number of public inputs received.
        got: usize,
    },

    /// The pairing check failed.
    #[error(
        "the proof does not verify for these public inputs: either the proof is for another \
         statement (check the inputs and their order) or it is invalid"
    )]
    InvalidProof,
}

/// A Groth16 verifier for one circuit, with its verifying key prepared once.
///
/// Verification checks `e(A, B) · e(vk_x, −γ) · e(C, −δ) = e(α, β)` with
/// `vk_x = IC_0 + Σ x_i·IC_i`. Its cost depends only on the number of public inputs
/// (one MSM of that size, three Miller loops and one final exponentiation), never on
/// the size of the circuit.
///
/// Groth16 proofs are malleable: anyone can turn a valid proof into a different valid
/// proof of the same statement (`Groth16::rerandomize_proof`). Replay protection must
/// therefore key on the statement (the stream state the public inputs encode), never on
/// the proof bytes.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub(crate) pvk: PreparedVerifyingKey<Bn254>,
    /// `−β`, prepared, for the batch equation, which moves `e(α, β)` into the
    /// multi-Miller loop.
    pub(crate) neg_beta_g2: <Bn254 as Pairing>::G2Prepared,
}

impl Verifier {
    /// Prepares `vk` for repeated verification.
    ///
    /// # Panics
    ///
    /// If `vk` has no `IC_0`; every Groth16 setup produces one, so such a key is
    /// corrupt.
    pub fn new(vk: &VerifyingKey<Bn254>) -> Self {
        assert!(
            !vk.gamma_abc_g1.is_empty(),
            "verifying key has no IC_0: the key file is corrupt; regenerate it with the setup"
        );
        Self {
            pvk: prepare_verifying_key(vk),
            neg_beta_g2: vk.beta_g2.into_group().neg().into_affine().into(),
        }
    }

    /// The verifying key this verifier checks against.
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        &self.pvk.vk
    }

    /// Number of public inputs a statement must have.
    pub fn num_public_inputs(&self) -> usize {
        self.pvk.vk.gamma_abc_g1.len() - 1
    }

    /// Checks `proof` against `public_inputs`.
    pub fn verify(&self, proof: &Proof<Bn254>, public_inputs: &[Fr]) -> Result<(), VerifyError> {
        self.check_input_count(public_inputs)?;
        let vk_x = Groth16::<Bn254>::prepare_inputs(&self.pvk, public_inputs).map_err(|_| VerifyError::InvalidProof)?;
        match Groth16::<Bn254>::verify_proof_with_prepared_inputs(&self.pvk, proof, &vk_x) {
            Ok(true) => Ok(()),
            _ => Err(VerifyError::InvalidProof),
        }
    }

    pub(crate) fn check_input_count(&self, public_inputs: &[Fr]) -> Result<(), VerifyError> {
        let expected = self.num_public_inputs();
        match public_inputs.len() {
            got if got == expected => Ok(()),
            got => Err(VerifyError::WrongInputCount { expected, got }),
        }
    }
}
