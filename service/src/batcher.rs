//! Batched pairing verification. Submissions wait here for up to `max_wait` or
//! until `max_batch` have gathered; each circuit's share of a batch is checked
//! with one multi-Miller loop and one final exponentiation
//! (`zkmeter_verifier::batch_verify`), and a failing batch is bisected so that
//! only the bad proofs are refused.

use ark_bn254::{Bn254, Fr};
use ark_groth16::Proof;
use rand::rngs::OsRng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot};
use zkmeter_contracts::B256;

use crate::metrics::Metrics;
use crate::submission::Circuit;

/// How batches are formed.
#[derive(Clone, Copy, Debug)]
pub struct BatchPolicy {
    /// Most proofs in one batch.
    pub max_batch: usize,
    /// Longest a proof waits for others to join its batch.
    pub max_wait: Duration,
}

struct Item {
    circuit: Arc<Circuit>,
    proof: Proof<Bn254>,
    inputs: Vec<Fr>,
    reply: oneshot::Sender<bool>,
}

/// The batcher's queue; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    queue: mpsc::Sender<Item>,
}

/// The batcher has stopped (the service is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the verifier is shutting down; submit again later")]
pub struct BatcherGone;

impl Batcher {
    /// Starts the batching task on the current tokio runtime.
    pub fn start(policy: BatchPolicy, metrics: Arc<Metrics>) -> Batcher {
        let (queue, receive) = mpsc::channel(policy.max_batch.max(1) * 4);
        tokio::spawn(run(receive, policy, metrics));
        Batcher { queue }
    }

    /// Whether `proof` verifies for `inputs` under `circuit`'s key, checked in a batch.
    pub async fn verify(&self, circuit: Arc<Circuit>, proof: Proof<Bn254>, inputs: Vec<Fr>) -> Result<bool, BatcherGone> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(Item { circuit, proof, inputs, reply }).await.map_err(|_| BatcherGone)?;
        answer.await.map_err(|_| BatcherGone)
    }
}

async fn run(mut receive: mpsc::Receiver<Item>, policy: BatchPolicy, metrics: Arc<Metrics>) {
    // One batch per core at a time: more threads would not verify faster, and a
    // flood of proofs (bad ones cost a bisection each) would otherwise grow the
    // blocking pool without bound. While every core is busy the queue fills and
    // submitters wait for room in it.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = Arc::new(Semaphore::new(cores));
    while let Some(first) = receive.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + policy.max_wait;
        while batch.len() < policy.max_batch {
            match tokio::time::timeout_at(deadline, receive.recv()).await {
                Ok(Some(item)) => batch.push(item),
                Ok(None) | Err(_) => break,
            }
        }
        let mut by_circuit: BTreeMap<B256, Vec<Item>> = BTreeMap::new();
        for item in batch {
            by_circuit.entry(item.circuit.id).or_default().push(item);
        }
        for (_, items) in by_circuit {
            let metrics = metrics.clone();
            let worker = workers.clone().acquire_owned().await.expect("the semaphore is never closed");
            // The pairing work is CPU-bound: off the async threads, and not awaited,
            // so the next batch can gather meanwhile.
            tokio::task::spawn_blocking(move || {
                verify_items(items, &metrics);
                drop(worker);
            });
        }
    }
}

fn verify_items(items: Vec<Item>, metrics: &Metrics) {
    let started = Instant::now();
    let verifier = &items[0].circuit.verifier;
    let pairs: Vec<(&Proof<Bn254>, &[Fr])> = items.iter().map(|i| (&i.proof, &i.inputs[..])).collect();
    let report = verifier.verify_batch(&pairs, &mut OsRng);
    let invalid = report.invalid_indices();
    metrics.observe_batch(items.len(), started.elapsed());
    for (index, item) in items.into_iter().enumerate() {
        let _ = item.reply.send(!invalid.contains(&index));
    }
}
