//! Phase 2's transcript: snarkjs's Groth16 `.zkey` file, which both zkmeter and
//! snarkjs read and write, so that contributions made with either tool follow each
//! other in one transcript.
//!
//! ```text
//! section 1    protocol: 1 (Groth16)
//! section 2    header: q, r, variables, public signals, domain size, α·G1, β·G1,
//!              β·G2, γ·G2 (the generator), δ·G1, δ·G2 (δ after the last contribution)
//! section 3    IC: (β·Aᵢ + α·Bᵢ + Cᵢ)(τ)·G1 for the constant and each public signal
//! section 4    the A and B coefficients (matrix, row, wire, coefficient·R²),
//!              with a row `A = zᵢ` per public signal after the constraints
//! section 5    Aᵢ(τ)·G1 for every wire
//! section 6    Bᵢ(τ)·G1
//! section 7    Bᵢ(τ)·G2
//! section 8    L: (β·Aᵢ + α·Bᵢ + Cᵢ)(τ)/δ·G1 for every private wire
//! section 9    H: L'ⱼ(τ)/δ·G1 for the odd points of the domain of twice the size
//!              (see zkmeter_circuits::qap_reduction)
//! section 10   the circuit hash and the contributions (below)
//! ```
//!
//! Each contribution `k` multiplies δ by a secret `xₖ` (L and H by `1/xₖ`) and
//! records `δ·G1` after it, a proof of knowledge of `xₖ` (`s·G1`, `s·xₖ·G1`, and
//! `xₖ·g2_sp` for `g2_sp` = [`crate::snarkjs_rng::hash_to_g2`] of its transcript),
//! its transcript hash (BLAKE2b-512 of the circuit hash, every earlier
//! contribution's public key and its own `s·G1`, `s·xₖ·G1`), whether it is a
//! beacon (and the beacon's value and iterations), and a name.

use std::path::Path;

use ark_bn254::{Fq, Fr, G1Affine, G2Affine};
use ark_ff::PrimeField;
use blake2::{Blake2b512, Digest};

use crate::bin_file::BinFile;
use crate::error::CeremonyError;
use crate::point_encoding::{
    FIELD_LEN, G1_LEN, G2_LEN, PointError, g1_from_lem, g1_lem, g1_uncompressed, g2_from_lem, g2_lem, g2_uncompressed,
};

/// Section ids.
pub mod sections {
    /// Protocol.
    pub const PROTOCOL: u32 = 1;
    /// Groth16 header.
    pub const HEADER: u32 = 2;
    /// IC.
    pub const IC: u32 = 3;
    /// A and B coefficients.
    pub const COEFFICIENTS: u32 = 4;
    /// A query.
    pub const A: u32 = 5;
    /// B query in G1.
    pub const B1: u32 = 6;
    /// B query in G2.
    pub const B2: u32 = 7;
    /// L query (snarkjs's "C").
    pub const L: u32 = 8;
    /// H query.
    pub const H: u32 = 9;
    /// Circuit hash and contributions.
    pub const CONTRIBUTIONS: u32 = 10;
}
use sections::*;

/// A section's name in messages.
pub fn section_name(id: u32) -> &'static str {
    match id {
        PROTOCOL => "protocol",
        HEADER => "Groth16 header",
        IC => "IC",
        COEFFICIENTS => "A and B coefficients",
        A => "A query",
        B1 => "B query in G1",
        B2 => "B query in G2",
        L => "L query",
        H => "H query",
        CONTRIBUTIONS => "contributions",
        _ => "unknown section",
    }
}

/// Bytes of one coefficient entry in section 4.
pub const COEFFICIENT_LEN: usize = 12 + FIELD_LEN;

/// The Groth16 header (section 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrothHeader {
    /// Wires, the constant 1 included.
    pub n_vars: u32,
    /// Public signals (not counting the constant).
    pub n_public: u32,
    /// QAP domain size.
    pub domain_size: u32,
    /// α·G1.
    pub alpha_g1: G1Affine,
    /// β·G1.
    pub beta_g1: G1Affine,
    /// β·G2.
    pub beta_g2: G2Affine,
    /// γ·G2: the generator, since phase 2 leaves γ at 1.
    pub gamma_g2: G2Affine,
    /// δ·G1.
    pub delta_g1: G1Affine,
    /// δ·G2.
    pub delta_g2: G2Affine,
}

impl GrothHeader {
    /// Private wires: the L query's length.
    pub fn n_private(&self) -> usize {
        (self.n_vars - self.n_public - 1) as usize
    }

    /// The header's bytes (section 2).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(660);
        out.extend_from_slice(&(FIELD_LEN as u32).to_le_bytes());
        out.extend_from_slice(&modulus_le::<Fq>());
        out.extend_from_slice(&(FIELD_LEN as u32).to_le_bytes());
        out.extend_from_slice(&modulus_le::<Fr>());
        for n in [self.n_vars, self.n_public, self.domain_size] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&g1_lem(&self.alpha_g1));
        out.extend_from_slice(&g1_lem(&self.beta_g1));
        out.extend_from_slice(&g2_lem(&self.beta_g2));
        out.extend_from_slice(&g2_lem(&self.gamma_g2));
        out.extend_from_slice(&g1_lem(&self.delta_g1));
        out.extend_from_slice(&g2_lem(&self.delta_g2));
        out
    }

    fn decode(file: &BinFile, bytes: &[u8]) -> Result<Self, CeremonyError> {
        if bytes.len() != 660 {
            return Err(file.malformed(format!("its Groth16 header has {} bytes, not the 660 of BN254", bytes.len())));
        }
        if bytes[..4] != (FIELD_LEN as u32).to_le_bytes()
            || bytes[4..36] != modulus_le::<Fq>()
            || bytes[36..40] != (FIELD_LEN as u32).to_le_bytes()
            || bytes[40..72] != modulus_le::<Fr>()
        {
            return Err(file.malformed("it is not for BN254 (snarkjs's bn128)".into()));
        }
        let word = |i: usize| u32::from_le_bytes(bytes[72 + 4 * i..76 + 4 * i].try_into().expect("4 bytes"));
        let point = |what: &str, e: PointError| file.malformed(format!("its header's {what} is invalid: {e}"));
        let g1 = |at: usize, what: &str| g1_from_lem(&bytes[at..at + G1_LEN]).map_err(|e| point(what, e));
        let g2 = |at: usize, what: &str| g2_from_lem(&bytes[at..at + G2_LEN], true).map_err(|e| point(what, e));
        let header = GrothHeader {
            n_vars: word(0),
            n_public: word(1),
            domain_size: word(2),
            alpha_g1: g1(84, "α in G1")?,
            beta_g1: g1(148, "β in G1")?,
            beta_g2: g2(212, "β in G2")?,
            gamma_g2: g2(340, "γ in G2")?,
            delta_g1: g1(468, "δ in G1")?,
            delta_g2: g2(532, "δ in G2")?,
        };
        if header.n_public >= header.n_vars
            || !header.domain_size.is_power_of_two()
            || (header.domain_size as usize) <= header.n_public as usize
        {
            return Err(file.malformed(format!(
                "its header's sizes are inconsistent ({} wires, {} public, domain {})",
                header.n_vars, header.n_public, header.domain_size
            )));
        }
        Ok(header)
    }
}

fn modulus_le<F: PrimeField>() -> Vec<u8> {
    F::MODULUS.as_ref().iter().flat_map(|limb| limb.to_le_bytes()).collect()
}

/// How a contribution's secret was drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContributionKind {
    /// From its contributor's randomness: only they knew it.
    Random,
    /// From a public beacon, so that the last contribution was chosen by nobody.
    Beacon {
        /// The beacon value (e.g. a future block hash).
        hash: Vec<u8>,
        /// The value was hashed 2^this many times.
        iterations_exp: u8,
    },
}

/// One phase-2 contribution's public record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// δ·G1 after this contribution.
    pub delta_after: G1Affine,
    /// `s·G1`.
    pub g1_s: G1Affine,
    /// `s·x·G1`.
    pub g1_sx: G1Affine,
    /// `x·g2_sp`.
    pub g2_spx: G2Affine,
    /// The transcript hash `g2_sp` is derived from.
    pub transcript: [u8; 64],
    /// Random or beacon.
    pub kind: ContributionKind,
    /// The contributor's name, if given.
    pub name: Option<String>,
}

/// Longest contribution name the format holds, in characters (snarkjs keeps 64).
pub const MAX_NAME_CHARS: usize = 64;

impl Contribution {
    /// Feeds this contribution's public key to a transcript hasher (snarkjs's
    /// `hashPubKey`).
    pub fn hash_public_key(&self, hasher: &mut Blake2b512) {
        hasher.update(g1_uncompressed(&self.delta_after));
        hasher.update(g1_uncompressed(&self.g1_s));
        hasher.update(g1_uncompressed(&self.g1_sx));
        hasher.update(g2_uncompressed(&self.g2_spx));
        hasher.update(self.transcript);
    }

    /// The contribution hash its contributor publishes (and snarkjs prints).
    pub fn hash(&self) -> [u8; 64] {
        let mut hasher = Blake2b512::new();
        self.hash_public_key(&mut hasher);
        hasher.finalize().into()
    }

    /// A short description for messages: `#3 "alice"` (1-based, as snarkjs counts).
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(name) => format!("#{} \"{name}\"", index + 1),
            None => format!("#{}", index + 1),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&g1_lem(&self.delta_after));
        out.extend_from_slice(&g1_lem(&self.g1_s));
        out.extend_from_slice(&g1_lem(&self.g1_sx));
        out.extend_from_slice(&g2_lem(&self.g2_spx));
        out.extend_from_slice(&self.transcript);
        let mut params = Vec::new();
        if let Some(name) = &self.name {
            let bytes = name.as_bytes();
            params.push(1);
            params.push(u8::try_from(bytes.len()).expect("names are at most 64 characters"));
            params.extend_from_slice(bytes);
        }
        let kind = match &self.kind {
            ContributionKind::Random => 0u32,
            ContributionKind::Beacon { hash, iterations_exp } => {
                params.extend_from_slice(&[2, *iterations_exp, 3]);
                params.push(u8::try_from(hash.len()).expect("beacon values are at most 255 bytes"));
                params.extend_from_slice(hash);
                1
            }
        };
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(params.len() as u32).to_le_bytes());
        out.extend_from_slice(&params);
    }
}

/// Section 10: the circuit hash and the contributions in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpcParams {
    /// BLAKE2b-512 of the initial parameters (snarkjs's "circuit hash").
    pub cs_hash: [u8; 64],
    /// The contributions, first first.
    pub contributions: Vec<Contribution>,
}

impl MpcParams {
    /// Section 10's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(68 + self.contributions.len() * 512);
        out.extend_from_slice(&self.cs_hash);
        out.extend_from_slice(&(self.contributions.len() as u32).to_le_bytes());
        for c in &self.contributions {
            c.encode(&mut out);
        }
        out
    }

    /// The hasher a new contribution's transcript starts from: the circuit hash
    /// and every contribution's public key so far.
    pub fn transcript_hasher(&self) -> Blake2b512 {
        let mut hasher = Blake2b512::new();
        hasher.update(self.cs_hash);
        for c in &self.contributions {
            c.hash_public_key(&mut hasher);
        }
        hasher
    }

    fn decode(file: &BinFile, bytes: &[u8]) -> Result<Self, CeremonyError> {
        let mut at = 0usize;
        let cut = |what: &str| file.malformed(format!("its contributions section ends inside {what}"));
        let mut take = |n: usize, what: &str| -> Result<&[u8], CeremonyError> {
            let slice = bytes.get(at..at + n).ok_or_else(|| cut(what))?;
            at += n;
            Ok(slice)
        };
        let cs_hash: [u8; 64] = take(64, "the circuit hash")?.try_into().expect("64 bytes");
        let count = u32::from_le_bytes(take(4, "the count")?.try_into().expect("4 bytes")) as usize;
        let mut contributions = Vec::with_capacity(count.min(1 << 16));
        for index in 0..count {
            let label = format!("contribution #{}", index + 1);
            let bad = |what: String| file.malformed(format!("{label}: {what}"));
            let g1 = |b: &[u8], what: &str| g1_from_lem(b).map_err(|e| bad(format!("its {what} is invalid: {e}")));
            let delta_after = g1(take(G1_LEN, &label)?, "δ after it")?;
            let g1_s = g1(take(G1_LEN, &label)?, "s·G1")?;
            let g1_sx = g1(take(G1_LEN, &label)?, "s·x·G1")?;
            let g2_spx =
                g2_from_lem(take(G2_LEN, &label)?, true).map_err(|e| bad(format!("its x·g2_sp is invalid: {e}")))?;
            let transcript: [u8; 64] = take(64, &label)?.try_into().expect("64 bytes");
            let kind = u32::from_le_bytes(take(4, &label)?.try_into().expect("4 bytes"));
            let params_len = u32::from_le_bytes(take(4, &label)?.try_into().expect("4 bytes")) as usize;
            let params = take(params_len, &label)?;
            let (mut name, mut iterations_exp, mut beacon) = (None, None, None);
            let mut p = 0usize;
            let mut last = 0u8;
            while p < params.len() {
                let kind_byte = params[p];
                if kind_byte <= last {
                    return Err(bad("its parameters are not sorted".into()));
                }
                last = kind_byte;
                let arg = |p: usize| params.get(p).copied().ok_or_else(|| bad("a parameter is cut short".into()));
                match kind_byte {
                    1 | 3 => {
                        let len = arg(p + 1)? as usize;
                        let value = params.get(p + 2..p + 2 + len).ok_or_else(|| bad("a parameter is cut short".into()))?;
                        if kind_byte == 1 {
                            name = Some(String::from_utf8_lossy(value).into_owned());
                        } else {
                            beacon = Some(value.to_vec());
                        }
                        p += 2 + len;
                    }
                    2 => {
                        iterations_exp = Some(arg(p + 1)?);
                        p += 2;
                    }
                    other => return Err(bad(format!("it has a parameter of unknown type {other}"))),
                }
            }
            let kind = match (kind, beacon, iterations_exp) {
                (0, None, None) => ContributionKind::Random,
                (1, Some(hash), Some(iterations_exp)) => ContributionKind::Beacon { hash, iterations_exp },
                _ => return Err(bad("its type and beacon parameters do not agree".into())),
            };
            contributions.push(Contribution { delta_after, g1_s, g1_sx, g2_spx, transcript, kind, name });
        }
        if at != bytes.len() {
            return Err(file.malformed("its contributions section holds more than its contributions".into()));
        }
        Ok(MpcParams { cs_hash, contributions })
    }
}

/// An opened `.zkey`: header and contributions parsed, every section's size
/// checked against the header; the big sections are read on demand.
#[derive(Debug)]
pub struct ZkeyFile {
    file: BinFile,
    /// Section 2.
    pub header: GrothHeader,
    /// Section 10.
    pub mpc: MpcParams,
    /// Entries in section 4.
    pub n_coefficients: usize,
}

impl ZkeyFile {
    /// Opens a Groth16 `.zkey` over BN254.
    pub fn open(path: &Path) -> Result<Self, CeremonyError> {
        let file = BinFile::open(path, b"zkey", 1, section_name)?;
        let protocol = file.read_section(PROTOCOL)?;
        if protocol != 1u32.to_le_bytes() {
            return Err(file.malformed("it is not a Groth16 zkey (PLONK and FFLONK keys have no phase 2)".into()));
        }
        let header = GrothHeader::decode(&file, &file.read_section(HEADER)?)?;
        let (vars, public) = (header.n_vars as u64, header.n_public as u64);
        file.section_of_size(IC, (public + 1) * G1_LEN as u64)?;
        let coefficients = file.section(COEFFICIENTS)?;
        let n_coefficients = u32::from_le_bytes(file.read_range(COEFFICIENTS, 0, 4)?.try_into().expect("4 bytes")) as usize;
        if coefficients.size != 4 + (n_coefficients * COEFFICIENT_LEN) as u64 {
            return Err(file.malformed(format!(
                "its coefficient section has {} bytes, not the {} its {n_coefficients} entries take",
                coefficients.size,
                4 + n_coefficients * COEFFICIENT_LEN
            )));
        }
        file.section_of_size(A, vars * G1_LEN as u64)?;
        file.section_of_size(B1, vars * G1_LEN as u64)?;
        file.section_of_size(B2, vars * G2_LEN as u64)?;
        file.section_of_size(L, header.n_private() as u64 * G1_LEN as u64)?;
        file.section_of_size(H, u64::from(header.domain_size) * G1_LEN as u64)?;
        let mpc = MpcParams::decode(&file, &file.read_section(CONTRIBUTIONS)?)?;
        Ok(ZkeyFile { file, header, mpc, n_coefficients })
    }

    /// The underlying container.
    pub fn file(&self) -> &BinFile {
        &self.file
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}
