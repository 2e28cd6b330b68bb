//! Setup, key files, proving and proof files, end to end on small circuits: the
//! meter circuit and two workload circuits (a matmul and a two-layer MLP).

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, ProvingKey, prepare_verifying_key};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode};
use ark_snark::SNARK;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::OnceLock;
use zkmeter_circuits::assignment::synthesize;
use zkmeter_circuits::keys::{self, KeyKind};
use zkmeter_circuits::workload::{Execution, Layer, LayerKind, LayerShape, Matrix, Method, Model, Plan, execute};
use zkmeter_circuits::{
    CircuitShape, KeyError, KeyHeader, MeterCircuit, MeterProver, MeterStatement, MeterWitness, PerClass, ProofFile,
    ProofFileError, ProveError, StreamId, UsageRecord, WorkloadCircuit, WorkloadProofFile,
    WorkloadProver, build_epoch,
};

const SLOTS: u32 = 2;

fn prover() -> &'static MeterProver {
    static PROVER: OnceLock<MeterProver> = OnceLock::new();
    PROVER.get_or_init(|| {
        let shape = CircuitShape::meter(SLOTS);
        let pk = keys::setup(&shape, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        MeterProver::new(shape, pk)
    })
}

fn epoch() -> (MeterStatement, MeterWitness) {
    let stream = StreamId { meter: [0x42; 20], job_id: 1 };
    let records = [
        UsageRecord { seq: 1, start_ms: 1_000, end_ms: 2_000, usage: PerClass([1_000, 3_000, 0, 0, 40_000]) },
        UsageRecord { seq: 2, start_ms: 2_000, end_ms: 2_500, usage: PerClass([0, 0, 0, 512, 90_000]) },
    ];
    let caps = PerClass([4, 16, 1 << 30, 1 << 20, 400]);
    build_epoch(stream, stream.genesis(900), &records, caps, Fr::from(5u64), SLOTS as usize).unwrap()
}

#[test]
fn proofs_verify_and_forged_statements_do_not() {
    let (statement, witness) = epoch();
    let proof = prover().prove(&statement.instance(), &witness, &mut ChaCha20Rng::seed_from_u64(2)).unwrap();
    let pvk = prepare_verifying_key(prover().verifying_key());
    let inputs = statement.public_inputs();
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &inputs).unwrap());
    for k in 0..inputs.len() {
        let mut forged = inputs;
        forged[k] += Fr::from(1u64);
        assert!(!Groth16::<Bn254>::verify_proof(&pvk, &proof, &forged).unwrap(), "public input {k} forged");
    }
    let mut more_gpu = statement;
    more_gpu.totals.0[0] += 1;
    assert!(!Groth16::<Bn254>::verify_proof(&pvk, &proof, &more_gpu.public_inputs()).unwrap());
}

#[test]
fn stock_prover_makes_proofs_for_the_same_key() {
    let (statement, witness) = epoch();
    let circuit = MeterCircuit::assigned(statement.instance(), witness);
    let proof = Groth16::<Bn254>::prove(prover().proving_key(), circuit, &mut ChaCha20Rng::seed_from_u64(3)).unwrap();
    let pvk = prepare_verifying_key(prover().verifying_key());
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &proof, &statement.public_inputs()).unwrap());
}

#[test]
fn witness_for_another_n_is_refused() {
    let (statement, mut witness) = epoch();
    witness.slots.pop();
    let err = prover().prove(&statement.instance(), &witness, &mut ChaCha20Rng::seed_from_u64(4)).unwrap_err();
    assert!(err.to_string().contains("record slots"), "{err}");
}

#[test]
fn key_files_round_trip_and_refuse_the_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let (pk_path, vk_path) = keys::key_paths(dir.path(), SLOTS);
    let shape = prover().shape();
    keys::write_key(&pk_path, KeyKind::Proving, &shape.header, prover().proving_key()).unwrap();
    keys::write_key(&vk_path, KeyKind::Verifying, &shape.header, prover().verifying_key()).unwrap();

    let loaded = MeterProver::load(&pk_path, SLOTS).unwrap();
    assert_eq!(loaded.verifying_key(), prover().verifying_key());
    let (header, vk) = keys::load_verifying_key(&vk_path).unwrap();
    assert_eq!(header, shape.header);
    assert_eq!(&vk, prover().verifying_key());

    let err = MeterProver::load(&pk_path, 3).err().unwrap();
    assert!(
        matches!(&err, KeyError::WrongCircuit { found, expected, .. } if found.slots == 2 && expected.slots == 3),
        "{err}"
    );
    assert!(matches!(MeterProver::load(&vk_path, SLOTS), Err(KeyError::WrongKind { .. })));
    assert!(matches!(keys::load_verifying_key(&pk_path), Err(KeyError::WrongKind { .. })));
    let missing = dir.path().join("meter-8.pk");
    let err = MeterProver::load(&missing, 8).err().unwrap();
    assert!(err.to_string().contains("zkmeter setup --records 8"), "{err}");

    let mut other = shape.header.clone();
    other.digest[0] ^= 1;
    let stale = dir.path().join("stale.pk");
    keys::write_key(&stale, KeyKind::Proving, &other, prover().proving_key()).unwrap();
    assert!(matches!(MeterProver::load(&stale, SLOTS), Err(KeyError::DigestMismatch { .. })));

    let mut bytes = std::fs::read(&vk_path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&vk_path, &bytes).unwrap();
    assert!(matches!(keys::load_verifying_key(&vk_path), Err(KeyError::Corrupt { .. })));
    std::fs::write(&vk_path, &bytes[..20]).unwrap();
    assert!(matches!(keys::load_verifying_key(&vk_path), Err(KeyError::NotAKeyFile { .. })));
    std::fs::write(&vk_path, b"hello").unwrap();
    assert!(matches!(keys::load_verifying_key(&vk_path), Err(KeyError::NotAKeyFile { .. })));

    // A key of the retired v1 statement says what to do.
    let v1 = KeyHeader { circuit: "zkmeter.meter.v1".into(), ..shape.header.clone() };
    let old = dir.path().join("old.pk");
    keys::write_key(&old, KeyKind::Proving, &v1, prover().proving_key()).unwrap();
    let err = MeterProver::load(&old, SLOTS).err().unwrap();
    assert!(matches!(err, KeyError::Retired { .. }), "{err}");
    assert!(err.to_string().contains("zkmeter setup --records 2"), "{err}");
}

#[test]
fn proof_files_round_trip_and_refuse_edits() {
    let (statement, witness) = epoch();
    let proof = prover().prove(&statement.instance(), &witness, &mut ChaCha20Rng::seed_from_u64(5)).unwrap();
    let file = ProofFile { key: prover().shape().header.clone(), statement, proof };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("epoch.proof.json");
    file.write(&path).unwrap();
    assert_eq!(ProofFile::read(&path).unwrap(), file);

    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"gpu\": 1000", "\"gpu\": 1001", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    assert!(matches!(ProofFile::read(&path), Err(ProofFileError::InputsMismatch { .. })));

    std::fs::write(&path, "{").unwrap();
    assert!(matches!(ProofFile::read(&path), Err(ProofFileError::Malformed { .. })));

    // A proof of the retired v1 statement is refused with what to do, not as malformed.
    std::fs::write(&path, text.replace("zkmeter.proof.v2", "zkmeter.proof.v1")).unwrap();
    let err = ProofFile::read(&path).unwrap_err();
    assert!(matches!(err, ProofFileError::Retired { .. }), "{err}");
    assert!(err.to_string().contains("prove the records again with v2 keys"), "{err}");
}

/// A 2×4 · 4×3 matmul.
fn matmul() -> (Model, Matrix<i8>) {
    let shape = LayerShape { inputs: 4, outputs: 3, kind: LayerKind::MatMul };
    let weights = vec![3, -2, 5, 1, -4, 7, 0, 2, 1, 1, -3, 6];
    let model = Model::new(vec![Layer { shape, weights, bias: vec![] }]).unwrap();
    (model, Matrix::new(2, 4, vec![12, -7, 30, 5, -100, 64, 3, -9]).unwrap())
}

/// 2 rows through 4 → 3 (ReLU, shift 4) → 2 (shift 2).
fn mlp() -> (Model, Matrix<i8>) {
    let (first, input) = matmul();
    let relu = LayerKind::Requantise { shift: 4, relu: true };
    let first = Layer {
        shape: LayerShape { kind: relu, ..first.layers()[0].shape },
        bias: vec![10, -20, 30],
        ..first.layers()[0].clone()
    };
    let shape = LayerShape { inputs: 3, outputs: 2, kind: LayerKind::Requantise { shift: 2, relu: false } };
    let second = Layer { shape, weights: vec![2, -1, -3, 4, 5, 1], bias: vec![-5, 7] };
    (Model::new(vec![first, second]).unwrap(), input)
}

fn run(workload: fn() -> (Model, Matrix<i8>)) -> Execution {
    let (model, input) = workload();
    execute(&model, &input).unwrap()
}

/// The MLP's proving key (direct plan) and its prover, set up once.
fn mlp_keys() -> &'static (ProvingKey<Bn254>, WorkloadProver) {
    static KEYS: OnceLock<(ProvingKey<Bn254>, WorkloadProver)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let plan = Plan::with_methods(run(mlp).shape, vec![Method::Direct; 2]);
        let shape = CircuitShape::workload(&plan);
        let pk = keys::setup(&shape, &mut ChaCha20Rng::seed_from_u64(11)).unwrap();
        (pk.clone(), WorkloadProver::new(plan, shape, pk))
    })
}

fn mlp_prover() -> &'static WorkloadProver {
    &mlp_keys().1
}

#[test]
fn workload_keys_round_trip_and_prove_what_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let prover = mlp_prover();
    let plan = prover.plan().clone();
    let header = &prover.shape().header;
    assert_eq!(header.circuit, "zkmeter.workload.v1:2:4x3r4d:3x2q2d");
    assert_eq!(header.slots, 0);
    let (pk_path, vk_path) = keys::workload_key_paths(dir.path(), &plan);
    assert_eq!(pk_path.file_name().unwrap(), "workload-2-4x3r4d-3x2q2d.pk");
    keys::write_key(&pk_path, KeyKind::Proving, header, &mlp_keys().0).unwrap();
    keys::write_key(&vk_path, KeyKind::Verifying, header, prover.verifying_key()).unwrap();

    // The service's view: the header says which circuit the verifying key is for.
    let (loaded_header, vk) = keys::load_verifying_key(&vk_path).unwrap();
    assert_eq!(&loaded_header, header);
    assert!(loaded_header.is_workload());
    assert_eq!(vk.gamma_abc_g1.len(), 5, "four public inputs");

    let loaded = WorkloadProver::load(&pk_path, plan.clone()).unwrap();
    let exec = run(mlp);
    let (proof, statement) = loaded.prove(7, &exec, &mut ChaCha20Rng::seed_from_u64(12)).unwrap();
    assert_eq!(statement, exec.statement(7));
    assert_eq!(statement.work_units, 2 * 4 * 3 + 2 * 3 * 2);
    let inputs = statement.public_inputs();
    assert!(Groth16::<Bn254>::verify(&vk, &inputs, &proof).unwrap());
    let mut forged = statement;
    forged.output += Fr::from(1u64);
    assert!(!Groth16::<Bn254>::verify(&vk, &forged.public_inputs(), &proof).unwrap());
    let mut other_job = statement;
    other_job.job_id = 8;
    assert!(!Groth16::<Bn254>::verify(&vk, &other_job.public_inputs(), &proof).unwrap());

    // An execution of another shape is refused before any proving.
    let err = loaded.prove(7, &run(matmul), &mut ChaCha20Rng::seed_from_u64(13)).err().unwrap();
    assert!(matches!(err, ProveError::WrongShape { .. }), "{err}");
    assert!(err.to_string().contains("2 rows through 4→3 (matmul)"), "{err}");
}

#[test]
fn workload_keys_refuse_the_meter_key_and_another_plans_key() {
    let dir = tempfile::tempdir().unwrap();
    let exec = run(mlp);
    let direct = mlp_prover().plan().clone();
    let freivalds = Plan::with_methods(exec.shape.clone(), vec![Method::Freivalds; 2]);

    // The meter's key where the workload's is needed.
    let (meter_pk, _) = keys::key_paths(dir.path(), SLOTS);
    keys::write_key(&meter_pk, KeyKind::Proving, &prover().shape().header, prover().proving_key()).unwrap();
    let err = WorkloadProver::load(&meter_pk, direct.clone()).err().unwrap();
    assert!(matches!(err, KeyError::WrongCircuit { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("is a key for zkmeter.meter.v2 with 2 record slots, but workload circuit zkmeter.workload.v1:2:4x3r4d:3x2q2d is needed"), "{text}");
    assert!(text.contains("run `zkmeter workload setup --model <the model file> --rows 2 --plan direct`"), "{text}");

    // The workload's key where the meter's is needed.
    let (direct_pk, _) = keys::workload_key_paths(dir.path(), &direct);
    keys::write_key(&direct_pk, KeyKind::Proving, &mlp_prover().shape().header, &mlp_keys().0).unwrap();
    let err = MeterProver::load(&direct_pk, SLOTS).err().unwrap();
    assert!(err.to_string().contains("run `zkmeter setup --records 2`"), "{err}");

    // Another plan of the same shape is another circuit.
    let err = WorkloadProver::load(&direct_pk, freivalds.clone()).err().unwrap();
    assert!(err.to_string().contains("--plan freivalds"), "{err}");
    assert!(matches!(err, KeyError::WrongCircuit { .. }), "{err}");

    // Same id, other constraints: a key from another version of the circuit.
    let mut stale = mlp_prover().shape().header.clone();
    stale.digest[0] ^= 1;
    let stale_path = dir.path().join("stale.pk");
    keys::write_key(&stale_path, KeyKind::Proving, &stale, &mlp_keys().0).unwrap();
    let err = WorkloadProver::load(&stale_path, direct.clone()).err().unwrap();
    assert!(matches!(err, KeyError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("different version of workload circuit"), "{err}");

    // A missing workload key names its setup, also when only its file name is known.
    let (fresh_pk, fresh_vk) = keys::workload_key_paths(dir.path(), &freivalds);
    let err = WorkloadProver::load(&fresh_pk, freivalds.clone()).err().unwrap();
    assert!(
        err.to_string().contains("zkmeter workload setup --model <the model file> --rows 2 --plan freivalds"),
        "{err}"
    );
    let err = keys::load_verifying_key(&fresh_vk).unwrap_err();
    assert!(matches!(err, KeyError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("--rows 2 --plan freivalds"), "{err}");
}

#[test]
fn circuit_ids_read_back_as_their_plans() {
    for exec in [run(matmul), run(mlp)] {
        let auto = Plan::auto(exec.shape.clone());
        let layers = exec.shape.layers().len();
        for plan in [auto, Plan::with_methods(exec.shape.clone(), vec![Method::Freivalds; layers])] {
            assert_eq!(plan.circuit_id().parse::<Plan>().unwrap(), plan);
        }
    }
    for bad in
        ["zkmeter.meter.v1", "zkmeter.workload.v1:x", "zkmeter.workload.v1:2:4x3zd", "zkmeter.workload.v1:2:4x3m"]
    {
        let err = bad.parse::<Plan>().unwrap_err();
        assert!(err.to_string().contains("is not a workload circuit id"), "{err}");
    }
    // Layers that do not chain are no circuit, whatever the id says.
    assert!("zkmeter.workload.v1:2:4x3r4d:2x2md".parse::<Plan>().is_err());
    let meter = KeyHeader { circuit: "zkmeter.meter.v1".into(), slots: 8, digest: [0; 32] };
    assert_eq!(meter.setup_command(), "zkmeter setup --records 8");
    let too_long = "zkmeter.workload.v1:1".to_owned() + &":1x1r0d".repeat(40);
    assert!(matches!(keys::check_circuit_id(&too_long), Err(KeyError::CircuitIdTooLong { .. })));
}

#[test]
fn workload_proof_files_round_trip_and_refuse_a_tampered_output() {
    let exec = run(mlp);
    let (proof, statement) = mlp_prover().prove(3, &exec, &mut ChaCha20Rng::seed_from_u64(14)).unwrap();
    let file =
        WorkloadProofFile { key: mlp_prover().shape().header.clone(), statement, output: exec.output.clone(), proof };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mlp.proof.json");
    file.write(&path).unwrap();
    assert_eq!(WorkloadProofFile::read(&path).unwrap(), file);

    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = json["output"]["values"][0].as_i64().unwrap();
    json["output"]["values"][0] = (if first == 127 { 126 } else { first + 1 }).into();
    std::fs::write(&path, json.to_string()).unwrap();
    assert!(matches!(WorkloadProofFile::read(&path), Err(ProofFileError::OutputMismatch { .. })));

    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["statement"]["work_units"] = 1_000.into();
    std::fs::write(&path, json.to_string()).unwrap();
    assert!(matches!(WorkloadProofFile::read(&path), Err(ProofFileError::InputsMismatch { .. })));
}

/// Every variable's value, from a synthesis that builds matrices too (as stock proving does).
fn full_assignment<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Vec<Fr> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove { construct_matrices: true, generate_lc_assignments: false });
    circuit.generate_constraints(cs.clone()).unwrap();
    let mut z = cs.instance_assignment().unwrap();
    z.extend(cs.witness_assignment().unwrap());
    z
}

/// The provers synthesize without matrices ([`synthesize`]), where `Num` carries
/// values alone; the assignment must be the one a matrix-building synthesis makes.
#[test]
fn witness_only_synthesis_assigns_what_a_full_synthesis_does() {
    let (statement, witness) = epoch();
    let meter = MeterCircuit::assigned(statement.instance(), witness);
    assert_eq!(synthesize(meter.clone()).unwrap().z, full_assignment(meter));

    let exec = run(mlp);
    for methods in [vec![Method::Direct; 2], vec![Method::Freivalds; 2]] {
        let plan = Plan::with_methods(exec.shape.clone(), methods);
        let circuit = WorkloadCircuit::assigned(plan, &exec.statement(3), exec.witness.clone());
        assert_eq!(synthesize(circuit.clone()).unwrap().z, full_assignment(circuit));
    }
}
