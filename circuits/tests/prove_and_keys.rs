//! Setup, key files, proving and proof files, end to end on a small circuit.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, prepare_verifying_key};
use ark_snark::SNARK;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::OnceLock;
use zkmeter_circuits::keys::{self, KeyKind};
use zkmeter_circuits::{
    CircuitShape, KeyError, MeterCircuit, MeterProver, MeterStatement, MeterWitness, PerClass, ProofFile,
    ProofFileError, ResourceClass, StreamId, UsageRecord, build_epoch,
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
        UsageRecord { seq: 1, start_ms: 1_000, end_ms: 2_000, class: ResourceClass::Gpu, quantity: 1_000 },
        UsageRecord { seq: 2, start_ms: 2_000, end_ms: 2_500, class: ResourceClass::Energy, quantity: 90_000 },
    ];
    let caps = PerClass([4, 16, 1 << 30, 1 << 20, 400]);
    build_epoch(stream, stream.genesis(), &records, caps, Fr::from(5u64), SLOTS as usize).unwrap()
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

    assert!(matches!(MeterProver::load(&pk_path, 3), Err(KeyError::WrongCircuit { found_slots: 2, expected_slots: 3, .. })));
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
}
