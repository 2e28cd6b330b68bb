//! What the cheap checks need from the chain about a job — its meter, its
//! capacity (fixed when it was opened), whether it is open, and its settled state —
//! read once and kept for a short while.
//!
//! Two reasons: a submission would otherwise cost two chain reads (two JSON-RPC
//! round trips on a node), and a node that is down must not stop submissions for
//! jobs the service already knows: their proofs are still checked against the
//! last capacity read, receipts are kept, and the settler retries until the node
//! is back. A job unknown to the cache still needs the chain.
//!
//! A job's capacity never changes, so the cache holds it exactly. A stale settled
//! state is never trusted over the receipt store, which knows every state this
//! service moved the stream to; a job closed since it was read is caught by the
//! contract at settlement.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use zkmeter_contracts::{Address, Job};

use crate::chain_worker::ChainWorker;

/// A job as the chain last said.
#[derive(Clone, Debug)]
pub struct JobView {
    /// The job (consumer, meter, capacity, settled state…).
    pub job: Job,
    /// Read from the chain longer ago than the cache's time to live, because the
    /// chain could not be read now.
    pub stale: bool,
}

/// Jobs the cache holds at most. Only jobs that exist are cached, so only a
/// chain with more jobs than this, all submitted for, makes it evict.
pub const MAX_CACHED_JOBS: usize = 65_536;

/// The cache; cheap to clone.
#[derive(Clone)]
pub struct JobCache {
    chain: ChainWorker,
    ttl: Duration,
    entries: Arc<Mutex<HashMap<u64, (Instant, JobView)>>>,
}

/// The chain could not be read and the job is not in the cache.
#[derive(Debug, thiserror::Error)]
#[error("cannot read job {job} from the chain: {reason}; retry when the node is back")]
pub struct ChainUnavailable {
    /// The job.
    pub job: u64,
    /// What the chain said.
    pub reason: String,
}

impl JobCache {
    /// A cache over `chain` whose entries are fresh for `ttl`.
    pub fn new(chain: ChainWorker, ttl: Duration) -> Self {
        JobCache { chain, ttl, entries: Arc::default() }
    }

    /// Job `job_id`: from the cache while fresh, else from the chain; when the
    /// chain cannot be read, the last entry however old. A job that does not
    /// exist (zero consumer) is returned but never cached, so opening it later
    /// takes effect at once.
    pub async fn get(&self, job_id: u64) -> Result<JobView, ChainUnavailable> {
        self.read(job_id, self.ttl).await
    }

    /// Job `job_id` read from the chain now (for answers that report the chain's
    /// state); the last entry only when the chain cannot be read.
    pub async fn get_fresh(&self, job_id: u64) -> Result<JobView, ChainUnavailable> {
        self.read(job_id, Duration::ZERO).await
    }

    async fn read(&self, job_id: u64, max_age: Duration) -> Result<JobView, ChainUnavailable> {
        let cached = self.entries.lock().expect("job cache lock").get(&job_id).cloned();
        if let Some((at, view)) = &cached
            && at.elapsed() < max_age
        {
            return Ok(view.clone());
        }
        let read = self
            .chain
            .run(move |chain, d| d.job(chain, job_id))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match (read, cached) {
            (Ok(job), _) => {
                let view = JobView { job, stale: false };
                if view.job.consumer != Address::ZERO {
                    let mut entries = self.entries.lock().expect("job cache lock");
                    if entries.len() >= MAX_CACHED_JOBS && !entries.contains_key(&job_id) {
                        evict(&mut entries, self.ttl);
                    }
                    entries.insert(job_id, (Instant::now(), view.clone()));
                }
                Ok(view)
            }
            (Err(reason), Some((at, view))) => {
                tracing::warn!(job = job_id, %reason, age = ?at.elapsed(), "chain unreadable: using the job as last read");
                Ok(JobView { stale: true, ..view })
            }
            (Err(reason), None) => Err(ChainUnavailable { job: job_id, reason }),
        }
    }
}

/// Makes room in a full cache: drops every entry older than `ttl` (read again
/// from the chain when next needed), or else the oldest one.
fn evict(entries: &mut HashMap<u64, (Instant, JobView)>, ttl: Duration) {
    let before = entries.len();
    entries.retain(|_, (at, _)| at.elapsed() < ttl);
    if entries.len() == before
        && let Some(oldest) = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(id, _)| *id)
    {
        entries.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkmeter_circuits::{PerClass, StreamState};

    fn view() -> JobView {
        let job = Job {
            consumer: Address::repeat_byte(1),
            provider: Address::repeat_byte(2),
            meter: Address::repeat_byte(3),
            capacity: PerClass([1; 5]),
            expires_at: 0,
            open: true,
            state: StreamState { head: ark_bn254::Fr::from(0u64), seq: 0, end_ms: 0 },
            escrow: [0; 5],
        };
        JobView { job, stale: false }
    }

    #[test]
    fn a_full_cache_drops_stale_entries_else_the_oldest() {
        let ttl = Duration::from_secs(60);
        let now = Instant::now();
        let mut entries: HashMap<u64, (Instant, JobView)> =
            (0..4).map(|id| (id, (now - Duration::from_secs(10 * id), view()))).collect();
        evict(&mut entries, ttl);
        assert_eq!(entries.len(), 3, "nothing was stale: the oldest went");
        assert!(!entries.contains_key(&3));
        entries.insert(9, (now - Duration::from_secs(120), view()));
        entries.insert(8, (now - Duration::from_secs(90), view()));
        evict(&mut entries, ttl);
        let mut left: Vec<u64> = entries.keys().copied().collect();
        left.sort();
        assert_eq!(left, vec![0, 1, 2], "every stale entry went");
    }
}
