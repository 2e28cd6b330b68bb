//! Prometheus metrics: submissions by outcome, verification batches (size and
//! latency), settlements (gas and failures), for meter epochs and, apart, for
//! workload proofs. Served as text at `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

type Labels = Vec<(&'static str, &'static str)>;

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    submissions: Family<Labels, Counter>,
    /// The outcomes counted so far, so that [`Metrics::submission_counts`] can
    /// list them (a family cannot be iterated).
    outcomes: Mutex<BTreeSet<&'static str>>,
    batch_size: Histogram,
    /// Batches and the proofs in them, for [`Metrics::batch_totals`] (a
    /// histogram's count and sum cannot be read back).
    batches: AtomicU64,
    batched: AtomicU64,
    batch_seconds: Histogram,
    settlement_gas: Histogram,
    settlements: Family<Labels, Counter>,
    work_submissions: Family<Labels, Counter>,
    work_settlement_gas: Histogram,
    work_settlements: Family<Labels, Counter>,
    unsettled: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("zkmeter_verifier");
        let submissions = Family::<Labels, Counter>::default();
        registry.register("submissions", "Proof submissions by outcome", submissions.clone());
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register("verify_batch_size", "Proofs per verification batch", batch_size.clone());
        let batch_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register("verify_batch_seconds", "Time to verify one batch (pairings and bisection)", batch_seconds.clone());
        let settlement_gas = Histogram::new(exponential_buckets(100_000.0, 1.25, 12));
        registry.register("settlement_gas", "Gas used by each settlement transaction", settlement_gas.clone());
        let settlements = Family::<Labels, Counter>::default();
        registry.register("settlements", "Settlement attempts by outcome", settlements.clone());
        let work_submissions = Family::<Labels, Counter>::default();
        registry.register("work_submissions", "Workload proof submissions by outcome", work_submissions.clone());
        let work_settlement_gas = Histogram::new(exponential_buckets(100_000.0, 1.25, 12));
        registry.register("work_settlement_gas", "Gas used by each workload settlement transaction", work_settlement_gas.clone());
        let work_settlements = Family::<Labels, Counter>::default();
        registry.register("work_settlements", "Workload settlement attempts by outcome", work_settlements.clone());
        let unsettled = Gauge::default();
        registry.register("unsettled_receipts", "Receipts verified and waiting for settlement", unsettled.clone());
        Metrics {
            registry,
            submissions,
            outcomes: Mutex::default(),
            batch_size,
            batches: AtomicU64::new(0),
            batched: AtomicU64::new(0),
            batch_seconds,
            settlement_gas,
            settlements,
            work_submissions,
            work_settlement_gas,
            work_settlements,
            unsettled,
        }
    }

    /// Counts a submission with `outcome` (e.g. "verified", "duplicate", "invalid_proof").
    pub fn submission(&self, outcome: &'static str) {
        self.submissions.get_or_create(&vec![("outcome", outcome)]).inc();
        self.outcomes.lock().unwrap_or_else(|e| e.into_inner()).insert(outcome);
    }

    /// Submissions counted so far, by outcome.
    pub fn submission_counts(&self) -> Vec<(&'static str, u64)> {
        let outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner()).clone();
        outcomes
            .into_iter()
            .map(|o| (o, self.submissions.get(&vec![("outcome", o)]).map_or(0, |c| c.get())))
            .collect()
    }

    /// Verification batches so far, and the proofs they held in all.
    pub fn batch_totals(&self) -> (u64, u64) {
        (self.batches.load(Ordering::Relaxed), self.batched.load(Ordering::Relaxed))
    }

    /// Records one verification batch.
    pub fn observe_batch(&self, size: usize, took: Duration) {
        self.batch_size.observe(size as f64);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batched.fetch_add(size as u64, Ordering::Relaxed);
        self.batch_seconds.observe(took.as_secs_f64());
    }

    /// Counts a settlement attempt with `outcome` ("settled", "retry", "rejected").
    pub fn settlement(&self, outcome: &'static str, gas: Option<u64>) {
        self.settlements.get_or_create(&vec![("outcome", outcome)]).inc();
        if let Some(gas) = gas {
            self.settlement_gas.observe(gas as f64);
        }
    }

    /// Counts a workload submission with `outcome` (as [`Metrics::submission`]).
    pub fn work_submission(&self, outcome: &'static str) {
        self.work_submissions.get_or_create(&vec![("outcome", outcome)]).inc();
    }

    /// Counts a workload settlement attempt with `outcome` (as [`Metrics::settlement`]).
    pub fn work_settlement(&self, outcome: &'static str, gas: Option<u64>) {
        self.work_settlements.get_or_create(&vec![("outcome", outcome)]).inc();
        if let Some(gas) = gas {
            self.work_settlement_gas.observe(gas as f64);
        }
    }

    /// Sets the number of receipts waiting for settlement.
    pub fn set_unsettled(&self, n: u64) {
        self.unsettled.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
