//! Settlement: verified receipts go to the chain in the order they were
//! accepted (meter receipts, then workload receipts, each oldest first). The
//! store says what is pending, so a restart resumes where the last run stopped.
//!
//! When several meter receipts of one circuit are pending, across jobs or in
//! one job, they go in one `settleBatch` transaction (up to [`MAX_BATCH`]): one
//! batched proof check for all of them, the way a settler keeps up with many
//! streams. The contract skips an epoch whose job has moved past it, and any
//! other fault reverts the whole batch; then each of its epochs is sent on its
//! own, so a bad or stale epoch costs the others one attempt, nothing more.
//!
//! At most one settlement per statement: the contract refuses a statement that
//! does not continue the stored stream state (`StaleState`). When a retry hits
//! that refusal and the chain's state is the receipt's new state, an earlier
//! attempt went through (the process died before it recorded so): the receipt
//! is marked settled, not sent again; when the chain is still before the
//! receipt's previous state, an earlier epoch of the job has not settled yet and
//! the receipt is retried after it. A node that does not answer leaves the
//! receipt pending and is retried with exponential backoff; a revert for any
//! other reason rejects the receipt with the contract's reason.
//!
//! Workload receipts likewise settle at most once: the contract refuses a second
//! settlement of the same work (`WorkAlreadySettled`). A retry that meets that
//! refusal after a crash between sending and recording reads the work's status
//! and, when the chain says it is settled, marks the receipt settled.
//!
//! Replicas sharing one store claim receipts before settling them
//! ([`Store::claim_settlement`], a lease renewed on every pass), so each
//! settlement is sent by one replica; a dead replica's claims run out and are
//! taken over, and a replica restarted under the same name
//! ([`crate::config::Config::replica_name`]) resumes its own at once. (Two live
//! replicas wrongly given one name could both send a settlement; the contract
//! takes one and the other is recognised as settled: gas is wasted, nothing more.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use zkmeter_circuits::{MeterStatement, PerClass};
use zkmeter_contracts::{Address, B256, ChainError, EpochToSettle, WorkStatus};
use zkmeter_store::{Hash, Receipt, Status, Store, StoreError, WorkReceipt};
use zkmeter_verifier::PROOF_LEN;

use crate::chain_worker::ChainWorker;
use crate::convert::{receipt_statement, work_receipt_statement};
use crate::metrics::Metrics;
use crate::submission::Circuits;

/// Retry timing for a chain that does not answer.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The first wait.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// How long a claim on a receipt lasts without renewal: far longer than one
/// settlement attempt and than the longest retry wait, so a live replica never
/// loses a receipt it is working on; short enough that a dead replica's
/// receipts are taken over within minutes.
pub const CLAIM_LEASE: Duration = Duration::from_secs(120);

/// The settlement worker's doorbell: ring it when a receipt becomes verified.
#[derive(Clone, Default)]
pub struct SettleSignal(Arc<Notify>);

impl SettleSignal {
    /// Wakes the worker.
    pub fn ring(&self) {
        self.0.notify_one();
    }
}

/// A receipt waiting for settlement: a meter epoch or a workload.
enum Pending {
    Meter(Receipt),
    Work(WorkReceipt),
}

/// Which table a receipt lives in, for recording outcomes and counting them.
#[derive(Clone, Copy)]
enum Kind {
    Meter,
    Work,
}

impl Kind {
    fn count(self, metrics: &Metrics, outcome: &'static str, gas: Option<u64>) {
        match self {
            Kind::Meter => metrics.settlement(outcome, gas),
            Kind::Work => metrics.work_settlement(outcome, gas),
        }
    }
}

/// Most epochs in one `settleBatch` transaction (well inside a block's gas).
pub const MAX_BATCH: usize = 32;

/// Claims both kinds of pending receipts for `replica`.
async fn claim(store: &Store, chain_id: u64, replica: &str) -> Result<Vec<Pending>, StoreError> {
    let meter = store.claim_settlement(chain_id, replica, CLAIM_LEASE, 64).await?;
    let work = store.claim_work_settlement(chain_id, replica, CLAIM_LEASE, 64).await?;
    Ok(meter.into_iter().map(Pending::Meter).chain(work.into_iter().map(Pending::Work)).collect())
}

/// What one attempt came to.
enum Attempt {
    Settled { tx: Hash, gas: u64 },
    AlreadySettled,
    Retry(String),
    Rejected(String),
}

/// Runs the settlement worker until the process ends.
pub async fn run(
    replica: String,
    store: Store,
    chain: ChainWorker,
    circuits: Circuits,
    signal: SettleSignal,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
) {
    let mut backoff: HashMap<Hash, (Instant, Duration)> = HashMap::new();
    loop {
        let pending = match claim(&store, chain.chain_id(), &replica).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read pending settlements; retrying");
                tokio::time::sleep(retry.initial).await;
                continue;
            }
        };
        let now = Instant::now();
        let is_due = |id: &Hash| backoff.get(id).is_none_or(|(at, _)| *at <= now);
        // A circuit's meter receipts go together once one of them is due: the
        // others ride along in its batch at no extra cost to the node.
        let mut meter: HashMap<B256, Vec<Receipt>> = HashMap::new();
        let mut work = Vec::new();
        for p in pending {
            match p {
                Pending::Meter(r) => meter.entry(B256::from(r.circuit_id)).or_default().push(r),
                Pending::Work(r) if is_due(&r.id) => work.push(r),
                Pending::Work(_) => {}
            }
        }
        meter.retain(|_, group| group.iter().any(|r| is_due(&r.id)));
        if meter.is_empty() && work.is_empty() {
            let next = backoff.values().map(|(at, _)| *at).min();
            // Woken at least every few seconds: claims are renewed, and receipts
            // another replica accepted (or gave up) are picked up.
            let wait = next.map_or(Duration::from_secs(5), |at| at.saturating_duration_since(now)).min(Duration::from_secs(5));
            tokio::select! {
                _ = signal.0.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        let mut attempts: Vec<(Kind, Hash, Result<Attempt, String>)> = Vec::new();
        for group in meter.into_values() {
            for chunk in group.chunks(MAX_BATCH) {
                let settled = settle_meter(&store, &chain, &circuits, chunk.to_vec()).await;
                attempts.extend(settled.into_iter().map(|(id, attempt)| (Kind::Meter, id, attempt)));
            }
        }
        for r in work {
            attempts.push((Kind::Work, r.id, settle_work(&store, &chain, r).await));
        }
        for (kind, id, attempt) in attempts {
            match attempt {
                Ok(Attempt::Settled { tx, gas }) => {
                    kind.count(&metrics, "settled", Some(gas));
                    backoff.remove(&id);
                    record(&store, kind, &id, Status::Settled, None, Some(tx), Some(gas)).await;
                }
                Ok(Attempt::AlreadySettled) => {
                    kind.count(&metrics, "settled", None);
                    backoff.remove(&id);
                    let why = match kind {
                        Kind::Meter => "settled by an earlier attempt (the chain holds its new state)",
                        Kind::Work => "settled by an earlier attempt (the chain says the work is settled)",
                    };
                    record(&store, kind, &id, Status::Settled, Some(why), None, None).await;
                }
                Ok(Attempt::Rejected(reason)) => {
                    kind.count(&metrics, "rejected", None);
                    backoff.remove(&id);
                    tracing::warn!(receipt = %hex::encode(id), %reason, "settlement refused");
                    record(&store, kind, &id, Status::Rejected, Some(&reason), None, None).await;
                }
                Ok(Attempt::Retry(reason)) | Err(reason) => {
                    kind.count(&metrics, "retry", None);
                    let wait = backoff.get(&id).map_or(retry.initial, |(_, w)| (*w * 2).min(retry.max));
                    tracing::warn!(receipt = %hex::encode(id), %reason, retry_in = ?wait, "settlement will be retried");
                    backoff.insert(id, (Instant::now() + wait, wait));
                    record(&store, kind, &id, Status::Submitted, Some(&reason), None, None).await;
                }
            }
        }
    }
}

async fn record(store: &Store, kind: Kind, id: &Hash, to: Status, reason: Option<&str>, tx: Option<Hash>, gas: Option<u64>) {
    let recorded = match kind {
        Kind::Meter => store.set_status(id, to, reason, tx, gas).await.map(drop),
        Kind::Work => store.set_work_status(id, to, reason, tx, gas).await.map(drop),
    };
    if let Err(e) = recorded {
        // The receipt stays pending and is picked up again on the next pass.
        tracing::warn!(receipt = %hex::encode(id), error = %e, "cannot record the settlement outcome");
    }
}

/// Settles pending meter receipts of one circuit: on their own when there is
/// one, else in one `settleBatch`, then on their own those the batch skipped
/// (their job had moved past them: settled by an earlier attempt, or another
/// statement was; [`settle`] tells which) or all of them if it reverted.
async fn settle_meter(
    store: &Store,
    chain: &ChainWorker,
    circuits: &Circuits,
    mut receipts: Vec<Receipt>,
) -> Vec<(Hash, Result<Attempt, String>)> {
    if receipts.len() > 1 {
        // The contract applies epochs in order: a job's must come in seq order.
        receipts.sort_by_key(|r| (r.job_id, r.prev.seq));
        match settle_batch(store, chain, circuits, &mut receipts).await {
            Ok(BatchAttempt::Sent { tx, gas, settled }) => {
                let share = gas / settled.len().max(1) as u64;
                let mut outcomes = Vec::new();
                let mut rest = Vec::new();
                for r in receipts {
                    if settled.contains(&(r.job_id, r.next.seq)) {
                        outcomes.push((r.id, Ok(Attempt::Settled { tx, gas: share })));
                    } else {
                        rest.push(r);
                    }
                }
                receipts = rest;
                for r in receipts {
                    outcomes.push((r.id, settle(store, chain, circuits, r).await));
                }
                return outcomes;
            }
            Ok(BatchAttempt::Reverted(reason)) => {
                tracing::info!(%reason, epochs = receipts.len(), "the batch was refused; settling its epochs one by one");
            }
            Err(reason) => return receipts.iter().map(|r| (r.id, Ok(Attempt::Retry(reason.clone())))).collect(),
        }
    }
    let mut outcomes = Vec::new();
    for r in receipts {
        outcomes.push((r.id, settle(store, chain, circuits, r).await));
    }
    outcomes
}

/// What one `settleBatch` came to.
enum BatchAttempt {
    /// Included: its hash, its gas and the (job, new seq) of each epoch it settled.
    Sent { tx: Hash, gas: u64, settled: Vec<(u64, u64)> },
    /// The contract refused it (one of its epochs is bad).
    Reverted(String),
}

/// Sends `receipts` (of one circuit, several) in one `settleBatch`; `Err` when
/// the chain did not answer (the whole batch is retried).
async fn settle_batch(
    store: &Store,
    chain: &ChainWorker,
    circuits: &Circuits,
    receipts: &mut [Receipt],
) -> Result<BatchAttempt, String> {
    let circuit = circuits
        .get(&receipts[0].circuit_id.into())
        .ok_or_else(|| format!("circuit {} is no longer configured", hex::encode(receipts[0].circuit_id)))?;
    let slots = circuit.header.slots;
    let mut epochs = Vec::with_capacity(receipts.len());
    for r in receipts.iter() {
        match epoch_to_send(r) {
            Ok(epoch) => epochs.push(epoch),
            // Settled on its own, it is rejected with this reason.
            Err(reason) => return Ok(BatchAttempt::Reverted(reason)),
        }
    }
    // Marked before sending, so a crash after the send is known to need checking.
    for r in receipts.iter_mut() {
        if r.status == Status::Verified {
            store.set_status(&r.id, Status::Submitted, None, None, None).await.map_err(|e| e.to_string())?;
            r.status = Status::Submitted;
        }
    }
    crate::pause_point::pause_point("before-settle-tx").await;
    let result = chain
        .run(move |chain, d| {
            let from: Address = chain.accounts()[0];
            let batch: Vec<EpochToSettle<'_>> = epochs
                .iter()
                .map(|(statement, proof, meter_signature)| EpochToSettle { statement, proof, meter_signature })
                .collect();
            match d.settle_batch(chain, from, slots, &batch) {
                Ok(done) => Ok(BatchAttempt::Sent {
                    tx: done.receipt.tx_hash.0,
                    gas: done.receipt.gas_used,
                    settled: done.settled.iter().map(|e| (e.job_id, e.state.seq)).collect(),
                }),
                Err(e) if retryable(&e) => Err(e.to_string()),
                Err(e) => Ok(BatchAttempt::Reverted(e.to_string())),
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    crate::pause_point::pause_point("after-settle-tx").await;
    result
}

/// A stored meter receipt as the contract takes it: statement, proof, signature.
fn epoch_to_send(r: &Receipt) -> Result<(MeterStatement, [u8; PROOF_LEN], [u8; 65]), String> {
    // The contract takes the capacity from the job; the settlement call does not carry it.
    let statement = receipt_statement(r, PerClass::default()).map_err(|e| e.to_string())?;
    let proof: [u8; PROOF_LEN] = r.proof.as_slice().try_into().map_err(|_| "stored proof has the wrong size".to_owned())?;
    let signature: [u8; 65] =
        r.meter_signature.as_slice().try_into().map_err(|_| "stored signature has the wrong size".to_owned())?;
    Ok((statement, proof, signature))
}

async fn settle(store: &Store, chain: &ChainWorker, circuits: &Circuits, r: Receipt) -> Result<Attempt, String> {
    let circuit = circuits
        .get(&r.circuit_id.into())
        .ok_or_else(|| format!("circuit {} is no longer configured", hex::encode(r.circuit_id)))?;
    let slots = circuit.header.slots;
    // Marked before sending, so a crash after the send is known to need checking.
    if r.status == Status::Verified {
        store.set_status(&r.id, Status::Submitted, None, None, None).await.map_err(|e| e.to_string())?;
    }
    let (statement, proof, signature) = epoch_to_send(&r)?;
    crate::pause_point::pause_point("before-settle-tx").await;
    let result = chain
        .run(move |chain, d| {
            let from: Address = chain.accounts()[0];
            match d.settle(chain, from, slots, &statement, &proof, &signature) {
                Ok(settled) => Attempt::Settled { tx: settled.receipt.tx_hash.0, gas: settled.receipt.gas_used },
                Err(e) if e.is_revert_with("StaleState") => match d.stream_state(chain, statement.stream.job_id) {
                    Ok(state) if state == statement.new => Attempt::AlreadySettled,
                    // An earlier epoch of the job is not settled yet (a restart left it
                    // to be verified again, or it waits for its own retry): this one
                    // follows it.
                    Ok(state) if state.seq < statement.prev.seq => Attempt::Retry(format!(
                        "waiting for the job's earlier epochs: the chain is at seq {}, this epoch continues from seq {}",
                        state.seq, statement.prev.seq
                    )),
                    Ok(_) => Attempt::Rejected(e.to_string()),
                    Err(read) => Attempt::Retry(read.to_string()),
                },
                Err(e) if retryable(&e) => Attempt::Retry(e.to_string()),
                Err(e) => Attempt::Rejected(e.to_string()),
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    crate::pause_point::pause_point("after-settle-tx").await;
    Ok(result)
}

/// Errors of the node or the EVM rather than of the transaction: the same
/// transaction may go through later.
fn retryable(e: &ChainError) -> bool {
    matches!(e, ChainError::Unreachable { .. } | ChainError::Rpc(_) | ChainError::Io { .. } | ChainError::Evm(_))
}

async fn settle_work(store: &Store, chain: &ChainWorker, r: WorkReceipt) -> Result<Attempt, String> {
    // Marked before sending, so a crash after the send is known to need checking.
    if r.status == Status::Verified {
        store.set_work_status(&r.id, Status::Submitted, None, None, None).await.map_err(|e| e.to_string())?;
    }
    let statement = work_receipt_statement(&r).map_err(|e| e.to_string())?;
    let circuit_id = B256::from(r.circuit_id);
    let proof: [u8; PROOF_LEN] = r.proof.as_slice().try_into().map_err(|_| "stored proof has the wrong size".to_owned())?;
    chain
        .run(move |chain, d| {
            let from: Address = chain.accounts()[0];
            match d.settle_work(chain, from, circuit_id, &statement, &proof) {
                Ok(settled) => Attempt::Settled { tx: settled.receipt.tx_hash.0, gas: settled.receipt.gas_used },
                Err(e) if e.is_revert_with("WorkAlreadySettled") => {
                    match d.work_status(chain, statement.job_id, circuit_id, statement.model, statement.input) {
                        Ok(WorkStatus::Settled) => Attempt::AlreadySettled,
                        Ok(status) => Attempt::Rejected(format!("{e}, yet the chain says the work is {status:?}")),
                        Err(read) => Attempt::Retry(read.to_string()),
                    }
                }
                Err(e) if retryable(&e) => Attempt::Retry(e.to_string()),
                Err(e) => Attempt::Rejected(e.to_string()),
            }
        })
        .await
        .map_err(|e| e.to_string())
}
