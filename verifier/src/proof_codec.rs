//! The EVM byte layout of proofs, public inputs and verifying keys.
//!
//! Every zkmeter component that moves a proof between processes (the prover's gRPC
//! client, this crate's service, the CLI, the settlement contract) uses this one
//! layout, so a proof can be forwarded to the chain byte for byte. It is the layout
//! the BN254 precompiles expect (EIP-196 / EIP-197):
//!
//! - an `Fq` or `Fr` element is one 32-byte big-endian word;
//! - a G1 point is `x, y`;
//! - a G2 point is `x.c1, x.c0, y.c1, y.c0` (for `Fq2` elements `c0 + c1·u` the
//!   precompile takes the imaginary part `c1` first);
//! - the point at infinity is all zero words.
//!
//! Decoding is strict: every value has exactly one accepted encoding, and every
//! point is checked to be on the curve and in the prime-order subgroup, so that
//! what this crate accepts is exactly what the on-chain verifier accepts.

use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use thiserror::Error;

/// One EVM word: a 256-bit unsigned integer, big-endian.
pub type Word = [u8; 32];

/// Length of an encoded proof: eight words.
pub const PROOF_LEN: usize = 8 * 32;

/// Length of one encoded public input.
pub const PUBLIC_INPUT_LEN: usize = 32;

/// The name of each word of an encoded proof, in order; used in error messages.
const PROOF_WORDS: [&str; 8] = [
    "A.x", "A.y", "B.x.c1", "B.x.c0", "B.y.c1", "B.y.c0", "C.x", "C.y",
];

/// Why bytes were refused as a proof or as public inputs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The proof is not exactly [`PROOF_LEN`] bytes.
    #[error(
        "a proof is exactly 256 bytes (A, B, C as eight 32-byte big-endian words), got {got}: \
         send the raw proof bytes, without an ABI offset or length prefix"
    )]
    ProofLength {
        /// Number of bytes received.
        got: usize,
    },

    /// The public inputs are not a whole number of 32-byte words.
    #[error(
        "public inputs are 32-byte big-endian words, so their length must be a multiple of 32, \
         got {got} bytes: send each input as exactly one full word"
    )]
    PublicInputsLength {
        /// Number of bytes received.
        got: usize,
    },

    /// A coordinate is not below the base-field modulus `q`.
    #[error(
        "proof coordinate {coordinate} is not below the BN254 base-field modulus q: \
         encode every coordinate as its canonical value in [0, q)"
    )]
    CoordinateOutOfRange {
        /// Which word, e.g. `"B.x.c1"`.
        coordinate: &'static str,
    },

    /// A point does not satisfy its curve equation.
    #[error(
        "proof point {point} is not on the BN254 curve: the proof is corrupted or was encoded \
         in another layout (G2 coordinates go x.c1, x.c0, y.c1, y.c0, imaginary part first)"
    )]
    NotOnCurve {
        /// `"A"`, `"B"` or `"C"`.
        point: &'static str,
    },

    /// A G2 point is on the twist curve but outside the prime-order subgroup.
    #[error(
        "proof point {point} lies on the BN254 twist but outside the prime-order subgroup G2: \
         no honest prover produces such a point; the proof is refused"
    )]
    NotInSubgroup {
        /// `"B"`, the only G2 point of a proof.
        point: &'static str,
    },

    /// A proof point is the point at infinity.
    #[error(
        "proof point {point} is the point at infinity (all-zero words), which an honest proof \
         never contains: the prover is faulty or the proof was tampered with; prove again"
    )]
    PointAtInfinity {
        /// `"A"`, `"B"` or `"C"`.
        point: &'static str,
    },

    /// A public input is not below the scalar-field modulus `r`.
    #[error(
        "public input {index} is not below the BN254 scalar-field modulus r: give every input \
         as its canonical value in [0, r); inputs are never reduced mod r, since x and x + r \
         would then be two encodings of one statement"
    )]
    PublicInputOutOfRange {
        /// Position of the input, from 0.
        index: usize,
    },
}

/// The verifying key as the words the on-chain `Groth16Verifier` takes in its
/// constructor.
///
/// Word order, each word a `uint256` (32 bytes big-endian), points stored as they are
/// (none negated):
///
/// | field   | words | order |
/// |---------|-------|-------|
/// | `alpha` | 2     | `α.x, α.y` (G1) |
/// | `beta`  | 4     | `β.x.c1, β.x.c0, β.y.c1, β.y.c0` (G2) |
/// | `gamma` | 4     | `γ.x.c1, γ.x.c0, γ.y.c1, γ.y.c0` (G2) |
/// | `delta` | 4     | `δ.x.c1, δ.x.c0, δ.y.c1, δ.y.c0` (G2) |
/// | `ic`    | 2 each | `IC_i.x, IC_i.y` for `i = 0..=n` (G1), `n` the number of public inputs |
///
/// [`EvmVerifyingKey::to_words`] flattens them in exactly this order:
/// `alpha, beta, gamma, delta, ic[0], …, ic[n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmVerifyingKey {
    /// `α` in G1.
    pub alpha: [Word; 2],
    /// `β` in G2.
    pub beta: [Word; 4],
    /// `γ` in G2.
    pub gamma: [Word; 4],
    /// `δ` in G2.
    pub delta: [Word; 4],
    /// `IC_0 … IC_n` in G1 (`vk_x = IC_0 + Σ x_i·IC_i`), one more than the number of
    /// public inputs.
    pub ic: Vec<[Word; 2]>,
}

impl EvmVerifyingKey {
    /// All words in constructor order: `alpha, beta, gamma, delta, ic[0], …, ic[n]`.
    pub fn to_words(&self) -> Vec<Word> {
        let mut words = Vec::with_capacity(14 + 2 * self.ic.len());
        words.extend_from_slice(&self.alpha);
        words.extend_from_slice(&self.beta);
        words.extend_from_slice(&self.gamma);
        words.extend_from_slice(&self.delta);
        words.extend(self.ic.iter().flatten());
        words
    }
}

/// Encodes a proof as 256 bytes: `A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y`.
pub fn encode_proof(proof: &Proof<Bn254>) -> [u8; PROOF_LEN] {
    let [ax, ay] = encode_g1(&proof.a);
    let [bx1, bx0, by1, by0] = encode_g2(&proof.b);
    let [cx, cy] = encode_g1(&proof.c);
    let mut out = [0u8; PROOF_LEN];
    for (chunk, word) in out
        .chunks_exact_mut(32)
        .zip([ax, ay, bx1, bx0, by1, by0, cx, cy])
    {
        chunk.copy_from_slice(&word);
    }
    out
}

/// Decodes a proof from the 256-byte layout of [`encode_proof`], refusing anything an
/// honest prover would not have produced.
///
/// Refused: a length other than 256; a coordinate `≥ q`; a point off its curve; a B
/// outside the prime-order subgroup of the twist; A, B or C at infinity.
///
/// Infinity is refused although it is a group element: an honest prover randomises A,
/// B and C (with its blinding scalars `r`, `s`), so one of them is at infinity only
/// with probability about `1/r`. Refusing it costs honest provers nothing and keeps
/// degenerate pairing terms (`e(O, ·) = 1`, which make a term of the verification
/// equation vanish) out of every verifier, on chain and off.
pub fn decode_proof(bytes: &[u8]) -> Result<Proof<Bn254>, CodecError> {
    if bytes.len() != PROOF_LEN {
        return Err(CodecError::ProofLength { got: bytes.len() });
    }
    let mut fq = [Fq::zero(); 8];
    for ((slot, chunk), name) in fq.iter_mut().zip(bytes.chunks_exact(32)).zip(PROOF_WORDS) {
        *slot = Fq::from_bigint(bigint_from_be(chunk))
            .ok_or(CodecError::CoordinateOutOfRange { coordinate: name })?;
    }
    let [ax, ay, bx1, bx0, by1, by0, cx, cy] = fq;
    Ok(Proof {
        a: decode_g1(ax, ay, "A")?,
        b: decode_g2(Fq2::new(bx0, bx1), Fq2::new(by0, by1), "B")?,
        c: decode_g1(cx, cy, "C")?,
    })
}

/// Encodes public inputs as consecutive 32-byte big-endian words.
pub fn encode_public_inputs(inputs: &[Fr]) -> Vec<u8> {
    inputs.iter().flat_map(encode_public_input).collect()
}

/// Encodes one public input as a 32-byte big-endian word.
pub fn encode_public_input(input: &Fr) -> Word {
    be_from_bigint(input.into_bigint())
}

/// Decodes consecutive 32-byte big-endian words as public inputs, refusing a length
/// that is not a multiple of 32 and any value `≥ r`.
///
/// Values are never reduced mod `r`: if they were, `x` and `x + r` would both be
/// accepted for one statement, and anything keyed on the encoded inputs (a replay
/// filter, a receipt id) could be bypassed by re-encoding.
pub fn decode_public_inputs(bytes: &[u8]) -> Result<Vec<Fr>, CodecError> {
    if !bytes.len().is_multiple_of(PUBLIC_INPUT_LEN) {
        return Err(CodecError::PublicInputsLength { got: bytes.len() });
    }
    bytes
        .chunks_exact(PUBLIC_INPUT_LEN)
        .enumerate()
        .map(|(index, word)| {
            Fr::from_bigint(bigint_from_be(word)).ok_or(CodecError::PublicInputOutOfRange { index })
        })
        .collect()
}

/// Decodes one public input, refusing a value `≥ r` (reported as input 0).
pub fn decode_public_input(word: &Word) -> Result<Fr, CodecError> {
    Fr::from_bigint(bigint_from_be(word)).ok_or(CodecError::PublicInputOutOfRange { index: 0 })
}

/// Encodes a verifying key as the on-chain verifier's constructor words; see
/// [`EvmVerifyingKey`] for the order.
pub fn encode_verifying_key(vk: &VerifyingKey<Bn254>) -> EvmVerifyingKey {
    EvmVerifyingKey {
        alpha: encode_g1(&vk.alpha_g1),
        beta: encode_g2(&vk.beta_g2),
        gamma: encode_g2(&vk.gamma_g2),
        delta: encode_g2(&vk.delta_g2),
        ic: vk.gamma_abc_g1.iter().map(encode_g1).collect(),
    }
}

/// `x, y`; infinity as two zero words, as the precompiles expect.
fn encode_g1(p: &G1Affine) -> [Word; 2] {
    match p.xy() {
        Some((x, y)) => [fq_word(x), fq_word(y)],
        None => [[0; 32]; 2],
    }
}

/// `x.c1, x.c0, y.c1, y.c0`; infinity as four zero words.
fn encode_g2(p: &G2Affine) -> [Word; 4] {
    match p.xy() {
        Some((x, y)) => [fq_word(x.c1), fq_word(x.c0), fq_word(y.c1), fq_word(y.c0)],
        None => [[0; 32]; 4],
    }
}

fn decode_g1(x: Fq, y: Fq, point: &'static str) -> Result<G1Affine, CodecError> {
    if x.is_zero() && y.is_zero() {
        return Err(CodecError::PointAtInfinity { point });
    }
    let p = G1Affine::new_unchecked(x, y);
    // G1 of BN254 has cofactor 1: every point on the curve is in the prime-order
    // group, so no subgroup check is needed.
    if !p.is_on_curve() {
        return Err(CodecError::NotOnCurve { point });
    }
    Ok(p)
}

fn decode_g2(x: Fq2, y: Fq2, point: &'static str) -> Result<G2Affine, CodecError> {
    if x.is_zero() && y.is_zero() {
        return Err(CodecError::PointAtInfinity { point });
    }
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(CodecError::NotOnCurve { point });
    }
    // The twist has a large cofactor; points outside the order-r subgroup break the
    // pairing's bilinearity (which batch verification relies on) and the EVM
    // precompile refuses them, so they are refused here too.
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(CodecError::NotInSubgroup { point });
    }
    Ok(p)
}

fn fq_word(x: Fq) -> Word {
    be_from_bigint(x.into_bigint())
}

/// Reads a 32-byte big-endian word into little-endian 64-bit limbs.
fn bigint_from_be(word: &[u8]) -> BigInt<4> {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().rev().zip(word.chunks_exact(8)) {
        *limb = u64::from_be_bytes(chunk.try_into().expect("chunks_exact(8) yields 8 bytes"));
    }
    BigInt::new(limbs)
}

fn be_from_bigint(n: BigInt<4>) -> Word {
    let mut word = [0u8; 32];
    for (chunk, limb) in word.chunks_exact_mut(8).zip(n.0.iter().rev()) {
        chunk.copy_from_slice(&limb.to_be_bytes());
    }
    word
}
