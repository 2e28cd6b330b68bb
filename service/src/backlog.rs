//! The bound on receipts waiting for settlement. A verifier can take in
//! proofs far faster than a chain settles them; without a bound, the receipts
//! of a sustained flood would pile up in the store without limit. Past
//! `max_unsettled`, new submissions are refused with RESOURCE_EXHAUSTED, saying
//! so, until the settler catches up: back-pressure a prover daemon answers by
//! retrying later, as it does for any unavailable verifier.
//!
//! The count comes from the store every [`REFRESH`] (so settlements by other
//! replicas sharing it count too), and each receipt this process records adds
//! one in between, so the count runs ahead of the truth, never behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use zkmeter_store::Store;

use crate::metrics::Metrics;

/// How often the count is read again from the store.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Too many receipts wait for settlement.
#[derive(Debug, thiserror::Error)]
#[error(
    "settlement backlog full: {waiting} verified epochs wait for the chain (at most {limit} may wait); \
     submit again in a few seconds, once the chain has caught up"
)]
pub struct Backlogged {
    /// Receipts waiting.
    pub waiting: u64,
    /// The bound.
    pub limit: u64,
}

/// Receipts waiting for settlement, against their bound.
#[derive(Debug)]
pub struct Backlog {
    waiting: AtomicU64,
    limit: u64,
}

impl Backlog {
    /// A backlog of `waiting` receipts (as the store counts them), bounded by `limit`.
    pub fn new(waiting: u64, limit: u64) -> Backlog {
        Backlog { waiting: AtomicU64::new(waiting), limit }
    }

    /// Whether a new receipt may be taken in.
    pub fn check(&self) -> Result<(), Backlogged> {
        let waiting = self.waiting();
        if waiting >= self.limit { Err(Backlogged { waiting, limit: self.limit }) } else { Ok(()) }
    }

    /// Counts a receipt this process recorded.
    pub fn recorded(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    /// Receipts waiting, as last counted.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Counts the store's backlog every [`REFRESH`] until the process ends; a
    /// failed count keeps the last one (and says so).
    /// The count also goes to the `unsettled_receipts` metric.
    pub async fn watch(self: Arc<Self>, store: Store, chain_id: u64, metrics: Arc<Metrics>) {
        loop {
            metrics.set_unsettled(self.waiting());
            tokio::time::sleep(REFRESH).await;
            match store.unsettled(chain_id).await {
                Ok(n) => self.waiting.store(n, Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "cannot count the receipts waiting for settlement"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_the_bound_and_counts_what_it_records() {
        let backlog = Backlog::new(2, 3);
        assert!(backlog.check().is_ok());
        backlog.recorded();
        let err = backlog.check().unwrap_err();
        assert_eq!((err.waiting, err.limit), (3, 3));
        assert!(err.to_string().starts_with("settlement backlog full: 3 verified epochs wait"), "{err}");
    }
}
