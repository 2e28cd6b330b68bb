//! Phase 2's closing contribution from public randomness (`snarkjs zkey beacon`):
//! the secret is drawn from a value nobody could know in advance (a future block
//! hash, a drand round) hashed `2^iterations` times with SHA-256, so even the last
//! contributor cannot choose the final δ, and anyone can check the beacon's key
//! against its value ([`crate::phase2_verify`] does).

use std::path::Path;

use crate::Progress;
use crate::error::CeremonyError;
use crate::phase2_contribute::{Contributed, apply, check_name};
use crate::snarkjs_rng::beacon_rng;
use crate::zkey_file::ContributionKind;

/// Fewest and most iterations (as powers of two) snarkjs accepts.
pub const ITERATIONS_EXP: std::ops::RangeInclusive<u8> = 10..=63;

/// Parses a beacon value given in hex (`0x` optional), as snarkjs requires it:
/// non-empty, whole bytes, at most 255 of them.
pub fn parse_beacon(hex_value: &str) -> Result<Vec<u8>, CeremonyError> {
    let digits = hex_value.trim().trim_start_matches("0x");
    let bytes = hex::decode(digits).map_err(|e| {
        CeremonyError::BadBeacon(format!("the beacon value {hex_value:?} is not hexadecimal whole bytes ({e}): give it as hex, e.g. a block hash"))
    })?;
    if bytes.is_empty() || bytes.len() > 255 {
        return Err(CeremonyError::BadBeacon(format!(
            "the beacon value has {} bytes; it needs 1 to 255 (a 32-byte block hash is usual)",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Reads `input`, adds the beacon contribution for `beacon` hashed
/// `2^iterations_exp` times, writes `output`.
pub fn beacon(
    input: &Path,
    output: &Path,
    name: Option<&str>,
    beacon: &[u8],
    iterations_exp: u8,
    progress: &dyn Progress,
) -> Result<Contributed, CeremonyError> {
    if !ITERATIONS_EXP.contains(&iterations_exp) {
        return Err(CeremonyError::BadBeacon(format!(
            "2^{iterations_exp} iterations is outside the 2^{} to 2^{} snarkjs accepts",
            ITERATIONS_EXP.start(),
            ITERATIONS_EXP.end()
        )));
    }
    check_name(name)?;
    // Open the transcript first, so a wrong file is refused before the hashing.
    crate::zkey_file::ZkeyFile::open(input)?;
    progress.start(&format!("hashing the beacon value 2^{iterations_exp} times"), 1u64 << iterations_exp);
    let rng = beacon_rng(beacon, iterations_exp, |n| progress.advance(n));
    progress.finish();
    let kind = ContributionKind::Beacon { hash: beacon.to_vec(), iterations_exp };
    apply(input, output, name, kind, rng, progress)
}
