//! Writes the real-proof fixture the Solidity tests verify on-chain:
//! `contracts/test/fixtures/meter_proof.json`.
//!
//! ```sh
//! cargo run --release --example contract_fixture [-- OUT]
//! ```
//!
//! Everything is deterministic (seeded setup, seeded proof, a fixed throwaway meter
//! key), so running it again after a circuit change gives a reviewable diff, and
//! running it on an unchanged tree reproduces the committed file byte for byte
//! (`tests/contracts.rs` checks this). Words are decimal strings in the EVM order
//! of `zkmeter_verifier::proof_codec`; the stream is job 1 of the fixture meter,
//! starting from its genesis state: the job opened at 2026-01-01T00:00:00Z (the
//! Solidity test opens it at that block time), three records billing GPU time,
//! energy and network, one of them all three at once.

use anyhow::Result;
use ark_bn254::Fr;
use k256::ecdsa::SigningKey;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::json;
use sha3::{Digest, Keccak256};
use std::path::PathBuf;
use zkmeter_circuits::{CircuitShape, MeterProver, PerClass, StreamId, UsageRecord, build_epoch, keys};
use zkmeter_verifier::proof_codec::{encode_proof, encode_verifying_key};

#[path = "support/fixture_words.rs"]
mod fixture_words;
use fixture_words::{dec, fr, words};
const SLOTS: u32 = 4;

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("contracts/test/fixtures/meter_proof.json"), PathBuf::from);

    let secret: [u8; 32] = Keccak256::digest(b"zkmeter contract fixture meter (test key, never use)").into();
    let key = SigningKey::from_bytes(&secret.into())?;
    let point = key.verifying_key().to_encoded_point(false);
    let meter: [u8; 20] = Keccak256::digest(&point.as_bytes()[1..])[12..].try_into()?;
    let stream = StreamId { meter, job_id: 1 };

    let opened_ms = 1_767_225_600_000;
    let records = [
        UsageRecord { seq: 1, start_ms: opened_ms + 1_000, end_ms: opened_ms + 4_000, usage: PerClass([20_000, 0, 0, 0, 9_000]) },
        UsageRecord { seq: 2, start_ms: opened_ms + 4_000, end_ms: opened_ms + 5_000, usage: PerClass([0, 0, 0, 0, 7_000]) },
        UsageRecord {
            seq: 3,
            start_ms: opened_ms + 5_200,
            end_ms: opened_ms + 9_200,
            usage: PerClass([31_000, 0, 0, 4_500_000, 30_000]),
        },
    ];
    let capacity = PerClass([8, 128, 10_000_000_000, 12_500_000, 10_000]);
    let genesis = stream.genesis(opened_ms);
    let (statement, witness) = build_epoch(stream, genesis, &records, capacity, Fr::from(424242u64), SLOTS as usize)?;

    let mut rng = ChaCha20Rng::seed_from_u64(20261123);
    let shape = CircuitShape::meter(SLOTS);
    let pk = keys::setup(&shape, &mut rng)?;
    let prover = MeterProver::new(shape, pk);
    let proof = prover.prove(&statement.instance(), &witness, &mut rng)?;

    let vk = encode_verifying_key(prover.verifying_key());
    let proof_words: Vec<String> = encode_proof(&proof).chunks(32).map(dec).collect();
    let fixture = json!({
        "vk": {
            "alpha": words(&vk.alpha),
            "beta": words(&vk.beta),
            "gamma": words(&vk.gamma),
            "delta": words(&vk.delta),
            "ic": vk.ic.iter().map(|p| words(p)).collect::<Vec<_>>(),
        },
        "proof": proof_words,
        "public_inputs": statement.public_inputs().iter().map(fr).collect::<Vec<_>>(),
        "statement": {
            "meter": format!("0x{}", hex::encode(meter)),
            "job_id": stream.job_id,
            "prev": { "head": fr(&statement.prev.head), "seq": statement.prev.seq, "end_ms": statement.prev.end_ms },
            "new": { "head": fr(&statement.new.head), "seq": statement.new.seq, "end_ms": statement.new.end_ms },
            "totals": statement.totals.0,
            "record_count": statement.record_count,
            "capacity": statement.capacity.0,
        },
        "meter_private_key": format!("0x{}", hex::encode(secret)),
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&fixture)? + "\n")?;
    println!("wrote {}", out.display());
    Ok(())
}
