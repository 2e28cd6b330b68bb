//! Groth16 verifying keys, proofs and public inputs in snarkjs's JSON format.
//!
//! [snarkjs](https://github.com/iden3/snarkjs) is an independent Groth16
//! implementation (JavaScript and WebAssembly, circom's toolchain). Exporting our
//! keys and proofs in its format lets anyone check a zkmeter proof (a meter epoch,
//! 5 public inputs, or a workload, 4) without our code:
//!
//! ```text
//! snarkjs groth16 verify verification_key.json public.json proof.json
//! ```
//!
//! The format is what snarkjs 0.7 writes (`zkey export verificationkey`,
//! `groth16 prove`) and reads (`groth16 verify`), curve `bn128` (snarkjs's name for
//! BN254, alias alt_bn128):
//!
//! - Every field element is a **decimal string** of its canonical value (never
//!   Montgomery form), since JSON numbers cannot hold 254-bit integers.
//! - A G1 point is `[x, y, z]` in projective coordinates; affine points have
//!   `z = "1"`, the point at infinity is `["0", "1", "0"]`.
//! - An Fp2 element `c0 + c1·u` (with `u² = −1`) is `[c0, c1]`, so a G2 point is
//!   `[[x.c0, x.c1], [y.c0, y.c1], [z.c0, z.c1]]`, `z = ["1", "0"]` when affine,
//!   and infinity is `[["0","0"], ["1","0"], ["0","0"]]`.
//! - An Fp12 element (only `vk_alphabeta_12`) is `[c0, c1]` over Fp6, each Fp6
//!   element `[c0, c1, c2]` over Fp2: the tower Fp12 = Fp6\[w\]/(w² − v),
//!   Fp6 = Fp2\[v\]/(v³ − (9 + u)), which ark-bn254 and snarkjs share.
//! - The verifying key's `IC` is arkworks's `gamma_abc_g1`: `IC[0]` is the
//!   constant term and `IC[i]` multiplies public input `i − 1`.
//! - `public.json` is the list of public inputs in circuit order, without the
//!   leading constant 1.
//!
//! snarkjs checks `e(−A, B)·e(IC[0] + Σ xᵢ·IC[i+1], γ)·e(C, δ)·e(α, β) = 1`, the same
//! equation ark-groth16 checks, so a proof arkworks accepts is one snarkjs accepts.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ark_bn254::{Bn254, Fq2, Fq6, Fq12, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ec::pairing::Pairing;
use ark_ff::PrimeField;
use ark_groth16::{Proof, VerifyingKey};
use serde::Serialize;
use thiserror::Error;

/// File name snarkjs expects for the verifying key.
pub const VERIFICATION_KEY_FILE: &str = "verification_key.json";
/// File name snarkjs expects for the proof.
pub const PROOF_FILE: &str = "proof.json";
/// File name snarkjs expects for the public inputs.
pub const PUBLIC_FILE: &str = "public.json";

/// The `protocol` value of every snarkjs Groth16 key and proof.
const PROTOCOL: &str = "groth16";
/// snarkjs's name for BN254.
const CURVE: &str = "bn128";

/// A G1 point: `[x, y, z]`, decimal strings.
pub type G1Json = [String; 3];
/// An Fp2 element: `[c0, c1]`, decimal strings.
pub type Fq2Json = [String; 2];
/// A G2 point: `[x, y, z]`, each an Fp2 element.
pub type G2Json = [Fq2Json; 3];
/// An Fp12 element: `[c0, c1]` over Fp6, each `[c0, c1, c2]` over Fp2.
pub type Fq12Json = [[Fq2Json; 3]; 2];

/// snarkjs's `verification_key.json` for Groth16 over BN254, with the fields in
/// the order `snarkjs zkey export verificationkey` writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnarkjsVerificationKey {
    /// Always `"groth16"`.
    pub protocol: &'static str,
    /// Always `"bn128"`.
    pub curve: &'static str,
    /// Number of public inputs (`IC.len() − 1`).
    #[serde(rename = "nPublic")]
    pub n_public: usize,
    /// α in G1.
    pub vk_alpha_1: G1Json,
    /// β in G2.
    pub vk_beta_2: G2Json,
    /// γ in G2.
    pub vk_gamma_2: G2Json,
    /// δ in G2.
    pub vk_delta_2: G2Json,
    /// e(α, β). `snarkjs groth16 verify` recomputes it and ignores this field, but
    /// snarkjs's own export always includes it and other readers of the format
    /// may rely on it, so the key is complete only with it.
    pub vk_alphabeta_12: Fq12Json,
    /// The public-input bases (`gamma_abc_g1` in arkworks).
    #[serde(rename = "IC")]
    pub ic: Vec<G1Json>,
}

/// snarkjs's `proof.json` for Groth16 over BN254, fields in the order
/// `snarkjs groth16 prove` writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnarkjsProof {
    /// A in G1.
    pub pi_a: G1Json,
    /// B in G2.
    pub pi_b: G2Json,
    /// C in G1.
    pub pi_c: G1Json,
    /// Always `"groth16"`.
    pub protocol: &'static str,
    /// Always `"bn128"`.
    pub curve: &'static str,
}

/// Why the snarkjs files could not be written.
#[derive(Debug, Error)]
pub enum SnarkjsError {
    /// The number of public inputs does not match the verifying key; snarkjs
    /// would not notice when there are too few (it treats missing inputs as
    /// zero), so the export refuses.
    #[error(
        "the verifying key takes {expected} public inputs but {actual} were given: pass \
         exactly the statement's public inputs, in the order the circuit allocates them"
    )]
    PublicInputCount {
        /// Public inputs the key takes (`gamma_abc_g1.len() − 1`).
        expected: usize,
        /// Public inputs given.
        actual: usize,
    },
    /// The output folder could not be created.
    #[error(
        "cannot create the folder {} for the snarkjs files: {source}; check that the path \
         is writable and not an existing file",
        dir.display()
    )]
    CreateDir {
        /// The folder.
        dir: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// One of the three files could not be written.
    #[error(
        "cannot write {}: {source}; check that the folder is writable and the disk is not full",
        path.display()
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

/// The verifying key as snarkjs's `verification_key.json`.
pub fn verification_key_json(vk: &VerifyingKey<Bn254>) -> SnarkjsVerificationKey {
    let alpha_beta = Bn254::pairing(vk.alpha_g1, vk.beta_g2).0;
    SnarkjsVerificationKey {
        protocol: PROTOCOL,
        curve: CURVE,
        n_public: vk.gamma_abc_g1.len().saturating_sub(1),
        vk_alpha_1: g1_json(&vk.alpha_g1),
        vk_beta_2: g2_json(&vk.beta_g2),
        vk_gamma_2: g2_json(&vk.gamma_g2),
        vk_delta_2: g2_json(&vk.delta_g2),
        vk_alphabeta_12: fq12_json(&alpha_beta),
        ic: vk.gamma_abc_g1.iter().map(g1_json).collect(),
    }
}

/// The proof as snarkjs's `proof.json`.
pub fn proof_json(proof: &Proof<Bn254>) -> SnarkjsProof {
    SnarkjsProof {
        pi_a: g1_json(&proof.a),
        pi_b: g2_json(&proof.b),
        pi_c: g1_json(&proof.c),
        protocol: PROTOCOL,
        curve: CURVE,
    }
}

/// The public inputs as snarkjs's `public.json`: decimal strings, in order.
pub fn public_json(public: &[Fr]) -> Vec<String> {
    public.iter().map(decimal).collect()
}

/// Writes [`VERIFICATION_KEY_FILE`], [`PROOF_FILE`] and [`PUBLIC_FILE`] into `dir`
/// (created if missing, existing files replaced), ready for
/// `snarkjs groth16 verify`.
pub fn write_snarkjs_files(
    dir: &Path,
    vk: &VerifyingKey<Bn254>,
    proof: &Proof<Bn254>,
    public: &[Fr],
) -> Result<(), SnarkjsError> {
    let expected = vk.gamma_abc_g1.len().saturating_sub(1);
    if public.len() != expected {
        return Err(SnarkjsError::PublicInputCount {
            expected,
            actual: public.len(),
        });
    }
    fs::create_dir_all(dir).map_err(|source| SnarkjsError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    write_json(dir, VERIFICATION_KEY_FILE, &verification_key_json(vk))?;
    write_json(dir, PROOF_FILE, &proof_json(proof))?;
    write_json(dir, PUBLIC_FILE, &public_json(public))
}

fn write_json(dir: &Path, name: &str, value: &impl Serialize) -> Result<(), SnarkjsError> {
    let path = dir.join(name);
    // These values are strings, arrays and structs only, so serialising cannot
    // fail; should it ever, the error still names the file.
    let written = serde_json::to_vec_pretty(value)
        .map_err(io::Error::from)
        .and_then(|mut bytes| {
            bytes.push(b'\n');
            fs::write(&path, bytes)
        });
    written.map_err(|source| SnarkjsError::Write { path, source })
}

/// The canonical value of a field element in decimal (`Display` of arkworks's
/// `BigInt` is decimal; the Montgomery form never leaves arkworks).
fn decimal<F: PrimeField>(x: &F) -> String {
    x.into_bigint().to_string()
}

fn fq2_json(x: &Fq2) -> Fq2Json {
    [decimal(&x.c0), decimal(&x.c1)]
}

/// Affine points get `z = 1`; arkworks's point at infinity (no coordinates)
/// becomes snarkjs's `z = 0` form, which snarkjs reads as infinity whatever x and y.
fn g1_json(p: &G1Affine) -> G1Json {
    match p.xy() {
        Some((x, y)) => [decimal(&x), decimal(&y), "1".into()],
        None => ["0".into(), "1".into(), "0".into()],
    }
}

/// As [`g1_json`], over Fp2.
fn g2_json(p: &G2Affine) -> G2Json {
    let fq2 = |c0: &str| [c0.to_owned(), "0".to_owned()];
    match p.xy() {
        Some((x, y)) => [fq2_json(&x), fq2_json(&y), fq2("1")],
        None => [fq2("0"), fq2("1"), fq2("0")],
    }
}

fn fq6_json(x: &Fq6) -> [Fq2Json; 3] {
    [fq2_json(&x.c0), fq2_json(&x.c1), fq2_json(&x.c2)]
}

fn fq12_json(x: &Fq12) -> Fq12Json {
    [fq6_json(&x.c0), fq6_json(&x.c1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::Field;

    #[test]
    fn field_elements_are_canonical_decimal() {
        assert_eq!(decimal(&Fr::from(1234567u64)), "1234567");
        // −1 must print as r − 1, not as a Montgomery limb pattern.
        assert_eq!(
            decimal(&-Fr::ONE),
            "21888242871839275222246405745257275088548364400416034343698204186575808495616"
        );
    }

    #[test]
    fn generators_use_affine_projective_form() {
        assert_eq!(g1_json(&G1Affine::generator()), ["1", "2", "1"]);
        let g2 = g2_json(&G2Affine::generator());
        assert_eq!(g2[2], ["1", "0"]);
        // The x coordinate of BN254's standard G2 generator (EIP-197), c0 first.
        assert_eq!(
            g2[0],
            [
                "10857046999023057135944570762232829481370756359578518086990519993285655852781",
                "11559732032986387107991004021392285783925812861821192530917403151452391805634"
            ]
        );
    }

    #[test]
    fn infinity_is_z_zero_like_snarkjs() {
        assert_eq!(g1_json(&G1Affine::zero()), ["0", "1", "0"]);
        assert_eq!(
            g2_json(&G2Affine::zero()),
            [["0", "0"], ["1", "0"], ["0", "0"]]
        );
    }

    /// A structurally valid key with two public inputs (not from a setup).
    fn two_input_key() -> VerifyingKey<Bn254> {
        let g2 = G2Affine::generator();
        VerifyingKey {
            alpha_g1: G1Affine::generator(),
            beta_g2: g2,
            gamma_g2: g2,
            delta_g2: g2,
            gamma_abc_g1: vec![G1Affine::generator(); 3],
        }
    }

    #[test]
    fn key_fields_are_snarkjs_names() {
        let json = serde_json::to_value(verification_key_json(&two_input_key())).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "protocol",
            "curve",
            "nPublic",
            "vk_alpha_1",
            "vk_beta_2",
            "vk_gamma_2",
            "vk_delta_2",
            "vk_alphabeta_12",
            "IC",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["nPublic"], 2);
        assert_eq!(json["protocol"], "groth16");
        assert_eq!(json["curve"], "bn128");
    }

    #[test]
    fn wrong_public_input_count_is_refused() {
        let vk = two_input_key();
        let proof = Proof::<Bn254> {
            a: G1Affine::generator(),
            b: G2Affine::generator(),
            c: G1Affine::generator(),
        };
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let err = write_snarkjs_files(&dir, &vk, &proof, &[Fr::ONE]).unwrap_err();
        assert!(matches!(
            err,
            SnarkjsError::PublicInputCount {
                expected: 2,
                actual: 1
            }
        ));
        assert!(
            !dir.exists(),
            "nothing is written when the export is refused"
        );
    }
}
