//! The full assignment `z = (1, public inputs, witness)` from a circuit, without
//! building its constraint matrices.
//!
//! Stock `Groth16::prove` synthesizes with `construct_matrices: true`: every
//! constraint's linear combinations are recorded, inlined and turned into matrices,
//! for every proof. The matrices never change for a circuit, so the provers
//! ([`crate::prover`], `zkmeter-engine`) make them once, with the key, and per proof
//! only run the circuit's witness code: in `SynthesisMode::Prove { construct_matrices:
//! false }` arkworks skips every `enforce_constraint`, and [`crate::num::Num`] skips
//! building linear combinations.

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisError, SynthesisMode};

/// `z`, with the split between instance and witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The constant 1, the public inputs, then the witness.
    pub z: Vec<Fr>,
    /// Instance variables, the constant 1 included.
    pub num_instance_variables: usize,
}

impl Assignment {
    /// The public inputs, as a verifier takes them.
    pub fn public_inputs(&self) -> &[Fr] {
        &self.z[1..self.num_instance_variables]
    }

    /// The witness (what the L query multiplies).
    pub fn witness(&self) -> &[Fr] {
        &self.z[self.num_instance_variables..]
    }
}

/// Runs `circuit`'s witness code and collects its assignment.
pub fn synthesize<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<Assignment, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    // The same goal as setup, so variables are numbered as in the key.
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove { construct_matrices: false, generate_lc_assignments: false });
    circuit.generate_constraints(cs.clone())?;
    let mut z = cs.instance_assignment()?;
    let num_instance_variables = z.len();
    z.extend_from_slice(&cs.witness_assignment()?);
    Ok(Assignment { z, num_instance_variables })
}
