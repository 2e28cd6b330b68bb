//! Proof files: a proof together with the statement it proves, as JSON.
//!
//! ```json
//! {
//!   "format": "zkmeter.proof.v2",
//!   "circuit": "zkmeter.meter.v2",
//!   "slots": 16,
//!   "key_digest": "<hex SHA-256 of the circuit's constraint matrices>",
//!   "statement": { "stream": …, "prev": …, "new": …, "totals": …, "record_count": 3, "capacity": … },
//!   "public_inputs": ["0x…", … 5 values],
//!   "proof": "<hex of the arkworks compressed proof, 128 bytes>"
//! }
//! ```
//!
//! `public_inputs` is redundant (it is computed from the statement) and is there for
//! other tools; reading a file checks that the two agree.
//!
//! A workload proof file ([`WorkloadProofFile`]) also carries the output, so that
//! whoever holds the file has the result and not only its commitment:
//!
//! ```json
//! {
//!   "format": "zkmeter.workload-proof.v1",
//!   "circuit": "zkmeter.workload.v1:2:4x3md",
//!   "key_digest": "<hex>",
//!   "statement": { "job_id": 7, "model": "0x…", "input": "0x…", "output": "0x…", "work_units": 24 },
//!   "public_inputs": ["0x…", … 4 values],
//!   "output": { "rows": 2, "cols": 3, "values": [12, -7, …] },
//!   "proof": "<hex, 128 bytes>"
//! }
//! ```
//!
//! The output's values are int8 after a requantising last layer and int32 after a
//! matmul-only one (the circuit id says which). Reading checks that they are the
//! output the statement commits to, and that the work units are the circuit's.

use ark_bn254::{Bn254, Fr};
use ark_groth16::Proof;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::StatementError;
use crate::field_hex;
use crate::keys::KeyHeader;
use crate::statement::MeterStatement;
use crate::workload::{LayerKind, Matrix, Output, Plan, WorkloadStatement};

/// Format tag of proof files.
pub const PROOF_FORMAT: &str = "zkmeter.proof.v2";

/// Meter proof formats of earlier statements, refused with what to do.
const RETIRED_PROOF_FORMATS: &[&str] = &["zkmeter.proof.v1"];
/// Format tag of workload proof files.
pub const WORKLOAD_PROOF_FORMAT: &str = "zkmeter.workload-proof.v1";

/// A proof and its statement.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofFile {
    /// Circuit id and N of the key that made the proof, and its constraint digest.
    pub key: KeyHeader,
    /// What is proved.
    pub statement: MeterStatement,
    /// The Groth16 proof.
    pub proof: Proof<Bn254>,
}

#[derive(Serialize, Deserialize)]
struct Json {
    format: String,
    circuit: String,
    slots: u32,
    key_digest: String,
    statement: MeterStatement,
    public_inputs: Vec<String>,
    proof: String,
}

/// Errors reading or writing proof files.
#[derive(Debug, thiserror::Error)]
pub enum ProofFileError {
    /// The file could not be read or written.
    #[error("cannot access proof file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON of the expected shape.
    #[error("{path} is not a zkmeter proof file: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A proof of a meter statement this version no longer settles.
    #[error("{path} is a {format} proof (meter statement v1), which this version no longer verifies or settles: prove the records again with v2 keys (`zkmeter setup`, then `zkmeter prove`)")]
    Retired {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: String,
    },
    /// The statement contradicts itself.
    #[error("{path} holds an impossible statement: {source}")]
    Statement {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: StatementError,
    },
    /// `public_inputs` disagrees with the statement.
    #[error("{path}: the listed public inputs do not match the statement; the file was edited or is corrupt")]
    InputsMismatch {
        /// The file.
        path: PathBuf,
    },
    /// A workload proof file's output is not the one its statement commits to.
    #[error("{path}: the output does not match the statement's output commitment, so the proof says nothing about it; the file was edited or is corrupt: prove the workload again")]
    OutputMismatch {
        /// The file.
        path: PathBuf,
    },
}

impl ProofFile {
    /// Writes the file (through a temporary file, so a crash leaves no half proof).
    pub fn write(&self, path: &Path) -> Result<(), ProofFileError> {
        let json = Json {
            format: PROOF_FORMAT.to_owned(),
            circuit: self.key.circuit.clone(),
            slots: self.key.slots,
            key_digest: self.key.digest_hex(),
            statement: self.statement,
            public_inputs: self.statement.public_inputs().iter().map(field_hex::to_hex).collect(),
            proof: proof_hex(&self.proof),
        };
        write_json(path, &json)
    }

    /// Reads and checks a proof file: shape, statement consistency, public inputs,
    /// and the proof's points (on the curve and in the right subgroup).
    pub fn read(path: &Path) -> Result<Self, ProofFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProofFileError::Io { path: path.to_owned(), source })?;
        let malformed = |reason: String| ProofFileError::Malformed { path: path.to_owned(), reason };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        if let Some(format) = value.get("format").and_then(|f| f.as_str()).filter(|f| RETIRED_PROOF_FORMATS.contains(f)) {
            return Err(ProofFileError::Retired { path: path.to_owned(), format: format.to_owned() });
        }
        let json: Json = serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
        if json.format != PROOF_FORMAT {
            return Err(malformed(format!("format {:?}, expected {PROOF_FORMAT:?}", json.format)));
        }
        let digest = digest_from_hex(&json.key_digest).ok_or_else(|| malformed("key_digest is not 64 hex digits".into()))?;
        json.statement.check().map_err(|source| ProofFileError::Statement { path: path.to_owned(), source })?;
        let listed: Option<Vec<Fr>> = json.public_inputs.iter().map(|s| field_hex::from_hex(s)).collect();
        if listed.as_deref() != Some(&json.statement.public_inputs()[..]) {
            return Err(ProofFileError::InputsMismatch { path: path.to_owned() });
        }
        let proof = proof_from_hex(&json.proof).map_err(malformed)?;
        Ok(ProofFile {
            key: KeyHeader { circuit: json.circuit, slots: json.slots, digest },
            statement: json.statement,
            proof,
        })
    }
}

fn proof_hex(proof: &Proof<Bn254>) -> String {
    let mut bytes = Vec::new();
    proof.serialize_compressed(&mut bytes).expect("serializing into a Vec cannot fail");
    hex::encode(bytes)
}

/// The proof's points, checked (on the curve, in the subgroup); the error says why not.
fn proof_from_hex(text: &str) -> Result<Proof<Bn254>, String> {
    let bytes = hex::decode(text).map_err(|_| "proof is not hex".to_owned())?;
    Proof::deserialize_compressed(bytes.as_slice())
        .map_err(|e| format!("the proof does not decode to valid curve points ({e})"))
}

fn digest_from_hex(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok().and_then(|d| <[u8; 32]>::try_from(d).ok())
}

/// Writes pretty JSON through a temporary file, so a crash leaves no half proof.
fn write_json(path: &Path, json: &impl Serialize) -> Result<(), ProofFileError> {
    let io = |source| ProofFileError::Io { path: path.to_owned(), source };
    let text = serde_json::to_string_pretty(json).expect("proof files always serialize");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n").map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A workload proof, its statement, and the output it proves.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadProofFile {
    /// Circuit id of the key that made the proof (slots 0), and its digest.
    pub key: KeyHeader,
    /// What is proved.
    pub statement: WorkloadStatement,
    /// The workload's output (the statement commits to it).
    pub output: Output,
    /// The Groth16 proof.
    pub proof: Proof<Bn254>,
}

#[derive(Serialize, Deserialize)]
struct WorkloadJson {
    format: String,
    circuit: String,
    key_digest: String,
    statement: WorkloadStatement,
    public_inputs: Vec<String>,
    output: OutputJson,
    proof: String,
}

#[derive(Serialize, Deserialize)]
struct OutputJson {
    rows: usize,
    cols: usize,
    values: Vec<i64>,
}

impl WorkloadProofFile {
    /// Writes the file (through a temporary file, so a crash leaves no half proof).
    pub fn write(&self, path: &Path) -> Result<(), ProofFileError> {
        let (rows, cols, values) = match &self.output {
            Output::Int8(m) => (m.rows, m.cols, m.values.iter().map(|&v| i64::from(v)).collect()),
            Output::Int32(m) => (m.rows, m.cols, m.values.iter().map(|&v| i64::from(v)).collect()),
        };
        let json = WorkloadJson {
            format: WORKLOAD_PROOF_FORMAT.to_owned(),
            circuit: self.key.circuit.clone(),
            key_digest: self.key.digest_hex(),
            statement: self.statement,
            public_inputs: self.statement.public_inputs().iter().map(field_hex::to_hex).collect(),
            output: OutputJson { rows, cols, values },
            proof: proof_hex(&self.proof),
        };
        write_json(path, &json)
    }

    /// Reads and checks a workload proof file: shape, a known circuit id, the public
    /// inputs, the work units, the output against its commitment, and the proof's
    /// points (on the curve and in the right subgroup). Whether the proof verifies
    /// is for the verifier to say.
    pub fn read(path: &Path) -> Result<Self, ProofFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProofFileError::Io { path: path.to_owned(), source })?;
        let malformed = |reason: String| ProofFileError::Malformed { path: path.to_owned(), reason };
        let json: WorkloadJson = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        if json.format != WORKLOAD_PROOF_FORMAT {
            return Err(malformed(format!("format {:?}, expected {WORKLOAD_PROOF_FORMAT:?}", json.format)));
        }
        let plan: Plan = json.circuit.parse().map_err(|e| malformed(format!("{e}")))?;
        let shape = plan.shape();
        let listed: Option<Vec<Fr>> = json.public_inputs.iter().map(|s| field_hex::from_hex(s)).collect();
        if listed.as_deref() != Some(&json.statement.public_inputs()[..]) {
            return Err(ProofFileError::InputsMismatch { path: path.to_owned() });
        }
        if json.statement.work_units != shape.work_units() {
            return Err(malformed(format!(
                "the statement bills {} work units but circuit {} does {}",
                json.statement.work_units,
                json.circuit,
                shape.work_units()
            )));
        }
        let OutputJson { rows, cols, values } = json.output;
        if (rows, cols) != (shape.rows(), shape.last().outputs) || values.len() != rows * cols {
            return Err(malformed(format!(
                "the output is {rows}×{cols} with {} values, but circuit {} gives {}×{}",
                values.len(),
                json.circuit,
                shape.rows(),
                shape.last().outputs
            )));
        }
        let out_of_range = |v: &i64| malformed(format!("output value {v} does not fit the output's integer type"));
        let output = match shape.last().kind {
            LayerKind::MatMul => Output::Int32(Matrix {
                rows,
                cols,
                values: values.iter().map(|v| i32::try_from(*v).map_err(|_| out_of_range(v))).collect::<Result<_, _>>()?,
            }),
            LayerKind::Requantise { .. } => Output::Int8(Matrix {
                rows,
                cols,
                values: values.iter().map(|v| i8::try_from(*v).map_err(|_| out_of_range(v))).collect::<Result<_, _>>()?,
            }),
        };
        if output.commitment(shape) != json.statement.output {
            return Err(ProofFileError::OutputMismatch { path: path.to_owned() });
        }
        let digest = digest_from_hex(&json.key_digest).ok_or_else(|| malformed("key_digest is not 64 hex digits".into()))?;
        let proof = proof_from_hex(&json.proof).map_err(malformed)?;
        Ok(WorkloadProofFile {
            key: KeyHeader { circuit: json.circuit, slots: 0, digest },
            statement: json.statement,
            output,
            proof,
        })
    }
}
