//! Groth16 setup and key files.
//!
//! A key file is a small header followed by the key in arkworks' canonical
//! (uncompressed) serialization:
//!
//! ```text
//! magic      8 bytes   "ZKMKEY\0\x01"
//! kind       1 byte    1 = proving key, 2 = verifying key
//! circuit    1 + n     length-prefixed circuit id, e.g. "zkmeter.meter.v1"
//! slots      4 bytes   record slots N, little-endian
//! digest    32 bytes   SHA-256 of the circuit's constraint matrices
//! checksum  32 bytes   SHA-256 of the body
//! body                 the key
//! ```
//!
//! The header catches mistakes — a key for another N, another circuit, or an older
//! version of this circuit, a truncated or corrupted file — with an error that
//! says which. It is not a security boundary: trust in a verifying key comes from
//! where it came from (your own `zkmeter setup`, a ceremony transcript, the
//! verifier deployed on-chain). `zkmeter setup` is a single-party setup whose
//! toxic waste exists in memory while it runs: fine for development, not for
//! production, which needs a multi-party phase-2 ceremony.

use ark_bn254::{Bn254, Fr};
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::{Groth16, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, R1CS_PREDICATE_LABEL, SynthesisMode,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::meter_circuit::MeterCircuit;

/// Identifies the meter circuit (and its version) in key and proof files.
pub const METER_CIRCUIT_ID: &str = "zkmeter.meter.v1";

const MAGIC: &[u8; 8] = b"ZKMKEY\0\x01";

/// Which key a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The prover's key (large; stays with the provider).
    Proving = 1,
    /// The verifier's key (small; public).
    Verifying = 2,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Proving => "proving key",
            KeyKind::Verifying => "verifying key",
        })
    }
}

/// What a key is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHeader {
    /// Circuit id, [`METER_CIRCUIT_ID`] for the meter circuit.
    pub circuit: String,
    /// Record slots N.
    pub slots: u32,
    /// SHA-256 of the constraint matrices.
    pub digest: [u8; 32],
}

impl KeyHeader {
    /// The digest as lower-case hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }
}

/// The meter circuit's constraint matrices, made once per process per N: setup,
/// the key digest and the prover all use them.
#[derive(Debug)]
pub struct CircuitShape {
    /// The header every key for this circuit carries.
    pub header: KeyHeader,
    /// A, B, C.
    pub matrices: Vec<Matrix<Fr>>,
    /// Instance variables including the constant 1.
    pub num_instance_variables: usize,
    /// Witness variables.
    pub num_witness_variables: usize,
    /// Constraints.
    pub num_constraints: usize,
}

impl CircuitShape {
    /// Synthesizes the meter circuit with `slots` record slots (no witness).
    pub fn meter(slots: u32) -> Self {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        MeterCircuit::shape(slots as usize)
            .generate_constraints(cs.clone())
            .expect("synthesizing the circuit's shape needs no witness and cannot fail");
        cs.finalize();
        let mut matrices = cs.to_matrices().expect("the constraint system is alive");
        let matrices = matrices.remove(R1CS_PREDICATE_LABEL).expect("the meter circuit is plain R1CS");
        let mut hasher = Sha256::new();
        hasher.update(METER_CIRCUIT_ID.as_bytes());
        for n in [cs.num_instance_variables(), cs.num_witness_variables(), cs.num_constraints()] {
            hasher.update((n as u64).to_le_bytes());
        }
        for matrix in &matrices {
            for row in matrix {
                hasher.update((row.len() as u64).to_le_bytes());
                for (coeff, column) in row {
                    hasher.update(coeff.into_bigint().to_bytes_le());
                    hasher.update((*column as u64).to_le_bytes());
                }
            }
        }
        CircuitShape {
            header: KeyHeader { circuit: METER_CIRCUIT_ID.to_owned(), slots, digest: hasher.finalize().into() },
            matrices,
            num_instance_variables: cs.num_instance_variables(),
            num_witness_variables: cs.num_witness_variables(),
            num_constraints: cs.num_constraints(),
        }
    }
}

/// Errors reading or writing key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("cannot access key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is missing.
    #[error("key file {path} does not exist: run `zkmeter setup --records {slots}` to create the keys")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The N asked for.
        slots: u32,
    },
    /// Not a zkmeter key file at all.
    #[error("{path} is not a zkmeter key file (bad magic or truncated header)")]
    NotAKeyFile {
        /// The file.
        path: PathBuf,
    },
    /// A proving key where a verifying key was expected, or the reverse.
    #[error("{path} holds a {found}, but a {expected} is needed here")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// Expected.
        expected: KeyKind,
        /// Found.
        found: KeyKind,
    },
    /// A key for another circuit or another N.
    #[error("{path} is a key for circuit {found_circuit} with {found_slots} record slots, but {expected_circuit} with {expected_slots} slots is needed: use the matching key or run `zkmeter setup --records {expected_slots}`")]
    WrongCircuit {
        /// The file.
        path: PathBuf,
        /// Circuit id needed.
        expected_circuit: String,
        /// N needed.
        expected_slots: u32,
        /// Circuit id in the file.
        found_circuit: String,
        /// N in the file.
        found_slots: u32,
    },
    /// Same circuit id and N, but different constraints: a key from another
    /// version of the circuit.
    #[error("{path} was made for a different version of the circuit (constraint digest {found} ≠ {expected}): run `zkmeter setup --records {slots}` again")]
    DigestMismatch {
        /// The file.
        path: PathBuf,
        /// N.
        slots: u32,
        /// Digest this build computes.
        expected: String,
        /// Digest in the file.
        found: String,
    },
    /// The body does not match its checksum.
    #[error("{path} is corrupted (checksum mismatch): delete it and run `zkmeter setup` again")]
    Corrupt {
        /// The file.
        path: PathBuf,
    },
    /// The body does not deserialize, or its points are invalid.
    #[error("{path} has a valid checksum but its key does not decode ({reason}): delete it and run `zkmeter setup` again")]
    Undecodable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Setup failed.
    #[error("key generation failed: {0}")]
    Setup(String),
}

/// Runs a single-party Groth16 setup for the meter circuit with `shape`'s slots.
pub fn setup<R: RngCore + CryptoRng>(shape: &CircuitShape, rng: &mut R) -> Result<ProvingKey<Bn254>, KeyError> {
    Groth16::<Bn254>::generate_random_parameters_with_reduction(MeterCircuit::shape(shape.header.slots as usize), rng)
        .map_err(|e| KeyError::Setup(e.to_string()))
}

/// Writes a key file (to a temporary file first, so a crash never leaves half a key).
pub fn write_key<K: CanonicalSerialize>(path: &Path, kind: KeyKind, header: &KeyHeader, key: &K) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    let mut body = Vec::with_capacity(key.uncompressed_size());
    key.serialize_uncompressed(&mut body).expect("serializing into a Vec cannot fail");
    let mut out = Vec::with_capacity(body.len() + 128);
    out.extend_from_slice(MAGIC);
    out.push(kind as u8);
    out.push(u8::try_from(header.circuit.len()).expect("circuit ids are short"));
    out.extend_from_slice(header.circuit.as_bytes());
    out.extend_from_slice(&header.slots.to_le_bytes());
    out.extend_from_slice(&header.digest);
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &out).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Reads a key file's header and body, checking kind, magic and checksum.
pub fn read_key_file(path: &Path, kind: KeyKind) -> Result<(KeyHeader, Vec<u8>), KeyError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => KeyError::Missing { path: path.to_owned(), slots: slots_hint(path) },
        _ => KeyError::Io { path: path.to_owned(), source },
    })?;
    let bad = || KeyError::NotAKeyFile { path: path.to_owned() };
    let mut rest = bytes.strip_prefix(MAGIC).ok_or_else(bad)?;
    let mut take = |n: usize| -> Result<&[u8], KeyError> {
        if rest.len() < n {
            return Err(bad());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let found = match take(1)?[0] {
        1 => KeyKind::Proving,
        2 => KeyKind::Verifying,
        _ => return Err(bad()),
    };
    if found != kind {
        return Err(KeyError::WrongKind { path: path.to_owned(), expected: kind, found });
    }
    let id_len = take(1)?[0] as usize;
    let circuit = String::from_utf8(take(id_len)?.to_vec()).map_err(|_| bad())?;
    let slots = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    let digest: [u8; 32] = take(32)?.try_into().expect("32 bytes");
    let checksum: [u8; 32] = take(32)?.try_into().expect("32 bytes");
    if Sha256::digest(rest).as_slice() != checksum {
        return Err(KeyError::Corrupt { path: path.to_owned() });
    }
    Ok((KeyHeader { circuit, slots, digest }, rest.to_vec()))
}

/// The N a key file's conventional name (`meter-N.pk`) suggests, for error messages.
fn slots_hint(path: &Path) -> u32 {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("meter-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(16)
}

/// Checks that a header is for `expected` (same circuit, N and digest).
pub fn check_header(path: &Path, found: &KeyHeader, expected: &KeyHeader) -> Result<(), KeyError> {
    if found.circuit != expected.circuit || found.slots != expected.slots {
        return Err(KeyError::WrongCircuit {
            path: path.to_owned(),
            expected_circuit: expected.circuit.clone(),
            expected_slots: expected.slots,
            found_circuit: found.circuit.clone(),
            found_slots: found.slots,
        });
    }
    if found.digest != expected.digest {
        return Err(KeyError::DigestMismatch {
            path: path.to_owned(),
            slots: expected.slots,
            expected: expected.digest_hex(),
            found: found.digest_hex(),
        });
    }
    Ok(())
}

/// Loads a proving key made for exactly `shape`. The points are not re-validated
/// (that would take longer than a proof): the checksum catches corruption, and a
/// proving key can only ever produce proofs that fail to verify, never false ones.
pub fn load_proving_key(path: &Path, shape: &CircuitShape) -> Result<ProvingKey<Bn254>, KeyError> {
    let (header, body) = read_key_file(path, KeyKind::Proving)?;
    check_header(path, &header, &shape.header)?;
    ProvingKey::deserialize_with_mode(body.as_slice(), Compress::No, Validate::No)
        .map_err(|e| KeyError::Undecodable { path: path.to_owned(), reason: e.to_string() })
}

/// Loads a verifying key and its header, validating every point (on the curve, in
/// the subgroup). The caller checks the header against what it expects.
pub fn load_verifying_key(path: &Path) -> Result<(KeyHeader, VerifyingKey<Bn254>), KeyError> {
    let (header, body) = read_key_file(path, KeyKind::Verifying)?;
    let vk = VerifyingKey::deserialize_with_mode(body.as_slice(), Compress::No, Validate::Yes)
        .map_err(|e| KeyError::Undecodable { path: path.to_owned(), reason: e.to_string() })?;
    Ok((header, vk))
}

/// Conventional file names in a key directory: `meter-N.pk`, `meter-N.vk`.
pub fn key_paths(dir: &Path, slots: u32) -> (PathBuf, PathBuf) {
    (dir.join(format!("meter-{slots}.pk")), dir.join(format!("meter-{slots}.vk")))
}
