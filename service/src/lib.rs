//! # zkmeter-service
//!
//! The verifier service (`zkmeter-verifier`): a gRPC server (package
//! `zkmeter.v1`, `proto/zkmeter/v1/verifier.proto`) that providers submit their
//! epochs' proofs to. For each submission it
//!
//! 1. runs the cheap checks first ([`submission`]): sizes, public inputs below r,
//!    proof points on the curve and in the subgroup, a known circuit, a stream
//!    (job) that exists on the chain, a previous state equal to the latest known
//!    one, the meter's signature;
//! 2. verifies the proof in a batch with others ([`batcher`]): submissions are
//!    gathered for a few milliseconds or until the batch is full, checked with one
//!    multi-pairing, and bad proofs are named by bisection;
//! 3. writes a durable receipt (`zkmeter-store`, SQLite or PostgreSQL), keyed on
//!    the statement, so the same statement always gets the same receipt;
//! 4. settles it on the chain in the background ([`settler`]), with retries; the
//!    contract's stale-state check makes a second settlement of one statement
//!    impossible, and a restart resumes whatever was pending.
//!
//! Workload proofs (a quantised matmul or MLP inference gave its output, billed
//! by verified multiply-accumulates) take the same road with a pipeline of their
//! own ([`work_submission`]): cheap checks, the consumer's request on the chain,
//! the batched pairing check, a durable receipt per request, settlement.
//!
//! It does **not** prove (`zkmeter-circuits`), define the byte layouts
//! (`zkmeter-verifier`) or talk to the chain itself (`zkmeter-contracts`); the
//! gRPC layer ([`service`]) is thin: it converts messages and maps errors to
//! status codes.
//!
//! Where to start reading: [`service`] for the RPCs, then [`submission`],
//! [`batcher`] and [`settler`], then [`work_submission`]; [`server`] wires them up
//! from a [`config::Config`].

pub mod backlog;
pub mod batcher;
pub mod chain_worker;
pub mod config;
pub mod connections;
pub mod convert;
pub mod explorer_source;
pub mod job_cache;
pub mod metrics;
pub mod pause_point;
pub mod peer_budget;
pub mod receipt_writer;
pub mod server;
pub mod service;
pub mod settler;
pub mod status_codes;
pub mod submission;
pub mod work_submission;

/// The generated protobuf messages and gRPC service code of `zkmeter.v1`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    tonic::include_proto!("zkmeter.v1");

    /// The encoded descriptor set of the proto files, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("zkmeter_descriptor");
}
