//! # zkmeter-prover
//!
//! The provider's side of zkmeter: meters sample usage, each stream (one meter
//! serving one job) appends its records to a crash-safe, checksummed, hash-chained
//! log, epochs are cut from the log, proved with Groth16 and submitted to a
//! verifier service, and marked settled only when a settled receipt comes back.
//!
//! Where to start reading: [`daemon`] (the threads and tasks, and how they hand
//! work over through the log: one file per job — learning the chain, metering,
//! proving, submitting), then [`stream_log`] (what the log holds),
//! [`epoch`] (cutting an epoch), [`proving`] (the engine), [`client`] (the
//! verifier's API), [`meter`] (where readings come from; [`meter::set`] combines
//! a stream's sources, one per class, into one record per interval), [`spool`] (the
//! append-only file every log is written to), [`identity`] (the meter key),
//! [`config`] (the TOML file) and [`work_queue`] (workload proofs: inputs a
//! consumer hands over are run, proved and submitted, paid by verified work).
//!
//! What it does not do: verify proofs for anyone else, talk to a chain (the
//! verifier service settles), or run the setup (keys come from `zkmeter setup`).

pub mod backoff;
pub mod client;
pub mod config;
pub mod daemon;
pub mod epoch;
pub mod identity;
pub mod meter;
pub mod metrics;
pub mod pause_point;
pub mod proving;
pub mod spool;
pub mod stream_log;
pub mod work_queue;
