//! Proof files: a proof together with the statement it proves, as JSON.
//!
//! ```json
//! {
//!   "format": "zkmeter.proof.v1",
//!   "circuit": "zkmeter.meter.v1",
//!   "slots": 16,
//!   "key_digest": "<hex SHA-256 of the circuit's constraint matrices>",
//!   "statement": { "stream": …, "prev": …, "new": …, "totals": …, "record_count": 3, "capacity": … },
//!   "public_inputs": ["0x…", … 6 values],
//!   "proof": "<hex of the arkworks compressed proof, 128 bytes>"
//! }
//! ```
//!
//! `public_inputs` is redundant (it is computed from the statement) and is there for
//! other tools; reading a file checks that the two agree.

use ark_bn254::{Bn254, Fr};
use ark_groth16::Proof;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::StatementError;
use crate::field_hex;
use crate::keys::KeyHeader;
use crate::statement::MeterStatement;

/// Format tag of proof files.
pub const PROOF_FORMAT: &str = "zkmeter.proof.v1";

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
}

impl ProofFile {
    /// Writes the file (through a temporary file, so a crash leaves no half proof).
    pub fn write(&self, path: &Path) -> Result<(), ProofFileError> {
        let io = |source| ProofFileError::Io { path: path.to_owned(), source };
        let mut proof = Vec::new();
        self.proof.serialize_compressed(&mut proof).expect("serializing into a Vec cannot fail");
        let json = Json {
            format: PROOF_FORMAT.to_owned(),
            circuit: self.key.circuit.clone(),
            slots: self.key.slots,
            key_digest: self.key.digest_hex(),
            statement: self.statement,
            public_inputs: self.statement.public_inputs().iter().map(field_hex::to_hex).collect(),
            proof: hex::encode(proof),
        };
        let text = serde_json::to_string_pretty(&json).expect("proof files always serialize");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text + "\n").map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads and checks a proof file: shape, statement consistency, public inputs,
    /// and the proof's points (on the curve and in the right subgroup).
    pub fn read(path: &Path) -> Result<Self, ProofFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProofFileError::Io { path: path.to_owned(), source })?;
        let malformed = |reason: String| ProofFileError::Malformed { path: path.to_owned(), reason };
        let json: Json = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        if json.format != PROOF_FORMAT {
            return Err(malformed(format!("format {:?}, expected {PROOF_FORMAT:?}", json.format)));
        }
        let digest = hex::decode(&json.key_digest)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
            .ok_or_else(|| malformed("key_digest is not 64 hex digits".into()))?;
        json.statement.check().map_err(|source| ProofFileError::Statement { path: path.to_owned(), source })?;
        let listed: Option<Vec<Fr>> = json.public_inputs.iter().map(|s| field_hex::from_hex(s)).collect();
        if listed.as_deref() != Some(&json.statement.public_inputs()[..]) {
            return Err(ProofFileError::InputsMismatch { path: path.to_owned() });
        }
        let bytes = hex::decode(&json.proof).map_err(|_| malformed("proof is not hex".into()))?;
        let proof = Proof::deserialize_compressed(bytes.as_slice())
            .map_err(|e| malformed(format!("the proof does not decode to valid curve points ({e})")))?;
        Ok(ProofFile {
            key: KeyHeader { circuit: json.circuit, slots: json.slots, digest },
            statement: json.statement,
            proof,
        })
    }
}
