//! How snarkjs (ffjavascript) lays out BN254 field elements and points, in the
//! two forms its files use:
//!
//! - **LEM**, in `.ptau` and `.zkey` sections: each coordinate in Montgomery form
//!   (R = 2²⁵⁶), 32 bytes little-endian; an Fp2 element is `c0` then `c1`; the
//!   point at infinity is all zeros. arkworks keeps the same Montgomery form in
//!   memory, so conversion is a copy of limbs (after checking the value is below
//!   the modulus).
//! - **Uncompressed**, only fed to BLAKE2b (the circuit hash, the transcript):
//!   each coordinate in normal form, big-endian, an Fp2 element as the 64 bytes of
//!   its LEM-order bytes reversed (so `c1` first); infinity is all zeros.
//!
//! Reading checks that every point is on its curve; G2 points that go into a key
//! or a pairing check are also checked to lie in the prime-order subgroup (G1 is
//! the whole curve).

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, BigInteger, Field, PrimeField};
use rayon::prelude::*;

/// Bytes of a field element.
pub const FIELD_LEN: usize = 32;
/// Bytes of a G1 point.
pub const G1_LEN: usize = 64;
/// Bytes of a G2 point.
pub const G2_LEN: usize = 128;

/// Why bytes are not a valid point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PointError {
    /// A coordinate is not below the base field's modulus.
    #[error("a coordinate is not a field element")]
    Coordinate,
    /// The point is not on the curve.
    #[error("the point is not on the curve")]
    NotOnCurve,
    /// A G2 point outside the prime-order subgroup.
    #[error("the point is not in the prime-order subgroup")]
    NotInSubgroup,
}

fn limbs(bytes: &[u8]) -> BigInt<4> {
    let mut l = [0u64; 4];
    for (limb, chunk) in l.iter_mut().zip(bytes.chunks_exact(8)) {
        *limb = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    BigInt(l)
}

fn fq_lem(bytes: &[u8]) -> Result<Fq, PointError> {
    let raw = limbs(bytes);
    if raw >= Fq::MODULUS {
        return Err(PointError::Coordinate);
    }
    Ok(Fq::new_unchecked(raw))
}

fn put_fq_lem(x: &Fq, out: &mut [u8]) {
    for (chunk, limb) in out.chunks_exact_mut(8).zip(x.0.0) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
}

/// A G1 point from LEM bytes, checked to be on the curve.
pub fn g1_from_lem(bytes: &[u8]) -> Result<G1Affine, PointError> {
    if bytes[..G1_LEN].iter().all(|&b| b == 0) {
        return Ok(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(fq_lem(&bytes[..32])?, fq_lem(&bytes[32..64])?);
    if !p.is_on_curve() {
        return Err(PointError::NotOnCurve);
    }
    Ok(p)
}

/// A G2 point from LEM bytes, checked to be on the curve and, if `subgroup`, in
/// the prime-order subgroup (a scalar multiplication: skip it for bulk sections
/// whose points are checked in aggregate).
pub fn g2_from_lem(bytes: &[u8], subgroup: bool) -> Result<G2Affine, PointError> {
    if bytes[..G2_LEN].iter().all(|&b| b == 0) {
        return Ok(G2Affine::zero());
    }
    let x = Fq2::new(fq_lem(&bytes[..32])?, fq_lem(&bytes[32..64])?);
    let y = Fq2::new(fq_lem(&bytes[64..96])?, fq_lem(&bytes[96..128])?);
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(PointError::NotOnCurve);
    }
    if subgroup && !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(PointError::NotInSubgroup);
    }
    Ok(p)
}

/// Writes a G1 point as LEM bytes into `out` (64 bytes).
pub fn put_g1_lem(p: &G1Affine, out: &mut [u8]) {
    match p.xy() {
        Some((x, y)) => {
            put_fq_lem(&x, &mut out[..32]);
            put_fq_lem(&y, &mut out[32..64]);
        }
        None => out[..G1_LEN].fill(0),
    }
}

/// Writes a G2 point as LEM bytes into `out` (128 bytes).
pub fn put_g2_lem(p: &G2Affine, out: &mut [u8]) {
    match p.xy() {
        Some((x, y)) => {
            put_fq_lem(&x.c0, &mut out[..32]);
            put_fq_lem(&x.c1, &mut out[32..64]);
            put_fq_lem(&y.c0, &mut out[64..96]);
            put_fq_lem(&y.c1, &mut out[96..128]);
        }
        None => out[..G2_LEN].fill(0),
    }
}

/// A G1 point's LEM bytes.
pub fn g1_lem(p: &G1Affine) -> [u8; G1_LEN] {
    let mut out = [0u8; G1_LEN];
    put_g1_lem(p, &mut out);
    out
}

/// A G2 point's LEM bytes.
pub fn g2_lem(p: &G2Affine) -> [u8; G2_LEN] {
    let mut out = [0u8; G2_LEN];
    put_g2_lem(p, &mut out);
    out
}

fn fq_be(x: &Fq) -> [u8; 32] {
    let mut b = [0u8; 32];
    b.copy_from_slice(&x.into_bigint().to_bytes_be());
    b
}

/// A G1 point in snarkjs's uncompressed form (what its hashes take).
pub fn g1_uncompressed(p: &G1Affine) -> [u8; G1_LEN] {
    let mut out = [0u8; G1_LEN];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_be(&x));
        out[32..].copy_from_slice(&fq_be(&y));
    }
    out
}

/// A G2 point in snarkjs's uncompressed form: `x.c1, x.c0, y.c1, y.c0`, big-endian.
pub fn g2_uncompressed(p: &G2Affine) -> [u8; G2_LEN] {
    let mut out = [0u8; G2_LEN];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_be(&x.c1));
        out[32..64].copy_from_slice(&fq_be(&x.c0));
        out[64..96].copy_from_slice(&fq_be(&y.c1));
        out[96..].copy_from_slice(&fq_be(&y.c0));
    }
    out
}

/// A G1 point's uncompressed form from its LEM bytes, without building the point:
/// for hashing whole sections. The bytes must hold a valid point.
pub fn g1_lem_to_uncompressed(lem: &[u8], out: &mut [u8]) {
    if lem[..G1_LEN].iter().all(|&b| b == 0) {
        out[..G1_LEN].fill(0);
        return;
    }
    for (coordinate, target) in lem[..G1_LEN].chunks_exact(32).zip(out.chunks_exact_mut(32)) {
        target.copy_from_slice(&fq_be(&Fq::new_unchecked(limbs(coordinate))));
    }
}

/// As [`g1_lem_to_uncompressed`], for G2.
pub fn g2_lem_to_uncompressed(lem: &[u8], out: &mut [u8]) {
    if lem[..G2_LEN].iter().all(|&b| b == 0) {
        out[..G2_LEN].fill(0);
        return;
    }
    // Per coordinate: LEM c0, c1 → uncompressed c1, c0.
    for (coordinate, target) in lem[..G2_LEN].chunks_exact(64).zip(out.chunks_exact_mut(64)) {
        target[..32].copy_from_slice(&fq_be(&Fq::new_unchecked(limbs(&coordinate[32..]))));
        target[32..].copy_from_slice(&fq_be(&Fq::new_unchecked(limbs(&coordinate[..32]))));
    }
}

/// A scalar from 32 little-endian bytes in normal form, if below r.
pub fn fr_from_le(bytes: &[u8]) -> Option<Fr> {
    let raw = limbs(bytes);
    (raw < Fr::MODULUS).then(|| Fr::from_bigint(raw).expect("below the modulus"))
}

/// A scalar as 32 little-endian bytes in normal form.
pub fn fr_to_le(x: &Fr) -> [u8; FIELD_LEN] {
    let mut b = [0u8; FIELD_LEN];
    b.copy_from_slice(&x.into_bigint().to_bytes_le());
    b
}

/// `R² = 2⁵¹² mod r`: a `.zkey`'s coefficient section stores `c·R²` (snarkjs's
/// prover reads it as the Montgomery form of `c·R`, which its multiplication by a
/// Montgomery-form witness turns back into `c`).
fn r_squared() -> Fr {
    Fr::from(2u64).pow([512])
}

/// A constraint coefficient as the `.zkey` coefficient section stores it.
pub fn zkey_coefficient(c: &Fr) -> [u8; FIELD_LEN] {
    fr_to_le(&(*c * r_squared()))
}

/// The coefficient a `.zkey` coefficient entry stores, if the bytes are canonical.
pub fn zkey_coefficient_value(bytes: &[u8]) -> Option<Fr> {
    let inverse = r_squared().inverse().expect("R² is not zero");
    fr_from_le(bytes).map(|stored| stored * inverse)
}

/// Every G1 point of a section's LEM bytes, checked in parallel; on failure, the
/// first bad point's index and fault.
pub fn g1_points(bytes: &[u8]) -> Result<Vec<G1Affine>, (usize, PointError)> {
    bytes.par_chunks_exact(G1_LEN).enumerate().map(|(i, b)| g1_from_lem(b).map_err(|e| (i, e))).collect()
}

/// As [`g1_points`] for G2, checking the curve but not the subgroup.
pub fn g2_points(bytes: &[u8]) -> Result<Vec<G2Affine>, (usize, PointError)> {
    bytes.par_chunks_exact(G2_LEN).enumerate().map(|(i, b)| g2_from_lem(b, false).map_err(|e| (i, e))).collect()
}

/// The LEM bytes of G1 points, encoded in parallel.
pub fn g1_section(points: &[G1Affine]) -> Vec<u8> {
    let mut out = vec![0u8; points.len() * G1_LEN];
    out.par_chunks_exact_mut(G1_LEN).zip(points).for_each(|(o, p)| put_g1_lem(p, o));
    out
}

/// The LEM bytes of G2 points, encoded in parallel.
pub fn g2_section(points: &[G2Affine]) -> Vec<u8> {
    let mut out = vec![0u8; points.len() * G2_LEN];
    out.par_chunks_exact_mut(G2_LEN).zip(points).for_each(|(o, p)| put_g2_lem(p, o));
    out
}

/// The uncompressed form of a LEM section of G1 (`G2 = false`) or G2 points, for hashing.
pub fn section_uncompressed(lem: &[u8], g2: bool) -> Vec<u8> {
    let mut out = vec![0u8; lem.len()];
    if g2 {
        out.par_chunks_exact_mut(G2_LEN).zip(lem.par_chunks_exact(G2_LEN)).for_each(|(o, p)| g2_lem_to_uncompressed(p, o));
    } else {
        out.par_chunks_exact_mut(G1_LEN).zip(lem.par_chunks_exact(G1_LEN)).for_each(|(o, p)| g1_lem_to_uncompressed(p, o));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;

    #[test]
    fn lem_round_trips_and_zero_is_infinity() {
        let g1 = (G1Affine::generator() * Fr::from(7u64)).into_affine();
        assert_eq!(g1_from_lem(&g1_lem(&g1)).unwrap(), g1);
        let g2 = (G2Affine::generator() * Fr::from(11u64)).into_affine();
        assert_eq!(g2_from_lem(&g2_lem(&g2), true).unwrap(), g2);
        assert_eq!(g1_lem(&G1Affine::zero()), [0u8; 64]);
        assert!(g1_from_lem(&[0u8; 64]).unwrap().is_zero());
    }

    #[test]
    fn the_generator_in_snarkjs_forms() {
        // snarkjs's G1 generator (1, 2): uncompressed, big-endian.
        let u = g1_uncompressed(&G1Affine::generator());
        assert_eq!(u[31], 1);
        assert_eq!(u[63], 2);
        assert!(u[..31].iter().chain(&u[32..63]).all(|&b| b == 0));
        let mut from_lem = [0u8; 64];
        g1_lem_to_uncompressed(&g1_lem(&G1Affine::generator()), &mut from_lem);
        assert_eq!(from_lem, u);
        let mut g2 = [0u8; 128];
        g2_lem_to_uncompressed(&g2_lem(&G2Affine::generator()), &mut g2);
        assert_eq!(g2, g2_uncompressed(&G2Affine::generator()));
    }

    #[test]
    fn off_curve_and_out_of_field_points_are_refused() {
        let mut bytes = g1_lem(&G1Affine::generator());
        bytes[40] ^= 1;
        assert_eq!(g1_from_lem(&bytes), Err(PointError::NotOnCurve));
        let mut big = [0xffu8; 64];
        big[63] = 0x7f;
        assert_eq!(g1_from_lem(&big), Err(PointError::Coordinate));
    }

    #[test]
    fn coefficients_round_trip() {
        let c = -Fr::from(3u64);
        assert_eq!(zkey_coefficient_value(&zkey_coefficient(&c)), Some(c));
    }
}
