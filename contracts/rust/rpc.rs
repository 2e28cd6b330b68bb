//! A chain behind a JSON-RPC node (anvil, or any EVM node) through an alloy HTTP
//! provider, signing locally with the private keys it is given.
//!
//! The API is blocking, like the embedded chain's: [`RpcChain`] owns a small tokio
//! runtime and waits for each answer. (From async code, call it from
//! `tokio::task::spawn_blocking`.) Plain `http://` URLs only: TLS is not compiled in.

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::{RpcError, TransportErrorKind};
use std::path::Path;

use crate::chain::{BlockInfo, Chain, Receipt};
use crate::error::{ChainError, Result};
use crate::logs::{ChainLog, LogFilter};

/// How long to wait for a sent transaction to be included.
const RECEIPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Where a chain's node is and who signs: the URL, the keys, the chain id expected.
pub struct RpcChain {
    url: String,
    provider: DynProvider,
    runtime: tokio::runtime::Runtime,
    accounts: Vec<Address>,
    chain_id: u64,
}

impl RpcChain {
    /// Connects to the node at `url`, signing with `signers` (the first is the
    /// default account; none makes a read-only client). Fails if the node does
    /// not answer or, when `expected_chain_id` is given, if it is on another chain.
    pub fn connect(url: &str, signers: Vec<PrivateKeySigner>, expected_chain_id: Option<u64>) -> Result<Self> {
        let parsed: alloy::transports::http::reqwest::Url = url.parse().map_err(|_| ChainError::BadUrl { url: url.to_owned() })?;
        let accounts: Vec<Address> = signers.iter().map(|s| s.address()).collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ChainError::Rpc(format!("cannot start the async runtime: {e}")))?;
        let provider = {
            let _guard = runtime.enter();
            // Nonces are asked from the node for every transaction (not cached): a
            // transaction refused at gas estimation must not use up a nonce, or the
            // next one would wait forever behind the gap.
            let builder = ProviderBuilder::new()
                .disable_recommended_fillers()
                .with_gas_estimation()
                .with_simple_nonce_management()
                .fetch_chain_id();
            let mut signers = signers.into_iter();
            match signers.next() {
                Some(first) => {
                    let mut wallet = EthereumWallet::new(first);
                    for signer in signers {
                        wallet.register_signer(signer);
                    }
                    builder.wallet(wallet).connect_http(parsed).erased()
                }
                None => builder.connect_http(parsed).erased(),
            }
        };
        let mut chain = RpcChain { url: url.to_owned(), provider, runtime, accounts, chain_id: 0 };
        let actual = chain.block_on(|p| async move { p.get_chain_id().await })?;
        if let Some(expected) = expected_chain_id
            && expected != actual
        {
            return Err(ChainError::WrongChain { url: url.to_owned(), expected, actual });
        }
        chain.chain_id = actual;
        Ok(chain)
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn block_on<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(DynProvider) -> Fut,
        Fut: Future<Output = std::result::Result<T, RpcError<TransportErrorKind>>>,
    {
        let provider = self.provider.clone();
        self.runtime.block_on(f(provider)).map_err(|e| self.rpc_error("request", e))
    }

    fn rpc_error(&self, what: &str, e: RpcError<TransportErrorKind>) -> ChainError {
        if let Some(payload) = e.as_error_resp() {
            if let Some(data) = payload.as_revert_data() {
                return ChainError::reverted(what, data, None);
            }
            if payload.message.contains("revert") {
                return ChainError::Reverted {
                    what: what.to_owned(),
                    reason: payload.message.to_string(),
                    data: Bytes::new(),
                    gas_used: None,
                };
            }
            return ChainError::Rpc(format!("{what}: {}", payload.message));
        }
        if e.is_transport_error() {
            return ChainError::Unreachable { url: self.url.clone(), reason: e.to_string() };
        }
        ChainError::Rpc(format!("{what}: {e}"))
    }
}

impl Chain for RpcChain {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn accounts(&self) -> Vec<Address> {
        self.accounts.clone()
    }

    fn transact(&mut self, what: &str, from: Address, to: Option<Address>, data: Bytes) -> Result<Receipt> {
        if !self.accounts.contains(&from) {
            return Err(ChainError::NoSigner(from));
        }
        let tx = TransactionRequest::default().with_from(from);
        let tx = match to {
            Some(to) => tx.with_to(to).with_input(data),
            None => tx.with_deploy_code(data),
        };
        let provider = self.provider.clone();
        let receipt = self.runtime.block_on(async move {
            let pending = provider.send_transaction(tx).await.map_err(Err)?;
            pending.with_timeout(Some(RECEIPT_TIMEOUT)).get_receipt().await.map_err(Ok)
        });
        let receipt = match receipt {
            Ok(r) => r,
            Err(Err(e)) => return Err(self.rpc_error(what, e)),
            Err(Ok(e)) => {
                return Err(ChainError::Rpc(format!(
                    "{what}: no receipt ({e}); the node accepted the transaction but did not include it \
                     within {} s: is it mining?",
                    RECEIPT_TIMEOUT.as_secs()
                )));
            }
        };
        if !receipt.status() {
            return Err(ChainError::Reverted {
                what: what.to_owned(),
                reason: format!("the transaction {} was included but reverted", receipt.transaction_hash),
                data: Bytes::new(),
                gas_used: Some(receipt.gas_used),
            });
        }
        Ok(Receipt {
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            logs: receipt.inner.logs().iter().map(|l| l.inner.clone()).collect(),
            contract_address: receipt.contract_address,
        })
    }

    fn call(&mut self, what: &str, to: Address, data: Bytes) -> Result<Bytes> {
        let tx = TransactionRequest::default().with_to(to).with_input(data);
        let provider = self.provider.clone();
        self.runtime.block_on(async move { provider.call(tx).await }).map_err(|e| self.rpc_error(what, e))
    }

    fn block(&mut self) -> Result<BlockInfo> {
        let block = self.block_on(|p| async move {
            p.get_block_by_number(alloy::eips::BlockNumberOrTag::Latest).await
        })?;
        let block = block.ok_or_else(|| ChainError::Rpc("the node has no latest block".into()))?;
        Ok(BlockInfo { number: block.header.number, timestamp: block.header.timestamp })
    }

    fn eth_balance(&mut self, account: Address) -> Result<U256> {
        self.block_on(|p| async move { p.get_balance(account).await })
    }

    fn genesis_id(&mut self) -> Result<B256> {
        let block = self.block_on(|p| async move {
            p.get_block_by_number(alloy::eips::BlockNumberOrTag::Number(0)).await
        })?;
        Ok(block.ok_or_else(|| ChainError::Rpc("the node has no block 0".into()))?.header.hash)
    }

    fn logs(&mut self, filter: &LogFilter) -> Result<Vec<ChainLog>> {
        let query = alloy::rpc::types::Filter::new()
            .address(filter.addresses.clone())
            .event_signature(filter.events.clone())
            .from_block(filter.from_block)
            .to_block(filter.to_block);
        let logs = self.block_on(|p| async move { p.get_logs(&query).await })?;
        // Nodes that leave out the block's time in a log (it is optional) are asked
        // once per block.
        let mut times = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            let (Some(block_number), Some(tx_hash)) = (log.block_number, log.transaction_hash) else {
                return Err(ChainError::Rpc("eth_getLogs returned a log without its block or transaction".into()));
            };
            let block_timestamp = match log.block_timestamp.or_else(|| times.get(&block_number).copied()) {
                Some(t) => t,
                None => {
                    let block = self.block_on(|p| async move { p.get_block_by_number(block_number.into()).await })?;
                    let t = block.ok_or_else(|| ChainError::Rpc(format!("the node has no block {block_number}")))?.header.timestamp;
                    times.insert(block_number, t);
                    t
                }
            };
            out.push(ChainLog { block_number, block_timestamp, tx_hash, log_index: log.log_index.unwrap_or_default(), log: log.inner });
        }
        Ok(out)
    }
}

/// Reads a private key: from `file` if given (hex, `0x` optional, surrounding
/// whitespace ignored), else from the environment variable `env_var`.
pub fn load_private_key(file: Option<&Path>, env_var: &str) -> Result<PrivateKeySigner> {
    let (text, source) = match file {
        Some(path) => (std::fs::read_to_string(path).map_err(|e| ChainError::io(path, e))?, path.display().to_string()),
        None => (
            std::env::var(env_var).map_err(|_| {
                ChainError::Key(format!("no key given: pass a key file or set {env_var} to a hex private key"))
            })?,
            format!("${env_var}"),
        ),
    };
    parse_private_key(text.trim()).map_err(|e| ChainError::Key(format!("{source}: {e}")))
}

/// Parses a hex private key (`0x` optional).
pub fn parse_private_key(hex_key: &str) -> std::result::Result<PrivateKeySigner, String> {
    hex_key
        .parse::<PrivateKeySigner>()
        .map_err(|e| format!("not a secp256k1 private key (64 hex digits): {e}"))
}
