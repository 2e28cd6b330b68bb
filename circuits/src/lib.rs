//! # zkmeter-circuits
//!
//! What a zkmeter proof says, and the circuit that proves it.
//!
//! This crate holds the usage records a meter writes, the *meter statement* a
//! Groth16 proof makes about them, the native code that computes heads, totals and
//! statements from records (the meter, the prover and the tests all use this one
//! code), circomlib's Poseidon (natively and as an R1CS gadget), [`MeterCircuit`],
//! and the Groth16 key and proof files; and, in [`workload`], proofs that a quantised
//! matmul or MLP inference gave its output ([`WorkloadCircuit`]).
//!
//! It does **not** talk to a network, a chain or a database, and it does not
//! schedule or sign anything: the prover daemon, the verifier service and the
//! settlement contract build on it.
//!
//! Where to start reading: [`record`] (what a meter measures), [`stream`] (the chain
//! of heads), [`statement`] (the public statement and its public-input layout),
//! [`witness`] (records → witness + statement), [`meter_circuit`] (the six rules).
//!
//! ## The statement
//!
//! A *stream* is (meter address, job id); its state is `(head, seq, end_ms)`. An
//! epoch of `n` records (`1 ≤ n ≤ N`, `N` the circuit's number of record slots)
//! moves the stream from `prev` to `new`. For every real record `i = 1..n` the
//! circuit enforces:
//!
//! 1. `seq_i = prev.seq + i`;
//! 2. `prev.end_ms ≤ start_1`, `start_i < end_i ≤ start_{i+1}`;
//! 3. every field is range-checked: `seq`, `start_ms`, `end_ms`, `quantity` are u64,
//!    `class < 5`;
//! 4. `quantity_i ≤ capacity[class_i] × (end_i − start_i)`;
//! 5. `head_i = Poseidon(head_{i−1}, pack_a(record_i), pack_b(record_i))`,
//!    `head_0 = prev.head`, `new.head = Poseidon(head_n, salt)`;
//! 6. `total[c] = Σ quantity_i` over the records of class `c`, as integers: every
//!    addend is < 2^64 and there are at most `N < 2^32` of them, so the sum stays
//!    far below the field modulus, and each total is itself range-checked to u64.
//!
//! Unused slots (after the `n`-th) are switched off by a prefix-of-ones flag and
//! must be all zero: they add nothing to any total, to `n` or to the head chain.
//! `new.seq = prev.seq + n` and `new.end_ms = end_n`; both are < 2^64.
//!
//! Record packing (both values are far below the field modulus, so packing is
//! injective):
//!
//! ```text
//! pack_a = seq + start_ms·2^64 + end_ms·2^128            (< 2^192)
//! pack_b = quantity + class·2^64                          (< 2^67)
//! ```
//!
//! A stream starts at `(genesis_head(meter, job_id), 0, 0)` where
//! `genesis_head = uint256(keccak256("zkmeter.stream.v1" ‖ meter[20] ‖ job_id as 8
//! big-endian bytes)) mod r`. The stream id is therefore bound by the head chain
//! (and by the meter's signature) without being a public input.
//!
//! ## Public inputs
//!
//! Six BN254 scalars, in this order (`a | b << k` means `a + b·2^k`):
//!
//! | # | value |
//! |---|-------|
//! | 0 | `prev.head` |
//! | 1 | `new.head` |
//! | 2 | `prev.seq \| prev.end_ms << 64 \| new.end_ms << 128 \| n << 192` (`n < 2^32`) |
//! | 3 | `total[gpu] \| total[cpu] << 64 \| total[storage] << 128` |
//! | 4 | `total[network] \| total[energy] << 64` |
//! | 5 | `cap[gpu] \| cap[cpu] << 48 \| cap[storage] << 96 \| cap[network] << 144 \| cap[energy] << 192` (each `< 2^48`) |
//!
//! Capacities are in the class's base unit per millisecond. The circuit decomposes
//! each packed input into range-checked parts, so a packed input has exactly one
//! reading. Each public input costs about 6k gas in an on-chain verifier, which is
//! why they are packed.

pub mod assignment;
pub mod error;
pub mod field_hex;
pub mod keys;
pub mod meter_circuit;
pub mod num;
pub mod poseidon;
pub mod proof_file;
pub mod prover;
pub mod range_check;
pub mod record;
pub mod snarkjs;
pub mod statement;
pub mod stream;
pub mod witness;
pub mod workload;

pub use error::{RecordError, StatementError};
pub use keys::{CircuitShape, KeyError, KeyHeader, METER_CIRCUIT_ID};
pub use meter_circuit::MeterCircuit;
pub use proof_file::{ProofFile, ProofFileError, WorkloadProofFile};
pub use prover::{MeterProver, ProveError, WorkloadProver};
pub use record::{Capacity, PerClass, ResourceClass, UsageRecord};
pub use statement::{MeterInstance, MeterStatement, PUBLIC_INPUTS};
pub use stream::{StreamId, StreamState};
pub use witness::{MeterWitness, SlotWitness, build_epoch};
pub use workload::{WorkloadCircuit, WorkloadStatement};
