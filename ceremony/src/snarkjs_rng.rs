//! The deterministic randomness snarkjs derives a contribution's key from, which
//! a verifier must reproduce exactly:
//!
//! - [`hash_to_g2`]: the G2 point `g2_sp` a contribution's proof of knowledge is
//!   checked against, drawn from a ChaCha stream seeded with its transcript hash;
//! - [`beacon_rng`]: a beacon's whole key, from the public beacon value hashed
//!   `2^iterations` times with SHA-256, so anyone can check it was not chosen.
//!
//! Both follow ffjavascript (snarkjs's field library) to the bit: its ChaCha20
//! stream (`ChaCha`), its field sampling (`F.fromRng`: four `nextU64`, masked to
//! the modulus's bit length, retried until below it, the result taken as the
//! element's *Montgomery* form), and its curve sampling (`G.fromRng`: an x, a sign
//! bit, retried until x³ + b is a square, then the root whose sign is the bit,
//! "negative" meaning above (p − 1)/2 (in Fp2: of c1, or of c0 when c1 is zero),
//! times the cofactor for G2).

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine, g2};
use ark_ec::short_weierstrass::SWCurveConfig;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInt, Field, PrimeField, Zero};
use sha2::{Digest, Sha256};

/// ffjavascript's ChaCha20 stream: the 256-bit seed as the key, a 128-bit block
/// counter from zero in words 12–15, no nonce; words come out in block order.
pub struct ChaCha {
    state: [u32; 16],
    block: [u32; 16],
    used: usize,
}

impl ChaCha {
    /// A stream seeded with eight words.
    pub fn new(seed: [u32; 8]) -> Self {
        let mut state = [0u32; 16];
        state[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
        state[4..12].copy_from_slice(&seed);
        ChaCha { state, block: [0; 16], used: 16 }
    }

    /// A stream seeded with the first 32 bytes of `hash`, read as big-endian words
    /// (as snarkjs seeds from a hash).
    pub fn from_hash(hash: &[u8]) -> Self {
        let mut seed = [0u32; 8];
        for (word, bytes) in seed.iter_mut().zip(hash.chunks_exact(4)) {
            *word = u32::from_be_bytes(bytes.try_into().expect("4 bytes"));
        }
        ChaCha::new(seed)
    }

    fn refill(&mut self) {
        let mut x = self.state;
        for _ in 0..10 {
            for (a, b, c, d) in [(0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15)] {
                quarter_round(&mut x, a, b, c, d);
            }
            for (a, b, c, d) in [(0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)] {
                quarter_round(&mut x, a, b, c, d);
            }
        }
        for (out, (x, s)) in self.block.iter_mut().zip(x.iter().zip(&self.state)) {
            *out = x.wrapping_add(*s);
        }
        self.used = 0;
        for word in &mut self.state[12..] {
            *word = word.wrapping_add(1);
            if *word != 0 {
                break;
            }
        }
    }

    /// The next word.
    pub fn next_u32(&mut self) -> u32 {
        if self.used == 16 {
            self.refill();
        }
        self.used += 1;
        self.block[self.used - 1]
    }

    /// Two words, the first the high half.
    pub fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.next_u32());
        (high << 32) | u64::from(self.next_u32())
    }

    /// The low bit of the next word.
    pub fn next_bool(&mut self) -> bool {
        self.next_u32() & 1 == 1
    }
}

fn quarter_round(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// ffjavascript's `F.fromRng` for a 254-bit prime field: the sampled integer is
/// the element's Montgomery form.
fn field_from_rng<F: PrimeField<BigInt = BigInt<4>>>(rng: &mut ChaCha) -> F {
    let bits = F::MODULUS_BIT_SIZE;
    loop {
        let mut limbs = [0u64; 4];
        for limb in &mut limbs {
            *limb = rng.next_u64();
        }
        limbs[3] &= (1u64 << (bits - 192)) - 1;
        let v = BigInt(limbs);
        if v < F::MODULUS {
            // Montgomery form v is the element v·R⁻¹.
            return F::from_bigint(v).expect("below the modulus") * F::from(2u64).pow([256]).inverse().expect("R ≠ 0");
        }
    }
}

/// A scalar as snarkjs's `Fr.fromRng` draws it.
pub fn fr_from_rng(rng: &mut ChaCha) -> Fr {
    field_from_rng(rng)
}

fn is_negative(x: &Fq) -> bool {
    x.into_bigint() > Fq::MODULUS_MINUS_ONE_DIV_TWO
}

fn is_negative_fq2(x: &Fq2) -> bool {
    if x.c1.is_zero() { is_negative(&x.c0) } else { is_negative(&x.c1) }
}

/// A G1 point as snarkjs's `G1.fromRng` draws it.
pub fn g1_from_rng(rng: &mut ChaCha) -> G1Affine {
    loop {
        let x: Fq = field_from_rng(rng);
        let greatest = rng.next_bool();
        let rhs = x.square() * x + ark_bn254::g1::Config::COEFF_B;
        if let Some(mut y) = rhs.sqrt() {
            if greatest != is_negative(&y) {
                y = -y;
            }
            return G1Affine::new_unchecked(x, y);
        }
    }
}

/// The G2 cofactor ffjavascript multiplies a sampled twist point by.
const G2_COFACTOR: [u64; 4] = [0x345f_2299_c0f9_fa8d, 0x06ce_ecda_572a_2489, 0xb850_45b6_8181_585e, 0x3064_4e72_e131_a029];

/// A G2 point as snarkjs's `G2.fromRng` draws it.
pub fn g2_from_rng(rng: &mut ChaCha) -> G2Affine {
    loop {
        let x = Fq2::new(field_from_rng(rng), field_from_rng(rng));
        let greatest = rng.next_bool();
        let rhs = x.square() * x + g2::Config::COEFF_B;
        if let Some(mut y) = rhs.sqrt() {
            if greatest != is_negative_fq2(&y) {
                y = -y;
            }
            let on_twist = G2Affine::new_unchecked(x, y);
            return on_twist.mul_bigint(G2_COFACTOR).into_affine();
        }
    }
}

/// The G2 point a contribution's proof of knowledge is checked against, from its
/// 64-byte transcript hash (snarkjs's `hashToG2`).
pub fn hash_to_g2(transcript: &[u8; 64]) -> G2Affine {
    g2_from_rng(&mut ChaCha::from_hash(transcript))
}

/// The stream a beacon contribution draws its key from: `beacon` hashed with
/// SHA-256 `2^iterations_exp` times (`progress` is told every 2^20 hashes).
pub fn beacon_rng(beacon: &[u8], iterations_exp: u8, mut progress: impl FnMut(u64)) -> ChaCha {
    let mut hash = Sha256::digest(beacon);
    let total = 1u64 << iterations_exp;
    for i in 1..total {
        hash = Sha256::digest(hash);
        if i % (1 << 20) == 0 {
            progress(1 << 20);
        }
    }
    ChaCha::from_hash(&hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ChaCha20 keystream of the all-zero key, counter 0 and nonce (the first
    /// test vector of the original ChaCha20 test set: 76 b8 e0 ad a0 f1 3d 90 …).
    #[test]
    fn chacha_matches_the_reference_keystream() {
        let mut rng = ChaCha::new([0; 8]);
        assert_eq!(rng.next_u32().to_le_bytes(), [0x76, 0xb8, 0xe0, 0xad]);
        assert_eq!(rng.next_u32().to_le_bytes(), [0xa0, 0xf1, 0x3d, 0x90]);
    }

    #[test]
    fn sampled_points_are_in_their_groups() {
        let mut rng = ChaCha::new([1, 2, 3, 4, 5, 6, 7, 8]);
        let g1 = g1_from_rng(&mut rng);
        assert!(g1.is_on_curve());
        let g2 = g2_from_rng(&mut rng);
        assert!(g2.is_on_curve() && g2.is_in_correct_subgroup_assuming_on_curve());
    }
}
