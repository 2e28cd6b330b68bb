//! Booleans and range checks: the constraints that keep integers integers.
//!
//! A `k`-bit range check allocates `k` witness bits, enforces each to be 0 or 1 (one
//! constraint per bit) and returns their weighted sum as a free linear combination.
//! The caller then uses that sum *as* the value, so a range-checked value costs
//! exactly `k` constraints.
//!
//! Witness generation never refuses an out-of-range value: it puts the excess (the
//! value minus its low `k` bits) into one bit, so the bits still sum to the value and
//! only that bit's booleanity fails. Which bit takes it is bit 0 unless a caller
//! chose another with [`excess_at`]: the negative tests run each tampered witness
//! with the excess in every bit position, so a check that leaves any one bit
//! unconstrained (deleted, or replaced by a trivially true constraint) is noticed.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, BigInteger, Field, One, PrimeField};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use std::cell::Cell;

use crate::num::{Num, enforce_zero_product};

thread_local! {
    static EXCESS_BIT: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with every range check's excess put into bit `bit` (or the check's top
/// bit, if it has fewer), instead of bit 0. Honest values have no excess, so this
/// changes nothing but the witness of out-of-range values.
pub fn excess_at<T>(bit: usize, f: impl FnOnce() -> T) -> T {
    let before = EXCESS_BIT.replace(bit);
    let out = f();
    EXCESS_BIT.set(before);
    out
}

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

/// Little-endian bits of `value`; whatever does not fit in `bits` bits goes into the
/// bit [`excess_at`] chose, so the weighted sum is always `value` (see the module doc).
fn decompose(value: Fr, bits: usize) -> Vec<Fr> {
    let repr = value.into_bigint().to_bits_le();
    let mut out: Vec<Fr> = (0..bits).map(|i| Fr::from(repr[i] as u64)).collect();
    let low: Fr = out.iter().rev().fold(Fr::ZERO, |acc, b| acc.double() + b);
    let excess = value - low;
    if excess != Fr::ZERO {
        let at = EXCESS_BIT.get().min(bits - 1);
        let weight = Fr::from(2u64).pow([at as u64]);
        out[at] += excess * weight.inverse().expect("a power of two is invertible");
    }
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

    /// Wherever the excess goes, the bits sum to the value and the check fails.
    #[test]
    fn excess_can_sit_in_every_bit() {
        for bits in [1usize, 8, 64] {
            for at in 0..bits {
                for value in [Fr::from(1u64 << 20) * Fr::from(1u64 << 50), -Fr::one(), -Fr::from(1u64 << 7)] {
                    assert!(!excess_at(at, || check(value, bits)), "{bits} bits, excess at {at}, value {value}");
                    let cs = ConstraintSystem::<Fr>::new_ref();
                    excess_at(at, || alloc_bits(&cs, Some(value), bits)).unwrap();
                    let witness = cs.witness_assignment().unwrap();
                    let bad: Vec<usize> = (0..bits).filter(|&i| witness[i] * (witness[i] - Fr::one()) != Fr::ZERO).collect();
                    assert_eq!(bad, vec![at], "only the chosen bit is not boolean");
                }
            }
        }
    }

    #[test]
    fn boolean_refuses_two() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        alloc_boolean(&cs, Some(Fr::from(2u64))).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }
}
