//! Groth16 setup and key files.
//!
//! A key file is a small header followed by the key in arkworks' canonical
//! (uncompressed) serialization:
//!
//! ```text
//! magic      8 bytes   "ZKMKEY\0\x02"
//! kind       1 byte    1 = proving key, 2 = verifying key
//! circuit    1 + n     length-prefixed circuit id, e.g. "zkmeter.meter.v2" (n ≤ 255)
//! slots      4 bytes   record slots N, little-endian (0 for workload circuits)
//! digest    32 bytes   SHA-256 of the circuit id and its constraint matrices
//! origin     1 byte    1 = development (`zkmeter setup`), 2 = ceremony
//! transcript 64 bytes  only for a ceremony key: BLAKE2b-512 of the final .zkey file
//! checksum  32 bytes   SHA-256 of the body
//! body                 the key
//! ```
//!
//! Files written before the origin existed (magic `"ZKMKEY\0\x01"`, no origin
//! field) are still read, as development keys: that is what every one of them is.
//!
//! The header catches mistakes — a key for another N, another circuit (the meter
//! circuit, or a workload circuit of another shape or plan), or an older version of
//! this circuit, a truncated or corrupted file — with an error that says which and
//! the command that makes the right keys. It is not a security boundary: trust in a verifying key comes from
//! where it came from (your own `zkmeter setup`, a ceremony transcript, the
//! verifier deployed on-chain). `zkmeter setup` is a single-party setup whose
//! toxic waste exists in memory while it runs: fine for development, not for
//! production, which needs a multi-party phase-2 ceremony (`zkmeter ceremony`).
//! The origin field says which of the two a key came from, so that tools can keep
//! development keys off real chains; a ceremony key's transcript hash names the
//! `.zkey` file anyone can verify it against (`zkmeter ceremony verify`).
//!
//! The origin also fixes the key's R1CS → QAP reduction (see
//! [`crate::qap_reduction`]): development keys use arkworks' `LibsnarkReduction`,
//! ceremony keys the one snarkjs's `.zkey` format is built for.

use ark_bn254::{Bn254, Fr};
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::{Groth16, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, Matrix, OptimizationGoal, R1CS_PREDICATE_LABEL,
    SynthesisError, SynthesisMode,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::meter_circuit::MeterCircuit;
use crate::qap_reduction::QapReduction;
use crate::workload::{Method, Plan, WORKLOAD_CIRCUIT_PREFIX, WorkloadCircuit};

/// Identifies the meter circuit (and its version) in key and proof files.
pub const METER_CIRCUIT_ID: &str = "zkmeter.meter.v2";

/// The meter circuit before statement v2 (one class per record, streams not
/// anchored to chain time): its keys and proofs are refused with what to do.
pub const RETIRED_METER_CIRCUIT_IDS: &[&str] = &["zkmeter.meter.v1"];

/// Longest circuit id a key file can hold (its length is one byte).
pub const MAX_CIRCUIT_ID_LEN: usize = u8::MAX as usize;

/// Magic of the current key files (with the origin field).
const MAGIC: &[u8; 8] = b"ZKMKEY\0\x02";
/// Magic of key files written before the origin field: all development keys.
const MAGIC_V1: &[u8; 8] = b"ZKMKEY\0\x01";

/// Length of a ceremony key's transcript hash (BLAKE2b-512).
pub const TRANSCRIPT_HASH_LEN: usize = 64;

/// Where a key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `zkmeter setup` (or any single-party setup): whoever ran it could forge
    /// proofs. For development and local chains only.
    Development,
    /// A multi-party phase-2 ceremony over a public powers-of-tau file.
    Ceremony {
        /// BLAKE2b-512 of the final `.zkey` file of the ceremony the key was
        /// finalized from: `b2sum` of that file prints it.
        transcript: [u8; TRANSCRIPT_HASH_LEN],
    },
}

impl KeyOrigin {
    /// Whether the key came from a ceremony.
    pub fn is_ceremony(&self) -> bool {
        matches!(self, KeyOrigin::Ceremony { .. })
    }

    /// The ceremony transcript hash as lower-case hex, for a ceremony key.
    pub fn transcript_hex(&self) -> Option<String> {
        match self {
            KeyOrigin::Development => None,
            KeyOrigin::Ceremony { transcript } => Some(hex::encode(transcript)),
        }
    }

    /// One word for tables and metrics: `development` or `ceremony`.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyOrigin::Development => "development",
            KeyOrigin::Ceremony { .. } => "ceremony",
        }
    }
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::Development => f.write_str("development key (single-party setup)"),
            KeyOrigin::Ceremony { transcript } => write!(f, "ceremony key (transcript {})", hex::encode(transcript)),
        }
    }
}

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
    /// Circuit id: [`METER_CIRCUIT_ID`] for the meter circuit, [`Plan::circuit_id`]
    /// for a workload circuit.
    pub circuit: String,
    /// Record slots N of the meter circuit; 0 for workload circuits, whose size is
    /// in their circuit id.
    pub slots: u32,
    /// SHA-256 of the circuit id and the constraint matrices.
    pub digest: [u8; 32],
}

impl KeyHeader {
    /// The digest as lower-case hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }

    /// Whether this is a key for a workload circuit (rather than the meter circuit).
    pub fn is_workload(&self) -> bool {
        self.circuit.starts_with(WORKLOAD_CIRCUIT_PREFIX)
    }

    /// The circuit in words, for messages: its id, and N for the meter circuit.
    pub fn describe(&self) -> String {
        if self.is_workload() {
            format!("workload circuit {}", self.circuit)
        } else {
            format!("{} with {} record slots", self.circuit, self.slots)
        }
    }

    /// The `zkmeter` command that makes keys for this circuit. A workload circuit id
    /// names the rows and each layer's method but not the model file, so that part
    /// is left for the user to fill in.
    pub fn setup_command(&self) -> String {
        if !self.is_workload() {
            return format!("zkmeter setup --records {}", self.slots);
        }
        let Ok(plan) = self.circuit.parse::<Plan>() else {
            return "zkmeter workload setup --model <the model file> --rows <its rows>".to_owned();
        };
        // `--plan direct` and `--plan freivalds` give every layer one method; a
        // mixed plan is one that `--plan auto` chose.
        let methods = plan.methods();
        let name = if methods.iter().all(|&m| m == Method::Direct) {
            "direct"
        } else if methods.iter().all(|&m| m == Method::Freivalds) {
            "freivalds"
        } else {
            "auto"
        };
        format!("zkmeter workload setup --model <the model file> --rows {} --plan {name}", plan.shape().rows())
    }
}

/// The circuit a shape was synthesized from, kept so that setup can synthesize it
/// again (ark-groth16's setup takes the circuit, not its matrices).
#[derive(Clone, Debug)]
enum Source {
    Meter,
    Workload(Plan),
}

/// A circuit's constraint matrices, made once per process per circuit: setup, the
/// key digest and the prover all use them.
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
    source: Source,
}

impl CircuitShape {
    /// Synthesizes the meter circuit with `slots` record slots (no witness).
    pub fn meter(slots: u32) -> Self {
        Self::synthesize(METER_CIRCUIT_ID.to_owned(), slots, Source::Meter)
    }

    /// Synthesizes the workload circuit for `plan` (no witness). Its keys carry
    /// [`Plan::circuit_id`] and 0 slots.
    pub fn workload(plan: &Plan) -> Self {
        Self::synthesize(plan.circuit_id(), 0, Source::Workload(plan.clone()))
    }

    fn synthesize(circuit: String, slots: u32, source: Source) -> Self {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        Blank { source: &source, slots }
            .generate_constraints(cs.clone())
            .expect("synthesizing a circuit's shape needs no witness and cannot fail");
        cs.finalize();
        let mut matrices = cs.to_matrices().expect("the constraint system is alive");
        let matrices = matrices.remove(R1CS_PREDICATE_LABEL).expect("zkmeter circuits are plain R1CS");
        let (instance, witness, constraints) =
            (cs.num_instance_variables(), cs.num_witness_variables(), cs.num_constraints());
        let digest = digest(&circuit, [instance, witness, constraints], &matrices);
        CircuitShape {
            header: KeyHeader { circuit, slots, digest },
            matrices,
            num_instance_variables: instance,
            num_witness_variables: witness,
            num_constraints: constraints,
            source,
        }
    }
}

impl CircuitShape {
    /// The size of the QAP's evaluation domain: the smallest power of two that holds
    /// a row per constraint and per instance variable (the constant 1 included).
    /// Both reductions use it; snarkjs calls it `domainSize`.
    pub fn domain_size(&self) -> usize {
        (self.num_constraints + self.num_instance_variables).next_power_of_two()
    }
}

/// The circuit of a [`Source`], unassigned: what setup and the shape synthesize.
struct Blank<'a> {
    source: &'a Source,
    slots: u32,
}

impl ConstraintSynthesizer<Fr> for Blank<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        match self.source {
            Source::Meter => MeterCircuit::shape(self.slots as usize).generate_constraints(cs),
            Source::Workload(plan) => WorkloadCircuit::setup(plan.clone()).generate_constraints(cs),
        }
    }
}

/// The digest in every key header: SHA-256 over the circuit id, the sizes and every
/// matrix entry, so that any change to a circuit's constraints changes it.
fn digest(circuit: &str, sizes: [usize; 3], matrices: &[Matrix<Fr>]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(circuit.as_bytes());
    for n in sizes {
        hasher.update((n as u64).to_le_bytes());
    }
    for matrix in matrices {
        for row in matrix {
            hasher.update((row.len() as u64).to_le_bytes());
            for (coeff, column) in row {
                hasher.update(coeff.into_bigint().to_bytes_le());
                hasher.update((*column as u64).to_le_bytes());
            }
        }
    }
    hasher.finalize().into()
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
    #[error("key file {path} does not exist: run `{setup}` to create the keys")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The command that makes it.
        setup: String,
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
    /// A key for another circuit: another N, the meter circuit where a workload
    /// circuit is needed (or the reverse), a workload of another shape or plan.
    #[error("{path} is a key for {}, but {} is needed: use the matching key or run `{}`", .found.describe(), .expected.describe(), .expected.setup_command())]
    WrongCircuit {
        /// The file.
        path: PathBuf,
        /// The circuit needed.
        expected: Box<KeyHeader>,
        /// The circuit in the file.
        found: Box<KeyHeader>,
    },
    /// A key for a meter circuit this version no longer settles.
    #[error("{path} is a key for {circuit}, a meter statement this version no longer proves or settles (statement v2 bills all five classes in one record and anchors streams to the chain's clock): run `{setup}` for v2 keys, then `zkmeter chain deploy` to register them")]
    Retired {
        /// The file.
        path: PathBuf,
        /// The retired circuit id.
        circuit: String,
        /// The command that makes v2 keys.
        setup: String,
    },
    /// Same circuit id and N, but different constraints: a key from another
    /// version of the circuit.
    #[error("{path} was made for a different version of {} (constraint digest {} ≠ {}): run `{}` again", .expected.describe(), .found.digest_hex(), .expected.digest_hex(), .expected.setup_command())]
    DigestMismatch {
        /// The file.
        path: PathBuf,
        /// The header this build computes.
        expected: Box<KeyHeader>,
        /// The header in the file.
        found: Box<KeyHeader>,
    },
    /// The body does not match its checksum.
    #[error("{path} is corrupted (checksum mismatch): delete it and run `{setup}` again")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The command that makes the key again.
        setup: String,
    },
    /// The body does not deserialize, or its points are invalid.
    #[error("{path} has a valid checksum but its key does not decode ({reason}): delete it and run `{setup}` again")]
    Undecodable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
        /// The command that makes the key again.
        setup: String,
    },
    /// The H query's length is that of the other QAP reduction than the header's
    /// origin says: the header or the body was altered.
    #[error("{path} says it is a {origin} but its H query has {found} points where such a key has {expected}: the file was altered or assembled from two keys; delete it and run `{setup}`, or finalize the ceremony again")]
    OriginMismatch {
        /// The file.
        path: PathBuf,
        /// What the header says.
        origin: KeyOrigin,
        /// H query points in the key.
        found: usize,
        /// H query points a key of that origin has for this circuit.
        expected: usize,
        /// The command that makes a development key again.
        setup: String,
    },
    /// A circuit id too long for the key header.
    #[error("the circuit id {circuit} has {} bytes, more than the {MAX_CIRCUIT_ID_LEN} a key file holds: use a model with fewer layers", .circuit.len())]
    CircuitIdTooLong {
        /// The id.
        circuit: String,
    },
    /// Setup failed.
    #[error("key generation failed: {0}")]
    Setup(String),
}

/// Refuses a circuit id that no key file can hold, before a setup spends time on it.
pub fn check_circuit_id(circuit: &str) -> Result<(), KeyError> {
    if circuit.len() > MAX_CIRCUIT_ID_LEN {
        return Err(KeyError::CircuitIdTooLong { circuit: circuit.to_owned() });
    }
    Ok(())
}

/// Runs a single-party Groth16 setup for the circuit of `shape`.
pub fn setup<R: RngCore + CryptoRng>(shape: &CircuitShape, rng: &mut R) -> Result<ProvingKey<Bn254>, KeyError> {
    check_circuit_id(&shape.header.circuit)?;
    let circuit = Blank { source: &shape.source, slots: shape.header.slots };
    Groth16::<Bn254>::generate_random_parameters_with_reduction(circuit, rng)
        .map_err(|e| KeyError::Setup(e.to_string()))
}

/// Writes a development key file (to a temporary file first, so a crash never
/// leaves half a key).
pub fn write_key<K: CanonicalSerialize>(path: &Path, kind: KeyKind, header: &KeyHeader, key: &K) -> Result<(), KeyError> {
    write_key_with_origin(path, kind, header, KeyOrigin::Development, key)
}

/// Writes a key file whose header records `origin`, atomically: the bytes go to a
/// temporary file beside it, which is synced and then renamed over `path`.
pub fn write_key_with_origin<K: CanonicalSerialize>(
    path: &Path,
    kind: KeyKind,
    header: &KeyHeader,
    origin: KeyOrigin,
    key: &K,
) -> Result<(), KeyError> {
    check_circuit_id(&header.circuit)?;
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    let mut body = Vec::with_capacity(key.uncompressed_size());
    key.serialize_uncompressed(&mut body).expect("serializing into a Vec cannot fail");
    let mut out = Vec::with_capacity(body.len() + 256);
    out.extend_from_slice(MAGIC);
    out.push(kind as u8);
    out.push(u8::try_from(header.circuit.len()).expect("checked above"));
    out.extend_from_slice(header.circuit.as_bytes());
    out.extend_from_slice(&header.slots.to_le_bytes());
    out.extend_from_slice(&header.digest);
    match origin {
        KeyOrigin::Development => out.push(ORIGIN_DEVELOPMENT),
        KeyOrigin::Ceremony { transcript } => {
            out.push(ORIGIN_CEREMONY);
            out.extend_from_slice(&transcript);
        }
    }
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, &out)?;
        file.sync_all()
    })();
    written.map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Origin byte of a development key.
const ORIGIN_DEVELOPMENT: u8 = 1;
/// Origin byte of a ceremony key (followed by the transcript hash).
const ORIGIN_CEREMONY: u8 = 2;

/// Reads a key file's header and body, checking kind, magic and checksum. A
/// missing file's error names the setup command its conventional name suggests.
pub fn read_key_file(path: &Path, kind: KeyKind) -> Result<(KeyHeader, Vec<u8>), KeyError> {
    read_key(path, kind, || setup_hint(path)).map(|file| (file.header, file.body))
}

/// What a key file's header says about where the key came from, reading only the
/// header (a proving key can be a gigabyte). The body is not checked: use this to
/// label a key, and [`load_verifying_key`] or [`load_proving_key`] to use one.
/// Files from before the origin field are development keys.
pub fn key_origin(path: &Path) -> Result<KeyOrigin, KeyError> {
    let mut start = Vec::with_capacity(MAX_HEADER_LEN);
    let file = std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => KeyError::Missing { path: path.to_owned(), setup: setup_hint(path) },
        _ => KeyError::Io { path: path.to_owned(), source },
    })?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_HEADER_LEN as u64), &mut start)
        .map_err(|source| KeyError::Io { path: path.to_owned(), source })?;
    parse_header(path, &start).map(|(_, _, origin, _)| origin)
}

/// The longest header a key file can have (a ceremony key with a 255-byte circuit id).
const MAX_HEADER_LEN: usize = 8 + 1 + 1 + MAX_CIRCUIT_ID_LEN + 4 + 32 + 1 + TRANSCRIPT_HASH_LEN + 32;

/// A key file, its checksum checked.
struct KeyFile {
    header: KeyHeader,
    origin: KeyOrigin,
    body: Vec<u8>,
}

/// Parses a key file's header: kind, circuit header, origin and the body checksum,
/// and how many bytes the header took.
fn parse_header(path: &Path, bytes: &[u8]) -> Result<(KeyKind, KeyHeader, KeyOrigin, usize), KeyError> {
    let bad = || KeyError::NotAKeyFile { path: path.to_owned() };
    let (mut rest, has_origin) = match (bytes.strip_prefix(MAGIC), bytes.strip_prefix(MAGIC_V1)) {
        (Some(rest), _) => (rest, true),
        (None, Some(rest)) => (rest, false),
        (None, None) => return Err(bad()),
    };
    let total = rest.len();
    let mut take = |n: usize| -> Result<&[u8], KeyError> {
        if rest.len() < n {
            return Err(bad());
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let kind = match take(1)?[0] {
        1 => KeyKind::Proving,
        2 => KeyKind::Verifying,
        _ => return Err(bad()),
    };
    let id_len = take(1)?[0] as usize;
    let circuit = String::from_utf8(take(id_len)?.to_vec()).map_err(|_| bad())?;
    let slots = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    let digest: [u8; 32] = take(32)?.try_into().expect("32 bytes");
    let origin = if !has_origin {
        KeyOrigin::Development
    } else {
        match take(1)?[0] {
            ORIGIN_DEVELOPMENT => KeyOrigin::Development,
            ORIGIN_CEREMONY => KeyOrigin::Ceremony { transcript: take(TRANSCRIPT_HASH_LEN)?.try_into().expect("64 bytes") },
            _ => return Err(bad()),
        }
    };
    take(32)?;
    let used = MAGIC.len() + total - rest.len();
    Ok((kind, KeyHeader { circuit, slots, digest }, origin, used))
}

/// [`read_key_file`] with the setup command to suggest if the file is missing.
fn read_key(path: &Path, kind: KeyKind, setup: impl FnOnce() -> String) -> Result<KeyFile, KeyError> {
    let bytes = std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => KeyError::Missing { path: path.to_owned(), setup: setup() },
        _ => KeyError::Io { path: path.to_owned(), source },
    })?;
    let (found, header, origin, used) = parse_header(path, &bytes)?;
    if found != kind {
        return Err(KeyError::WrongKind { path: path.to_owned(), expected: kind, found });
    }
    let (head, body) = bytes.split_at(used);
    let checksum = &head[head.len() - 32..];
    if Sha256::digest(body).as_slice() != checksum {
        return Err(KeyError::Corrupt { path: path.to_owned(), setup: header.setup_command() });
    }
    Ok(KeyFile { header, origin, body: body.to_vec() })
}

/// The setup command a key file's conventional name suggests (`meter-N.pk`, or a
/// workload key's name from [`workload_key_paths`]), for the error of a missing file.
fn setup_hint(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if let Some(name) = stem.strip_prefix(WORKLOAD_FILE_PREFIX) {
        let circuit = format!("{WORKLOAD_CIRCUIT_PREFIX}{}", name.replace('-', ":"));
        return KeyHeader { circuit, slots: 0, digest: [0; 32] }.setup_command();
    }
    match stem.strip_prefix("meter-").and_then(|n| n.parse::<u32>().ok()) {
        Some(slots) => format!("zkmeter setup --records {slots}"),
        None => "zkmeter setup".to_owned(),
    }
}

/// Checks that a header is for `expected` (same circuit, N and digest).
pub fn check_header(path: &Path, found: &KeyHeader, expected: &KeyHeader) -> Result<(), KeyError> {
    let boxed = || (Box::new(expected.clone()), Box::new(found.clone()));
    if RETIRED_METER_CIRCUIT_IDS.contains(&found.circuit.as_str()) {
        return Err(KeyError::Retired { path: path.to_owned(), circuit: found.circuit.clone(), setup: expected.setup_command() });
    }
    if found.circuit != expected.circuit || found.slots != expected.slots {
        let (expected, found) = boxed();
        return Err(KeyError::WrongCircuit { path: path.to_owned(), expected, found });
    }
    if found.digest != expected.digest {
        let (expected, found) = boxed();
        return Err(KeyError::DigestMismatch { path: path.to_owned(), expected, found });
    }
    Ok(())
}

/// Loads a proving key made for exactly `shape`. The points are not re-validated
/// (that would take longer than a proof): the checksum catches corruption, and a
/// proving key can only ever produce proofs that fail to verify, never false ones.
/// Its H query must have the length its origin's QAP reduction gives.
pub fn load_proving_key(path: &Path, shape: &CircuitShape) -> Result<ProvingKey<Bn254>, KeyError> {
    let file = read_key(path, KeyKind::Proving, || shape.header.setup_command())?;
    let header = file.header;
    check_header(path, &header, &shape.header)?;
    let pk: ProvingKey<Bn254> = ProvingKey::deserialize_with_mode(file.body.as_slice(), Compress::No, Validate::No)
        .map_err(|e| KeyError::Undecodable { path: path.to_owned(), reason: e.to_string(), setup: header.setup_command() })?;
    let domain_size = shape.domain_size();
    let expected = QapReduction::for_origin(&file.origin).h_query_len(domain_size);
    if pk.h_query.len() != expected {
        return Err(KeyError::OriginMismatch {
            path: path.to_owned(),
            origin: file.origin,
            found: pk.h_query.len(),
            expected,
            setup: header.setup_command(),
        });
    }
    Ok(pk)
}

/// Loads a verifying key and its header, validating every point (on the curve, in
/// the subgroup). The caller checks the header against what it expects.
pub fn load_verifying_key(path: &Path) -> Result<(KeyHeader, VerifyingKey<Bn254>), KeyError> {
    let (header, _, vk) = load_verifying_key_with_origin(path)?;
    Ok((header, vk))
}

/// [`load_verifying_key`], with what the header says about where the key came from.
pub fn load_verifying_key_with_origin(path: &Path) -> Result<(KeyHeader, KeyOrigin, VerifyingKey<Bn254>), KeyError> {
    let file = read_key(path, KeyKind::Verifying, || setup_hint(path))?;
    let vk = VerifyingKey::deserialize_with_mode(file.body.as_slice(), Compress::No, Validate::Yes).map_err(|e| {
        KeyError::Undecodable { path: path.to_owned(), reason: e.to_string(), setup: file.header.setup_command() }
    })?;
    Ok((file.header, file.origin, vk))
}

/// Conventional file names in a key directory: `meter-N.pk`, `meter-N.vk`.
pub fn key_paths(dir: &Path, slots: u32) -> (PathBuf, PathBuf) {
    (dir.join(format!("meter-{slots}.pk")), dir.join(format!("meter-{slots}.vk")))
}

/// Start of every workload key's file name.
const WORKLOAD_FILE_PREFIX: &str = "workload-";

/// A workload's key files in a key directory: `workload-<id>.pk` and `.vk`, `<id>`
/// being its circuit id after [`WORKLOAD_CIRCUIT_PREFIX`] with `-` for `:` (not
/// allowed in Windows file names; the id has no `-` of its own), e.g.
/// `workload-2-4x3md.pk` for `zkmeter.workload.v1:2:4x3md`.
pub fn workload_key_paths(dir: &Path, plan: &Plan) -> (PathBuf, PathBuf) {
    let id = plan.circuit_id();
    let name = id.strip_prefix(WORKLOAD_CIRCUIT_PREFIX).expect("workload circuit ids have the prefix").replace(':', "-");
    (dir.join(format!("{WORKLOAD_FILE_PREFIX}{name}.pk")), dir.join(format!("{WORKLOAD_FILE_PREFIX}{name}.vk")))
}
