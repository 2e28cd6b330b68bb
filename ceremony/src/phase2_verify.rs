//! Verifying a whole phase-2 transcript against the circuit and the powers of tau
//! (what `snarkjs zkey verify` does, and accepting exactly the transcripts it does):
//!
//! 1. the transcript is for this circuit (sizes, coefficients) and this `.ptau`
//!    (α, β);
//! 2. every contribution: its transcript hash follows from the ones before, its
//!    proof of knowledge holds (`e(s·G1, x·g2_sp) = e(s·x·G1, g2_sp)` with
//!    `g2_sp` hashed from its transcript), δ after it is δ before it times the
//!    same secret (`e(δ, x·g2_sp) = e(δ', g2_sp)`), and a beacon's key is the one
//!    its value gives; the header's δ is the last one, in G1 and G2;
//! 3. the sections no contribution touches (IC, A, B1, B2) are the initial ones,
//!    and the circuit hash is the hash of the initial parameters;
//! 4. L and H are the initial ones divided by the final δ:
//!    `e(Σ ρᵢ·Lᵢ, δ·G2) = e(Σ ρᵢ·L⁰ᵢ, G2)` for random 128-bit ρ, and the same for H.
//!
//! How it differs from snarkjs in method, not in what it accepts: snarkjs
//! recomputes every initial point and compares bytes; here IC and L are recomputed
//! exactly (the circuit hash needs L), and A, B1 and B2 are compared through one
//! random linear combination each, `Σ ρᵢ·Aᵢ = Σ_c (Σᵢ ρᵢ·a_ci)·Lc`: an altered
//! section passes with probability at most 2⁻¹²⁸, and the check costs two MSMs
//! instead of a few million scalar multiplications. Once they pass, their bytes
//! are the initial ones, so they go into the circuit hash as they are.

use std::path::Path;

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::Zero;
use blake2::{Blake2b512, Digest};
use rand::RngCore;
use rayon::prelude::*;

use crate::Progress;
use crate::error::{CeremonyError, ContributionFault};
use crate::phase2_init::{
    CircuitHashInput, H_HASH_CHUNK, WireTerms, circuit_hash, coefficient_section, combined, h_tau_points, read_bases,
    read_g2_bases,
};
use crate::point_encoding::{g1_lem, g1_points, g1_section, g1_uncompressed, g2_lem, g2_points};
use crate::ptau_file::PtauFile;
use crate::r1cs_file::CircomR1cs;
use crate::snarkjs_rng::{beacon_rng, fr_from_rng, g1_from_rng, hash_to_g2};
use crate::zkey_file::{Contribution, ContributionKind, ZkeyFile, section_name, sections};

/// A transcript that verified.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The circuit hash it starts from.
    pub cs_hash: [u8; 64],
    /// The contributions in order, with the hash each contributor published.
    pub contributions: Vec<(Contribution, [u8; 64])>,
    /// BLAKE2b-512 of the transcript file itself (recorded in finalized keys).
    pub file_hash: [u8; 64],
}

/// Whether `e(a1, b2) = e(b1, a2)`: `b = x·a` in both groups for one x. Points at
/// infinity never pass (snarkjs's `sameRatio`).
fn same_ratio(a1: G1Affine, b1: G1Affine, a2: G2Affine, b2: G2Affine) -> bool {
    if a1.is_zero() || b1.is_zero() || a2.is_zero() || b2.is_zero() {
        return false;
    }
    Bn254::multi_pairing([a1, (-b1.into_group()).into_affine()], [b2, a2]).is_zero()
}

/// The label of the last contribution, for messages about the final δ.
fn last_label(zkey: &ZkeyFile) -> String {
    match zkey.mpc.contributions.len() {
        0 => "none (the initial transcript)".to_owned(),
        n => zkey.mpc.contributions[n - 1].label(n - 1),
    }
}

/// Step 2: the contributions and the header's δ.
pub(crate) fn check_contributions(zkey: &ZkeyFile) -> Result<(), CeremonyError> {
    let mut hasher = Blake2b512::new();
    hasher.update(zkey.mpc.cs_hash);
    let mut delta = G1Affine::generator();
    for (index, c) in zkey.mpc.contributions.iter().enumerate() {
        let fail = |fault| CeremonyError::Contribution { path: zkey.path().to_owned(), label: c.label(index), index, fault };
        let mut ours = hasher.clone();
        ours.update(g1_uncompressed(&c.g1_s));
        ours.update(g1_uncompressed(&c.g1_sx));
        if <[u8; 64]>::from(ours.finalize()) != c.transcript {
            return Err(fail(ContributionFault::TranscriptHash));
        }
        if c.g1_s.is_zero() || c.g1_sx.is_zero() || c.g2_spx.is_zero() || c.delta_after.is_zero() {
            return Err(fail(ContributionFault::ZeroPoint));
        }
        let g2_sp = hash_to_g2(&c.transcript);
        if !same_ratio(c.g1_s, c.g1_sx, g2_sp, c.g2_spx) {
            return Err(fail(ContributionFault::ProofOfKnowledge));
        }
        if !same_ratio(delta, c.delta_after, g2_sp, c.g2_spx) {
            return Err(fail(ContributionFault::DeltaChain));
        }
        if let ContributionKind::Beacon { hash, iterations_exp } = &c.kind {
            let mut rng = beacon_rng(hash, *iterations_exp, |_| {});
            let x = fr_from_rng(&mut rng);
            let s = g1_from_rng(&mut rng);
            if s != c.g1_s {
                return Err(fail(ContributionFault::BeaconKey("s·G1 differs")));
            }
            if (s * x).into_affine() != c.g1_sx {
                return Err(fail(ContributionFault::BeaconKey("s·x·G1 differs")));
            }
        }
        c.hash_public_key(&mut hasher);
        delta = c.delta_after;
    }
    let header = &zkey.header;
    let mismatch = |what| CeremonyError::DeltaMismatch { path: zkey.path().to_owned(), after: last_label(zkey), what };
    if header.delta_g1 != delta {
        return Err(mismatch("δ in G1 differs"));
    }
    if !same_ratio(G1Affine::generator(), delta, G2Affine::generator(), header.delta_g2) {
        return Err(mismatch("δ in G2 is not δ in G1's"));
    }
    Ok(())
}

/// 128-bit random weights for a random linear combination.
fn weights(n: usize) -> Vec<Fr> {
    let mut rng = rand::rngs::OsRng;
    (0..n).map(|_| Fr::from(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()))).collect()
}

/// `Σ_c (Σ_wire ρ_wire·coef)·Lc`'s scalars for one matrix: per row, the weights of
/// its wires times their coefficients (the appended rows for A).
fn row_scalars(r1cs: &CircomR1cs, matrix: usize, rho: &[Fr], n: usize) -> Vec<Fr> {
    let mut scalars = vec![Fr::zero(); n];
    scalars[..r1cs.constraints.len()].par_iter_mut().zip(&r1cs.constraints).for_each(|(s, constraint)| {
        *s = constraint.lcs[matrix].iter().map(|&(wire, c)| rho[wire as usize] * c).sum();
    });
    if matrix == 0 {
        let m = r1cs.constraints.len();
        for wire in 0..=r1cs.n_public() as usize {
            scalars[m + wire] += rho[wire];
        }
    }
    scalars
}

/// Verifies the transcript `path` of `r1cs` (named `what` in errors) over `ptau`.
pub fn verify(
    path: &Path,
    r1cs: &CircomR1cs,
    what: &str,
    ptau: &PtauFile,
    progress: &dyn Progress,
) -> Result<Verified, CeremonyError> {
    let zkey = ZkeyFile::open(path)?;
    let header = &zkey.header;
    let file = zkey.file();
    let n = r1cs.domain_size();
    let public = r1cs.n_public() as usize;
    let wires = r1cs.n_wires as usize;

    // 1. This circuit, this ptau.
    let circuit_mismatch = |what_differs: String| CeremonyError::CircuitMismatch {
        path: path.to_owned(),
        circuit: what.to_owned(),
        what: what_differs,
    };
    if (header.n_vars, header.n_public, header.domain_size as usize) != (r1cs.n_wires, r1cs.n_public(), n) {
        return Err(circuit_mismatch(format!(
            "it has {} wires, {} public signals and a domain of {}, the circuit {}, {} and {}",
            header.n_vars,
            header.n_public,
            header.domain_size,
            r1cs.n_wires,
            r1cs.n_public(),
            n
        )));
    }
    if !file.section_equals(sections::COEFFICIENTS, &coefficient_section(r1cs))? {
        return Err(circuit_mismatch("its constraint coefficients differ".into()));
    }
    // A transcript from another ptau is named as such before the ptau's size is
    // judged: a smaller file would otherwise be reported as merely too small.
    let (alpha, beta1, beta2) = ptau.alpha_beta()?;
    let ptau_mismatch = |which: &str| CeremonyError::PtauMismatch {
        path: path.to_owned(),
        ptau: ptau.path().to_owned(),
        what: format!("its {which} is not the powers of tau's"),
    };
    if g1_lem(&header.alpha_g1) != alpha {
        return Err(ptau_mismatch("α in G1"));
    }
    if g1_lem(&header.beta_g1) != beta1 || g2_lem(&header.beta_g2) != beta2 {
        return Err(ptau_mismatch("β"));
    }
    let altered = |section: &'static str| CeremonyError::InitialSectionAltered {
        path: path.to_owned(),
        section,
        circuit: what.to_owned(),
    };
    if header.gamma_g2 != G2Affine::generator() {
        return Err(altered("γ (phase 2 leaves it at the generator)"));
    }
    ptau.require_domain(n, what)?;

    // 2. The contributions.
    progress.start("checking every contribution's proof of knowledge and the δ chain", zkey.mpc.contributions.len() as u64);
    check_contributions(&zkey)?;
    progress.finish();

    // 3. The sections no contribution changes.
    progress.start("recomputing the initial parameters from the circuit and the powers of tau", (wires + 3) as u64);
    let terms = WireTerms::new(r1cs);
    let bases = read_bases(ptau, n)?;
    let ic = g1_section(&combined(&terms, &bases, 0..public + 1, progress));
    if !file.section_equals(sections::IC, &ic)? {
        return Err(altered("IC"));
    }
    let rho = weights(wires);
    let invalid = |id: u32| {
        move |(index, error)| CeremonyError::InvalidPoint { path: path.to_owned(), section: section_name(id), index, error }
    };
    for (id, matrix) in [(sections::A, 0), (sections::B1, 1)] {
        let points = g1_points(&file.read_section(id)?).map_err(invalid(id))?;
        let ours = G1Projective::msm(&points, &rho).expect("one weight per wire");
        let theirs = G1Projective::msm(&bases.g1, &row_scalars(r1cs, matrix, &rho, n)).expect("one scalar per row");
        if ours != theirs {
            return Err(altered(section_name(id)));
        }
        progress.advance(1);
    }
    let b2 = g2_points(&file.read_section(sections::B2)?).map_err(invalid(sections::B2))?;
    let g2_bases = read_g2_bases(ptau, n)?;
    let ours = G2Projective::msm(&b2, &rho).expect("one weight per wire");
    let theirs = G2Projective::msm(&g2_bases, &row_scalars(r1cs, 1, &rho, n)).expect("one scalar per row");
    if ours != theirs {
        return Err(altered(section_name(sections::B2)));
    }
    drop((b2, g2_bases));
    progress.advance(1);
    let l_initial = combined(&terms, &bases, public + 1..wires, progress);
    drop(terms);
    let l_initial_bytes = g1_section(&l_initial);
    let h_tau = h_tau_points(ptau, n, H_HASH_CHUNK)?;
    let cs_hash = circuit_hash(&CircuitHashInput {
        header,
        ic: &ic,
        h_tau: &h_tau,
        l: &l_initial_bytes,
        a: &file.read_section(sections::A)?,
        b1: &file.read_section(sections::B1)?,
        b2: &file.read_section(sections::B2)?,
    });
    if cs_hash != zkey.mpc.cs_hash {
        return Err(CeremonyError::CircuitHashMismatch { path: path.to_owned(), circuit: what.to_owned() });
    }
    progress.advance(1);
    progress.finish();

    // 4. L and H against the final δ.
    progress.start("checking the L and H queries against the final δ", 2);
    let h_initial = g1_points(&ptau.h_query(n)?).map_err(|(index, error)| CeremonyError::InvalidPoint {
        path: ptau.path().to_owned(),
        section: "Lagrange basis in G1",
        index,
        error,
    })?;
    for (id, initial) in [(sections::L, l_initial), (sections::H, h_initial)] {
        let points = g1_points(&file.read_section(id)?).map_err(invalid(id))?;
        let rho = weights(points.len());
        let ours = G1Projective::msm(&points, &rho).expect("one weight per point").into_affine();
        let theirs = G1Projective::msm(&initial, &rho).expect("one weight per point").into_affine();
        // Both zero (an empty L) is consistent; otherwise ours·δ = theirs.
        let consistent = (ours.is_zero() && theirs.is_zero())
            || Bn254::multi_pairing([ours, (-theirs.into_group()).into_affine()], [header.delta_g2, G2Affine::generator()])
                .is_zero();
        if !consistent {
            return Err(CeremonyError::QueryMismatch { path: path.to_owned(), section: section_name(id), after: last_label(&zkey) });
        }
        progress.advance(1);
    }
    progress.finish();

    let mut hasher = Blake2b512::new();
    file.stream(|chunk| hasher.update(chunk))?;
    let contributions = zkey.mpc.contributions.iter().map(|c| (c.clone(), c.hash())).collect();
    Ok(Verified { cs_hash, contributions, file_hash: hasher.finalize().into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;

    #[test]
    fn same_ratio_holds_only_for_one_secret() {
        let mut rng = ark_std::test_rng();
        let (x, y) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        let (g1, g2) = (G1Affine::generator(), G2Affine::generator());
        let s = (g1 * Fr::rand(&mut rng)).into_affine();
        assert!(same_ratio(s, (s * x).into_affine(), g2, (g2 * x).into_affine()));
        assert!(!same_ratio(s, (s * x).into_affine(), g2, (g2 * y).into_affine()));
        assert!(!same_ratio(G1Affine::zero(), G1Affine::zero(), g2, g2));
    }
}
