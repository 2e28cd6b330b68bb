//! How the Solidity fixtures write numbers: decimal strings, as forge's JSON
//! cheatcodes read them into uint256 words. Shared by the fixture examples.

use ark_bn254::{Fq, Fr};
use ark_ff::PrimeField;
use zkmeter_verifier::proof_codec::Word;

/// A 32-byte big-endian word (a coordinate below q) in decimal.
pub fn dec(word: &[u8]) -> String {
    Fq::from_be_bytes_mod_order(word).into_bigint().to_string()
}

/// Several words in decimal.
pub fn words(ws: &[Word]) -> Vec<String> {
    ws.iter().map(|w| dec(w)).collect()
}

/// A scalar in decimal.
pub fn fr(x: &Fr) -> String {
    x.into_bigint().to_string()
}
