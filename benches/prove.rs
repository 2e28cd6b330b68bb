//! Proving the meter circuit: our prover (`MeterProver`: resident key and
//! constraint matrices, witness-only synthesis) against the anchor, stock
//! `ark_groth16::Groth16::prove`, on the same circuit, key and witness, in the same
//! run.
//!
//! Criterion measures each prover on its own. The ratio printed at the end comes from
//! a second, paired measurement: the two provers take turns, proof after proof, so a
//! load that comes and goes on a shared machine weighs on both alike.
//!
//! `cargo bench --bench prove` runs N = 64, 256, 1024; `ZKMETER_BENCH_SLOTS=64,256`
//! picks others.

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_snark::SNARK;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::time::{Duration, Instant};
use zkmeter_circuits::meter_circuit::CONSTRAINTS_PER_SLOT;
use zkmeter_circuits::{CircuitShape, MeterCircuit, MeterProver, PerClass, StreamId, UsageRecord, build_epoch, keys};

fn slots() -> Vec<u32> {
    std::env::var("ZKMETER_BENCH_SLOTS")
        .ok()
        .map(|s| s.split(',').map(|n| n.trim().parse().expect("ZKMETER_BENCH_SLOTS is a list of numbers")).collect())
        .unwrap_or_else(|| vec![64, 256, 1024])
}

/// A full epoch: N records, each billing all five classes.
fn epoch(slots: u32) -> (zkmeter_circuits::MeterStatement, zkmeter_circuits::MeterWitness) {
    let stream = StreamId { meter: [0xbe; 20], job_id: 1 };
    let opened = 1_700_000_000_000;
    let records: Vec<UsageRecord> = (0..slots as u64)
        .map(|i| UsageRecord {
            seq: i + 1,
            start_ms: opened + i * 5_000,
            end_ms: opened + i * 5_000 + 4_000,
            usage: PerClass([1_000 + i, 2_000 + i, 3_000_000 + i, 40_000 + i, 5_000 + i]),
        })
        .collect();
    let caps = PerClass([8, 128, 1 << 40, 1 << 24, 10_000]);
    build_epoch(stream, stream.genesis(opened), &records, caps, Fr::from(3u64), slots as usize).expect("valid records")
}

/// Rounds of the paired measurement.
const PAIRED_ROUNDS: usize = 5;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn prove(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let mut summary = Vec::new();
    for n in slots() {
        let shape = CircuitShape::meter(n);
        let constraints = shape.num_constraints;
        eprintln!("N = {n}: {constraints} constraints ({CONSTRAINTS_PER_SLOT} per record slot); setting up keys…");
        let pk = keys::setup(&shape, &mut rng).expect("setup");
        let prover = MeterProver::new(shape, pk);
        let (statement, witness) = epoch(n);
        let instance = statement.instance();

        let mut group = c.benchmark_group("prove");
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(if n >= 1024 { 60 } else { 20 }));
        group.bench_with_input(BenchmarkId::new("zkmeter", n), &n, |b, _| {
            b.iter(|| prover.prove(&instance, &witness, &mut rng).expect("proof"))
        });
        group.bench_with_input(BenchmarkId::new("ark_groth16", n), &n, |b, _| {
            b.iter(|| {
                let circuit = MeterCircuit::assigned(instance, witness.clone());
                Groth16::<Bn254>::prove(prover.proving_key(), circuit, &mut rng).expect("proof")
            })
        });
        group.finish();

        let (mut ours, mut stock) = (Vec::new(), Vec::new());
        for _ in 0..PAIRED_ROUNDS {
            let t = Instant::now();
            prover.prove(&instance, &witness, &mut rng).expect("proof");
            ours.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            Groth16::<Bn254>::prove(prover.proving_key(), MeterCircuit::assigned(instance, witness.clone()), &mut rng)
                .expect("proof");
            stock.push(t.elapsed().as_secs_f64());
        }
        summary.push((n, constraints, median(ours), median(stock)));
    }
    eprintln!("\npaired medians over {PAIRED_ROUNDS} alternating rounds:");
    eprintln!("{:>6} {:>12} {:>14} {:>16} {:>8}", "N", "constraints", "zkmeter (ms)", "ark_groth16 (ms)", "ratio");
    for (n, constraints, ours, stock) in summary {
        eprintln!("{n:>6} {constraints:>12} {:>14.1} {:>16.1} {:>7.2}x", ours * 1e3, stock * 1e3, stock / ours);
    }
}

criterion_group!(benches, prove);
criterion_main!(benches);
