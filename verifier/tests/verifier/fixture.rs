//! A toy circuit with exactly six public inputs, `w, w², …, w⁶` for a secret `w`, and
//! real proofs of it.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable,
};
use ark_snark::{CircuitSpecificSetupSNARK, SNARK};
use rand::{SeedableRng, rngs::StdRng};
use std::sync::OnceLock;

pub const PUBLIC_INPUTS: usize = 6;

/// Knows `w` such that the public inputs are `w, w², …, w⁶`.
pub struct Powers {
    pub w: Option<Fr>,
}

impl ConstraintSynthesizer<Fr> for Powers {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let w_value = self.w.ok_or(SynthesisError::AssignmentMissing);
        let w = cs.new_witness_variable(|| w_value)?;
        let mut power = cs.new_input_variable(|| w_value)?;
        cs.enforce_r1cs_constraint(
            || LinearCombination::from(w),
            || LinearCombination::from(Variable::One),
            || LinearCombination::from(power),
        )?;
        let mut power_value = self.w;
        for _ in 1..PUBLIC_INPUTS {
            power_value = power_value.zip(self.w).map(|(p, w)| p * w);
            let next =
                cs.new_input_variable(|| power_value.ok_or(SynthesisError::AssignmentMissing))?;
            cs.enforce_r1cs_constraint(
                || LinearCombination::from(power),
                || LinearCombination::from(w),
                || LinearCombination::from(next),
            )?;
            power = next;
        }
        Ok(())
    }
}

/// The public inputs `w, w², …, w⁶`.
pub fn statement(w: Fr) -> Vec<Fr> {
    std::iter::successors(Some(w), |p| Some(*p * w))
        .take(PUBLIC_INPUTS)
        .collect()
}

pub struct Fixture {
    pub vk: VerifyingKey<Bn254>,
    /// Sixteen valid (proof, public inputs) pairs, for `w = 2, 3, …, 17`.
    pub valid: Vec<(Proof<Bn254>, Vec<Fr>)>,
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Set up once and shared by every test: setup and proving dominate the test time.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(1);
        let (pk, vk): (ProvingKey<Bn254>, _) =
            Groth16::<Bn254>::setup(Powers { w: None }, &mut rng)
                .expect("setup of the toy circuit");
        let valid = (2u64..18)
            .map(|w| {
                let w = Fr::from(w);
                let proof = Groth16::<Bn254>::prove(&pk, Powers { w: Some(w) }, &mut rng)
                    .expect("proving the toy circuit");
                (proof, statement(w))
            })
            .collect();
        Fixture { vk, valid }
    })
}
