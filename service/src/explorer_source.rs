//! The explorer's data ([`zkmeter_explorer::Source`]) as this service knows it:
//! jobs, balances and settlement events from the chain, epochs and their proofs
//! from the receipt store, throughput from the metrics.
//!
//! Read-only: it calls contract views and reads logs, never transacts, and
//! reads the store without changing it. Every list it builds is bounded, so a
//! long-lived chain costs each page a fixed amount of work.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zkmeter_circuits::snarkjs;
use zkmeter_contracts::{Address, B256, CLASSES, Chain, Deployment, Entry, EpochEntry, HistoryQuery, Job, U256};
use zkmeter_explorer::model::{Account, Epoch, EpochProof, JobPage, JobSummary, Point, ServiceStats};
use zkmeter_explorer::{Page, Source, SourceError};
use zkmeter_store::{Receipt, ReceiptFilter, Status, Store};

use crate::chain_worker::ChainWorker;
use crate::convert::receipt_statement;
use crate::metrics::Metrics;
use crate::submission::Circuits;

/// Epochs a job page lists: the newest this many.
pub const MAX_JOB_EPOCHS: u32 = 500;

/// Jobs an account page looks through for the account's own: the newest this many.
pub const MAX_ACCOUNT_JOBS: u64 = 1_000;

/// How far back the verified-per-second figure looks.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Settled epochs the explorer keeps from the chain's events: the newest this many.
pub const MAX_HISTORY: usize = 100_000;

/// The chain is asked for new events at most this often.
const HISTORY_REFRESH: Duration = Duration::from_secs(1);

/// The settled epochs read from the chain's `Settled` events, extended with each
/// newer block rather than read again from the start.
#[derive(Default)]
struct SettledHistory {
    /// Oldest first, at most [`MAX_HISTORY`].
    epochs: VecDeque<EpochEntry>,
    /// Each job's consumer, from its `JobOpened` event.
    consumers: HashMap<u64, Address>,
    /// The first block not read yet.
    next_block: u64,
    /// When the chain was last asked.
    read_at: Option<Instant>,
}

impl SettledHistory {
    /// Adds what the chain emitted since the last read.
    fn extend(&mut self, chain: &mut dyn Chain, d: &Deployment) -> zkmeter_contracts::error::Result<()> {
        if self.read_at.is_some_and(|at| at.elapsed() < HISTORY_REFRESH) {
            return Ok(());
        }
        let read = d.history(chain, &HistoryQuery { from_block: self.next_block, ..HistoryQuery::default() })?;
        self.read_at = Some(Instant::now());
        self.next_block = read.blocks.1 + 1;
        for (id, totals) in &read.jobs {
            if totals.consumer != Address::ZERO {
                self.consumers.insert(*id, totals.consumer);
            }
        }
        for entry in read.entries {
            if let Entry::Epoch(mut e) = entry {
                if e.consumer == Address::ZERO {
                    e.consumer = self.consumers.get(&e.epoch.job_id).copied().unwrap_or_default();
                }
                self.epochs.push_back(*e);
            }
        }
        while self.epochs.len() > MAX_HISTORY {
            self.epochs.pop_front();
        }
        Ok(())
    }
}

/// The service's chain, store, circuits and metrics, read for the explorer.
pub struct ExplorerSource {
    chain: ChainWorker,
    store: Store,
    circuits: Circuits,
    metrics: Arc<Metrics>,
    /// (when, verified submissions so far), oldest first, over [`RATE_WINDOW`].
    verified: Mutex<VecDeque<(Instant, u64)>>,
    /// The settled epochs as the chain's events tell them.
    history: Arc<Mutex<SettledHistory>>,
}

impl ExplorerSource {
    /// A source over the running service's parts.
    pub fn new(chain: ChainWorker, store: Store, circuits: Circuits, metrics: Arc<Metrics>) -> Self {
        ExplorerSource { chain, store, circuits, metrics, verified: Mutex::default(), history: Arc::default() }
    }

    /// Runs `f` over the settled epochs, read up to the chain's latest block first.
    async fn with_history<T, F>(&self, f: F) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: FnOnce(&SettledHistory) -> T + Send + 'static,
    {
        let history = self.history.clone();
        self.on_chain(move |chain, d| {
            let mut history = history.lock().unwrap_or_else(|e| e.into_inner());
            history.extend(chain, d)?;
            Ok(f(&history))
        })
        .await
    }

    /// Runs `f` on the chain thread, turning a chain that cannot answer into a [`SourceError`].
    async fn on_chain<T, F>(&self, f: F) -> Result<T, SourceError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Chain, &Deployment) -> zkmeter_contracts::error::Result<T>
            + Send
            + 'static,
    {
        self.chain
            .run(f)
            .await
            .map_err(|e| SourceError(e.to_string()))?
            .map_err(|e| SourceError(format!("the chain: {e}")))
    }

    /// The job's receipts, newest [`MAX_JOB_EPOCHS`], oldest first.
    async fn epochs(&self, job_id: u64) -> Result<Vec<Receipt>, SourceError> {
        let filter = ReceiptFilter { job_id: Some(job_id), newest_first: true, limit: MAX_JOB_EPOCHS, ..ReceiptFilter::default() };
        let mut receipts = self.store.list(&filter).await.map_err(store_error)?;
        receipts.retain(|r| r.chain_id == self.chain.chain_id());
        receipts.reverse();
        Ok(receipts)
    }

    /// Verified submissions per second over the last [`RATE_WINDOW`] of calls.
    fn verified_rate(&self, verified: u64) -> f64 {
        let now = Instant::now();
        let mut samples = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        samples.push_back((now, verified));
        while samples.len() > 2 && samples.front().is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW) {
            samples.pop_front();
        }
        match (samples.front(), samples.back()) {
            (Some((t0, n0)), Some((t1, n1))) if t1 > t0 => (n1 - n0) as f64 / t1.duration_since(*t0).as_secs_f64(),
            _ => 0.0,
        }
    }
}

/// Running totals of `amount` over `epochs`, a point per settlement.
fn cumulative<'a>(epochs: impl Iterator<Item = &'a EpochEntry>, amount: impl Fn(&EpochEntry) -> [U256; CLASSES]) -> Vec<Point> {
    let mut sum = [U256::ZERO; CLASSES];
    epochs
        .map(|e| {
            for (total, x) in sum.iter_mut().zip(amount(e)) {
                *total += x;
            }
            Point { time_ms: e.at.block_timestamp.saturating_mul(1000), amounts: sum.map(|x| x.to_string()) }
        })
        .collect()
}

fn store_error(e: zkmeter_store::StoreError) -> SourceError {
    SourceError(format!("the receipt store: {e}"))
}

fn hex_address(a: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(a))
}

fn summary(id: u64, job: &Job) -> JobSummary {
    JobSummary {
        id,
        consumer: job.consumer.to_string(),
        provider: job.provider.to_string(),
        meter: job.meter.to_string(),
        open: job.open,
        expires_at: job.expires_at,
        capacity: job.capacity.0,
        escrow: job.escrow.map(|e| e.to_string()),
        settled_seq: job.state.seq,
        settled_end_ms: job.state.end_ms,
    }
}

fn epoch(r: &Receipt) -> Epoch {
    Epoch {
        job_id: r.job_id,
        prev_seq: r.prev.seq,
        seq: r.next.seq,
        start_ms: r.prev.end_ms,
        end_ms: r.next.end_ms,
        totals: r.totals,
        status: r.status.as_str().to_owned(),
        reason: r.reason.clone(),
        tx_hash: r.tx_hash.map(hex_address),
        gas: r.gas_used,
        burned: None,
        minted: None,
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<serde_json::Value, SourceError> {
    serde_json::to_value(value).map_err(|e| SourceError(format!("cannot write a key or proof as JSON: {e}")))
}

/// A job that was never opened reads as all zero.
fn exists(job: &Job) -> bool {
    job.consumer != Address::ZERO
}

impl Source for ExplorerSource {
    async fn jobs(&self, page: Page) -> Result<(Vec<JobSummary>, u64), SourceError> {
        self.on_chain(move |chain, d| {
            let count = d.job_count(chain)?;
            // Newest first: ids count, count − 1, …
            let skip = page.page.saturating_mul(page.size);
            let ids = (1..=count.saturating_sub(skip)).rev().take(page.size as usize);
            let jobs = ids.map(|id| Ok(summary(id, &d.job(chain, id)?))).collect::<zkmeter_contracts::error::Result<_>>()?;
            Ok((jobs, count))
        })
        .await
    }

    async fn job(&self, id: u64) -> Result<Option<JobPage>, SourceError> {
        let job = self.on_chain(move |chain, d| d.job(chain, id)).await?;
        if !exists(&job) {
            return Ok(None);
        }
        let paid = self
            .with_history(move |h| {
                let of_job = h.epochs.iter().filter(|e| e.epoch.job_id == id);
                of_job.map(|e| (e.epoch.state.seq, (e.epoch.burned, e.epoch.minted))).collect::<HashMap<_, _>>()
            })
            .await?;
        let epochs = self
            .epochs(id)
            .await?
            .iter()
            .map(|r| {
                let mut e = epoch(r);
                // Billed amounts come from the chain's event, once the epoch settled.
                if r.status == Status::Settled
                    && let Some((burned, minted)) = paid.get(&r.next.seq)
                {
                    e.burned = Some(burned.map(|x| x.to_string()));
                    e.minted = Some(minted.map(|x| x.to_string()));
                }
                e
            })
            .collect();
        Ok(Some(JobPage { job: summary(id, &job), epochs }))
    }

    async fn epoch(&self, job_id: u64, seq: u64) -> Result<Option<EpochProof>, SourceError> {
        let filter = ReceiptFilter { job_id: Some(job_id), next_seq: Some(seq), limit: 16, ..ReceiptFilter::default() };
        let receipts = self.store.list(&filter).await.map_err(store_error)?;
        // A statement rejected once may have been proven again since: show the live one.
        let chain_id = self.chain.chain_id();
        let Some(r) = receipts
            .iter()
            .filter(|r| r.chain_id == chain_id)
            .max_by_key(|r| (r.status != Status::Rejected, r.created_at_ms))
            .cloned()
        else {
            return Ok(None);
        };
        let Some(circuit) = self.circuits.get(&B256::from(r.circuit_id)) else {
            return Err(SourceError(format!(
                "epoch {job_id}/{seq} was proven for circuit 0x{} whose key this service no longer loads",
                hex::encode(r.circuit_id)
            )));
        };
        let job = self.on_chain(move |chain, d| d.job(chain, job_id)).await?;
        let statement = receipt_statement(&r, job.capacity)
            .map_err(|e| SourceError(format!("receipt 0x{} is damaged: {e}", hex::encode(r.id))))?;
        let proof = zkmeter_verifier::decode_proof(&r.proof)
            .map_err(|e| SourceError(format!("receipt 0x{} holds an unreadable proof: {e}", hex::encode(r.id))))?;
        Ok(Some(EpochProof {
            epoch: epoch(&r),
            circuit: circuit.header.describe(),
            prev_head: statement.prev.head.to_string(),
            new_head: statement.new.head.to_string(),
            record_count: r.record_count,
            capacity: job.capacity.0,
            verification_key: to_json(&snarkjs::verification_key_json(circuit.verifier.verifying_key()))?,
            proof: to_json(&snarkjs::proof_json(&proof))?,
            public_inputs: statement.public_inputs().iter().map(|x| x.to_string()).collect(),
        }))
    }

    async fn account(&self, address: [u8; 20]) -> Result<Account, SourceError> {
        let who = Address::from(address);
        let (balances, jobs) = self
            .on_chain(move |chain, d| {
                let balances = d.balances(chain, who)?;
                let count = d.job_count(chain)?;
                let mut jobs = Vec::new();
                for id in (count.saturating_sub(MAX_ACCOUNT_JOBS) + 1..=count).rev() {
                    let job = d.job(chain, id)?;
                    if job.consumer == who || job.provider == who {
                        jobs.push(id);
                    }
                }
                Ok((balances, jobs))
            })
            .await?;
        let (earned, spent) = self
            .with_history(move |h| {
                let earned = cumulative(h.epochs.iter().filter(|e| e.epoch.provider == who), |e| e.epoch.minted);
                let spent = cumulative(h.epochs.iter().filter(|e| e.consumer == who), |e| e.epoch.burned);
                (earned, spent)
            })
            .await?;
        Ok(Account { address: hex_address(address), balances: balances.map(|b: U256| b.to_string()), earned, spent, jobs })
    }

    async fn service(&self) -> Result<ServiceStats, SourceError> {
        let submissions = self.metrics.submission_counts();
        let verified = submissions.iter().find(|(o, _)| *o == "verified").map_or(0, |(_, n)| *n);
        let (batches, proofs) = self.metrics.batch_totals();
        let counts = self.store.count_by_status(self.chain.chain_id()).await.map_err(store_error)?;
        let count = |wanted: &[Status]| counts.iter().filter(|(s, _)| wanted.contains(s)).map(|(_, n)| n).sum();
        Ok(ServiceStats {
            submissions: submissions.into_iter().map(|(o, n)| (o.to_owned(), n)).collect(),
            verified_per_second: self.verified_rate(verified),
            batches,
            mean_batch: if batches == 0 { 0.0 } else { proofs as f64 / batches as f64 },
            pending_settlements: count(&[Status::Verified, Status::Submitted]),
            settled: count(&[Status::Settled]),
        })
    }
}

const _: () = assert!(CLASSES == zkmeter_explorer::model::CLASSES.len(), "the explorer's per-class arrays hold every class");
