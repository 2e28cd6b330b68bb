//! Phase 2, one contribution: δ ← δ·x, L ← L/x, H ← H/x for a secret x that is
//! dropped as soon as the new transcript is written, with a proof of knowledge of
//! x bound to the transcript so far (as `snarkjs zkey contribute` does; either
//! tool verifies the other's).
//!
//! The secret is drawn the way snarkjs draws it, from a ChaCha stream seeded with
//! BLAKE2b-512 of 64 bytes from the operating system's RNG and the text the
//! contributor typed ([`Entropy`]): x first, then the point `s·G1`. A beacon
//! ([`crate::phase2_beacon`]) seeds the same stream from public data instead.
//!
//! Before contributing, the contributions already in the file are checked (their
//! transcript hashes, proofs of knowledge and δ chain: cheap), so nobody builds on a
//! transcript that is already broken; the full check is `zkmeter ceremony verify`.

use std::path::Path;

use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{Field, Zero};
use blake2::{Blake2b512, Digest};
use rand::RngCore;
use rayon::prelude::*;

use crate::Progress;
use crate::bin_file::BinWriter;
use crate::error::CeremonyError;
use crate::phase2_verify::check_contributions;
use crate::point_encoding::{G1_LEN, g1_points, g1_uncompressed, put_g1_lem};
use crate::snarkjs_rng::{ChaCha, fr_from_rng, g1_from_rng, hash_to_g2};
use crate::zkey_file::{Contribution, ContributionKind, MAX_NAME_CHARS, ZkeyFile, section_name, sections};

/// A contributor's randomness: 64 bytes from the operating system's RNG, mixed
/// with text they typed (which may be empty: the OS RNG alone suffices; typing
/// guards against a broken one).
pub struct Entropy<'a> {
    /// Whatever the contributor typed.
    pub text: &'a str,
}

impl Entropy<'_> {
    /// The ChaCha stream the secret is drawn from.
    fn stream(&self) -> ChaCha {
        let mut os = [0u8; 64];
        rand::rngs::OsRng.fill_bytes(&mut os);
        let mut hasher = Blake2b512::new();
        hasher.update(os);
        hasher.update(self.text.as_bytes());
        ChaCha::from_hash(&hasher.finalize())
    }
}

/// What a contribution left in the transcript.
#[derive(Clone, Debug)]
pub struct Contributed {
    /// Its 0-based position in the transcript.
    pub index: usize,
    /// The contribution hash to publish (what snarkjs prints as "Contribution Hash").
    pub hash: [u8; 64],
    /// Its record.
    pub contribution: Contribution,
}

/// Reads `input`, contributes with fresh randomness, writes `output`.
pub fn contribute(
    input: &Path,
    output: &Path,
    name: Option<&str>,
    entropy: &Entropy<'_>,
    progress: &dyn Progress,
) -> Result<Contributed, CeremonyError> {
    apply(input, output, name, ContributionKind::Random, entropy.stream(), progress)
}

/// Checks a contribution name fits the format.
pub(crate) fn check_name(name: Option<&str>) -> Result<(), CeremonyError> {
    let chars = name.map_or(0, |n| n.encode_utf16().count());
    if chars > MAX_NAME_CHARS {
        return Err(CeremonyError::NameTooLong { chars });
    }
    Ok(())
}

/// Points of L and H are scaled this many at a time.
const CHUNK: usize = 1 << 16;

/// The contribution itself, with its secret drawn from `rng`.
pub(crate) fn apply(
    input: &Path,
    output: &Path,
    name: Option<&str>,
    kind: ContributionKind,
    mut rng: ChaCha,
    progress: &dyn Progress,
) -> Result<Contributed, CeremonyError> {
    check_name(name)?;
    let zkey = ZkeyFile::open(input)?;
    check_contributions(&zkey)?;

    let x: Fr = fr_from_rng(&mut rng);
    let g1_s = g1_from_rng(&mut rng);
    let g1_sx = (g1_s * x).into_affine();
    let mut hasher = zkey.mpc.transcript_hasher();
    hasher.update(g1_uncompressed(&g1_s));
    hasher.update(g1_uncompressed(&g1_sx));
    let transcript: [u8; 64] = hasher.finalize().into();
    let g2_spx = (hash_to_g2(&transcript) * x).into_affine();

    let mut header = zkey.header.clone();
    header.delta_g1 = (header.delta_g1 * x).into_affine();
    header.delta_g2 = (header.delta_g2 * x).into_affine();
    let contribution = Contribution {
        delta_after: header.delta_g1,
        g1_s,
        g1_sx,
        g2_spx,
        transcript,
        kind,
        name: name.map(str::to_owned),
    };
    let mut mpc = zkey.mpc.clone();
    mpc.contributions.push(contribution.clone());

    let inverse = x.inverse().expect("a zero secret has probability 2^-254");
    let file = zkey.file();
    let mut out = BinWriter::create(output, b"zkey", 1, 10)?;
    file.copy_section(sections::PROTOCOL, &mut out)?;
    out.section(sections::HEADER, &header.encode())?;
    for id in [sections::IC, sections::COEFFICIENTS, sections::A, sections::B1, sections::B2] {
        file.copy_section(id, &mut out)?;
    }
    let points = (header.n_private() + header.domain_size as usize) as u64;
    progress.start("multiplying the L and H queries by 1/x", points);
    for id in [sections::L, sections::H] {
        scale_section(&zkey, id, inverse, &mut out, progress)?;
    }
    progress.finish();
    out.section(sections::CONTRIBUTIONS, &mpc.encode())?;
    out.finish()?;
    // x goes out of scope here; arkworks' field elements are plain memory, so the
    // secret lives only as long as this call.
    Ok(Contributed { index: mpc.contributions.len() - 1, hash: contribution.hash(), contribution })
}

/// Copies section `id` of G1 points into `out`, each multiplied by `k`.
fn scale_section(
    zkey: &ZkeyFile,
    id: u32,
    k: Fr,
    out: &mut BinWriter,
    progress: &dyn Progress,
) -> Result<(), CeremonyError> {
    let file = zkey.file();
    let section = file.section(id)?;
    let count = (section.size / G1_LEN as u64) as usize;
    out.begin_section(id, section.size)?;
    let mut bytes = vec![0u8; CHUNK.min(count) * G1_LEN];
    for start in (0..count).step_by(CHUNK) {
        let n = CHUNK.min(count - start);
        let chunk = &mut bytes[..n * G1_LEN];
        file.read_at(section.offset + (start * G1_LEN) as u64, chunk)?;
        let points = g1_points(chunk).map_err(|(index, error)| CeremonyError::InvalidPoint {
            path: file.path().to_owned(),
            section: section_name(id),
            index: start + index,
            error,
        })?;
        let scaled = scale(&points, k);
        chunk.par_chunks_exact_mut(G1_LEN).zip(&scaled).for_each(|(o, p)| put_g1_lem(p, o));
        out.write(chunk)?;
        progress.advance(n as u64);
    }
    Ok(())
}

/// Every point times `k`.
pub(crate) fn scale(points: &[G1Affine], k: Fr) -> Vec<G1Affine> {
    let scaled: Vec<G1Projective> =
        points.par_iter().map(|p| if p.is_zero() { G1Projective::zero() } else { *p * k }).collect();
    crate::column_sums::normalize(&scaled)
}
