//! Phase 2, step 0: the initial `.zkey` of a circuit from a `.ptau`, exactly as
//! `snarkjs zkey new` writes it (byte for byte; a test compares them), so either
//! tool can take the next step.
//!
//! With δ = γ = 1, for each wire `i` (`c` ranging over constraint rows, `Lc` the
//! Lagrange basis of the QAP domain at τ, taken from the `.ptau`):
//!
//! - `Aᵢ = Σ a_ci·Lc`, plus `L(m+i)` for the constant and each public signal `i`
//!   (the rows both reductions append; `m` constraints), in G1;
//! - `Bᵢ = Σ b_ci·Lc` in G1 and in G2;
//! - `β·Aᵢ + α·Bᵢ + Cᵢ`: IC for the constant and the public signals, L for the rest;
//! - H: the odd points of the Lagrange basis of twice the domain (section 12).
//!
//! The circuit hash that every contribution's transcript starts from is BLAKE2b-512
//! over, in snarkjs's uncompressed form: α·G1, β·G1, β·G2, γ·G2, δ·G1, δ·G2, then
//! IC, `τⁱ·Z(τ)·G1` for `i < n − 1` (arkworks' form of the H query, from section 2;
//! from n = 2^15 on snarkjs hashes `i < n`: [`h_hash_points`]), L, A, B1 and B2,
//! each list after its length (u32, big-endian).

use std::path::Path;

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::One;
use blake2::{Blake2b512, Digest};
use rayon::prelude::*;

use crate::Progress;
use crate::bin_file::BinWriter;
use crate::column_sums::{Columns, normalize};
use crate::error::CeremonyError;
use crate::point_encoding::{
    G1_LEN, g1_points, g1_section, g1_uncompressed, g2_points, g2_section, g2_uncompressed,
    section_uncompressed, zkey_coefficient,
};
use crate::ptau_file::{LAGRANGE_ALPHA_G1, LAGRANGE_BETA_G1, LAGRANGE_G1, LAGRANGE_G2, PtauFile};
use crate::r1cs_file::CircomR1cs;
use crate::zkey_file::{COEFFICIENT_LEN, GrothHeader, MpcParams, sections};

/// The circuit's terms grouped by wire: A (with the appended rows), B, C.
pub(crate) struct WireTerms {
    pub a: Columns,
    pub b: Columns,
    pub c: Columns,
}

impl WireTerms {
    pub fn new(r1cs: &CircomR1cs) -> Self {
        let wires = r1cs.n_wires as usize;
        let m = r1cs.constraints.len() as u32;
        let public = r1cs.n_public();
        let matrix = |k: usize, appended: bool| {
            Columns::build(wires, |f| {
                for (row, constraint) in r1cs.constraints.iter().enumerate() {
                    for &(wire, coefficient) in &constraint.lcs[k] {
                        f(wire, row as u32, coefficient);
                    }
                }
                if appended {
                    for wire in 0..=public {
                        f(wire, m + wire, Fr::one());
                    }
                }
            })
        };
        WireTerms { a: matrix(0, true), b: matrix(1, false), c: matrix(2, false) }
    }
}

/// The size-n Lagrange bases of the `.ptau`, as points.
pub(crate) struct Bases {
    pub g1: Vec<G1Affine>,
    pub alpha: Vec<G1Affine>,
    pub beta: Vec<G1Affine>,
}

pub(crate) fn read_bases(ptau: &PtauFile, n: usize) -> Result<Bases, CeremonyError> {
    let read = |section: u32, name: &'static str| {
        g1_points(&ptau.lagrange(section, n)?).map_err(|(index, error)| CeremonyError::InvalidPoint {
            path: ptau.path().to_owned(),
            section: name,
            index,
            error,
        })
    };
    Ok(Bases {
        g1: read(LAGRANGE_G1, "Lagrange basis in G1")?,
        alpha: read(LAGRANGE_ALPHA_G1, "alpha Lagrange basis")?,
        beta: read(LAGRANGE_BETA_G1, "beta Lagrange basis")?,
    })
}

pub(crate) fn read_g2_bases(ptau: &PtauFile, n: usize) -> Result<Vec<G2Affine>, CeremonyError> {
    g2_points(&ptau.lagrange(LAGRANGE_G2, n)?).map_err(|(index, error)| CeremonyError::InvalidPoint {
        path: ptau.path().to_owned(),
        section: "Lagrange basis in G2",
        index,
        error,
    })
}

/// Wires are summed this many at a time, between progress reports.
const CHUNK: usize = 1 << 13;

/// `β·Aᵢ + α·Bᵢ + Cᵢ` for the wires in `range` (IC for the public ones, L for the rest).
pub(crate) fn combined(
    terms: &WireTerms,
    bases: &Bases,
    range: std::ops::Range<usize>,
    progress: &dyn Progress,
) -> Vec<G1Affine> {
    let mut out = Vec::with_capacity(range.len());
    for start in range.clone().step_by(CHUNK) {
        let chunk = start..(start + CHUNK).min(range.end);
        let a = terms.a.sums(chunk.clone(), &bases.beta);
        let b = terms.b.sums(chunk.clone(), &bases.alpha);
        let c = terms.c.sums(chunk.clone(), &bases.g1);
        let sum: Vec<G1Projective> = a.par_iter().zip(&b).zip(&c).map(|((a, b), c)| *a + b + c).collect();
        out.extend(normalize(&sum));
        progress.advance(chunk.len() as u64);
    }
    out
}

/// `Σ coef·bases[row]` of one matrix for every wire, affine.
fn query<C: ark_ec::short_weierstrass::SWCurveConfig<ScalarField = Fr>>(
    columns: &Columns,
    bases: &[ark_ec::short_weierstrass::Affine<C>],
    progress: &dyn Progress,
) -> Vec<ark_ec::short_weierstrass::Affine<C>> {
    let mut out = Vec::with_capacity(columns.len());
    for start in (0..columns.len()).step_by(CHUNK) {
        let chunk = start..(start + CHUNK).min(columns.len());
        out.extend(normalize(&columns.sums(chunk.clone(), bases)));
        progress.advance(chunk.len() as u64);
    }
    out
}

/// Section 4: the A and B coefficients, constraint by constraint (A's terms, then
/// B's), then the appended row of each public signal.
pub(crate) fn coefficient_section(r1cs: &CircomR1cs) -> Vec<u8> {
    let public = r1cs.n_public();
    let entries: usize = r1cs.constraints.iter().map(|c| c.lcs[0].len() + c.lcs[1].len()).sum::<usize>() + public as usize + 1;
    let mut out = Vec::with_capacity(4 + entries * COEFFICIENT_LEN);
    out.extend_from_slice(&(entries as u32).to_le_bytes());
    let mut entry = |matrix: u32, row: u32, wire: u32, coefficient: &Fr| {
        out.extend_from_slice(&matrix.to_le_bytes());
        out.extend_from_slice(&row.to_le_bytes());
        out.extend_from_slice(&wire.to_le_bytes());
        out.extend_from_slice(&zkey_coefficient(coefficient));
    };
    for (row, constraint) in r1cs.constraints.iter().enumerate() {
        for matrix in 0..2 {
            for (wire, coefficient) in &constraint.lcs[matrix] {
                entry(matrix as u32, row as u32, *wire, coefficient);
            }
        }
    }
    let m = r1cs.constraints.len() as u32;
    for wire in 0..=public {
        entry(0, m + wire, wire, &Fr::one());
    }
    out
}

/// snarkjs hashes the H points of the circuit hash in chunks of this many.
pub const H_HASH_CHUNK: usize = 1 << 14;

/// How many H points snarkjs's circuit hash takes for a domain of `n` points.
/// The H query has n − 1 points, and the hash says so in its count, but
/// snarkjs's `zkey new` (0.7.x, `hashHPoints`) hashes every chunk of 2^14 points
/// with `min(n − 1, 2^14)` points where `min(n − 1 − i, 2^14)` was meant: below
/// 2^15 that is the n − 1 points, from 2^15 on it is n, the last one
/// `τ^(2n−1)·Z(τ)`. snarkjs's `zkey verify` recomputes the hash the same way, so
/// a transcript both tools accept hashes what snarkjs hashes.
/// `chunk` is [`H_HASH_CHUNK`] but in a test that shrinks it to reach the case
/// at a small size.
pub fn h_hash_points(n: usize, chunk: usize) -> usize {
    (0..n - 1).step_by(chunk).map(|_| (n - 1).min(chunk)).sum()
}

/// `τⁱ·Z(τ)·G1 = τ^(n+i)·G1 − τⁱ·G1` for the [`h_hash_points`] first `i`, from
/// section 2: what the circuit hash takes for the H query.
pub(crate) fn h_tau_points(ptau: &PtauFile, n: usize, chunk: usize) -> Result<Vec<G1Affine>, CeremonyError> {
    let invalid = |(index, error)| CeremonyError::InvalidPoint {
        path: ptau.path().to_owned(),
        section: "tau powers in G1",
        index,
        error,
    };
    let count = h_hash_points(n, chunk);
    let low = g1_points(&ptau.tau_g1(0, count)?).map_err(invalid)?;
    let high = g1_points(&ptau.tau_g1(n, count)?).map_err(invalid)?;
    let differences: Vec<G1Projective> = high.par_iter().zip(&low).map(|(h, l)| h.into_group() - l).collect();
    Ok(normalize(&differences))
}

/// The circuit hash's input, in order (see the module notes). Point lists are
/// LEM sections.
pub(crate) struct CircuitHashInput<'a> {
    pub header: &'a GrothHeader,
    pub ic: &'a [u8],
    pub h_tau: &'a [G1Affine],
    pub l: &'a [u8],
    pub a: &'a [u8],
    pub b1: &'a [u8],
    pub b2: &'a [u8],
}

pub(crate) fn circuit_hash(input: &CircuitHashInput<'_>) -> [u8; 64] {
    let mut hasher = Blake2b512::new();
    let h = input.header;
    hasher.update(g1_uncompressed(&h.alpha_g1));
    hasher.update(g1_uncompressed(&h.beta_g1));
    hasher.update(g2_uncompressed(&h.beta_g2));
    hasher.update(g2_uncompressed(&G2Affine::generator()));
    hasher.update(g1_uncompressed(&G1Affine::generator()));
    hasher.update(g2_uncompressed(&G2Affine::generator()));
    let mut list = |count: usize, uncompressed: &[u8]| {
        hasher.update((count as u32).to_be_bytes());
        hasher.update(uncompressed);
    };
    list(input.ic.len() / G1_LEN, &section_uncompressed(input.ic, false));
    let h_tau: Vec<u8> = input.h_tau.par_iter().flat_map_iter(g1_uncompressed).collect();
    // The count is the H query's, n − 1, whatever h_hash_points took.
    list(h.domain_size as usize - 1, &h_tau);
    list(input.l.len() / G1_LEN, &section_uncompressed(input.l, false));
    list(input.a.len() / G1_LEN, &section_uncompressed(input.a, false));
    list(input.b1.len() / G1_LEN, &section_uncompressed(input.b1, false));
    list(input.b2.len() / crate::point_encoding::G2_LEN, &section_uncompressed(input.b2, true));
    hasher.finalize().into()
}

/// What `init` made.
#[derive(Clone, Debug)]
pub struct Initialized {
    /// The circuit hash (the transcript's start).
    pub cs_hash: [u8; 64],
    /// The QAP domain size.
    pub domain_size: usize,
    /// Constraints (without the appended rows).
    pub constraints: usize,
}

/// Writes the initial transcript `out` of `r1cs` from `ptau` (in snarkjs's section
/// order: 1, 2, 4, 3, 9, 8, 5, 6, 7, 10). `what` names the circuit in errors.
pub fn init(
    r1cs: &CircomR1cs,
    what: &str,
    ptau: &PtauFile,
    out: &Path,
    progress: &dyn Progress,
) -> Result<Initialized, CeremonyError> {
    init_hashing_h_in_chunks(r1cs, what, ptau, out, progress, H_HASH_CHUNK)
}

/// [`init`] with snarkjs's H-hashing chunk ([`h_hash_points`]) set to `chunk`:
/// for the test that compares with a snarkjs patched the same way.
#[doc(hidden)]
pub fn init_hashing_h_in_chunks(
    r1cs: &CircomR1cs,
    what: &str,
    ptau: &PtauFile,
    out: &Path,
    progress: &dyn Progress,
    chunk: usize,
) -> Result<Initialized, CeremonyError> {
    let n = r1cs.domain_size();
    ptau.require_domain(n, what)?;
    let (alpha, beta1, beta2) = ptau.alpha_beta()?;
    let invalid = |section: &'static str| {
        move |error| CeremonyError::InvalidPoint { path: ptau.path().to_owned(), section, index: 0, error }
    };
    let header = GrothHeader {
        n_vars: r1cs.n_wires,
        n_public: r1cs.n_public(),
        domain_size: n as u32,
        alpha_g1: crate::point_encoding::g1_from_lem(&alpha).map_err(invalid("alpha tau powers"))?,
        beta_g1: crate::point_encoding::g1_from_lem(&beta1).map_err(invalid("beta tau powers"))?,
        beta_g2: crate::point_encoding::g2_from_lem(&beta2, true).map_err(invalid("beta in G2"))?,
        gamma_g2: G2Affine::generator(),
        delta_g1: G1Affine::generator(),
        delta_g2: G2Affine::generator(),
    };
    let public = r1cs.n_public() as usize;
    let wires = r1cs.n_wires as usize;

    progress.start("reading the Lagrange bases from the powers of tau", 1);
    let terms = WireTerms::new(r1cs);
    let bases = read_bases(ptau, n)?;
    let g2_bases = read_g2_bases(ptau, n)?;
    let h = ptau.h_query(n)?;
    let h_tau = h_tau_points(ptau, n, chunk)?;
    progress.finish();

    progress.start("computing IC, L, A, B1 and B2 (the QAP at tau)", (2 * wires + 2 * wires) as u64);
    let ic = g1_section(&combined(&terms, &bases, 0..public + 1, progress));
    let l = g1_section(&combined(&terms, &bases, public + 1..wires, progress));
    let a = g1_section(&query(&terms.a, &bases.g1, progress));
    let b1 = g1_section(&query(&terms.b, &bases.g1, progress));
    let b2 = g2_section(&query(&terms.b, &g2_bases, progress));
    progress.finish();

    let cs_hash =
        circuit_hash(&CircuitHashInput { header: &header, ic: &ic, h_tau: &h_tau, l: &l, a: &a, b1: &b1, b2: &b2 });
    let mpc = MpcParams { cs_hash, contributions: vec![] };

    let mut file = BinWriter::create(out, b"zkey", 1, 10)?;
    file.section(sections::PROTOCOL, &1u32.to_le_bytes())?;
    file.section(sections::HEADER, &header.encode())?;
    file.section(sections::COEFFICIENTS, &coefficient_section(r1cs))?;
    file.section(sections::IC, &ic)?;
    file.section(sections::H, &h)?;
    file.section(sections::L, &l)?;
    file.section(sections::A, &a)?;
    file.section(sections::B1, &b1)?;
    file.section(sections::B2, &b2)?;
    file.section(sections::CONTRIBUTIONS, &mpc.encode())?;
    file.finish()?;
    Ok(Initialized { cs_hash, domain_size: n, constraints: r1cs.constraints.len() })
}
