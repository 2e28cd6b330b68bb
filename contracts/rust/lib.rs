//! # zkmeter-contracts
//!
//! zkmeter on an EVM chain, from Rust: bindings to the settlement contracts, two
//! chains to run them on, one deploy helper, and the meter's EIP-712 signature.
//!
//! - [`bindings`]: alloy `sol!` bindings generated from the committed artifacts
//!   (`contracts/artifacts/*.json`), so no node or forge is needed to build;
//!   [`bindings::decode_revert`] turns revert data into a reason with advice.
//! - [`Chain`]: send a transaction from an account, make a read-only call, read
//!   the latest block. Two implementations:
//!   - [`EmbeddedChain`]: revm in this process, its state in `chain.json` in a
//!     data directory (rewritten after every transaction through a temporary file
//!     and a rename), dev accounts funded at genesis, one block per transaction.
//!     The default: no node needed.
//!   - [`RpcChain`]: an alloy HTTP provider signing with local keys
//!     ([`load_private_key`]: from a file or an environment variable), or
//!     read-only without any; works against anvil and any EVM node; checks the
//!     chain id.
//! - [`deploy()`]: deploys `ResourceToken`, `Settlement` and a `Groth16Verifier` per
//!   circuit, wires them, and writes a [`Deployment`] file;
//!   [`Deployment::add_circuit`] adds (or replaces) a meter circuit's verifier later,
//!   [`Deployment::add_work_circuit`] a workload circuit's (4 public inputs, a
//!   registry of its own).
//! - [`Deployment`]'s methods ([`settlement`] module): mint tokens, register a
//!   meter, open a job (with escrow), settle an epoch, request and settle verified
//!   work (billed per multiply-accumulate at the work tariff), read jobs, stream
//!   states, work status, balances; every transaction's receipt carries its gas.
//! - [`anvil`]: starts the npm-installed anvil on a loopback port, for tests and
//!   local development.
//! - [`roles`]: what attestors, consumers, minters, token holders, governance and
//!   the admin do besides settling (approve meters, fund jobs, issue and transfer
//!   tokens, tariffs, fee, circuits, grace, clock skew, roles).
//! - [`history`]: settled epochs and work read back from the chain's events
//!   ([`Chain::logs`], in pages a node accepts), with each job's totals.
//! - [`revert_reason`]: a revert's contract error by name, arguments and meaning.
//! - [`meter_signature`]: EIP-712 signing with k256 of a stream's new state and of
//!   a meter's registration, exactly as the contract checks them.
//!
//! It does **not** prove (see `zkmeter-circuits`), verify off chain (see
//! `zkmeter-verifier`), keep the meter's records or decide when to settle. The
//! API is blocking; from async code call it inside `spawn_blocking`. The RPC
//! client speaks plain `http://` only (no TLS compiled in), and the embedded
//! chain's state file belongs to one process at a time.
//!
//! Where to start reading: [`chain`] (the trait), then [`deploy`] and
//! [`settlement`]; the end-to-end flow the tests run is in `contracts/tests/common/mod.rs`:
//!
//! ```text
//! let mut chain = EmbeddedChain::open(data_dir)?;
//! let d = deploy(&mut chain, &[CircuitToDeploy { header, vk }], Some(&data_dir.join(DEPLOYMENT_FILE)))?;
//! let consent = sign_registration(&meter_key, chain.chain_id(), d.settlement, provider);
//! d.register_meter(&mut chain, provider, meter, &capacity, &consent)?;
//! d.mint_tokens(&mut chain, consumer, amounts)?;
//! let job = d.open_job(&mut chain, consumer, meter, &job_capacity, expires_at, escrow)?;
//! // build the epoch from job.genesis (later: d.stream_state(&mut chain, job_id)?), prove it, then:
//! let sig = sign_state(&meter_key, chain.chain_id(), d.settlement, job_id, &statement.new);
//! let settled = d.settle(&mut chain, anyone, slots, &statement, &encode_proof(&proof), &sig)?;
//! println!("gas {}", settled.receipt.gas_used);
//! ```

pub mod anvil;
pub mod bindings;
pub mod chain;
pub mod deploy;
pub mod durable;
pub mod embedded;
pub mod error;
pub mod history;
pub mod logs;
pub mod meter_signature;
pub mod revert_reason;
pub mod roles;
pub mod rpc;
pub mod settlement;

pub use chain::{BlockInfo, Chain, DEV_ACCOUNTS, DEV_PRIVATE_KEYS, Receipt};
pub use deploy::{
    CircuitDeployment, CircuitToDeploy, DEPLOYMENT_FILE, Deployment, WorkCircuitDeployment, circuit_id, deploy, vk_hash,
};
pub use embedded::{EMBEDDED_CHAIN_ID, EmbeddedChain, LOCK_FILE, STATE_FILE};
pub use error::ChainError;
pub use history::{Entry, EpochEntry, History, HistoryQuery, JobTotals, WorkEntry};
pub use logs::{ChainLog, LogFilter};
pub use meter_signature::{meter_address, sign_registration, sign_state, state_digest};
pub use roles::{Role, Settings, Tariff};
pub use rpc::{RpcChain, load_private_key, parse_private_key};
pub use settlement::{BatchSettled, CLASSES, EpochToSettle, Job, MeterInfo, Opened, Settled, SettledEpoch, WorkSettled, WorkStatus};

/// Re-exported so callers need no alloy dependency of their own for addresses and amounts.
pub use alloy::primitives::{Address, B256, U256};
/// Re-exported for [`RpcChain::connect`].
pub use alloy::signers::local::PrivateKeySigner;
