//! Multiplication in BN254's base field, inlined into the MSM's inner loops.
//!
//! A batch-affine addition is five multiplications and a squaring, and ark-ff's
//! (the same CIOS algorithm with the "no-carry" shortcut) is compiled as a call
//! from our loops: profiling the CPU MSMs showed a third of their time in the
//! call itself and its operands' round trip through memory. These functions do the
//! same arithmetic on the same Montgomery limbs, forced inline, so the results are
//! bit-identical to ark-ff's (`tests` below, and every MSM test against
//! `VariableBaseMSM`). G2 (`Fq2`) keeps ark-ff's arithmetic: its multiplication is
//! long enough that the call does not matter.

use ark_bn254::{Fq, Fq2, FqConfig};
use ark_ff::{BigInt, Field, MontConfig};

/// The field operations of the MSM's inner loops.
pub trait HotField: Field {
    /// `a · b`.
    #[inline(always)]
    fn mul_hot(a: &Self, b: &Self) -> Self {
        *a * b
    }

    /// `a²`.
    #[inline(always)]
    fn square_hot(a: &Self) -> Self {
        a.square()
    }
}

impl HotField for Fq2 {}

impl HotField for Fq {
    #[inline(always)]
    fn mul_hot(a: &Self, b: &Self) -> Self {
        Fq::new_unchecked(BigInt(mont_mul(&(a.0).0, &(b.0).0)))
    }

    #[inline(always)]
    fn square_hot(a: &Self) -> Self {
        Self::mul_hot(a, a)
    }
}

const MODULUS: [u64; 4] = <FqConfig as MontConfig<4>>::MODULUS.0;
/// `−p⁻¹ mod 2⁶⁴`.
const INV: u64 = <FqConfig as MontConfig<4>>::INV;

// The shortcut needs a top limb below 2⁶³ − 1, so that neither carry chain of a
// round overflows its limb (the modulus is about 2²⁵³·⁶).
const _: () = assert!(MODULUS[3] < (u64::MAX >> 1) - 1);

/// `a·b·2⁻²⁵⁶ mod p` for `a, b < p` (Montgomery form): coarsely integrated
/// operand scanning, one reduction step per limb of `b`.
#[inline(always)]
fn mont_mul(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut r = [0u64; 4];
    for &bi in b {
        let (t, mut carry1) = mac(r[0], a[0], bi, 0);
        let k = t.wrapping_mul(INV);
        let (_, mut carry2) = mac(t, k, MODULUS[0], 0);
        for j in 1..4 {
            let (t, c1) = mac(r[j], a[j], bi, carry1);
            carry1 = c1;
            let (t, c2) = mac(t, k, MODULUS[j], carry2);
            carry2 = c2;
            r[j - 1] = t;
        }
        r[3] = carry1 + carry2;
    }
    // r < 2p: one conditional subtraction.
    let (s0, borrow) = sbb(r[0], MODULUS[0], 0);
    let (s1, borrow) = sbb(r[1], MODULUS[1], borrow);
    let (s2, borrow) = sbb(r[2], MODULUS[2], borrow);
    let (s3, borrow) = sbb(r[3], MODULUS[3], borrow);
    if borrow == 0 { [s0, s1, s2, s3] } else { r }
}

/// `a + b·c + carry` as (low, high) words.
#[inline(always)]
fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let t = a as u128 + (b as u128) * (c as u128) + carry as u128;
    (t as u64, (t >> 64) as u64)
}

/// `a − b − borrow` and the borrow out (0 or 1).
#[inline(always)]
fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = (a as u128).wrapping_sub(b as u128 + borrow as u128);
    (t as u64, (t >> 127) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{One, PrimeField, UniformRand, Zero};
    use ark_std::rand::SeedableRng;

    #[test]
    fn products_equal_ark_ff() {
        let mut rng = ark_std::rand::rngs::StdRng::seed_from_u64(5);
        let minus_one = -Fq::one();
        let top = Fq::from_bigint(Fq::MODULUS_MINUS_ONE_DIV_TWO).unwrap();
        let mut edges = vec![Fq::zero(), Fq::one(), minus_one, top, top + Fq::one(), Fq::from(2u64)];
        edges.extend((0..2000).map(|_| Fq::rand(&mut rng)));
        for a in &edges {
            for b in edges.iter().take(50) {
                assert_eq!(Fq::mul_hot(a, b), *a * b, "{a} · {b}");
            }
            assert_eq!(Fq::square_hot(a), a.square(), "{a}²");
        }
    }
}
