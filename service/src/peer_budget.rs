//! Each peer's budget of invalid proofs. A signed submission whose proof does
//! not verify costs the service a pairing check and a bisection of its batch,
//! many times what any other refusal costs, and pushes honest proofs back in
//! the queue. Every peer (IP address) may send `burst` of them at once and
//! `per_minute` more each minute; past that its submissions are refused with
//! RESOURCE_EXHAUSTED before any verification, until its budget has refilled.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Peers tracked at most; beyond it, those whose budget is full again are forgotten.
const MAX_PEERS: usize = 65_536;

/// The budgets.
pub struct PeerBudget {
    burst: f64,
    per_second: f64,
    peers: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The peer has spent its budget of invalid proofs.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error(
    "too many invalid proofs from this address: its submissions are refused for {} s; check the proofs \
     against GetCircuit's verifying key before sending more",
    .retry_after.as_secs().max(1)
)]
pub struct OverBudget {
    /// When one more invalid proof is allowed.
    pub retry_after: Duration,
}

impl PeerBudget {
    /// `burst` invalid proofs at once, `per_minute` more each minute.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        PeerBudget { burst: f64::from(burst.max(1)), per_second: f64::from(per_minute) / 60.0, peers: Mutex::default() }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> Bucket {
        let tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.per_second).min(self.burst);
        Bucket { tokens, at: now }
    }

    /// Whether `peer` may have a proof verified now.
    pub fn check(&self, peer: Option<IpAddr>) -> Result<(), OverBudget> {
        let Some(peer) = peer else { return Ok(()) };
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(bucket) = peers.get(&peer) else { return Ok(()) };
        let bucket = self.refilled(*bucket, Instant::now());
        if bucket.tokens >= 1.0 {
            return Ok(());
        }
        let wait = if self.per_second > 0.0 { (1.0 - bucket.tokens) / self.per_second } else { f64::from(u32::MAX) };
        Err(OverBudget { retry_after: Duration::from_secs_f64(wait) })
    }

    /// Charges `peer` one invalid proof.
    pub fn charge(&self, peer: Option<IpAddr>) {
        let Some(peer) = peer else { return };
        let now = Instant::now();
        let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        if peers.len() >= MAX_PEERS && !peers.contains_key(&peer) {
            peers.retain(|_, b| self.refilled(*b, now).tokens < self.burst);
        }
        let bucket = peers.get(&peer).map_or(Bucket { tokens: self.burst, at: now }, |b| self.refilled(*b, now));
        peers.insert(peer, Bucket { tokens: (bucket.tokens - 1.0).max(0.0), at: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_that_spends_its_budget_is_refused_until_it_refills() {
        let budget = PeerBudget::new(3, 60);
        let (bad, good): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            budget.check(Some(bad)).unwrap();
            budget.charge(Some(bad));
        }
        let refused = budget.check(Some(bad)).unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(1), "{refused:?}");
        assert!(refused.to_string().starts_with("too many invalid proofs from this address"), "{refused}");
        budget.check(Some(good)).unwrap();
        budget.check(None).unwrap();
        // One a second comes back.
        std::thread::sleep(Duration::from_millis(1_100));
        budget.check(Some(bad)).unwrap();
    }
}
