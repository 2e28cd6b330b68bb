//! Key headers say where a key came from: files written before the origin field
//! read as development keys, ceremony keys carry their transcript hash, and a
//! header whose origin does not fit the key's H query is refused.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, ProvingKey};
use ark_serialize::CanonicalSerialize;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use zkmeter_circuits::keys::{self, KeyKind, KeyOrigin};
use zkmeter_circuits::qap_reduction::CircomReduction;
use zkmeter_circuits::{
    CircuitShape, KeyError, MeterCircuit, MeterProver, PerClass, StreamId, UsageRecord, build_epoch,
};

const SLOTS: u32 = 1;

fn shape() -> &'static CircuitShape {
    static SHAPE: OnceLock<CircuitShape> = OnceLock::new();
    SHAPE.get_or_init(|| CircuitShape::meter(SLOTS))
}

/// A development key (LibsnarkReduction) and one in the ceremony layout (the
/// circom reduction), from arkworks' generator.
fn keys() -> &'static (ProvingKey<Bn254>, ProvingKey<Bn254>) {
    static KEYS: OnceLock<(ProvingKey<Bn254>, ProvingKey<Bn254>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let development = keys::setup(shape(), &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        let ceremony = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
            MeterCircuit::shape(SLOTS as usize),
            &mut ChaCha20Rng::seed_from_u64(2),
        )
        .unwrap();
        (development, ceremony)
    })
}

/// A key file as written before the origin field existed.
fn version_1_file(kind: KeyKind, key: &impl CanonicalSerialize) -> Vec<u8> {
    let header = &shape().header;
    let mut body = Vec::new();
    key.serialize_uncompressed(&mut body).unwrap();
    let mut out = b"ZKMKEY\0\x01".to_vec();
    out.push(kind as u8);
    out.push(header.circuit.len() as u8);
    out.extend_from_slice(header.circuit.as_bytes());
    out.extend_from_slice(&header.slots.to_le_bytes());
    out.extend_from_slice(&header.digest);
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    out
}

#[test]
fn version_1_files_are_development_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (pk, vk) = (dir.path().join("meter-1.pk"), dir.path().join("meter-1.vk"));
    std::fs::write(&pk, version_1_file(KeyKind::Proving, &keys().0)).unwrap();
    std::fs::write(&vk, version_1_file(KeyKind::Verifying, &keys().0.vk)).unwrap();
    assert_eq!(keys::key_origin(&pk).unwrap(), KeyOrigin::Development);
    let (header, origin, loaded) = keys::load_verifying_key_with_origin(&vk).unwrap();
    assert_eq!((header, origin, loaded), (shape().header.clone(), KeyOrigin::Development, keys().0.vk.clone()));
    MeterProver::load(&pk, SLOTS).unwrap();
}

#[test]
fn ceremony_keys_record_their_transcript_and_prove() {
    let dir = tempfile::tempdir().unwrap();
    let (pk_path, vk_path) = keys::key_paths(dir.path(), SLOTS);
    let origin = KeyOrigin::Ceremony { transcript: [0xab; 64] };
    let ceremony = &keys().1;
    keys::write_key_with_origin(&pk_path, KeyKind::Proving, &shape().header, origin, ceremony).unwrap();
    keys::write_key_with_origin(&vk_path, KeyKind::Verifying, &shape().header, origin, &ceremony.vk).unwrap();
    assert_eq!(keys::key_origin(&vk_path).unwrap(), origin);
    assert_eq!(keys::key_origin(&pk_path).unwrap().kind(), "ceremony");
    assert_eq!(origin.transcript_hex().unwrap(), "ab".repeat(64));
    assert_eq!(keys::load_verifying_key_with_origin(&vk_path).unwrap().1, origin);
    // MeterProver proves with the circom reduction the key was made for (it checks
    // every proof before returning it).
    let prover = MeterProver::load(&pk_path, SLOTS).unwrap();
    assert_eq!(prover.proving_key().h_query.len(), shape().domain_size());
    let stream = StreamId { meter: [0x17; 20], job_id: 3 };
    let records =
        [UsageRecord { seq: 1, start_ms: 5_000, end_ms: 6_000, usage: PerClass([2_000, 500, 0, 1_024, 3_000]) }];
    let caps = PerClass([4, 16, 1 << 30, 1 << 20, 400]);
    let (statement, witness) =
        build_epoch(stream, stream.genesis(5_000), &records, caps, Fr::from(9u64), SLOTS as usize).unwrap();
    prover.prove(&statement.instance(), &witness, &mut ChaCha20Rng::seed_from_u64(3)).unwrap();
}

#[test]
fn an_origin_that_does_not_fit_the_h_query_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meter-1.pk");
    // A development key labelled as a ceremony key, and the reverse.
    let ceremony = KeyOrigin::Ceremony { transcript: [1; 64] };
    for (origin, key) in [(ceremony, &keys().0), (KeyOrigin::Development, &keys().1)] {
        keys::write_key_with_origin(&path, KeyKind::Proving, &shape().header, origin, key).unwrap();
        let err = MeterProver::load(&path, SLOTS).err().unwrap();
        assert!(matches!(err, KeyError::OriginMismatch { .. }), "{err}");
        assert!(err.to_string().contains("H query"), "{err}");
    }
}
