//! What every chain offers: send a transaction from one of its accounts, make a
//! read-only call, and say where it stands. Everything zkmeter does on a chain
//! ([`crate::deploy`], [`crate::settlement`]) is written once on top of [`Chain`].

use alloy::primitives::{Address, B256, Bytes, Log, address};

use crate::error::Result;
use crate::logs::{ChainLog, LogFilter};

/// The outcome of a successful transaction.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The transaction hash (the embedded chain makes one up from the block and
    /// the call, as it signs nothing).
    pub tx_hash: B256,
    /// The block that holds it.
    pub block_number: u64,
    /// Gas the transaction used, all included (intrinsic, calldata, execution, less refunds).
    pub gas_used: u64,
    /// The logs it emitted, in order.
    pub logs: Vec<Log>,
    /// The address of the contract it created, if any.
    pub contract_address: Option<Address>,
}

/// The latest block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// Its number.
    pub number: u64,
    /// Its timestamp, Unix seconds.
    pub timestamp: u64,
}

/// An EVM chain zkmeter can settle on.
///
/// Transactions are sent *from* one of [`Chain::accounts`]: the embedded chain can
/// send from any address (it checks no signatures), a JSON-RPC chain from the
/// accounts whose private keys it holds.
pub trait Chain {
    /// The chain id.
    fn chain_id(&self) -> u64;

    /// Accounts transactions can be sent from; the first is the default (the deployer).
    fn accounts(&self) -> Vec<Address>;

    /// Sends a transaction from `from` calling `to` (or creating a contract if `to`
    /// is `None`) with `data`, waits until it is included, and returns its receipt.
    /// A revert is [`crate::ChainError::Reverted`] with the reason decoded; `what`
    /// names the operation in error messages.
    fn transact(&mut self, what: &str, from: Address, to: Option<Address>, data: Bytes) -> Result<Receipt>;

    /// Runs a read-only call against the latest state.
    fn call(&mut self, what: &str, to: Address, data: Bytes) -> Result<Bytes>;

    /// The latest block.
    fn block(&mut self) -> Result<BlockInfo>;

    /// What tells this chain apart from every other with the same chain id: the
    /// hash of its block 0 on a node (a reset anvil has a new one), a random value
    /// fixed when it was made for the embedded chain. Deployments, receipts and
    /// stream logs record it, and refuse to be used with another chain.
    fn genesis_id(&mut self) -> Result<B256>;

    /// The account's ether balance, in wei.
    fn eth_balance(&mut self, account: Address) -> Result<alloy::primitives::U256>;

    /// The logs that pass `filter`, in the order they were emitted: what the
    /// usage history is read from ([`crate::history`] pages through long ranges).
    fn logs(&mut self, filter: &LogFilter) -> Result<Vec<ChainLog>>;
}

/// Private keys of the dev accounts anvil (and hardhat) derive from the mnemonic
/// "test test … junk". They are public knowledge: use them on dev chains only.
pub const DEV_PRIVATE_KEYS: [&str; 3] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
];

/// The addresses of [`DEV_PRIVATE_KEYS`]: the deployer (also the governance admin
/// and token minter of a dev deployment), then two more accounts, used as
/// provider and consumer by the demo and the tests.
pub const DEV_ACCOUNTS: [Address; 3] = [
    address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
    address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    address!("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
];
