//! # zkmeter-verifier
//!
//! Checks zkmeter's Groth16 proofs (BN254) before they are settled on chain.
//!
//! This crate decodes proofs, public inputs and verifying keys from the EVM byte
//! layout every zkmeter component speaks, strictly enough that what it accepts is
//! what the settlement contract's precompile-based verifier accepts; it verifies one
//! proof against a verifying key prepared once; and it verifies many proofs with one
//! pairing check, naming exactly the bad ones when the batch fails.
//!
//! It does **not** know what the public inputs mean (that is
//! `zkmeter_circuits::statement`), check meter signatures, or replay-protect
//! anything: the gRPC verifier service that does is `zkmeter-service`
//! (`service/`), built on the modules here.
//!
//! Groth16 proofs are malleable: a valid proof can be re-randomised into different
//! bytes that verify for the same statement. Replay protection must key on the
//! statement (the stream state in the public inputs), never on proof bytes.
//!
//! Where to start reading: [`proof_codec`] (the byte layout and what it refuses),
//! [`verify`] (the single check), [`batch_verify`] (the batch check, its soundness
//! argument and the bisection).

pub mod batch_verify;
pub mod proof_codec;
pub mod verify;

pub use batch_verify::{BatchItem, BatchReport};
pub use proof_codec::{
    CodecError, EvmVerifyingKey, PROOF_LEN, PUBLIC_INPUT_LEN, Word, decode_proof,
    decode_public_input, decode_public_inputs, encode_proof, encode_public_input,
    encode_public_inputs, encode_verifying_key,
};
pub use verify::{Verifier, VerifyError};
