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
//! [`witness`] (records → witness + statement), [`meter_circuit`] (the rules).
//!
//! ## The statement (v2, circuit id `zkmeter.meter.v2`)
//!
//! A *stream* is (meter address, job id); its state is `(head, seq, end_ms)`. A
//! record is one interval `[start_ms, end_ms)` with a quantity for each of the five
//! classes (zero where a class is not metered). An epoch of `n` records
//! (`1 ≤ n ≤ N`, `N` the circuit's number of record slots) moves the stream from
//! `prev` to `new`. The circuit enforces:
//!
//! 1. `seq_i = prev.seq + i` for every record (no record skipped or repeated), and
//!    `new.seq = prev.seq + n < 2^64`;
//! 2. `prev.end_ms ≤ start_1`, `start_i < end_i ≤ start_{i+1}`, `new.end_ms = end_n`
//!    (in order, without overlap, after the settled end);
//! 3. every value is a genuine integer of its declared width (table below): times
//!    through their 64-bit ends and range-checked gaps and durations, quantities
//!    through their 252-bit packing and the range-checked lanes of the totals;
//! 4. per class, `total_c ≤ capacity_c × (new.end_ms − prev.end_ms)`, checked once
//!    per epoch on the totals;
//! 5. `head_i = Poseidon(head_{i−1}, pack_a(record_i), pack_b(record_i))`,
//!    `head_0 = prev.head`, `new.head = Poseidon(head_n, salt)` (circomlib Poseidon);
//! 6. `total_c` is the exact sum of the epoch's class-`c` quantities.
//!
//! Unused slots (after the `n`-th) are switched off by a prefix-of-ones flag and
//! carry no time and no usage: they add nothing to any total, to `n`, to the time
//! or to the head chain.
//!
//! Record packing:
//!
//! ```text
//! pack_a = seq + start_ms·2^64 + end_ms·2^128                                   (< 2^192)
//! pack_b = gpu + cpu·2^44 + storage·2^88 + network·2^152 + energy·2^204          (< 2^252)
//! ```
//!
//! | value | bits | why a real meter stays inside |
//! |---|---|---|
//! | seq, start_ms, end_ms, capacity × ms products | 64, 64, 64, 112 | Unix ms; a stream's seq counts records |
//! | `end − start − 1` | 32 | a record lasts at most 2^32 ms ≈ 49.7 days; meters write seconds to minutes |
//! | `start − previous end` | 40 | a gap of at most 34.8 years, longer than any job |
//! | gpu, cpu quantity and epoch total | 44 each | 2^44 GPU-ms (or core-ms) ≈ 557 GPU-years per epoch |
//! | storage | 64 | 1.8·10^19 byte-s: 1 PB kept for 5 h, 10 TB for 21 days, per epoch |
//! | network | 52 | 4.5 PB per epoch: 100 Gbit/s for 4 days |
//! | energy | 48 | 2.8·10^14 mJ ≈ 78 MWh per epoch |
//! | capacity per class | 48 | units per ms: 2.8·10^14 bytes/ms of network, 1 PB·s/ms of storage is 10^12 |
//! | records per epoch `n` | 32 | at most N |
//!
//! The lanes bound one epoch's totals, not a job's: the prover daemon ends an epoch
//! before a total would leave its lane, and [`build_epoch`] refuses, naming the
//! record, anything the circuit cannot represent.
//!
//! A stream starts at `(genesis_head(meter, job_id), 0, opened_ms)`, where
//! `opened_ms` is the settlement contract's block time (in ms) when the job was
//! opened, and `genesis_head = uint256(keccak256("zkmeter.stream.v2" ‖ meter[20] ‖
//! job_id as 8 big-endian bytes)) mod r`. The stream id is bound by the head chain
//! (and by the meter's signature) without being a public input.
//!
//! ## Public inputs
//!
//! Five BN254 scalars, in this order (`a | b << k` means `a + b·2^k`):
//!
//! | # | value |
//! |---|-------|
//! | 0 | `prev.head` |
//! | 1 | `new.head` |
//! | 2 | `prev.seq \| prev.end_ms << 64 \| new.end_ms << 128 \| n << 192` (`n < 2^32`) |
//! | 3 | `total[gpu] \| total[cpu] << 44 \| total[storage] << 88 \| total[network] << 152 \| total[energy] << 204` |
//! | 4 | `cap[gpu] \| cap[cpu] << 48 \| cap[storage] << 96 \| cap[network] << 144 \| cap[energy] << 192` (each `< 2^48`) |
//!
//! Capacities are the job's (fixed when it was opened), in the class's base unit
//! per millisecond. The circuit decomposes each packed input into range-checked
//! parts, so a packed input has exactly one reading. Whoever packs input 3 must
//! refuse a total wider than its lane first ([`MeterStatement::check`], the
//! contract's `TotalTooLarge`): it would spill into the next class.
//!
//! ## Why the totals cannot be read another way
//!
//! Quantities are not range-checked one by one (that alone would cost 252
//! constraints a record). Instead input 3 is constrained to equal `Σ_i pack_b_i`
//! over all slots (padding slots have `pack_b = 0`), and its five lanes are
//! range-checked. Each real record's `pack_b` is an input of its Poseidon step, so
//! the head the meter signed fixes it (finding another value with the same head is
//! a Poseidon collision). An honest meter's `pack_b` values have lanes within their
//! widths and so do their sums (the native checks make sure), so `Σ_i pack_b_i` is
//! an integer below 2^252 < r. Claimed totals that pass the range checks also pack
//! to an integer below 2^252, and the two are equal mod r, hence equal as integers;
//! a number has one base-2^k representation with lanes in range, so the claimed
//! totals are the real ones. The same argument with `pack_a` (seq < 2^64 because
//! `new.seq` is; start and end lie between `prev.end_ms` and `new.end_ms`, both
//! range-checked, because gaps and durations are non-negative) fixes each record's
//! times, hence `new.end_ms`.
//!
//! ## Who can do what
//!
//! - **An honest meter and a dishonest prover** (the prover holds the records but
//!   not the meter key): the meter signs `(new.head, new.seq, new.end_ms)` for the
//!   records it chained, and the contract checks that signature. The prover can
//!   only prove exactly that epoch's totals (above), or not settle it at all; it
//!   cannot skip, repeat, reorder, split differently or re-price records, bill one
//!   class as another, or move time.
//! - **A dishonest meter** (whoever holds the meter key, e.g. a provider running the
//!   reference daemon) can sign records that never happened. The circuit and the
//!   contract still bound what it bills: per class at most `capacity × (new.end_ms −
//!   prev.end_ms)` per epoch, where the job's capacity was chosen by the consumer
//!   (at most the meter's registration, and a meter's open jobs share its
//!   registered capacity), the stream starts at the job's opening time, and the
//!   contract refuses an end later than its block time plus a small allowed skew or
//!   the job's expiry. So a job never pays more than `capacity × real elapsed time`
//!   (plus the skew). Workload proofs remove the trust in the meter for the
//!   workloads they cover.

pub mod assignment;
pub mod error;
pub mod field_bytes;
pub mod field_hex;
pub mod keys;
pub mod meter_circuit;
pub mod num;
pub mod poseidon;
pub mod proof_file;
pub mod prover;
pub mod qap_reduction;
pub mod range_check;
pub mod record;
pub mod snarkjs;
pub mod statement;
pub mod stream;
pub mod witness;
pub mod workload;

pub use error::{RecordError, StatementError};
pub use keys::{CircuitShape, KeyError, KeyHeader, KeyOrigin, METER_CIRCUIT_ID};
pub use meter_circuit::MeterCircuit;
pub use proof_file::{ProofFile, ProofFileError, WorkloadProofFile};
pub use prover::{MeterProver, ProveError, WorkloadProver};
pub use record::{Capacity, PerClass, ResourceClass, UsageRecord};
pub use statement::{MeterInstance, MeterStatement, PUBLIC_INPUTS};
pub use stream::{StreamId, StreamState};
pub use witness::{MeterWitness, SlotWitness, build_epoch};
pub use workload::{WorkloadCircuit, WorkloadStatement};
