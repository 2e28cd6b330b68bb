//! Groth16 verification throughput: single vs batched, against stock ark-groth16.
//!
//! Verification cost depends only on the number of public inputs (one MSM of that
//! size, the pairings, the final exponentiation), never on the circuit's size, so a
//! toy circuit with the meter statement's six public inputs measures what verifying a
//! meter proof costs. The inputs are full-size field elements (powers of a random
//! `w`), like the meter statement's heads: the MSM is faster for small scalars.
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
use ark_ff::UniformRand;
use ark_groth16::{Groth16, Proof};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable,
};
use ark_snark::{CircuitSpecificSetupSNARK, SNARK};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use rand::{SeedableRng, rngs::StdRng};
use std::time::Duration;
use zkmeter_verifier::{BatchItem, Verifier};

const PUBLIC_INPUTS: usize = 6;
const BATCH_SIZES: [usize; 4] = [1, 8, 32, 128];

/// Knows `w` such that the public inputs are `w, w², …, w⁶`.
struct Powers {
    w: Option<Fr>,
}

impl ConstraintSynthesizer<Fr> for Powers {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let w_value = self.w.ok_or(SynthesisError::AssignmentMissing);
        let w = cs.new_witness_variable(|| w_value)?;
        let mut power = cs.new_input_variable(|| w_value)?;
        cs.enforce_r1cs_constraint(
            || LinearCombination::from(w),
            || LinearCombination::from(Variable::One),
            || LinearCombination::from(power),
        )?;
        let mut power_value = self.w;
        for _ in 1..PUBLIC_INPUTS {
            power_value = power_value.zip(self.w).map(|(p, w)| p * w);
            let next =
                cs.new_input_variable(|| power_value.ok_or(SynthesisError::AssignmentMissing))?;
            cs.enforce_r1cs_constraint(
                || LinearCombination::from(power),
                || LinearCombination::from(w),
                || LinearCombination::from(next),
            )?;
            power = next;
        }
        Ok(())
    }
}

fn statement(w: Fr) -> Vec<Fr> {
    std::iter::successors(Some(w), |p| Some(*p * w))
        .take(PUBLIC_INPUTS)
        .collect()
}

fn bench_verify(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let (pk, vk) = Groth16::<Bn254>::setup(Powers { w: None }, &mut rng).expect("toy setup");
    let max = BATCH_SIZES[BATCH_SIZES.len() - 1];
    let proofs: Vec<(Proof<Bn254>, Vec<Fr>)> = (0..max)
        .map(|_| {
            let w = Fr::rand(&mut rng);
            let proof =
                Groth16::<Bn254>::prove(&pk, Powers { w: Some(w) }, &mut rng).expect("toy proof");
            (proof, statement(w))
        })
        .collect();
    let verifier = Verifier::new(&vk);
    let pvk = ark_groth16::prepare_verifying_key(&vk);
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
