//! What can go wrong in a ceremony, each error saying what was wrong and what to do.

use std::io;
use std::path::PathBuf;

use zkmeter_circuits::KeyError;

use crate::point_encoding::PointError;

/// Why a contribution's record in a transcript is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContributionFault {
    /// Its transcript hash is not the hash of the transcript before it and its key.
    #[error(
        "its transcript hash is not the hash of the contributions before it and its own key (contributions were reordered, removed, or its record edited)"
    )]
    TranscriptHash,
    /// `s·G1`, `s·x·G1` and `x·g2_sp` do not share the secret `x`.
    #[error("its proof of knowledge does not hold: s·G1, s·x·G1 and x·g2_sp do not share one secret x")]
    ProofOfKnowledge,
    /// δ after it is not δ before it times the secret its proof is about.
    #[error("δ after it is not δ before it times the secret its proof of knowledge is about")]
    DeltaChain,
    /// A point of its key is the point at infinity.
    #[error("its key has a point at infinity (a zero secret would make δ zero)")]
    ZeroPoint,
    /// A beacon contribution whose key is not the one its beacon value gives.
    #[error("it claims to be a beacon, but its key is not the one its beacon value and iterations give ({0})")]
    BeaconKey(&'static str),
}

/// A ceremony step that could not be done.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}; check that its folder exists and is writable and that the disk is not full", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Not a file of the kind expected.
    #[error("{} is not a .{kind} file (it does not start with \"{kind}\"): check that the right file was passed", path.display())]
    NotThisKind {
        /// The file.
        path: PathBuf,
        /// The kind expected (`ptau`, `zkey`, `r1cs`).
        kind: String,
    },
    /// The file ends before its section table says it should.
    #[error("{} is truncated: {what} ends at byte {needed} but the file has {len} bytes; copy or download it again (and check its hash)", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What runs past the end.
        what: String,
        /// Where it ends.
        needed: u64,
        /// The file's length.
        len: u64,
    },
    /// A section the format requires is missing.
    #[error("{} has no section {section} ({name}): the file is damaged or not what its name says; make or fetch it again", path.display())]
    MissingSection {
        /// The file.
        path: PathBuf,
        /// The section id.
        section: u32,
        /// What the section holds.
        name: &'static str,
    },
    /// The file's structure is not the format's.
    #[error("{} is not a valid file of its kind: {what}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A point in a bulk section is invalid.
    #[error("{}: point {index} of its {section} is invalid ({error}): the file was altered or damaged; go back to the last transcript that verifies", path.display())]
    InvalidPoint {
        /// The file.
        path: PathBuf,
        /// The section's name.
        section: &'static str,
        /// The point's index in the section.
        index: usize,
        /// What is wrong with it.
        error: PointError,
    },
    /// A `.ptau` without the Lagrange sections phase 2 reads.
    #[error(
        "{} has no Lagrange-basis sections: run `snarkjs powersoftau prepare phase2 {} prepared.ptau` and use prepared.ptau (the published Hermez _final_ files are prepared already)",
        path.display(), path.display()
    )]
    PtauNotPrepared {
        /// The file.
        path: PathBuf,
    },
    /// A `.ptau` with fewer powers than the circuit needs ([`crate::ptau_power_needed`]).
    #[error(
        "{} holds 2^{power} powers of tau but {circuit} needs power {needed}{}: use a powers-of-tau file of power {needed} or more, e.g. powersOfTau28_hez_final_{needed}.ptau",
        path.display(),
        if *needed > *domain_power {
            format!(
                " (its QAP domain is 2^{domain_power}; from 2^15 on, snarkjs's circuit hash takes one power of tau \
                 beyond a file of the domain's own power, so both tools need the next file to agree)"
            )
        } else {
            String::new()
        }
    )]
    PtauTooSmall {
        /// The file.
        path: PathBuf,
        /// Its power.
        power: u32,
        /// The power the circuit needs.
        needed: u32,
        /// The power of the circuit's QAP domain.
        domain_power: u32,
        /// The circuit, in words.
        circuit: String,
    },
    /// A `.ptau` whose hash is not the published one.
    #[error(
        "{} has BLAKE2b-512 hash {actual}, not the expected {expected}: it is damaged or not the published file; download it again and compare with the published hash",
        path.display()
    )]
    PtauHashMismatch {
        /// The file.
        path: PathBuf,
        /// The hash given.
        expected: String,
        /// The file's hash.
        actual: String,
    },
    /// A transcript for another circuit.
    #[error(
        "{} is a transcript for another circuit than {circuit}: {what}; use the transcript of this circuit, or name the circuit this one was made for",
        path.display()
    )]
    CircuitMismatch {
        /// The transcript.
        path: PathBuf,
        /// The circuit expected.
        circuit: String,
        /// What differs.
        what: String,
    },
    /// A transcript that did not start from this `.ptau`.
    #[error(
        "{} was not made from {}: {what}; verify it against the powers-of-tau file its ceremony started from",
        path.display(), ptau.display()
    )]
    PtauMismatch {
        /// The transcript.
        path: PathBuf,
        /// The `.ptau` file.
        ptau: PathBuf,
        /// What differs.
        what: String,
    },
    /// A contribution whose record does not hold.
    #[error("{}: contribution {label} is invalid: {fault}; refuse it and continue from the transcript before it", path.display())]
    Contribution {
        /// The transcript.
        path: PathBuf,
        /// Which contribution (1-based, with its name).
        label: String,
        /// Its 0-based index.
        index: usize,
        /// What failed.
        fault: ContributionFault,
    },
    /// The header's δ is not the one the contributions end with.
    #[error("{}: the header's δ is not the δ after contribution {after}: {what}; the file was altered, go back to the last transcript that verifies", path.display())]
    DeltaMismatch {
        /// The transcript.
        path: PathBuf,
        /// The last contribution (or "none" for a fresh transcript).
        after: String,
        /// Which δ.
        what: &'static str,
    },
    /// A section no contribution changes differs from the initial one.
    #[error(
        "{}: its {section} is not the one {circuit} and the powers of tau give; no contribution changes it, so the file was altered or made for another circuit or ptau: go back to the last transcript that verifies",
        path.display()
    )]
    InitialSectionAltered {
        /// The transcript.
        path: PathBuf,
        /// The section's name.
        section: &'static str,
        /// The circuit, in words.
        circuit: String,
    },
    /// The circuit hash is not that of the recomputed initial parameters.
    #[error(
        "{}: its circuit hash is not the hash of the initial parameters {circuit} and the powers of tau give: its contributions were made for another circuit or ptau; start again from `zkmeter ceremony init`",
        path.display()
    )]
    CircuitHashMismatch {
        /// The transcript.
        path: PathBuf,
        /// The circuit, in words.
        circuit: String,
    },
    /// The L or H query does not match the final δ.
    #[error(
        "{}: its {section} does not match δ after contribution {after}, the latest in this file: that contribution changed δ without updating the {section} the same way (or the file was altered); refuse it and continue from the transcript before it",
        path.display()
    )]
    QueryMismatch {
        /// The transcript.
        path: PathBuf,
        /// "L query" or "H query".
        section: &'static str,
        /// The latest contribution's label ("none" if there is none).
        after: String,
    },
    /// A contribution name the format cannot hold.
    #[error("the contribution name has {chars} characters; a .zkey keeps at most 64: shorten it")]
    NameTooLong {
        /// Its length in UTF-16 units (as snarkjs counts).
        chars: usize,
    },
    /// A beacon value or iteration count snarkjs would refuse.
    #[error("{0}")]
    BadBeacon(String),
    /// Writing the keys failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}
