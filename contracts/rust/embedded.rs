//! The embedded chain: revm in this process, its state in one JSON file.
//!
//! No node, no mining, no signatures: a transaction from any address runs at once
//! in a block of its own (number + 1, timestamp = the wall clock in seconds, never
//! before the previous block's; several blocks may share a second, so the chain's
//! clock never runs ahead of real time), with gas price and base fee zero so accounts
//! need no ether. After every transaction the whole state (accounts, code,
//! storage, the latest block) is written to `chain.json` in the data directory:
//! to a temporary file, synced, renamed over the old one, and the directory
//! synced, so a crash or a power loss leaves either the old or the new state, and
//! [`EmbeddedChain::open`] picks up where the last process stopped.
//!
//! One writer at a time: [`EmbeddedChain::open`] holds an exclusive lock on
//! `chain.lock` (with the holder's pid in it) for as long as the chain is open, so
//! a second process is refused, naming the holder, instead of writing the chain
//! from a stale copy of its state. [`EmbeddedChain::open_read_only`] reads a
//! consistent snapshot without the lock (the state file is only ever replaced
//! whole) and sends nothing.
//!
//! Each chain gets a random genesis id when it is made ([`Chain::genesis_id`]), so
//! a chain made again in the same place is told apart from the old one.
//!
//! The logs of every successful transaction go to `events.jsonl` beside it
//! ([`EventLog`]), written before the state, which records how much of that file
//! is its own: the usage history reads them back with [`Chain::logs`].

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use revm::context::result::{ExecutionResult, Output};
use revm::context::{Context, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{KECCAK_EMPTY, TxKind};
use revm::state::{AccountInfo, Bytecode};
use revm::{ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::chain::{BlockInfo, Chain, DEV_ACCOUNTS, Receipt};
use crate::error::{ChainError, Result};
use crate::logs::{ChainLog, EVENTS_FILE, EventLog, LogFilter};

/// Chain id of the embedded chain (not anvil's 31337: a meter signature binds the
/// chain id, and a dev deployment has the same addresses on both chains).
pub const EMBEDDED_CHAIN_ID: u64 = 31341;

/// Name of the state file in the data directory.
pub const STATE_FILE: &str = "chain.json";

/// Name of the lock file beside it.
pub const LOCK_FILE: &str = "chain.lock";

/// Ether each dev account holds at genesis: 10 000 ETH.
const GENESIS_BALANCE_WEI: u128 = 10_000 * 1_000_000_000_000_000_000;

/// Gas limit of every embedded transaction.
const TX_GAS_LIMIT: u64 = 30_000_000;

/// An in-process EVM (revm, Prague rules) whose state lives in a file.
pub struct EmbeddedChain {
    db: CacheDB<EmptyDB>,
    block: BlockInfo,
    genesis_id: B256,
    path: Option<PathBuf>,
    /// Held while the chain is open for writing (released when dropped).
    lock: Option<std::fs::File>,
    read_only: bool,
    events: EventLog,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    chain_id: u64,
    genesis_id: B256,
    block_number: u64,
    timestamp: u64,
    /// Bytes of the event log that belong to this state (absent before the event log).
    #[serde(default)]
    events_len: u64,
    accounts: BTreeMap<Address, AccountFile>,
}

#[derive(Serialize, Deserialize)]
struct AccountFile {
    balance: U256,
    nonce: u64,
    #[serde(default, skip_serializing_if = "is_empty")]
    code: Bytes,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    storage: BTreeMap<U256, U256>,
}

const FORMAT: &str = "zkmeter-embedded-chain/2";

/// The state format of zkmeter before meter statement v2: its contracts cannot
/// settle v2 proofs.
const RETIRED_FORMATS: &[&str] = &["zkmeter-embedded-chain/1"];

impl EmbeddedChain {
    /// A fresh chain kept in memory only, its dev accounts funded.
    pub fn in_memory() -> Self {
        let mut db = CacheDB::new(EmptyDB::new());
        for account in DEV_ACCOUNTS {
            db.insert_account_info(account, AccountInfo { balance: U256::from(GENESIS_BALANCE_WEI), ..Default::default() });
        }
        let genesis_id = B256::from(rand_bytes());
        EmbeddedChain {
            db,
            block: BlockInfo { number: 0, timestamp: now() },
            genesis_id,
            path: None,
            lock: None,
            read_only: false,
            events: EventLog::in_memory(),
        }
    }

    /// Opens the chain kept in `dir` (its [`STATE_FILE`]) for writing, or starts a
    /// fresh one there (the directory is created) if it has none yet. Holds the
    /// chain's lock until dropped: a second process is refused with
    /// [`ChainError::Locked`].
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| ChainError::io(dir, e))?;
        let lock = lock(dir)?;
        let path = dir.join(STATE_FILE);
        let mut chain = match std::fs::read(&path) {
            Ok(bytes) => {
                let (mut chain, events_len) = Self::load(&path, &bytes)?;
                chain.events = EventLog::open(dir.join(EVENTS_FILE), events_len)?;
                chain
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut chain = Self::in_memory();
                chain.path = Some(path.clone());
                chain.events = EventLog::open(dir.join(EVENTS_FILE), 0)?;
                chain.save()?;
                chain
            }
            Err(e) => return Err(ChainError::io(&path, e)),
        };
        chain.path = Some(path);
        chain.lock = Some(lock);
        Ok(chain)
    }

    /// Reads a snapshot of the chain kept in `dir`, without its lock (a process
    /// may be writing it): calls and reads work, transactions are refused with
    /// [`ChainError::ReadOnly`]. Makes nothing: no chain there is [`ChainError::NoChain`].
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        let path = dir.join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ChainError::NoChain { path: dir.to_owned() }),
            Err(e) => return Err(ChainError::io(&path, e)),
        };
        let (mut chain, events_len) = Self::load(&path, &bytes)?;
        chain.events = EventLog::read_only(dir.join(EVENTS_FILE), events_len);
        chain.path = Some(path);
        chain.read_only = true;
        Ok(chain)
    }

    /// Where the state is kept, if anywhere.
    pub fn state_file(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn load(path: &Path, bytes: &[u8]) -> Result<(Self, u64)> {
        let bad = |reason: String| ChainError::BadFile { path: path.to_owned(), what: "embedded chain state", reason };
        if let Some(format) = serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_owned))
            .filter(|f| RETIRED_FORMATS.contains(&f.as_str()))
        {
            return Err(ChainError::OtherChain(format!(
                "{} is an embedded chain of an earlier zkmeter ({format}, meter statement v1): its contracts cannot \
                 settle today's proofs. Use a new data directory (--data-dir); keep the old one for its records",
                path.display()
            )));
        }
        let file: StateFile = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if file.format != FORMAT {
            return Err(bad(format!("format {:?}, expected {FORMAT:?}", file.format)));
        }
        if file.chain_id != EMBEDDED_CHAIN_ID {
            return Err(bad(format!("chain id {}, expected {EMBEDDED_CHAIN_ID}", file.chain_id)));
        }
        let mut db = CacheDB::new(EmptyDB::new());
        for (address, account) in file.accounts {
            let info = if account.code.is_empty() {
                AccountInfo { balance: account.balance, nonce: account.nonce, ..Default::default() }
            } else {
                let code = Bytecode::new_raw(account.code);
                AccountInfo {
                    balance: account.balance,
                    nonce: account.nonce,
                    code_hash: code.hash_slow(),
                    code: Some(code),
                    ..Default::default()
                }
            };
            db.insert_account_info(address, info);
            let storage = account.storage.into_iter().collect();
            db.replace_account_storage(address, storage).expect("EmptyDB never fails");
        }
        let block = BlockInfo { number: file.block_number, timestamp: file.timestamp };
        let chain = EmbeddedChain {
            db,
            block,
            genesis_id: file.genesis_id,
            path: None,
            lock: None,
            read_only: false,
            events: EventLog::in_memory(),
        };
        Ok((chain, file.events_len))
    }

    /// Writes the state file durably (temporary file, synced, renamed, directory
    /// synced). Done after every transaction; a no-op for an in-memory chain.
    pub fn save(&self) -> Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let accounts = self
            .db
            .cache
            .accounts
            .iter()
            .filter(|(_, a)| a.info.nonce != 0 || !a.info.balance.is_zero() || a.info.code_hash != KECCAK_EMPTY || !a.storage.is_empty())
            .map(|(address, a)| {
                let code = match (&a.info.code, a.info.code_hash) {
                    (_, h) if h == KECCAK_EMPTY => Bytes::new(),
                    (Some(code), _) => code.original_bytes(),
                    (None, h) => self.db.cache.contracts.get(&h).map(|c| c.original_bytes()).unwrap_or_default(),
                };
                let storage = a.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (*k, *v)).collect();
                (*address, AccountFile { balance: a.info.balance, nonce: a.info.nonce, code, storage })
            })
            .collect();
        let file = StateFile {
            format: FORMAT.into(),
            chain_id: EMBEDDED_CHAIN_ID,
            genesis_id: self.genesis_id,
            block_number: self.block.number,
            timestamp: self.block.timestamp,
            events_len: self.events.committed(),
            accounts,
        };
        let json = serde_json::to_vec_pretty(&file).expect("the state serializes");
        crate::durable::write(path, &json)
    }

    fn nonce(&self, account: Address) -> u64 {
        self.db.cache.accounts.get(&account).map_or(0, |a| a.info.nonce)
    }

    /// Runs `tx` in a block after the latest one; commits if `commit`.
    fn run(&mut self, tx: TxEnv, block: BlockInfo, commit: bool) -> Result<ExecutionResult> {
        let db = std::mem::replace(&mut self.db, CacheDB::new(EmptyDB::new()));
        let mut evm = Context::mainnet()
            .with_db(db)
            .modify_cfg_chained(|cfg| {
                cfg.chain_id = EMBEDDED_CHAIN_ID;
                cfg.spec = SpecId::PRAGUE;
            })
            .modify_block_chained(|b| {
                b.number = U256::from(block.number);
                b.timestamp = U256::from(block.timestamp);
                b.gas_limit = TX_GAS_LIMIT;
                b.basefee = 0;
                b.beneficiary = Address::ZERO;
                b.prevrandao = Some(B256::ZERO);
            })
            .build_mainnet();
        let result = if commit { evm.transact_commit(tx) } else { evm.transact(tx).map(|r| r.result) };
        self.db = evm.ctx.journaled_state.database;
        result.map_err(|e| ChainError::Evm(format!("{e:?}")))
    }

    fn tx(&self, from: Address, to: Option<Address>, data: Bytes) -> TxEnv {
        TxEnv {
            caller: from,
            gas_limit: TX_GAS_LIMIT,
            gas_price: 0,
            kind: to.map_or(TxKind::Create, TxKind::Call),
            value: U256::ZERO,
            data,
            nonce: self.nonce(from),
            chain_id: Some(EMBEDDED_CHAIN_ID),
            ..Default::default()
        }
    }
}

impl Chain for EmbeddedChain {
    fn chain_id(&self) -> u64 {
        EMBEDDED_CHAIN_ID
    }

    fn accounts(&self) -> Vec<Address> {
        DEV_ACCOUNTS.to_vec()
    }

    fn transact(&mut self, what: &str, from: Address, to: Option<Address>, data: Bytes) -> Result<Receipt> {
        if self.read_only {
            let path = self.path.as_deref().and_then(Path::parent).unwrap_or(Path::new("")).to_owned();
            return Err(ChainError::ReadOnly { what: what.to_owned(), path });
        }
        // Several blocks may share a second (as on a fast L2): a clock that moved one
        // second per block would run ahead of real time, and the settlement contract
        // bounds every bill by the chain's clock.
        let block = BlockInfo { number: self.block.number + 1, timestamp: now().max(self.block.timestamp) };
        let nonce = self.nonce(from);
        let tx_hash = keccak256([from.as_slice(), &nonce.to_be_bytes()[..], &block.number.to_be_bytes()[..], &data[..]].concat());
        let tx = self.tx(from, to, data);
        let result = self.run(tx, block, true)?;
        // A reverted transaction is still included (and pays for its gas), as on any chain.
        self.block = block;
        if let ExecutionResult::Success { logs, .. } = &result {
            let emitted = logs.iter().enumerate().map(|(i, log)| ChainLog {
                block_number: block.number,
                block_timestamp: block.timestamp,
                tx_hash,
                log_index: i as u64,
                log: log.clone(),
            });
            self.events.append(emitted.collect())?;
        }
        self.save()?;
        let gas_used = result.tx_gas_used();
        match result {
            ExecutionResult::Success { logs, output, .. } => Ok(Receipt {
                tx_hash,
                block_number: block.number,
                gas_used,
                logs,
                contract_address: match output {
                    Output::Create(_, address) => address,
                    Output::Call(_) => None,
                },
            }),
            ExecutionResult::Revert { output, .. } => Err(ChainError::reverted(what, output, Some(gas_used))),
            ExecutionResult::Halt { reason, .. } => Err(ChainError::Reverted {
                what: what.to_owned(),
                reason: format!("halted: {reason:?}"),
                data: Bytes::new(),
                gas_used: Some(gas_used),
            }),
        }
    }

    fn call(&mut self, what: &str, to: Address, data: Bytes) -> Result<Bytes> {
        let block = BlockInfo { number: self.block.number, timestamp: self.block.timestamp };
        let tx = self.tx(Address::ZERO, Some(to), data);
        match self.run(tx, block, false)? {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => Err(ChainError::reverted(what, output, None)),
            ExecutionResult::Halt { reason, .. } => Err(ChainError::Reverted {
                what: what.to_owned(),
                reason: format!("halted: {reason:?}"),
                data: Bytes::new(),
                gas_used: None,
            }),
        }
    }

    fn block(&mut self) -> Result<BlockInfo> {
        Ok(self.block)
    }

    fn eth_balance(&mut self, account: Address) -> Result<U256> {
        Ok(self.db.cache.accounts.get(&account).map_or(U256::ZERO, |a| a.info.balance))
    }

    fn genesis_id(&mut self) -> Result<B256> {
        Ok(self.genesis_id)
    }

    fn logs(&mut self, filter: &LogFilter) -> Result<Vec<ChainLog>> {
        self.events.read(filter)
    }
}

/// Takes the exclusive lock of the chain in `dir`; a held lock is
/// [`ChainError::Locked`], naming the holder.
fn lock(dir: &Path) -> Result<std::fs::File> {
    match crate::durable::try_lock(&dir.join(LOCK_FILE))? {
        crate::durable::Lock::Held(file) => Ok(file),
        crate::durable::Lock::Busy { holder } => Err(ChainError::Locked { path: dir.to_owned(), holder }),
    }
}

/// 32 random bytes from the operating system.
fn rand_bytes() -> [u8; 32] {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn is_empty(code: &Bytes) -> bool {
    code.is_empty()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
