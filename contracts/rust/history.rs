//! A deployment's usage history, read from the chain's events: every settled
//! epoch (`Settled`) and settled workload (`WorkSettled`), with the jobs'
//! openings, fundings and closings (`JobOpened`, `JobFunded`, `JobClosed`) to
//! tell whose jobs they were and what each job escrowed, paid and got back.
//!
//! Nodes bound what one `eth_getLogs` may cover (a block range, a number of
//! results), so the history is read in pages of at most `page_blocks` blocks;
//! a page the node refuses as too large is split in two until it is taken (or
//! is one block), and the smaller size is kept for the pages after it.

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolEvent;
use ark_bn254::Fr;
use std::collections::BTreeMap;

use crate::bindings::Settlement;
use crate::chain::Chain;
use crate::deploy::Deployment;
use crate::error::{ChainError, Result};
use crate::logs::{ChainLog, LogFilter};
use crate::settlement::{CLASSES, SettledEpoch, u256_to_fr};

/// Blocks per log query unless told otherwise: within what public nodes allow.
pub const DEFAULT_PAGE_BLOCKS: u64 = 5_000;

/// Which part of the history to read.
#[derive(Clone, Debug, Default)]
pub struct HistoryQuery {
    /// Only this job.
    pub job: Option<u64>,
    /// Only jobs of this provider.
    pub provider: Option<Address>,
    /// Only jobs of this consumer.
    pub consumer: Option<Address>,
    /// Only events in blocks at or after this time (Unix seconds).
    pub since: Option<u64>,
    /// The first block to read (0: the chain's first).
    pub from_block: u64,
    /// Blocks per log query (0: [`DEFAULT_PAGE_BLOCKS`]).
    pub page_blocks: u64,
}

/// Where and when an event happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// The block.
    pub block_number: u64,
    /// Its time, Unix seconds.
    pub block_timestamp: u64,
    /// The transaction.
    pub tx_hash: B256,
}

/// A settled epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochEntry {
    /// When it settled.
    pub at: At,
    /// What the `Settled` event says.
    pub epoch: SettledEpoch,
    /// The job's consumer (zero if its opening is outside the blocks read).
    pub consumer: Address,
}

impl EpochEntry {
    /// The protocol fee per class: burned less minted.
    pub fn fee(&self) -> [U256; CLASSES] {
        std::array::from_fn(|c| self.epoch.burned[c] - self.epoch.minted[c])
    }
}

/// A settled piece of work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkEntry {
    /// When it settled.
    pub at: At,
    /// The job.
    pub job_id: u64,
    /// The workload circuit.
    pub circuit_id: B256,
    /// The provider paid.
    pub provider: Address,
    /// The job's consumer (zero if its opening is outside the blocks read).
    pub consumer: Address,
    /// Model, input and output commitments.
    pub model: Fr,
    /// The input commitment.
    pub input: Fr,
    /// The output commitment.
    pub output: Fr,
    /// Multiply-accumulates billed.
    pub work_units: u64,
    /// Tokens burned from the escrow (in the work tariff's class at the time).
    pub burned: U256,
    /// Tokens minted to the provider.
    pub minted: U256,
}

/// One entry of the history, in chain order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A settled epoch.
    Epoch(Box<EpochEntry>),
    /// Settled work.
    Work(WorkEntry),
}

impl Entry {
    /// The job it bills.
    pub fn job_id(&self) -> u64 {
        match self {
            Entry::Epoch(e) => e.epoch.job_id,
            Entry::Work(w) => w.job_id,
        }
    }

    /// When it settled.
    pub fn at(&self) -> At {
        match self {
            Entry::Epoch(e) => e.at,
            Entry::Work(w) => w.at,
        }
    }
}

/// A job's account over the blocks read: what it escrowed, what its epochs and
/// work used and paid, and what went back to the consumer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobTotals {
    /// The job.
    pub job_id: u64,
    /// Its consumer (zero if its opening is outside the blocks read).
    pub consumer: Address,
    /// Its provider (zero if nothing shows it).
    pub provider: Address,
    /// Epochs settled.
    pub epochs: u64,
    /// Records those epochs covered.
    pub records: u64,
    /// Usage per class, in base units.
    pub usage: [u64; CLASSES],
    /// Pieces of work settled.
    pub works: u64,
    /// Multiply-accumulates of the work settled.
    pub work_units: u64,
    /// Burned for work, in the work tariff's class (which the event does not name).
    pub work_burned: U256,
    /// Minted to the provider for work.
    pub work_minted: U256,
    /// Escrowed at opening and by fundings, per class.
    pub escrowed: [U256; CLASSES],
    /// Burned from the escrow by settlements, per class.
    pub burned: [U256; CLASSES],
    /// Minted to the provider, per class.
    pub minted: [U256; CLASSES],
    /// Given back to the consumer at closing, per class (zero while open).
    pub refunded: [U256; CLASSES],
    /// Whether the blocks read hold its closing.
    pub closed: bool,
}

impl JobTotals {
    /// The protocol fee per class: burned less minted.
    pub fn fee(&self) -> [U256; CLASSES] {
        std::array::from_fn(|c| self.burned[c] - self.minted[c])
    }
}

/// The history read: entries in chain order and each job's totals, by job id.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The settled epochs and work.
    pub entries: Vec<Entry>,
    /// The jobs the entries (or the query) concern.
    pub jobs: BTreeMap<u64, JobTotals>,
    /// The blocks read.
    pub blocks: (u64, u64),
    /// Log queries made (pages, with the split ones).
    pub queries: u64,
}

/// The events the history reads, by signature hash.
fn history_events() -> Vec<B256> {
    vec![
        Settlement::Settled::SIGNATURE_HASH,
        Settlement::WorkSettled::SIGNATURE_HASH,
        Settlement::JobOpened::SIGNATURE_HASH,
        Settlement::JobFunded::SIGNATURE_HASH,
        Settlement::JobClosed::SIGNATURE_HASH,
    ]
}

/// Whether a node's refusal says the query asked for too much (a range or
/// result limit), so that a smaller page would be answered.
fn asks_too_much(e: &ChainError) -> bool {
    let ChainError::Rpc(message) = e else { return false };
    let m = message.to_lowercase();
    ["range", "too many", "limit", "exceed", "too large", "max results", "query returned more than", "response size"]
        .iter()
        .any(|k| m.contains(k))
}

/// Reads the logs `filter` names from `from..=to` in pages of at most `page`
/// blocks, halving a page the node refuses as too large. Returns the logs and
/// the number of queries made.
pub fn read_logs_paged(chain: &mut dyn Chain, filter: &LogFilter, page: u64) -> Result<(Vec<ChainLog>, u64)> {
    let mut page = page.max(1);
    let mut start = filter.from_block;
    let (mut out, mut queries) = (Vec::new(), 0);
    while start <= filter.to_block {
        let end = start.saturating_add(page - 1).min(filter.to_block);
        queries += 1;
        match chain.logs(&LogFilter { from_block: start, to_block: end, ..filter.clone() }) {
            Ok(logs) => {
                out.extend(logs);
                if end == u64::MAX {
                    break;
                }
                start = end + 1;
            }
            Err(e) if asks_too_much(&e) && end > start => page = (end - start).div_ceil(2).max(1),
            Err(e) => return Err(e),
        }
    }
    Ok((out, queries))
}

fn at(log: &ChainLog) -> At {
    At { block_number: log.block_number, block_timestamp: log.block_timestamp, tx_hash: log.tx_hash }
}

fn decode<E: SolEvent>(log: &ChainLog) -> Result<E> {
    E::decode_log(&log.log).map(|d| d.data).map_err(|e| ChainError::Decode {
        what: format!("the {} event in block {}", std::any::type_name::<E>().rsplit("::").next().unwrap_or("?"), log.block_number),
        reason: e.to_string(),
    })
}

impl Deployment {
    /// Reads the history `query` asks for, up to the latest block.
    pub fn history(&self, chain: &mut dyn Chain, query: &HistoryQuery) -> Result<History> {
        let latest = chain.block()?.number;
        let filter = LogFilter {
            addresses: vec![self.settlement],
            events: history_events(),
            from_block: query.from_block,
            to_block: latest,
        };
        let page = if query.page_blocks == 0 { DEFAULT_PAGE_BLOCKS } else { query.page_blocks };
        let (logs, queries) = read_logs_paged(chain, &filter, page)?;
        let mut history = History { blocks: (query.from_block, latest), queries, ..History::default() };
        for log in &logs {
            self.take(&mut history, log)?;
        }
        // The filters apply once every job's consumer and provider are known.
        let wanted = |t: &JobTotals| {
            query.job.is_none_or(|j| t.job_id == j)
                && query.provider.is_none_or(|p| t.provider == p)
                && query.consumer.is_none_or(|c| t.consumer == c)
        };
        history.jobs.retain(|_, t| wanted(t));
        let jobs = &history.jobs;
        history.entries.retain(|e| {
            jobs.contains_key(&e.job_id()) && query.since.is_none_or(|since| e.at().block_timestamp >= since)
        });
        for entry in &mut history.entries {
            let consumer = jobs[&entry.job_id()].consumer;
            match entry {
                Entry::Epoch(e) => e.consumer = consumer,
                Entry::Work(w) => w.consumer = consumer,
            }
        }
        Ok(history)
    }

    fn take(&self, history: &mut History, log: &ChainLog) -> Result<()> {
        fn job(history: &mut History, id: u64) -> &mut JobTotals {
            history.jobs.entry(id).or_insert_with(|| JobTotals { job_id: id, ..JobTotals::default() })
        }
        let topic = log.log.topics().first().copied().unwrap_or_default();
        if topic == Settlement::Settled::SIGNATURE_HASH {
            let epoch = SettledEpoch::from_event(&decode::<Settlement::Settled>(log)?)?;
            let t = job(history, epoch.job_id);
            t.provider = epoch.provider;
            t.epochs += 1;
            t.records += epoch.state.seq - epoch.prev_seq;
            for c in 0..CLASSES {
                t.usage[c] += epoch.totals.0[c];
                t.burned[c] += epoch.burned[c];
                t.minted[c] += epoch.minted[c];
            }
            history.entries.push(Entry::Epoch(Box::new(EpochEntry { at: at(log), epoch, consumer: Address::ZERO })));
        } else if topic == Settlement::WorkSettled::SIGNATURE_HASH {
            let e = decode::<Settlement::WorkSettled>(log)?;
            // The event does not name the class the work was paid in (the work
            // tariff's at the time), so work payments keep totals of their own.
            let t = job(history, e.jobId);
            t.provider = e.provider;
            t.works += 1;
            t.work_units += e.workUnits;
            t.work_burned += e.burned;
            t.work_minted += e.minted;
            history.entries.push(Entry::Work(WorkEntry {
                at: at(log),
                job_id: e.jobId,
                circuit_id: e.circuitId,
                provider: e.provider,
                consumer: Address::ZERO,
                model: u256_to_fr(e.model)?,
                input: u256_to_fr(e.input)?,
                output: u256_to_fr(e.output)?,
                work_units: e.workUnits,
                burned: e.burned,
                minted: e.minted,
            }));
        } else if topic == Settlement::JobOpened::SIGNATURE_HASH {
            let e = decode::<Settlement::JobOpened>(log)?;
            let t = job(history, e.jobId);
            (t.consumer, t.provider) = (e.consumer, e.provider);
            for c in 0..CLASSES {
                t.escrowed[c] += U256::from(e.escrow[c]);
            }
        } else if topic == Settlement::JobFunded::SIGNATURE_HASH {
            let e = decode::<Settlement::JobFunded>(log)?;
            let t = job(history, e.jobId);
            for c in 0..CLASSES {
                t.escrowed[c] += U256::from(e.amounts[c]);
            }
        } else if topic == Settlement::JobClosed::SIGNATURE_HASH {
            let e = decode::<Settlement::JobClosed>(log)?;
            let t = job(history, e.jobId);
            t.closed = true;
            for c in 0..CLASSES {
                t.refunded[c] += U256::from(e.refund[c]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{BlockInfo, Receipt};
    use alloy::primitives::{Bytes, Log};

    /// A node holding `events` JobFunded logs, one per block, that refuses any
    /// query spanning more than `limit` blocks, as public nodes do.
    struct LimitedNode {
        logs: Vec<ChainLog>,
        limit: u64,
        queries: u64,
    }

    impl LimitedNode {
        fn new(settlement: Address, events: u64, limit: u64) -> Self {
            let logs = (1..=events)
                .map(|i| {
                    let e = Settlement::JobFunded { jobId: 1 + i % 3, funder: Address::ZERO, amounts: [i as u128, 0, 0, 0, 0] };
                    ChainLog {
                        block_number: i,
                        block_timestamp: 1_000 + i,
                        tx_hash: B256::from(U256::from(i)),
                        log_index: 0,
                        log: Log { address: settlement, data: e.encode_log_data() },
                    }
                })
                .collect();
            LimitedNode { logs, limit, queries: 0 }
        }
    }

    impl Chain for LimitedNode {
        fn chain_id(&self) -> u64 {
            1
        }
        fn accounts(&self) -> Vec<Address> {
            Vec::new()
        }
        fn transact(&mut self, _: &str, _: Address, _: Option<Address>, _: Bytes) -> Result<Receipt> {
            unreachable!("the history only reads")
        }
        fn call(&mut self, _: &str, _: Address, _: Bytes) -> Result<Bytes> {
            unreachable!("the history makes no calls")
        }
        fn block(&mut self) -> Result<BlockInfo> {
            Ok(BlockInfo { number: self.logs.len() as u64 + 10, timestamp: 0 })
        }
        fn eth_balance(&mut self, _: Address) -> Result<U256> {
            Ok(U256::ZERO)
        }
        fn genesis_id(&mut self) -> Result<B256> {
            Ok(B256::ZERO)
        }
        fn logs(&mut self, filter: &LogFilter) -> Result<Vec<ChainLog>> {
            self.queries += 1;
            if filter.to_block - filter.from_block + 1 > self.limit {
                return Err(ChainError::Rpc("request: query exceeds max block range 1000".into()));
            }
            Ok(self.logs.iter().filter(|l| filter.matches(l.block_number, &l.log)).cloned().collect())
        }
    }

    fn deployment(settlement: Address) -> Deployment {
        Deployment {
            chain_id: 1,
            genesis_id: B256::ZERO,
            deployer: Address::ZERO,
            token: Address::repeat_byte(2),
            settlement,
            circuits: Vec::new(),
            work_circuits: Vec::new(),
            block_number: 0,
            gas: Vec::new(),
        }
    }

    #[test]
    fn thousands_of_events_are_read_in_pages_a_limited_node_accepts() {
        let settlement = Address::repeat_byte(1);
        let mut node = LimitedNode::new(settlement, 4_000, 1_000);
        let query = HistoryQuery { page_blocks: 3_000, ..HistoryQuery::default() };
        let history = deployment(settlement).history(&mut node, &query).unwrap();
        // Every event is read once: the fundings of each job add up.
        let funded: u128 = history.jobs.values().map(|t| t.escrowed[0].to::<u128>()).sum();
        assert_eq!(funded, (1..=4_000u128).sum());
        assert_eq!(history.jobs.len(), 3);
        // Blocks 0..=4 010: the 3 000-block page is refused, so is its 1 500-block
        // half; 750 blocks pass, and the rest goes at that size (6 pages in all).
        assert_eq!(history.queries, node.queries);
        assert_eq!(node.queries, 8);

        let one = HistoryQuery { job: Some(2), ..query };
        let history = deployment(settlement).history(&mut node, &one).unwrap();
        assert_eq!(history.jobs.keys().copied().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn other_refusals_are_not_retried() {
        let settlement = Address::repeat_byte(1);
        struct Down;
        impl Chain for Down {
            fn chain_id(&self) -> u64 {
                1
            }
            fn accounts(&self) -> Vec<Address> {
                Vec::new()
            }
            fn transact(&mut self, _: &str, _: Address, _: Option<Address>, _: Bytes) -> Result<Receipt> {
                unreachable!()
            }
            fn call(&mut self, _: &str, _: Address, _: Bytes) -> Result<Bytes> {
                unreachable!()
            }
            fn block(&mut self) -> Result<BlockInfo> {
                Ok(BlockInfo { number: 100, timestamp: 0 })
            }
            fn eth_balance(&mut self, _: Address) -> Result<U256> {
                Ok(U256::ZERO)
            }
            fn genesis_id(&mut self) -> Result<B256> {
                Ok(B256::ZERO)
            }
            fn logs(&mut self, _: &LogFilter) -> Result<Vec<ChainLog>> {
                Err(ChainError::Unreachable { url: "http://127.0.0.1:1".into(), reason: "connection refused".into() })
            }
        }
        let err = deployment(settlement).history(&mut Down, &HistoryQuery::default()).unwrap_err();
        assert!(matches!(err, ChainError::Unreachable { .. }), "{err}");
    }
}
