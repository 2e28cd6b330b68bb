//! Ceremony keys follow snarkjs's R1CS → QAP reduction: the engine proves with it,
//! bit for bit as ark-groth16 does with the reference `CircomReduction`, and the
//! proofs verify. The key here comes from ark-groth16's generator run with that
//! reduction (a ceremony's keys have the same layout; zkmeter-ceremony's tests
//! prove with real ones).

use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::r1cs_to_qap::R1CSToQAP;
use ark_groth16::{Groth16, ProvingKey, prepare_verifying_key};
use ark_poly::GeneralEvaluationDomain;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::OnceLock;
use zkmeter_circuits::meter_circuit::{Fault, FaultSite};
use zkmeter_circuits::qap_reduction::{CircomReduction, QapReduction};
use zkmeter_circuits::{CircuitShape, MeterCircuit, PUBLIC_INPUTS, PerClass, StreamId, UsageRecord, build_epoch};
use zkmeter_engine::qap::Qap;
use zkmeter_engine::{CpuBackend, EngineError, Prover, synthesize};

const SLOTS: u32 = 1;

fn shape() -> &'static CircuitShape {
    static SHAPE: OnceLock<CircuitShape> = OnceLock::new();
    SHAPE.get_or_init(|| CircuitShape::meter(SLOTS))
}

fn circuit() -> (MeterCircuit, [Fr; PUBLIC_INPUTS]) {
    let stream = StreamId { meter: [0x17; 20], job_id: 3 };
    let records =
        [UsageRecord { seq: 1, start_ms: 5_000, end_ms: 6_000, usage: PerClass([2_000, 500, 0, 1_024, 3_000]) }];
    let caps = PerClass([4, 16, 1 << 30, 1 << 20, 400]);
    let (statement, witness) =
        build_epoch(stream, stream.genesis(5_000), &records, caps, Fr::from(9u64), SLOTS as usize).unwrap();
    (MeterCircuit::assigned(statement.instance(), witness), statement.public_inputs())
}

/// A key in the circom layout (H query of one point per domain element).
fn circom_key() -> &'static ProvingKey<Bn254> {
    static KEY: OnceLock<ProvingKey<Bn254>> = OnceLock::new();
    KEY.get_or_init(|| {
        let blank = MeterCircuit::shape(SLOTS as usize);
        Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
            blank,
            &mut ChaCha20Rng::seed_from_u64(3),
        )
        .unwrap()
    })
}

#[test]
fn the_engine_picks_the_circom_reduction_from_the_key_and_proves_like_the_reference() {
    let pk = circom_key();
    assert_eq!(pk.h_query.len(), shape().domain_size());
    let prover = Prover::new(CpuBackend, pk.clone(), shape().into()).unwrap();
    assert_eq!(prover.reduction(), QapReduction::Circom);

    let (circuit, inputs) = circuit();
    let assignment = synthesize(circuit).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let (r, s) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
    let ours = prover.prove_assignment(&assignment, r, s).unwrap().0;
    let reference = Groth16::<Bn254, CircomReduction>::create_proof_with_reduction_and_matrices(
        pk,
        r,
        s,
        &shape().matrices,
        shape().num_instance_variables,
        shape().num_constraints,
        &assignment.z,
    )
    .unwrap();
    assert_eq!(ours, reference, "same key, witness and randomness must give the reference's proof");
    let pvk = prepare_verifying_key(&pk.vk);
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &ours, &inputs).unwrap());
}

/// `h` in the circom form equals the reference's for a satisfying witness (the
/// engine takes `c = a ∘ b`, the reference evaluates C), and a witness that breaks
/// a constraint gives a proof that does not verify.
#[test]
fn circom_h_equals_the_reference_and_a_bad_witness_does_not_verify() {
    let shape = shape();
    let qap = Qap::new(&shape.matrices, shape.num_instance_variables, shape.num_constraints, QapReduction::Circom)
        .unwrap();
    let (circuit, inputs) = circuit();
    let z = synthesize(circuit.clone()).unwrap().z;
    let reference = CircomReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
        &shape.matrices,
        shape.num_instance_variables,
        shape.num_constraints,
        &z,
    )
    .unwrap();
    assert_eq!(qap.h(&CpuBackend, &z).unwrap(), reference);

    let prover = Prover::new(CpuBackend, circom_key().clone(), shape.into()).unwrap();
    let tampered = circuit.clone().with_fault(Fault { site: FaultSite::Head, slot: 0, delta: Fr::from(1u64) });
    let err = prover.prove_verified(tampered, &mut ChaCha20Rng::seed_from_u64(5)).unwrap_err();
    assert!(matches!(err, EngineError::Unsatisfied), "{err}");
    let proof = prover.prove_verified(circuit, &mut ChaCha20Rng::seed_from_u64(6)).unwrap();
    assert!(Groth16::<Bn254>::verify_proof(&prepare_verifying_key(&circom_key().vk), &proof, &inputs).unwrap());
}

#[test]
fn a_key_whose_h_query_fits_neither_reduction_is_refused() {
    let mut pk = circom_key().clone();
    pk.h_query.push(pk.h_query[0]);
    let err = Prover::new(CpuBackend, pk, shape().into()).err().unwrap();
    assert!(matches!(err, EngineError::KeyMismatch { what: "H query", .. }), "{err}");
}
