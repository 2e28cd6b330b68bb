//! Errors, each saying what to do about it.

use alloy::primitives::{Address, Bytes};
use std::path::PathBuf;

use crate::bindings::decode_revert;

/// Everything that can go wrong talking to a chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The JSON-RPC node does not answer.
    #[error("node at {url} not reachable ({reason}): start anvil (npx anvil in contracts/) or pass --rpc-url")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The URL does not parse.
    #[error("{url:?} is not a valid RPC URL: give one like http://127.0.0.1:8545")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The node is on another chain than the one asked for.
    #[error("the node at {url} is on chain {actual}, not {expected}: pass the right --rpc-url or --chain-id")]
    WrongChain {
        /// The URL of the node.
        url: String,
        /// The chain id asked for.
        expected: u64,
        /// The node's chain id.
        actual: u64,
    },
    /// The node answered with an error that is not a revert.
    #[error("the node refused the request: {0}")]
    Rpc(String),
    /// A transaction or call reverted.
    #[error("{what} reverted: {reason}")]
    Reverted {
        /// What was attempted, e.g. "settle".
        what: String,
        /// The decoded reason (custom error, message or raw data).
        reason: String,
        /// The raw revert data.
        data: Bytes,
        /// Gas the reverted transaction used, where known (embedded chain).
        gas_used: Option<u64>,
    },
    /// The EVM itself failed (not a revert: a bad transaction, a database error).
    #[error("EVM error: {0}")]
    Evm(String),
    /// No key is loaded for the account a transaction should come from.
    #[error("no private key loaded for {0}: pass its key (--private-key-file or the env var) or send from another account")]
    NoSigner(Address),
    /// A private key could not be read.
    #[error("private key: {0}")]
    Key(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A state or deployment file is not what this crate writes.
    #[error(
        "{path} is not a valid {what} file ({reason}): restore it from a backup. To start a new chain instead, use a \
         new data directory (--data-dir): receipts and stream logs of the old chain are refused on a new one, and \
         moving only this file away would lose every settlement it records"
    )]
    BadFile {
        /// The file.
        path: PathBuf,
        /// "embedded chain state" or "deployment".
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process holds the embedded chain.
    #[error(
        "the embedded chain {path} is in use by process {holder} (a `zkmeter demo` or `zkmeter-verifier` on the same \
         data directory): stop it first, or use another --data-dir; commands that only read open a snapshot"
    )]
    Locked {
        /// The chain's directory.
        path: PathBuf,
        /// The process holding it, as it wrote in the lock file ("unknown" if unreadable).
        holder: String,
    },
    /// A write on a read-only snapshot of the embedded chain.
    #[error("{what}: the embedded chain {path} was opened read-only (a snapshot): this command cannot send transactions")]
    ReadOnly {
        /// What was attempted.
        what: String,
        /// The chain's directory.
        path: PathBuf,
    },
    /// There is no embedded chain to read.
    #[error("there is no embedded chain in {path}: run `zkmeter chain deploy` (or `zkmeter demo`) first")]
    NoChain {
        /// The directory looked in.
        path: PathBuf,
    },
    /// A file belongs to another chain.
    #[error("{0}")]
    OtherChain(String),
    /// An answer did not decode as the ABI says.
    #[error("could not decode the answer of {what}: {reason} (is the deployment file for this chain?)")]
    Decode {
        /// The call.
        what: String,
        /// Why.
        reason: String,
    },
    /// A transaction succeeded but did not emit the event it always emits.
    #[error("{0}")]
    Missing(String),
    /// A statement or argument is out of range before anything is sent.
    #[error("{0}")]
    Invalid(String),
}

impl ChainError {
    /// A revert of `what` with `data`, its reason decoded.
    pub fn reverted(what: &str, data: Bytes, gas_used: Option<u64>) -> Self {
        ChainError::Reverted { what: what.to_owned(), reason: decode_revert(&data), data, gas_used }
    }

    /// True if this is a revert whose reason names `error` (a custom error's name).
    pub fn is_revert_with(&self, error: &str) -> bool {
        matches!(self, ChainError::Reverted { reason, .. } if reason.contains(error))
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ChainError::Io { path: path.to_owned(), source }
    }
}

/// Shorthand.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;
