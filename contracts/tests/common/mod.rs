//! What the chain tests share: a small meter circuit with a seeded setup, a meter
//! key, a provider and a consumer, and epochs proven for real.

#![allow(dead_code)]

use ark_bn254::{Bn254, Fr};
use ark_groth16::Proof;
use k256::ecdsa::SigningKey;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zkmeter_circuits::{
    CircuitShape, MeterProver, MeterStatement, PerClass, StreamId, StreamState, UsageRecord, build_epoch, keys,
};
use zkmeter_contracts::{
    Address, Chain, CircuitToDeploy, DEV_ACCOUNTS, Deployment, deploy, meter_address, sign_registration,
};

/// Record slots of the test circuit.
pub const SLOTS: u32 = 2;

/// Capacity the meter registers: per millisecond, 8 GPU-ms … 10 000 mJ.
pub const CAPACITY: PerClass = PerClass([8, 128, 10_000_000_000, 12_500_000, 10_000]);

/// Tokens the consumer is issued, and escrows, per class.
pub const ISSUED: [u128; 5] = [1_000_000, 1_000_000, 0, 0, 50_000];
pub const ESCROW: [u128; 5] = [600_000, 0, 0, 0, 40_000];

pub fn prover() -> MeterProver {
    let mut rng = ChaCha20Rng::seed_from_u64(20261123);
    let shape = CircuitShape::meter(SLOTS);
    let pk = keys::setup(&shape, &mut rng).expect("setup");
    MeterProver::new(shape, pk)
}

pub fn meter_key() -> SigningKey {
    SigningKey::from_slice(&[0x42; 32]).expect("a valid key")
}

pub fn other_key() -> SigningKey {
    SigningKey::from_slice(&[0x43; 32]).expect("a valid key")
}

pub fn provider() -> Address {
    DEV_ACCOUNTS[1]
}

pub fn consumer() -> Address {
    DEV_ACCOUNTS[2]
}

/// Deploys, registers the meter (with its consent), issues tokens to the consumer
/// and opens a job with the meter's whole capacity.
pub fn setup_job(chain: &mut dyn Chain, prover: &MeterProver, out: Option<&std::path::Path>) -> (Deployment, u64) {
    let header = &prover.shape().header;
    let d = deploy(chain, &[CircuitToDeploy { header, vk: prover.verifying_key() }], out).expect("deploy");
    let consent = sign_registration(&meter_key(), chain.chain_id(), d.settlement, provider());
    d.register_meter(chain, provider(), meter_address(&meter_key()), &CAPACITY, &consent).expect("register meter");
    d.mint_tokens(chain, consumer(), ISSUED).expect("mint");
    let expires = chain.block().expect("block").timestamp + 3600;
    let opened =
        d.open_job(chain, consumer(), meter_address(&meter_key()), &CAPACITY, expires, ESCROW).expect("open job");
    (d, opened.job_id)
}

/// Epoch `k` (1, 2, …) of two records continuing `prev`, proven: 4.1 s from the
/// settled end, billing GPU time and energy in one stream.
pub fn epoch(prover: &MeterProver, job_id: u64, prev: StreamState, k: u64) -> (MeterStatement, Proof<Bn254>) {
    let meter: [u8; 20] = meter_address(&meter_key()).into();
    let stream = StreamId { meter, job_id };
    let t0 = prev.end_ms + 100;
    let records = [
        UsageRecord { seq: prev.seq + 1, start_ms: t0, end_ms: t0 + 3_000, usage: PerClass([20_000 + k, 0, 0, 0, 3_000]) },
        UsageRecord { seq: prev.seq + 2, start_ms: t0 + 3_000, end_ms: t0 + 4_000, usage: PerClass([0, 0, 0, 0, 7_000]) },
    ];
    let (statement, witness) =
        build_epoch(stream, prev, &records, CAPACITY, Fr::from(4242 + k), SLOTS as usize).expect("valid records");
    let mut rng = ChaCha20Rng::seed_from_u64(k);
    let proof = prover.prove(&statement.instance(), &witness, &mut rng).expect("prove");
    (statement, proof)
}

/// Gas of the settlements `settle_and_refuse_replays` made.
pub struct Gas {
    pub first: u64,
    pub second: u64,
}

/// Settles two epochs of `job` with real proofs, checking balances, stream state
/// and events; shows that a replay, a re-randomised proof and a wrong meter
/// signature are all refused. `reopen` is called between the two epochs (the
/// embedded test closes and reopens its chain there).
pub fn settle_and_refuse_replays<C: Chain>(
    mut chain: C,
    prover: &MeterProver,
    d: &Deployment,
    job: u64,
    reopen: impl FnOnce(C) -> C,
) -> Gas {
    use ark_groth16::Groth16;
    use zkmeter_contracts::bindings::{ResourceToken, Settlement};
    use zkmeter_contracts::{U256, sign_state};
    use zkmeter_verifier::proof_codec::encode_proof;

    let meter = meter_address(&meter_key());
    let chain_id = chain.chain_id();
    let genesis = d.stream_state(&mut chain, job).unwrap();
    let opened_ms = chain.block().unwrap().timestamp * 1000;
    assert_eq!(genesis, StreamId { meter: meter.into(), job_id: job }.genesis(genesis.end_ms), "a new job starts at its genesis state");
    assert!(genesis.end_ms <= opened_ms && genesis.end_ms.is_multiple_of(1000), "… at the opening block's time");
    let provider_before = d.balances(&mut chain, provider()).unwrap();
    let consumer_before = d.balances(&mut chain, consumer()).unwrap();
    assert_eq!(consumer_before.map(|b| b.to::<u128>()), std::array::from_fn(|c| ISSUED[c] - ESCROW[c]));

    // The contract's digest is ours.
    let (statement, proof) = epoch(prover, job, genesis, 1);
    let on_chain = zkmeter_contracts::deploy::view(
        &mut chain,
        "stateDigest",
        d.settlement,
        Settlement::stateDigestCall {
            meter,
            jobId: job,
            state: zkmeter_contracts::settlement::sol_statement(&statement).next,
        },
    )
    .unwrap();
    assert_eq!(on_chain, zkmeter_contracts::state_digest(chain_id, d.settlement, meter, job, &statement.new));

    // A signature by another key is refused, whatever the proof.
    let wrong = sign_state(&other_key(), chain_id, d.settlement, job, &statement.new);
    let err = d.settle(&mut chain, provider(), SLOTS, &statement, &encode_proof(&proof), &wrong).unwrap_err();
    assert!(err.is_revert_with("WrongMeterSignature"), "{err}");
    // So is the meter's signature for another chain.
    let wrong = sign_state(&meter_key(), chain_id + 1, d.settlement, job, &statement.new);
    let err = d.settle(&mut chain, provider(), SLOTS, &statement, &encode_proof(&proof), &wrong).unwrap_err();
    assert!(err.is_revert_with("WrongMeterSignature"), "{err}");

    // The real thing settles.
    let sig = sign_state(&meter_key(), chain_id, d.settlement, job, &statement.new);
    let settled = d.settle(&mut chain, provider(), SLOTS, &statement, &encode_proof(&proof), &sig).unwrap();
    let totals = statement.totals.0.map(U256::from);
    let e = &settled.epoch;
    assert_eq!(e.job_id, job);
    assert_eq!(e.provider, provider());
    assert_eq!(e.state, statement.new);
    assert_eq!((e.prev_seq, e.prev_end_ms), (statement.prev.seq, statement.prev.end_ms));
    assert_eq!(e.totals, statement.totals);
    assert_eq!(e.burned, totals, "tariff 1:1, escrow covers the bill");
    assert_eq!(e.minted, totals, "no protocol fee");
    assert!(settled.unpaid.is_none());
    // Events: the token burned from the escrow and minted to the provider.
    let transfers: Vec<ResourceToken::TransferBatch> = d.event(&settled.receipt).collect();
    assert_eq!(transfers.len(), 2, "one batch burn, one batch mint");
    assert_eq!((transfers[0].from, transfers[0].to), (d.settlement, Address::ZERO));
    assert_eq!((transfers[1].from, transfers[1].to), (Address::ZERO, provider()));
    let first = settled.receipt.gas_used;

    assert_eq!(d.stream_state(&mut chain, job).unwrap(), statement.new);
    let provider_after = d.balances(&mut chain, provider()).unwrap();
    for c in 0..5 {
        assert_eq!(provider_after[c], provider_before[c] + totals[c], "provider, class {c}");
    }
    assert_eq!(d.balances(&mut chain, consumer()).unwrap(), consumer_before, "the consumer paid from escrow");
    let job_view = d.job(&mut chain, job).unwrap();
    assert_eq!(job_view.escrow, std::array::from_fn(|c| ESCROW[c] - statement.totals.0[c] as u128));

    // Replaying the same statement and proof is refused: the stream moved on.
    let err = d.settle(&mut chain, provider(), SLOTS, &statement, &encode_proof(&proof), &sig).unwrap_err();
    assert!(err.is_revert_with("StaleState"), "{err}");
    // So is a re-randomised proof of it, although it verifies.
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let other = Groth16::<Bn254>::rerandomize_proof(prover.verifying_key(), &proof, &mut rng);
    assert_ne!(encode_proof(&other), encode_proof(&proof));
    let pvk = ark_groth16::prepare_verifying_key(prover.verifying_key());
    assert!(Groth16::<Bn254>::verify_proof(&pvk, &other, &statement.public_inputs()).unwrap());
    let err = d.settle(&mut chain, provider(), SLOTS, &statement, &encode_proof(&other), &sig).unwrap_err();
    assert!(err.is_revert_with("StaleState"), "{err}");

    let mut chain = reopen(chain);
    assert_eq!(d.stream_state(&mut chain, job).unwrap(), statement.new, "state survives reopening");
    assert_eq!(d.balances(&mut chain, provider()).unwrap(), provider_after, "balances survive reopening");

    // The next epoch continues from the stored state.
    let (next, proof2) = epoch(prover, job, statement.new, 2);
    let sig2 = sign_state(&meter_key(), chain_id, d.settlement, job, &next.new);
    // A proof for another statement does not verify for this one.
    let err = d.settle(&mut chain, provider(), SLOTS, &next, &encode_proof(&proof), &sig2).unwrap_err();
    assert!(err.is_revert_with("InvalidProof"), "{err}");
    let settled2 = d.settle(&mut chain, provider(), SLOTS, &next, &encode_proof(&proof2), &sig2).unwrap();
    assert_eq!(settled2.epoch.state, next.new);
    assert_eq!(d.stream_state(&mut chain, job).unwrap(), next.new);
    Gas { first, second: settled2.receipt.gas_used }
}
