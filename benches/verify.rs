//! Groth16 verification throughput: single vs batched, against stock ark-groth16.
//!
//! The proofs are real meter-circuit proofs (N = 2 record slots, so setting up is
//! quick): verification cost depends only on the number of public inputs (six, one
//! MSM of that size, the pairings, the final exponentiation), never on N.
//!
//! For each batch size n in 1, 8, 32, 128, over the same n valid proofs:
//! - `ark_groth16/n`: stock `Groth16::verify_proof` per proof (the anchor);
//! - `single/n`: `Verifier::verify` per proof;
//! - `batched/n`: one `Verifier::verify_batch` call (a batch of one is verified singly).
//!
//! Throughput is in proofs (elements) per second. The single loops run on one core;
//! the batch spreads its per-proof work over rayon's threads (`RAYON_NUM_THREADS=1`
//! gives the per-core comparison).
//!
//! Run: `cargo bench --bench verify`

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, Proof};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use rand::{SeedableRng, rngs::StdRng};
use std::time::Duration;
use zkmeter_circuits::{
    CircuitShape, MeterProver, PUBLIC_INPUTS, PerClass, StreamId, UsageRecord, build_epoch, keys,
};
use zkmeter_verifier::{BatchItem, Verifier};

const BATCH_SIZES: [usize; 4] = [1, 8, 32, 128];
const SLOTS: u32 = 2;

/// The first epoch of stream `i`: two records, distinct per stream.
fn epoch_proof(prover: &MeterProver, i: u64, rng: &mut StdRng) -> (Proof<Bn254>, [Fr; PUBLIC_INPUTS]) {
    let stream = StreamId { meter: [0x77; 20], job_id: i + 1 };
    let records = [
        UsageRecord { seq: 1, start_ms: 1_000 + i, end_ms: 5_000 + i, usage: PerClass([30_000 + i, 0, 0, 0, 9_000 + i]) },
        UsageRecord { seq: 2, start_ms: 5_000 + i, end_ms: 6_000 + i, usage: PerClass([0, 0, 0, 4_096, 9_000 + i]) },
    ];
    let caps = PerClass([8, 128, 1 << 40, 1 << 24, 10_000]);
    let (statement, witness) =
        build_epoch(stream, stream.genesis(1_000), &records, caps, Fr::from(i), SLOTS as usize).expect("valid records");
    let proof = prover.prove(&statement.instance(), &witness, rng).expect("proof");
    (proof, statement.public_inputs())
}

fn bench_verify(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let shape = CircuitShape::meter(SLOTS);
    let pk = keys::setup(&shape, &mut rng).expect("setup");
    let prover = MeterProver::new(shape, pk);
    let max = BATCH_SIZES[BATCH_SIZES.len() - 1];
    let proofs: Vec<(Proof<Bn254>, [Fr; PUBLIC_INPUTS])> =
        (0..max as u64).map(|i| epoch_proof(&prover, i, &mut rng)).collect();
    let vk = prover.verifying_key();
    let verifier = Verifier::new(vk);
    let pvk = ark_groth16::prepare_verifying_key(vk);
    // Production draws the batch's ρ from a CSPRNG; so does the benchmark.
    let mut batch_rng = StdRng::from_entropy();

    let mut group = c.benchmark_group("verify");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sampling_mode(SamplingMode::Flat);
    for n in BATCH_SIZES {
        let items: Vec<BatchItem<'_>> =
            proofs[..n].iter().map(|(p, x)| (p, x.as_slice())).collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("ark_groth16", n), |b| {
            b.iter(|| {
                for (proof, inputs) in &items {
                    assert!(Groth16::<Bn254>::verify_proof(&pvk, proof, inputs).expect("verify"));
                }
            })
        });
        group.bench_function(BenchmarkId::new("single", n), |b| {
            b.iter(|| {
                for (proof, inputs) in &items {
                    verifier.verify(proof, inputs).expect("valid proof");
                }
            })
        });
        group.bench_function(BenchmarkId::new("batched", n), |b| {
            b.iter(|| assert!(verifier.verify_batch(&items, &mut batch_rng).all_valid()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
