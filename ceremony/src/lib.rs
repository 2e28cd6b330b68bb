//! # zkmeter-ceremony
//!
//! A Groth16 trusted setup that nobody has to trust: phase 2 of a multi-party
//! ceremony for zkmeter's circuits, on snarkjs's file formats so that snarkjs is a
//! second, independent implementation of every step.
//!
//! `zkmeter setup` knows its toxic waste, so whoever ran it could prove anything.
//! Here phase 1 is a public powers-of-tau transcript (a Hermez `.ptau` file, hash
//! published), and phase 2 randomises δ, contribution by contribution: the key is
//! safe if any one contributor destroyed their secret. The steps, one file each:
//!
//! | step | module | snarkjs |
//! |---|---|---|
//! | export the circuit | [`r1cs_file`] | `r1cs info`, `zkey new` read it |
//! | read phase 1 | [`ptau_file`] | `powersoftau prepare phase2` wrote it |
//! | initial parameters | [`phase2_init`] | `zkey new` (byte-identical output) |
//! | contribute | [`phase2_contribute`] | `zkey contribute` |
//! | beacon | [`phase2_beacon`] | `zkey beacon` |
//! | verify the transcript | [`phase2_verify`] | `zkey verify` |
//! | keys for zkmeter | [`phase2_finalize`] | `zkey export verificationkey` |
//!
//! Supporting modules: [`bin_file`] (the container the three formats share),
//! [`point_encoding`] (snarkjs's byte forms of points), [`zkey_file`] (the
//! transcript), [`snarkjs_rng`] (the deterministic randomness a verifier must
//! reproduce), [`column_sums`] (the QAP polynomials at τ, in the group).
//!
//! What it is not: phase 1 (use the public files; `snarkjs powersoftau` makes small
//! ones for tests), a coordinator service (contributors pass `.zkey` files however
//! the coordinator likes), or a prover (ceremony keys prove with zkmeter-engine,
//! which follows the same QAP reduction, `zkmeter_circuits::qap_reduction`). It
//! depends only on zkmeter-circuits and arkworks.

pub mod bin_file;
pub mod column_sums;
pub mod error;
pub mod phase2_beacon;
pub mod phase2_contribute;
pub mod phase2_finalize;
pub mod phase2_init;
pub mod phase2_verify;
pub mod point_encoding;
pub mod ptau_file;
pub mod r1cs_file;
pub mod snarkjs_rng;
pub mod zkey_file;

pub use error::{CeremonyError, ContributionFault};
pub use phase2_beacon::beacon;
pub use phase2_contribute::{Entropy, contribute};
pub use phase2_finalize::{FinalKeys, finalize};
pub use phase2_init::init;
pub use phase2_verify::{Verified, verify};
pub use ptau_file::{PtauFile, ptau_power_needed};
pub use r1cs_file::CircomR1cs;
pub use zkey_file::ZkeyFile;

/// Where long steps report how far they are (the command line draws progress
/// bars; libraries and tests pass [`Silent`]).
pub trait Progress: Sync {
    /// A step of `total` units begins.
    fn start(&self, step: &str, total: u64);
    /// `units` more are done.
    fn advance(&self, units: u64);
    /// The step is done.
    fn finish(&self);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
