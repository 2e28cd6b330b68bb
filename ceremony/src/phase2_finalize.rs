//! The end of a ceremony: a transcript that verifies becomes zkmeter's proving and
//! verifying keys, their header saying "ceremony" with the transcript's hash.
//!
//! The `.zkey`'s sections map onto arkworks' `ProvingKey` one to one: A, B1, B2 are
//! `a_query`, `b_g1_query`, `b_g2_query` (a point per wire, the constant's
//! included), L is `l_query`, IC is the verifying key's `gamma_abc_g1`, and H is
//! `h_query` in the circom layout (one point per domain element), which
//! zkmeter-engine and `zkmeter_circuits::prover` recognise by its length and prove
//! with the matching reduction. The verifying key is the one
//! `snarkjs zkey export verificationkey` gives.

use std::path::Path;

use ark_bn254::Bn254;
use ark_groth16::{ProvingKey, VerifyingKey};
use zkmeter_circuits::KeyHeader;
use zkmeter_circuits::keys::{KeyKind, KeyOrigin, write_key_with_origin};

use crate::Progress;
use crate::error::CeremonyError;
use crate::phase2_verify::{Verified, verify};
use crate::point_encoding::{g1_points, g2_points};
use crate::ptau_file::PtauFile;
use crate::r1cs_file::CircomR1cs;
use crate::zkey_file::{ZkeyFile, section_name, sections};

/// The keys of a verified transcript.
pub struct FinalKeys {
    /// The proving key (circom QAP layout).
    pub pk: ProvingKey<Bn254>,
    /// Ceremony, with the transcript file's hash.
    pub origin: KeyOrigin,
    /// What the verification found (contribution hashes).
    pub verified: Verified,
}

/// Verifies the transcript `path` (see [`verify`]) and reads its keys.
pub fn finalize(
    path: &Path,
    r1cs: &CircomR1cs,
    what: &str,
    ptau: &PtauFile,
    progress: &dyn Progress,
) -> Result<FinalKeys, CeremonyError> {
    let verified = verify(path, r1cs, what, ptau, progress)?;
    let pk = read_proving_key(path)?;
    Ok(FinalKeys { pk, origin: KeyOrigin::Ceremony { transcript: verified.file_hash }, verified })
}

/// A `.zkey`'s keys as arkworks' types (no verification: [`finalize`] verifies first).
pub fn read_proving_key(path: &Path) -> Result<ProvingKey<Bn254>, CeremonyError> {
    let zkey = ZkeyFile::open(path)?;
    let file = zkey.file();
    let invalid = |id: u32| {
        move |(index, error)| CeremonyError::InvalidPoint { path: path.to_owned(), section: section_name(id), index, error }
    };
    let g1 = |id: u32| g1_points(&file.read_section(id)?).map_err(invalid(id));
    let h = &zkey.header;
    Ok(ProvingKey {
        vk: VerifyingKey {
            alpha_g1: h.alpha_g1,
            beta_g2: h.beta_g2,
            gamma_g2: h.gamma_g2,
            delta_g2: h.delta_g2,
            gamma_abc_g1: g1(sections::IC)?,
        },
        beta_g1: h.beta_g1,
        delta_g1: h.delta_g1,
        a_query: g1(sections::A)?,
        b_g1_query: g1(sections::B1)?,
        b_g2_query: g2_points(&file.read_section(sections::B2)?).map_err(invalid(sections::B2))?,
        h_query: g1(sections::H)?,
        l_query: g1(sections::L)?,
    })
}

/// Writes the proving and verifying key files for the circuit of `header`.
pub fn write_keys(keys: &FinalKeys, header: &KeyHeader, pk_path: &Path, vk_path: &Path) -> Result<(), CeremonyError> {
    write_key_with_origin(pk_path, KeyKind::Proving, header, keys.origin, &keys.pk)?;
    write_key_with_origin(vk_path, KeyKind::Verifying, header, keys.origin, &keys.pk.vk)?;
    Ok(())
}
