//! The CUDA backend against arkworks and the CPU backend: identical MSM and NTT
//! results, and GPU proofs equal to stock ark-groth16's. Built only with the `cuda`
//! feature; every test skips, saying so, where no GPU answers.
#![cfg(feature = "cuda")]

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{FftField, UniformRand, Zero};
use ark_groth16::Groth16;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_snark::SNARK;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkmeter_circuits::{CircuitShape, MeterCircuit, PerClass, ResourceClass, StreamId, UsageRecord, build_epoch, keys};
use zkmeter_engine::cuda::CudaBackend;
use zkmeter_engine::{Ntt, Prover, ProverBackend};

fn gpu() -> Option<CudaBackend> {
    match CudaBackend::new() {
        Ok(gpu) => Some(gpu),
        Err(why) => {
            eprintln!("SKIPPED: no GPU to test the CUDA backend on ({why})");
            None
        }
    }
}

fn scalars(n: usize, rng: &mut ChaCha20Rng) -> Vec<Fr> {
    (0..n)
        .map(|i| match i % 4 {
            0 => Fr::zero(),
            1 => Fr::from(1u64),
            2 => Fr::from(i as u64 * 977),
            _ => Fr::rand(rng),
        })
        .collect()
}

#[test]
fn gpu_msms_equal_arkworks() {
    let Some(gpu) = gpu() else { return };
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for n in [1, 100, 5_000, 70_000] {
        let g1: Vec<G1Affine> = G1Projective::normalize_batch(
            &(0..n).map(|_| G1Projective::generator() * Fr::rand(&mut rng)).collect::<Vec<_>>(),
        );
        let s = scalars(n, &mut rng);
        let loaded = gpu.load_g1(&g1).unwrap();
        assert_eq!(gpu.msm_g1(&loaded, &s).unwrap(), G1Projective::msm(&g1, &s).unwrap(), "G1, n = {n}");
        // The bases stay resident: a second MSM with other scalars needs no upload.
        let s2 = scalars(n, &mut rng);
        assert_eq!(gpu.msm_g1(&loaded, &s2).unwrap(), G1Projective::msm(&g1, &s2).unwrap(), "G1 again, n = {n}");

        let g2: Vec<G2Affine> = G2Projective::normalize_batch(
            &(0..n.min(5_000)).map(|_| G2Projective::generator() * Fr::rand(&mut rng)).collect::<Vec<_>>(),
        );
        let s = &s[..g2.len()];
        let loaded = gpu.load_g2(&g2).unwrap();
        assert_eq!(gpu.msm_g2(&loaded, s).unwrap(), G2Projective::msm(&g2, s).unwrap(), "G2, n = {}", g2.len());
    }
}

#[test]
fn gpu_ntts_equal_ark_poly() {
    let Some(gpu) = gpu() else { return };
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    for log in [1, 10, 16] {
        let domain = Radix2EvaluationDomain::<Fr>::new(1 << log).unwrap();
        let coset = domain.get_coset(Fr::GENERATOR).unwrap();
        let values: Vec<Fr> = (0..1 << log).map(|_| Fr::rand(&mut rng)).collect();
        for (op, reference) in [
            (Ntt::Forward, domain.fft(&values)),
            (Ntt::Inverse, domain.ifft(&values)),
            (Ntt::CosetForward, coset.fft(&values)),
            (Ntt::CosetInverse, coset.ifft(&values)),
        ] {
            let mut ours = values.clone();
            gpu.ntt(&domain, &mut ours, op).unwrap();
            assert_eq!(ours, reference, "{op:?} on 2^{log}");
        }
    }
}

#[test]
fn gpu_proofs_equal_stock_and_verify() {
    let Some(gpu) = gpu() else { return };
    let shape = CircuitShape::meter(4);
    let pk = keys::setup(&shape, &mut ChaCha20Rng::seed_from_u64(3)).unwrap();
    let prover = Prover::new(gpu, pk, (&shape).into()).unwrap();
    let stream = StreamId { meter: [7; 20], job_id: 9 };
    let records: Vec<UsageRecord> = (0..4u64)
        .map(|i| UsageRecord { seq: i + 1, start_ms: 100 * i, end_ms: 100 * i + 50, usage: PerClass([10 + i; 5]) })
        .collect();
    let (statement, witness) =
        build_epoch(stream, stream.genesis(0), &records, PerClass([1 << 20; 5]), Fr::from(9u64), 4).unwrap();
    let circuit = MeterCircuit::assigned(statement.instance(), witness);
    let ours = prover.prove_verified(circuit.clone(), &mut ChaCha20Rng::seed_from_u64(4)).unwrap();
    let stock = Groth16::<Bn254>::prove(prover.proving_key(), circuit, &mut ChaCha20Rng::seed_from_u64(4)).unwrap();
    assert_eq!(ours, stock);
    zkmeter_verifier::Verifier::new(prover.verifying_key()).verify(&ours, &statement.public_inputs()).unwrap();
}
