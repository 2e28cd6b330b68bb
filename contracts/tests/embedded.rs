//! The settlement flow on the embedded chain (revm in process), with real proofs.

mod common;

use common::*;
use zkmeter_contracts::{
    Chain, DEPLOYMENT_FILE, DEV_ACCOUNTS, Deployment, EMBEDDED_CHAIN_ID, EmbeddedChain, STATE_FILE, meter_address,
};

#[test]
fn settles_real_proofs_refuses_replays_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let prover = prover();
    let mut chain = EmbeddedChain::open(dir.path()).unwrap();
    assert_eq!(chain.chain_id(), EMBEDDED_CHAIN_ID);
    let (d, job) = setup_job(&mut chain, &prover, Some(&dir.path().join(DEPLOYMENT_FILE)));
    assert_eq!(Deployment::load(&dir.path().join(DEPLOYMENT_FILE)).unwrap(), d, "the deployment file is written");
    assert_eq!(d.chain_id, EMBEDDED_CHAIN_ID);
    assert_eq!(d.deployer, DEV_ACCOUNTS[0]);
    assert_eq!(job, 1);
    let (provider_of_meter, approved, capacity) = d.meter_info(&mut chain, meter_address(&meter_key())).unwrap();
    assert_eq!((provider_of_meter, approved, capacity), (provider(), false, CAPACITY));

    let path = dir.path().to_owned();
    let gas = settle_and_refuse_replays(chain, &prover, &d, job, move |mut chain| {
        let block = chain.block().unwrap();
        drop(chain);
        let mut reopened = EmbeddedChain::open(&path).unwrap();
        assert_eq!(reopened.block().unwrap(), block, "the block number and time survive");
        reopened
    });
    eprintln!("embedded chain: settle gas {} (first epoch), {} (second)", gas.first, gas.second);
    // The issue's target is 250k; the contracts' own gas snapshot (snapshots/settle.json)
    // is above it too. This bound only catches a gross regression.
    assert!(gas.first < 450_000 && gas.second < 450_000, "settle used {} / {} gas", gas.first, gas.second);
    assert!(dir.path().join(STATE_FILE).exists());
}

#[test]
fn a_closed_job_refunds_its_escrow_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let prover = prover();
    let (d, job) = {
        let mut chain = EmbeddedChain::open(dir.path()).unwrap();
        setup_job(&mut chain, &prover, None)
    };
    let mut chain = EmbeddedChain::open(dir.path()).unwrap();
    let job_view = d.job(&mut chain, job).unwrap();
    assert!(job_view.open);
    assert_eq!(job_view.escrow, ESCROW);
    assert_eq!(job_view.consumer, consumer());
    // Only the provider may close before the deadline.
    let err = d.close_job(&mut chain, consumer(), job).unwrap_err();
    assert!(err.is_revert_with("JobNotExpired"), "{err}");
    d.close_job(&mut chain, provider(), job).unwrap();
    assert!(!d.job(&mut chain, job).unwrap().open);
    let balances = d.balances(&mut chain, consumer()).unwrap();
    assert_eq!(balances.map(|b| b.to::<u128>()), ISSUED, "the whole escrow came back");
}

#[test]
fn a_corrupt_state_file_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(STATE_FILE), b"{ not json").unwrap();
    let err = EmbeddedChain::open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("move it away"), "{err}");
}

#[test]
fn a_new_setup_replaces_the_circuits_verifier() {
    use rand::SeedableRng;
    use zkmeter_circuits::{CircuitShape, MeterProver, keys};
    use zkmeter_contracts::{CircuitToDeploy, sign_state, vk_hash};
    use zkmeter_verifier::proof_codec::encode_proof;

    let old = prover();
    let mut chain = EmbeddedChain::in_memory();
    let (mut d, job) = setup_job(&mut chain, &old, None);
    let first = d.circuit(SLOTS).unwrap().clone();
    assert_eq!(first.vk_hash, vk_hash(old.verifying_key()));

    let shape = CircuitShape::meter(SLOTS);
    let pk = keys::setup(&shape, &mut rand_chacha::ChaCha20Rng::seed_from_u64(7)).unwrap();
    let new = MeterProver::new(shape, pk);
    let header = new.shape().header.clone();
    let replaced = d.add_circuit(&mut chain, &CircuitToDeploy { header: &header, vk: new.verifying_key() }).unwrap().clone();
    assert_eq!(replaced.circuit_id, first.circuit_id, "same circuit, same id");
    assert_ne!(replaced.verifier, first.verifier);
    assert_eq!(replaced.vk_hash, vk_hash(new.verifying_key()));
    assert_eq!(d.circuits.len(), 1, "the old entry is replaced, not kept");

    // A proof under the old key no longer settles; one under the new key does.
    let genesis = d.stream_state(&mut chain, job).unwrap();
    let (statement, proof) = epoch(&old, job, genesis, 1);
    let sig = sign_state(&meter_key(), chain.chain_id(), d.settlement, job, &statement.new);
    let err = d.settle(&mut chain, provider(), SLOTS, &statement, &encode_proof(&proof), &sig).unwrap_err();
    assert!(err.is_revert_with("InvalidProof"), "{err}");
    let (statement, proof) = epoch(&new, job, genesis, 1);
    d.settle(&mut chain, provider(), SLOTS, &statement, &encode_proof(&proof), &sig).unwrap();
}
