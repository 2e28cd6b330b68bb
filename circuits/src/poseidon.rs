//! circomlib's Poseidon over the BN254 scalar field: natively (through
//! `light-poseidon`) and as an R1CS gadget with the very same parameters.
//!
//! circomlib's instance: state width `t = inputs + 1`, the first state element is
//! the domain tag 0, S-box `x^5`, 8 full rounds and the partial-round counts of the
//! Poseidon paper (57 for `t = 3`, 56 for `t = 4`). Meters, circom circuits and
//! Solidity libraries that use circomlib's Poseidon compute the same heads.
//!
//! Gadget cost: 3 constraints per S-box, so `3·(8·t + partial_rounds)`: 243 for two
//! inputs, 264 for three, 507 for twelve ([`gadget_constraints`]). The meter circuit
//! hashes two or three inputs at a time; the workload commitments absorb eleven
//! values per hash into a chain, which costs a third of what three-input hashes would.

use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use light_poseidon::parameters::bn254_x5::get_poseidon_parameters;
use light_poseidon::{Poseidon, PoseidonHasher, PoseidonParameters};
use std::cell::RefCell;
use std::sync::OnceLock;

use crate::num::{Num, product};

/// Largest number of inputs this crate hashes at once (circomlib's widest
/// instance that light-poseidon carries: `t = 13`).
pub const MAX_INPUTS: usize = 12;

fn parameters(inputs: usize) -> &'static PoseidonParameters<Fr> {
    static PARAMS: OnceLock<Vec<PoseidonParameters<Fr>>> = OnceLock::new();
    assert!((1..=MAX_INPUTS).contains(&inputs), "Poseidon is used with 1 to {MAX_INPUTS} inputs here");
    &PARAMS.get_or_init(|| {
        (1..=MAX_INPUTS)
            .map(|n| get_poseidon_parameters::<Fr>(n as u8 + 1).expect("circomlib parameters exist for widths 2..=13"))
            .collect()
    })[inputs - 1]
}

/// Native circomlib Poseidon of 1 to [`MAX_INPUTS`] field elements.
pub fn poseidon(inputs: &[Fr]) -> Fr {
    thread_local! {
        static HASHERS: RefCell<Vec<Poseidon<Fr>>> = RefCell::new(
            (1..=MAX_INPUTS)
                .map(|n| Poseidon::<Fr>::new_circom(n).expect("circomlib parameters exist for 1..=12 inputs"))
                .collect(),
        );
    }
    assert!((1..=MAX_INPUTS).contains(&inputs.len()), "Poseidon is used with 1 to {MAX_INPUTS} inputs here");
    HASHERS.with_borrow_mut(|h| h[inputs.len() - 1].hash(inputs)).expect("the input count matches the hasher's width")
}

/// Constraints [`poseidon_gadget`] makes for `inputs` inputs.
pub fn gadget_constraints(inputs: usize) -> usize {
    let p = parameters(inputs);
    3 * (p.full_rounds * p.width + p.partial_rounds)
}

/// The same hash inside the circuit.
pub fn poseidon_gadget(cs: &ConstraintSystemRef<Fr>, inputs: &[Num]) -> Result<Num, SynthesisError> {
    permute(cs, inputs, &mut |_, v| v)
}

/// Where an S-box product sits: round, state lane, and which of its three products
/// (`x²`, `x⁴`, `x⁵`).
type SboxStep = (usize, usize, usize);

/// The permutation; `assign` decides the value of each S-box product (honestly:
/// the product itself). The tests use it to shift one product and let everything
/// after it follow, so only that product's constraint can notice.
fn permute(
    cs: &ConstraintSystemRef<Fr>,
    inputs: &[Num],
    assign: &mut impl FnMut(SboxStep, Fr) -> Fr,
) -> Result<Num, SynthesisError> {
    let p = parameters(inputs.len());
    let mut state: Vec<Num> = std::iter::once(Num::zero()).chain(inputs.iter().cloned()).collect();
    let half = p.full_rounds / 2;
    for round in 0..p.full_rounds + p.partial_rounds {
        for (i, s) in state.iter_mut().enumerate() {
            *s = s.add_constant(p.ark[round * p.width + i]);
        }
        let full = round < half || round >= half + p.partial_rounds;
        let sboxes = if full { p.width } else { 1 };
        for (lane, s) in state[..sboxes].iter_mut().enumerate() {
            let x2 = product(cs, s, s, s.value().map(|x| assign((round, lane, 0), x * x)))?;
            let x4 = product(cs, &x2, &x2, x2.value().map(|x| assign((round, lane, 1), x * x)))?;
            *s = product(cs, &x4, s, x4.value().zip(s.value()).map(|(a, b)| assign((round, lane, 2), a * b)))?;
        }
        state = (0..p.width)
            .map(|i| Num::sum(&state.iter().zip(&p.mds[i]).map(|(s, m)| s.scale(*m)).collect::<Vec<_>>()))
            .collect();
    }
    Ok(state.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::PrimeField;
    use ark_relations::gr1cs::ConstraintSystem;
    use std::str::FromStr;

    fn fr(s: &str) -> Fr {
        Fr::from_str(s).unwrap()
    }

    /// Published circomlib / circomlibjs test vectors (circomlibjs test/poseidon.js).
    #[test]
    fn native_matches_circomlib_vectors() {
        assert_eq!(
            poseidon(&[Fr::from(1u64), Fr::from(2u64)]),
            fr("7853200120776062878684798364095072458815029376092732009249414926327459813530")
        );
        assert_eq!(
            poseidon(&[Fr::from(3u64), Fr::from(4u64)]),
            fr("14763215145315200506921711489642608356394854266165572616578112107564877678998")
        );
        assert_eq!(
            poseidon(&[Fr::from(1u64)]),
            fr("18586133768512220936620570745912940619677854269274689475585506675881198879027")
        );
    }

    #[test]
    fn gadget_matches_native_and_costs_what_the_docs_say() {
        for (inputs, cost) in [(2usize, 243usize), (3, 264), (12, 507)] {
            let values: Vec<Fr> = (0..inputs).map(|i| Fr::from_le_bytes_mod_order(&[7 + i as u8; 32])).collect();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let nums: Vec<Num> = values.iter().map(|v| Num::witness(&cs, Some(*v)).unwrap()).collect();
            let out = poseidon_gadget(&cs, &nums).unwrap();
            assert_eq!(out.value().unwrap(), poseidon(&values));
            assert!(cs.is_satisfied().unwrap());
            assert_eq!(cs.num_constraints(), cost);
            assert_eq!(gadget_constraints(inputs), cost);
        }
    }

    /// Every S-box product is constrained: shifting any one of them (and letting the
    /// rest of the permutation follow) leaves the constraint system unsatisfied. A
    /// prover free to choose one of them could steer the output.
    #[test]
    fn every_sbox_product_is_constrained() {
        for inputs in [2usize, 3] {
            let p = parameters(inputs);
            for round in 0..p.full_rounds + p.partial_rounds {
                let full = round < p.full_rounds / 2 || round >= p.full_rounds / 2 + p.partial_rounds;
                for lane in 0..if full { p.width } else { 1 } {
                    for stage in 0..3 {
                        let cs = ConstraintSystem::<Fr>::new_ref();
                        let nums: Vec<Num> = (0..inputs).map(|i| Num::witness(&cs, Some(Fr::from(i as u64 + 5))).unwrap()).collect();
                        let target = (round, lane, stage);
                        permute(&cs, &nums, &mut |at, v| if at == target { v + Fr::from(1u64) } else { v }).unwrap();
                        assert!(!cs.is_satisfied().unwrap(), "{inputs} inputs, round {round}, lane {lane}, product {stage}");
                    }
                }
            }
        }
    }
}
