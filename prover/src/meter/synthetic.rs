//! Deterministic pseudo-random usage, for demos on machines with nothing to meter.
//!
//! The quantity of `[start, end)` is `rate × (end − start) / 1000 × f`, where the
//! factor `f` in `[0, 2)` (mean 1) is a hash of the seed and `end`: the same seed
//! and intervals give the same usage on every machine and after every restart, and
//! the usage peaks just under twice the rate. Nothing needs resuming, so the
//! cursor is empty. Nothing is generated for the time the daemon was down: the
//! first reading after a restart starts at the restart.

use zkmeter_circuits::ResourceClass;

use super::{check_cursor, not_resumed, Cursor, MeterError, MeterSource, Reading};

const NAME: &str = "synthetic";

/// Generates usage of one class at a mean rate.
pub struct SyntheticSource {
    class: ResourceClass,
    rate: u64,
    seed: u64,
    last_end: Option<u64>,
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Usage of `[end_ms − elapsed_ms, end_ms)`.
fn quantity(seed: u64, rate: u64, end_ms: u64, elapsed_ms: u64) -> u64 {
    // 32 random bits over 2^31: a factor in [0, 2) with mean 1.
    let factor = u128::from(mix(seed ^ mix(end_ms)) >> 32);
    let scaled = u128::from(rate).saturating_mul(u128::from(elapsed_ms)).saturating_mul(factor) / (1000 << 31);
    u64::try_from(scaled).unwrap_or(u64::MAX)
}

impl SyntheticSource {
    /// A source of `rate` units of `class` per second on average.
    pub fn new(class: ResourceClass, rate: u64, seed: u64) -> Self {
        Self { class, rate, seed, last_end: None }
    }
}

impl MeterSource for SyntheticSource {
    fn class(&self) -> ResourceClass {
        self.class
    }

    fn describe(&self) -> String {
        format!("synthetic: {} at a mean {} {}/s, seed {}", self.class, self.rate, self.class.unit(), self.seed)
    }

    fn resume(&mut self, last: Option<(&Cursor, u64)>, now_ms: u64) -> Result<(), MeterError> {
        self.last_end = Some(match last {
            Some((cursor, end_ms)) => {
                check_cursor(NAME, cursor, 0)?;
                now_ms.max(end_ms)
            }
            None => now_ms,
        });
        Ok(())
    }

    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError> {
        let start_ms = self.last_end.ok_or_else(|| not_resumed(NAME))?;
        if now_ms <= start_ms {
            return Ok(Vec::new());
        }
        self.last_end = Some(now_ms);
        let quantity = quantity(self.seed, self.rate, now_ms, now_ms - start_ms);
        Ok(vec![Reading { start_ms, end_ms: now_ms, quantity, cursor: Vec::new() }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, ends: &[u64]) -> Vec<Reading> {
        let mut source = SyntheticSource::new(ResourceClass::Gpu, 500, seed);
        source.resume(None, 0).unwrap();
        ends.iter().flat_map(|&t| source.poll(t).unwrap()).collect()
    }

    #[test]
    fn same_seed_same_usage_other_seed_other_usage() {
        let ends = [1000, 2000, 2500, 7000];
        assert_eq!(run(7, &ends), run(7, &ends));
        assert_ne!(run(7, &ends), run(8, &ends));
    }

    #[test]
    fn mean_is_the_rate_and_peaks_stay_below_twice_it() {
        let readings = run(1, &(1..=10_000).map(|i| i * 1000).collect::<Vec<_>>());
        let total: u64 = readings.iter().map(|r| r.quantity).sum();
        // 10_000 s at 500/s is 5_000_000 on average; allow 2%.
        assert!((4_900_000..5_100_000).contains(&total), "{total}");
        assert!(readings.iter().all(|r| r.quantity < 1000));
    }

    #[test]
    fn resume_bills_nothing_for_the_downtime_and_rejects_foreign_cursors() {
        let mut source = SyntheticSource::new(ResourceClass::Cpu, 1000, 3);
        source.resume(Some((&vec![], 4_000)), 9_000).unwrap();
        assert!(source.poll(9_000).unwrap().is_empty());
        let reading = source.poll(10_000).unwrap();
        assert_eq!((reading[0].start_ms, reading[0].quantity), (9_000, quantity(3, 1000, 10_000, 1_000)));
        assert!(matches!(source.resume(Some((&vec![1], 0)), 1), Err(MeterError::Config { .. })));
    }
}
