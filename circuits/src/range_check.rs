//! Booleans and range checks: the constraints that keep integers integers.
//!
//! A `k`-bit range check allocates `k` witness bits, enforces each to be 0 or 1 (one
//! constraint per bit) and returns their weighted sum as a free linear combination.
//! The caller then uses that sum *as* the value, so a range-checked value costs
//! exactly `k` constraints.
//!
//! Witness generation never refuses an out-of-range value: it puts the excess into
//! bit 0, so the bits still sum to the value and only the booleanity of bit 0 fails.
//! The negative tests depend on this: a tampered witness trips exactly the range
//! check it targets, so deleting that check makes the test fail.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, BigInteger, One, PrimeField};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use crate::num::{Num, enforce_zero_product};

/// A witness constrained to 0 or 1 (one constraint).
pub fn alloc_boolean(cs: &ConstraintSystemRef<Fr>, value: Option<Fr>) -> Result<Num, SynthesisError> {
    let b = Num::witness(cs, value)?;
    enforce_zero_product(cs, &b, &b.add_constant(-Fr::one()))?;
    Ok(b)
}

/// A witness constrained to `[0, 2^bits)`, as the sum of `bits` booleans
/// (`bits` constraints).
pub fn alloc_bits(cs: &ConstraintSystemRef<Fr>, value: Option<Fr>, bits: usize) -> Result<Num, SynthesisError> {
    let assignment = value.map(|v| decompose(v, bits));
    let mut sum = Num::zero();
    let mut weight = Fr::one();
    for i in 0..bits {
        let bit = alloc_boolean(cs, assignment.as_ref().map(|a| a[i]))?;
        sum = sum.add(&bit.scale(weight));
        weight.double_in_place();
    }
    Ok(sum)
}

/// Little-endian bits of `value`; whatever does not fit in `bits` bits goes into
/// bit 0, so the weighted sum is always `value` (see the module doc).
fn decompose(value: Fr, bits: usize) -> Vec<Fr> {
    let repr = value.into_bigint().to_bits_le();
    let mut out: Vec<Fr> = (0..bits).map(|i| Fr::from(repr[i] as u64)).collect();
    let mut high = Fr::from(0u64);
    let mut weight = Fr::one();
    for bit in &out[1..] {
        weight.double_in_place();
        high += *bit * weight;
    }
    out[0] = value - high;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::ConstraintSystem;

    fn check(value: Fr, bits: usize) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let sum = alloc_bits(&cs, Some(value), bits).unwrap();
        assert_eq!(sum.value(), Some(value), "the bits always sum to the value");
        assert_eq!(cs.num_constraints(), bits);
        cs.is_satisfied().unwrap()
    }

    #[test]
    fn accepts_exactly_the_range() {
        assert!(check(Fr::from(0u64), 8));
        assert!(check(Fr::from(255u64), 8));
        assert!(!check(Fr::from(256u64), 8));
        assert!(check(Fr::from(u64::MAX), 64));
        assert!(!check(Fr::from(u64::MAX) + Fr::one(), 64));
        assert!(!check(-Fr::one(), 64), "−1 mod r is not a u64");
    }

    #[test]
    fn boolean_refuses_two() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        alloc_boolean(&cs, Some(Fr::from(2u64))).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }
}
