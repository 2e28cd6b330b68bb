//! Synthetic meters for the demo and for trying the tools: plausible, seeded,
//! always within the stream's capacity.
//!
//! A stream's records follow each other in time without overlap (rule 2 of the
//! statement); each record bills the job's main resource and the energy it took
//! over the same interval, and a network share on every third record.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha3::{Digest, Keccak256};
use zkmeter_circuits::{Capacity, PerClass, ResourceClass, StreamId, UsageRecord};

use crate::records_file::RecordLine;

/// Capacities the simulated streams register: 8 GPUs, 128 cores, 10 TB of storage,
/// 100 Gbit/s of network, 10 kW.
pub fn default_capacity() -> Capacity {
    PerClass([
        8,              // GPU-ms per ms: 8 GPUs
        128,            // core-ms per ms: 128 cores
        10_000_000_000, // byte-s per ms: 10 TB held
        12_500_000,     // bytes per ms: 100 Gbit/s
        10_000,         // mJ per ms: 10 kW
    ])
}

/// The simulated meter of stream `index` (a deterministic made-up address).
pub fn stream(index: usize) -> StreamId {
    let digest = Keccak256::digest(format!("zkmeter simulated meter {index}"));
    StreamId { meter: digest[12..].try_into().expect("20 bytes"), job_id: index as u64 + 1 }
}

/// `records` records for each of `streams` streams, starting at `start_ms`, as
/// record-file lines of the made-up meters [`stream`].
pub fn simulate(streams: usize, records: usize, start_ms: u64, seed: u64, capacity: &Capacity) -> Vec<RecordLine> {
    simulate_records(streams, records, start_ms, seed, capacity)
        .into_iter()
        .enumerate()
        .flat_map(|(s, records)| records.into_iter().map(move |record| RecordLine { stream: stream(s), record }))
        .collect()
}

/// `records` records for each of `streams` streams, starting at `start_ms`: one
/// list per stream. Stream `s` mostly uses GPU, CPU, storage or network (by `s`
/// mod 4), with energy in every record and network in every third.
pub fn simulate_records(
    streams: usize,
    records: usize,
    start_ms: u64,
    seed: u64,
    capacity: &Capacity,
) -> Vec<Vec<UsageRecord>> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..streams)
        .map(|s| {
            let main = [ResourceClass::Gpu, ResourceClass::Cpu, ResourceClass::Storage, ResourceClass::Network][s % 4];
            let mut t = start_ms + rng.gen_range(0..1_000);
            (1..=records as u64)
                .map(|seq| {
                    let duration = rng.gen_range(2_000..10_000);
                    let mut usage = PerClass::default();
                    let mut bill = |class: ResourceClass, rng: &mut ChaCha20Rng| {
                        let load = rng.gen_range(0.2..1.0);
                        usage.set(class, (capacity.get(class) as f64 * duration as f64 * load) as u64);
                    };
                    bill(main, &mut rng);
                    bill(ResourceClass::Energy, &mut rng);
                    if seq % 3 == 0 {
                        bill(ResourceClass::Network, &mut rng);
                    }
                    let record = UsageRecord { seq, start_ms: t, end_ms: t + duration, usage };
                    t = record.end_ms + rng.gen_range(0..500);
                    record
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;
    use zkmeter_circuits::build_epoch;

    #[test]
    fn simulated_records_pass_every_rule() {
        let caps = default_capacity();
        let lines = simulate(3, 12, 1_700_000_000_000, 7, &caps);
        assert_eq!(lines.len(), 36);
        for s in 0..3 {
            let id = stream(s);
            let records: Vec<_> = lines.iter().filter(|l| l.stream == id).map(|l| l.record).collect();
            build_epoch(id, id.genesis(1_700_000_000_000), &records, caps, Fr::from(1u64), 12).unwrap();
        }
    }

    #[test]
    fn simulation_is_deterministic_per_seed() {
        let caps = default_capacity();
        assert_eq!(simulate(2, 5, 0, 1, &caps), simulate(2, 5, 0, 1, &caps));
        assert_ne!(simulate(2, 5, 0, 1, &caps), simulate(2, 5, 0, 2, &caps));
    }
}
