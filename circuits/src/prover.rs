//! Proving meter epochs.
//!
//! [`MeterProver`] keeps the proving key and the circuit's constraint matrices in
//! memory: each proof only computes the witness (no matrices, no linear-combination
//! inlining) and reuses the matrices for the QAP, where stock
//! `ark_groth16::Groth16::prove` rebuilds the whole constraint system every time.
//! That saving is small next to the MSMs and NTTs (see `benches/RESULTS.md`); the
//! proof is the same Groth16 proof either way. Every proof is checked against the
//! verifying key before it is returned, so a bug can never hand out a proof that
//! will be refused later.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey, prepare_verifying_key};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode};
use ark_std::UniformRand;
use rand::{CryptoRng, RngCore};
use std::path::Path;

use crate::keys::{CircuitShape, KeyError, load_proving_key};
use crate::meter_circuit::MeterCircuit;
use crate::statement::MeterInstance;
use crate::witness::MeterWitness;

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The witness has a different number of slots than the key.
    #[error("the epoch was built for {found} record slots but the proving key has {expected}: build it with the key's N")]
    WrongSlots {
        /// The key's N.
        expected: usize,
        /// The witness's N.
        found: usize,
    },
    /// Groth16 failed (synthesis error, domain too large).
    #[error("proving failed: {0}")]
    Groth16(String),
    /// The proof does not verify: the witness breaks a rule of the circuit. Records
    /// built with [`crate::build_epoch`] never do, so this is a bug to report.
    #[error("the witness does not satisfy the meter circuit, so no valid proof exists for it; records built with build_epoch never cause this, please report it")]
    Unsatisfied,
}

/// A loaded proving key with everything a proof needs, kept resident.
pub struct MeterProver {
    shape: CircuitShape,
    pk: ProvingKey<Bn254>,
    pvk: PreparedVerifyingKey<Bn254>,
}

impl MeterProver {
    /// Wraps a proving key made for `shape`.
    pub fn new(shape: CircuitShape, pk: ProvingKey<Bn254>) -> Self {
        let pvk = prepare_verifying_key(&pk.vk);
        MeterProver { shape, pk, pvk }
    }

    /// Loads `path`, refusing a key made for any circuit but the meter circuit with
    /// `slots` record slots.
    pub fn load(path: &Path, slots: u32) -> Result<Self, KeyError> {
        let shape = CircuitShape::meter(slots);
        let pk = load_proving_key(path, &shape)?;
        Ok(Self::new(shape, pk))
    }

    /// The circuit's shape (header, sizes).
    pub fn shape(&self) -> &CircuitShape {
        &self.shape
    }

    /// The verifying key that goes with this proving key.
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        &self.pk.vk
    }

    /// The proving key itself (for benchmarks against stock ark-groth16).
    pub fn proving_key(&self) -> &ProvingKey<Bn254> {
        &self.pk
    }

    /// Proves that `witness` moves the stream as `instance` says.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        instance: &MeterInstance,
        witness: &MeterWitness,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, ProveError> {
        let expected = self.shape.header.slots as usize;
        if witness.slots.len() != expected {
            return Err(ProveError::WrongSlots { expected, found: witness.slots.len() });
        }
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Prove { construct_matrices: false, generate_lc_assignments: false });
        MeterCircuit::assigned(*instance, witness.clone())
            .generate_constraints(cs.clone())
            .map_err(|e| ProveError::Groth16(e.to_string()))?;
        let mut assignment = cs.instance_assignment().map_err(|e| ProveError::Groth16(e.to_string()))?;
        assignment.extend(cs.witness_assignment().map_err(|e| ProveError::Groth16(e.to_string()))?);
        drop(cs);

        let proof = Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
            &self.pk,
            Fr::rand(rng),
            Fr::rand(rng),
            &self.shape.matrices,
            self.shape.num_instance_variables,
            self.shape.num_constraints,
            &assignment,
        )
        .map_err(|e| ProveError::Groth16(e.to_string()))?;

        match Groth16::<Bn254>::verify_proof(&self.pvk, &proof, &instance.public_inputs()) {
            Ok(true) => Ok(proof),
            _ => Err(ProveError::Unsatisfied),
        }
    }
}
