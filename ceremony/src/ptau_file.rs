//! Phase 1: snarkjs's `.ptau` powers-of-tau files (the Perpetual Powers of Tau /
//! Hermez files, `powersOfTau28_hez_final_K.ptau`), prepared for phase 2.
//!
//! ```text
//! section 1   header: n8 = 32, the base field prime q, power K, ceremony power
//! section 2   τⁱ·G1 for i < 2^(K+1) − 1
//! section 3   τⁱ·G2 for i < 2^K
//! section 4   α·τⁱ·G1 for i < 2^K (α·G1 first)
//! section 5   β·τⁱ·G1 for i < 2^K (β·G1 first)
//! section 6   β·G2
//! section 7   the phase-1 contributions
//! sections 12–15 (added by `snarkjs powersoftau prepare phase2`): the Lagrange
//!             bases at τ of every domain size 2^0 … 2^K one after another (2^k
//!             starts at point 2^k − 1): L(τ)·G1, L(τ)·G2, α·L(τ)·G1, β·L(τ)·G1;
//!             section 12 also has the domain 2^(K+1), computed with τ^(2^(K+1)−1)
//!             (absent from section 2) taken as zero.
//! ```
//!
//! Points are in snarkjs's LEM form ([`crate::point_encoding`]). A circuit whose
//! QAP domain has 2^k points needs K ≥ k (K ≥ k + 1 from k = 15 on:
//! [`ptau_power_needed`]): its A, B, C and L are combinations of the size-2^k
//! Lagrange bases and its H query is the odd half of the size-2^(k+1) one.
//! Nothing here trusts the file: its BLAKE2b-512 hash ([`PtauFile::blake2b`],
//! what `b2sum` prints) is compared with the published one, and its sizes with
//! what the header's power implies.

use std::path::Path;

use blake2::{Blake2b512, Digest};
use ark_bn254::Fq;
use ark_ff::PrimeField;

use crate::Progress;
use crate::bin_file::BinFile;
use crate::error::CeremonyError;
use crate::point_encoding::{FIELD_LEN, G1_LEN, G2_LEN};

/// The largest power read. A circuit's H query needs the Lagrange basis of twice
/// its domain, and BN254's scalar field has roots of unity up to 2^28, so domains
/// stop at 2^27; use the file of the power the circuit needs, not the 2^28 one.
pub const MAX_POWER: u32 = 27;

const HEADER: u32 = 1;
/// τⁱ·G1.
pub const TAU_G1: u32 = 2;
const TAU_G2: u32 = 3;
const ALPHA_TAU_G1: u32 = 4;
const BETA_TAU_G1: u32 = 5;
const BETA_G2: u32 = 6;
const CONTRIBUTIONS: u32 = 7;
/// Lagrange bases in G1.
pub const LAGRANGE_G1: u32 = 12;
/// Lagrange bases in G2.
pub const LAGRANGE_G2: u32 = 13;
/// α times the Lagrange bases, in G1.
pub const LAGRANGE_ALPHA_G1: u32 = 14;
/// β times the Lagrange bases, in G1.
pub const LAGRANGE_BETA_G1: u32 = 15;

/// The smallest powers-of-tau file (its power) a circuit with a QAP domain of
/// `domain_size` points takes. Phase 2 itself needs τⁱ·G1 for i < 2n − 1, which
/// a file of the domain's power holds exactly, but the circuit hash snarkjs
/// computes takes one more, τ^(2n−1)·G1, once the domain has 2^15 points or more
/// ([`crate::phase2_init::h_hash_points`] says why). With a file of the domain's
/// own power snarkjs would hash the bytes that follow section 2, which no second
/// implementation can be asked to imitate; so from 2^15 on, the next file.
pub fn ptau_power_needed(domain_size: usize) -> u32 {
    let power = domain_size.trailing_zeros();
    let hashed = crate::phase2_init::h_hash_points(domain_size, crate::phase2_init::H_HASH_CHUNK);
    if hashed > domain_size - 1 { power + 1 } else { power }
}

fn section_name(id: u32) -> &'static str {
    match id {
        HEADER => "header",
        TAU_G1 => "tau powers in G1",
        TAU_G2 => "tau powers in G2",
        ALPHA_TAU_G1 => "alpha tau powers in G1",
        BETA_TAU_G1 => "beta tau powers in G1",
        BETA_G2 => "beta in G2",
        CONTRIBUTIONS => "contributions",
        LAGRANGE_G1 => "Lagrange basis in G1",
        LAGRANGE_G2 => "Lagrange basis in G2",
        LAGRANGE_ALPHA_G1 => "alpha Lagrange basis in G1",
        LAGRANGE_BETA_G1 => "beta Lagrange basis in G1",
        _ => "unknown section",
    }
}

/// An opened `.ptau` file, its header and section sizes checked.
#[derive(Debug)]
pub struct PtauFile {
    file: BinFile,
    /// K: the file holds 2^K powers (2^(K+1) − 1 in G1).
    pub power: u32,
    /// The power of the ceremony the file was cut from (Hermez files are cut from 2^28).
    pub ceremony_power: u32,
}

impl PtauFile {
    /// Opens a prepared `.ptau` file over BN254 and checks that every section has
    /// the size its power implies. An unprepared file (no Lagrange sections) is
    /// refused with the command that prepares it.
    pub fn open(path: &Path) -> Result<Self, CeremonyError> {
        let file = BinFile::open(path, b"ptau", 1, section_name)?;
        let header = file.read_section(HEADER)?;
        if header.len() != 4 + FIELD_LEN + 8 {
            return Err(file.malformed("its header section is not a BN254 header (44 bytes)".into()));
        }
        let mut q = [0u8; FIELD_LEN];
        for (chunk, limb) in q.chunks_exact_mut(8).zip(Fq::MODULUS.0) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        if u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) != FIELD_LEN as u32 || header[4..36] != q {
            return Err(file.malformed(
                "it is not for BN254 (snarkjs's bn128): use a powers-of-tau file of that curve, e.g. the Hermez files".into(),
            ));
        }
        let power = u32::from_le_bytes(header[36..40].try_into().expect("4 bytes"));
        let ceremony_power = u32::from_le_bytes(header[40..44].try_into().expect("4 bytes"));
        if power == 0 || power > MAX_POWER {
            return Err(file.malformed(format!(
                "its header says power {power}; this build reads powers 1 to {MAX_POWER}: use the file of the power your circuit needs (`zkmeter circuit info` prints it)"
            )));
        }
        let n = 1u64 << power;
        file.section_of_size(TAU_G1, (2 * n - 1) * G1_LEN as u64)?;
        file.section_of_size(TAU_G2, n * G2_LEN as u64)?;
        file.section_of_size(ALPHA_TAU_G1, n * G1_LEN as u64)?;
        file.section_of_size(BETA_TAU_G1, n * G1_LEN as u64)?;
        file.section_of_size(BETA_G2, G2_LEN as u64)?;
        file.section(CONTRIBUTIONS)?;
        if !file.has(LAGRANGE_G1) {
            return Err(CeremonyError::PtauNotPrepared { path: path.to_owned() });
        }
        file.section_of_size(LAGRANGE_G1, (4 * n - 1) * G1_LEN as u64)?;
        file.section_of_size(LAGRANGE_G2, (2 * n - 1) * G2_LEN as u64)?;
        file.section_of_size(LAGRANGE_ALPHA_G1, (2 * n - 1) * G1_LEN as u64)?;
        file.section_of_size(LAGRANGE_BETA_G1, (2 * n - 1) * G1_LEN as u64)?;
        Ok(PtauFile { file, power, ceremony_power })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Refuses a file too small for a circuit whose QAP domain has `domain_size`
    /// points (`what` names the circuit in the error).
    pub fn require_domain(&self, domain_size: usize, what: &str) -> Result<(), CeremonyError> {
        let needed = ptau_power_needed(domain_size);
        if needed > self.power {
            return Err(CeremonyError::PtauTooSmall {
                path: self.path().to_owned(),
                power: self.power,
                needed,
                domain_power: domain_size.trailing_zeros(),
                circuit: what.to_owned(),
            });
        }
        Ok(())
    }

    /// α·G1, β·G1 and β·G2 as LEM bytes (the first points of sections 4, 5, 6).
    pub fn alpha_beta(&self) -> Result<([u8; G1_LEN], [u8; G1_LEN], [u8; G2_LEN]), CeremonyError> {
        let mut alpha = [0u8; G1_LEN];
        let mut beta1 = [0u8; G1_LEN];
        let mut beta2 = [0u8; G2_LEN];
        alpha.copy_from_slice(&self.file.read_range(ALPHA_TAU_G1, 0, G1_LEN as u64)?);
        beta1.copy_from_slice(&self.file.read_range(BETA_TAU_G1, 0, G1_LEN as u64)?);
        beta2.copy_from_slice(&self.file.read_range(BETA_G2, 0, G2_LEN as u64)?);
        Ok((alpha, beta1, beta2))
    }

    /// The size-`n` Lagrange basis of one of sections 12–15, as LEM bytes.
    pub fn lagrange(&self, section: u32, n: usize) -> Result<Vec<u8>, CeremonyError> {
        let point = if section == LAGRANGE_G2 { G2_LEN } else { G1_LEN } as u64;
        self.file.read_range(section, (n as u64 - 1) * point, n as u64 * point)
    }

    /// The initial H query of a circuit with domain size `n`: the odd points of the
    /// size-`2n` Lagrange basis in G1, as LEM bytes (`n` points).
    pub fn h_query(&self, n: usize) -> Result<Vec<u8>, CeremonyError> {
        let double = self.lagrange(LAGRANGE_G1, 2 * n)?;
        Ok(double.chunks_exact(G1_LEN).skip(1).step_by(2).flatten().copied().collect())
    }

    /// `count` points of section 2 (τⁱ·G1) from `start`, as LEM bytes.
    pub fn tau_g1(&self, start: usize, count: usize) -> Result<Vec<u8>, CeremonyError> {
        self.file.read_range(TAU_G1, (start * G1_LEN) as u64, (count * G1_LEN) as u64)
    }

    /// BLAKE2b-512 of the whole file, the hash published beside each Hermez file.
    pub fn blake2b(&self, progress: &dyn Progress) -> Result<[u8; 64], CeremonyError> {
        let mut hasher = Blake2b512::new();
        progress.start("hashing the powers-of-tau file (BLAKE2b-512)", self.file.len());
        self.file.stream(|chunk| {
            hasher.update(chunk);
            progress.advance(chunk.len() as u64);
        })?;
        progress.finish();
        Ok(hasher.finalize().into())
    }

    /// Hashes the file and compares the hash with `expected` (hex, as published).
    pub fn check_hash(&self, expected: &str, progress: &dyn Progress) -> Result<[u8; 64], CeremonyError> {
        let actual = self.blake2b(progress)?;
        let wanted = expected.trim().trim_start_matches("0x").to_ascii_lowercase();
        if hex::encode(actual) != wanted {
            return Err(CeremonyError::PtauHashMismatch {
                path: self.path().to_owned(),
                expected: wanted,
                actual: hex::encode(actual),
            });
        }
        Ok(actual)
    }
}
