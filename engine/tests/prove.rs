//! Engine proofs of a small meter circuit: identical to stock ark-groth16's for the
//! same randomness, accepted by the verifiers, refused for a tampered witness.

use ark_bn254::{Bn254, Fr};
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_groth16::{Groth16, prepare_verifying_key};
use ark_poly::GeneralEvaluationDomain;
use ark_snark::SNARK;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::OnceLock;
use zkmeter_circuits::meter_circuit::{Fault, FaultSite};
use zkmeter_circuits::{
    CircuitShape, MeterCircuit, MeterStatement, MeterWitness, PUBLIC_INPUTS, PerClass, StreamId, UsageRecord,
    build_epoch, keys,
};
use zkmeter_circuits::qap_reduction::QapReduction;
use zkmeter_engine::qap::Qap;
use zkmeter_engine::{AnyProver, BackendKind, CpuBackend, EngineError, Prover, synthesize};

const SLOTS: u32 = 2;

fn shape() -> &'static CircuitShape {
    static SHAPE: OnceLock<CircuitShape> = OnceLock::new();
    SHAPE.get_or_init(|| CircuitShape::meter(SLOTS))
}

fn prover() -> &'static Prover<CpuBackend> {
    static PROVER: OnceLock<Prover<CpuBackend>> = OnceLock::new();
    PROVER.get_or_init(|| {
        let pk = keys::setup(shape(), &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        Prover::meter_cpu(pk, shape()).unwrap()
    })
}

fn epoch() -> (MeterStatement, MeterWitness) {
    let stream = StreamId { meter: [0x42; 20], job_id: 1 };
    let records = [
        UsageRecord { seq: 1, start_ms: 1_000, end_ms: 2_000, usage: PerClass([1_000, 0, 0, 4_096, 40_000]) },
        UsageRecord { seq: 2, start_ms: 2_000, end_ms: 2_500, usage: PerClass([0, 3_000, 0, 0, 90_000]) },
    ];
    let caps = PerClass([4, 16, 1 << 30, 1 << 20, 400]);
    build_epoch(stream, stream.genesis(1_000), &records, caps, Fr::from(5u64), SLOTS as usize).unwrap()
}

fn circuit() -> (MeterCircuit, [Fr; PUBLIC_INPUTS]) {
    let (statement, witness) = epoch();
    (MeterCircuit::assigned(statement.instance(), witness), statement.public_inputs())
}

fn tampered() -> MeterCircuit {
    circuit().0.with_fault(Fault { site: FaultSite::Head, slot: 1, delta: Fr::from(1u64) })
}

#[test]
fn proofs_equal_stock_and_verify() {
    let (circuit, inputs) = circuit();
    let ours = prover().prove(circuit.clone(), &mut ChaCha20Rng::seed_from_u64(7)).unwrap();
    let stock = Groth16::<Bn254>::prove(prover().proving_key(), circuit, &mut ChaCha20Rng::seed_from_u64(7)).unwrap();
    assert_eq!(ours, stock, "same key, witness and randomness must give the same proof");

    let pvk = prepare_verifying_key(prover().verifying_key());
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &ours, &inputs).unwrap());
    let verifier = zkmeter_verifier::Verifier::new(prover().verifying_key());
    verifier.verify(&ours, &inputs).unwrap();
    let mut forged = inputs;
    forged[3] += Fr::from(1u64);
    assert!(verifier.verify(&ours, &forged).is_err());
}

/// The six-NTT `h` is the quotient `LibsnarkReduction` computes with seven, for a
/// satisfying witness. For one that is not (it takes `c = a ∘ b` where the
/// reduction evaluates C), both are wrong in different ways, and neither gives a
/// proof that verifies (`tampered_witness_gives_a_proof_that_does_not_verify`).
#[test]
fn h_equals_libsnark_reduction_for_a_satisfying_witness() {
    let shape = shape();
    let qap = Qap::new(&shape.matrices, shape.num_instance_variables, shape.num_constraints, QapReduction::Libsnark)
        .unwrap();
    let reference = |z: &[Fr]| {
        LibsnarkReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
            &shape.matrices,
            shape.num_instance_variables,
            shape.num_constraints,
            z,
        )
        .unwrap()
    };
    let z = synthesize(circuit().0).unwrap().z;
    assert_eq!(qap.h(&CpuBackend, &z).unwrap(), reference(&z));
    let z = synthesize(tampered()).unwrap().z;
    assert_ne!(qap.h(&CpuBackend, &z).unwrap(), reference(&z), "the methods part only for an unsatisfied witness");
}

#[test]
fn tampered_witness_gives_a_proof_that_does_not_verify() {
    let (_, inputs) = circuit();
    let proof = prover().prove(tampered(), &mut ChaCha20Rng::seed_from_u64(8)).unwrap();
    let pvk = prepare_verifying_key(prover().verifying_key());
    assert!(!Groth16::<Bn254>::verify_proof(&pvk, &proof, &inputs).unwrap());

    let err = prover().prove_verified(tampered(), &mut ChaCha20Rng::seed_from_u64(8)).unwrap_err();
    assert!(matches!(err, EngineError::Unsatisfied), "{err}");
    prover().prove_verified(circuit().0, &mut ChaCha20Rng::seed_from_u64(9)).unwrap();
}

#[test]
fn a_circuit_of_another_size_is_refused() {
    let stream = StreamId { meter: [0x42; 20], job_id: 1 };
    let records = [UsageRecord { seq: 1, start_ms: 10, end_ms: 20, usage: PerClass([0, 1, 0, 0, 0]) }];
    let (statement, witness) =
        build_epoch(stream, stream.genesis(10), &records, PerClass([1, 1, 1, 1, 1]), Fr::from(1u64), 3).unwrap();
    let err = prover()
        .prove(MeterCircuit::assigned(statement.instance(), witness), &mut ChaCha20Rng::seed_from_u64(10))
        .unwrap_err();
    assert!(matches!(err, EngineError::WitnessShape { what: "witness", .. }), "{err}");
}

#[test]
fn a_key_for_another_circuit_is_refused() {
    let other = CircuitShape::meter(1);
    let err = Prover::meter_cpu(prover().proving_key().clone(), &other).err().unwrap();
    assert!(matches!(err, EngineError::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("zkmeter setup"), "{err}");
}

#[test]
fn auto_falls_back_to_the_cpu_without_a_gpu() {
    let auto = AnyProver::new(BackendKind::Auto, prover().proving_key().clone(), shape().into()).unwrap();
    if cfg!(feature = "cuda") && auto.backend_name() == "cuda" {
        eprintln!("a GPU answered, so auto chose it; the fallback is not exercised on this machine");
    } else {
        assert_eq!(auto.backend_name(), "cpu");
    }
    let (circuit, inputs) = circuit();
    let proof = auto.prove_verified(circuit, &mut ChaCha20Rng::seed_from_u64(11)).unwrap();
    let pvk = prepare_verifying_key(auto.verifying_key());
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &inputs).unwrap());
}

#[test]
fn cuda_without_the_feature_says_how_to_build_it() {
    if cfg!(feature = "cuda") {
        eprintln!("built with the cuda feature: nothing to check here");
        return;
    }
    let err = AnyProver::new(BackendKind::Cuda, prover().proving_key().clone(), shape().into()).err().unwrap();
    assert!(matches!(err, EngineError::CudaNotBuilt));
    assert!(err.to_string().contains("--features cuda"), "{err}");
}

#[test]
fn backend_names_parse() {
    assert_eq!("auto".parse::<BackendKind>().unwrap(), BackendKind::Auto);
    assert_eq!("CPU".parse::<BackendKind>().unwrap(), BackendKind::Cpu);
    assert_eq!("cuda".parse::<BackendKind>().unwrap(), BackendKind::Cuda);
    let err = "tpu".parse::<BackendKind>().unwrap_err();
    assert!(err.to_string().contains("auto, cpu or cuda"), "{err}");
}
