//! Tests of zkmeter-verifier against real Groth16 proofs of a toy circuit with six
//! public inputs, the number the meter statement has.

mod batch;
mod codec;
mod fixture;
mod single;
