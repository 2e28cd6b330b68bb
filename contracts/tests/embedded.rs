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
    let info = d.meter_info(&mut chain, meter_address(&meter_key())).unwrap();
    assert_eq!((info.provider, info.approved, info.capacity), (provider(), false, CAPACITY));
    assert_eq!(info.committed, CAPACITY, "the open job holds the whole registration");
    assert_eq!(d.job(&mut chain, job).unwrap().capacity, CAPACITY);

    let path = dir.path().to_owned();
    let gas = settle_and_refuse_replays(chain, &prover, &d, job, move |mut chain| {
        let block = chain.block().unwrap();
        drop(chain);
        let mut reopened = EmbeddedChain::open(&path).unwrap();
        assert_eq!(reopened.block().unwrap(), block, "the block number and time survive");
        reopened
    });
    eprintln!("embedded chain: settle gas {} (first epoch), {} (second)", gas.first, gas.second);
    // The gas figures that count are the contracts' own snapshot (snapshots/settle.json);
    // this bound only catches a gross regression.
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
    let info = d.meter_info(&mut chain, meter_address(&meter_key())).unwrap();
    assert_eq!(info.committed, zkmeter_circuits::PerClass::default(), "closing gives the capacity back");
    let balances = d.balances(&mut chain, consumer()).unwrap();
    assert_eq!(balances.map(|b| b.to::<u128>()), ISSUED, "the whole escrow came back");
}

#[test]
fn a_corrupt_state_file_is_refused_with_advice_that_bills_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(STATE_FILE), b"{ not json").unwrap();
    let err = EmbeddedChain::open(dir.path()).err().expect("refused");
    let text = err.to_string();
    assert!(text.contains("restore it from a backup") && text.contains("new data directory"), "{text}");
    assert!(!text.contains("start afresh"), "moving only the state file away reuses old receipts and logs: {text}");
}

#[test]
fn one_writer_at_a_time_and_snapshots_for_readers() {
    use zkmeter_contracts::{ChainError, LOCK_FILE};
    let dir = tempfile::tempdir().unwrap();
    // Nothing is made for a reader.
    assert!(matches!(EmbeddedChain::open_read_only(dir.path()), Err(ChainError::NoChain { .. })));
    assert!(!dir.path().join(STATE_FILE).exists());

    let mut writer = EmbeddedChain::open(dir.path()).unwrap();
    let genesis = writer.genesis_id().unwrap();
    // A second writer is refused, naming the holder.
    match EmbeddedChain::open(dir.path()) {
        Err(ChainError::Locked { holder, .. }) => assert_eq!(holder, std::process::id().to_string()),
        other => panic!("a second writer got {:?}", other.map(|_| "a chain")),
    }
    assert_eq!(std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap(), std::process::id().to_string());
    // A reader gets a snapshot that sends nothing.
    let prover = prover();
    let (d, job) = setup_job(&mut writer, &prover, None);
    let mut reader = EmbeddedChain::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.genesis_id().unwrap(), genesis);
    assert_eq!(d.job(&mut reader, job).unwrap(), d.job(&mut writer, job).unwrap());
    let err = d.close_job(&mut reader, provider(), job).unwrap_err();
    assert!(matches!(err, ChainError::ReadOnly { .. }), "{err}");
    drop(writer);
    // Released with the writer; the genesis id stays with the chain.
    let mut again = EmbeddedChain::open(dir.path()).unwrap();
    assert_eq!(again.genesis_id().unwrap(), genesis);
}

#[test]
fn a_chain_made_again_in_the_same_place_is_another_chain() {
    let dir = tempfile::tempdir().unwrap();
    let prover = prover();
    let path = dir.path().join(DEPLOYMENT_FILE);
    let d = {
        let mut chain = EmbeddedChain::open(dir.path()).unwrap();
        let (d, _) = setup_job(&mut chain, &prover, Some(&path));
        d.check_chain(&mut chain, &path).unwrap();
        d
    };
    // The state file moved away: a new chain, same id, same addresses, new genesis id.
    std::fs::rename(dir.path().join(STATE_FILE), dir.path().join("old-chain.json")).unwrap();
    let mut chain = EmbeddedChain::open(dir.path()).unwrap();
    let err = d.check_chain(&mut chain, &path).unwrap_err();
    assert!(err.to_string().contains("made again or is another one"), "{err}");
}

#[test]
fn a_state_file_of_statement_v1_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(STATE_FILE), br#"{"format":"zkmeter-embedded-chain/1","chain_id":31341}"#).unwrap();
    let err = EmbeddedChain::open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("meter statement v1") && err.to_string().contains("new data directory"), "{err}");
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

/// A 2×4 · 4×3 int8 matrix multiplication (24 multiply-accumulates) on `input_seed`'s
/// input: the smallest workload, proven in milliseconds.
fn tiny_workload(input_seed: u64) -> (zkmeter_circuits::workload::Plan, zkmeter_circuits::workload::Execution) {
    use rand::{Rng, SeedableRng};
    use zkmeter_circuits::workload::{Layer, LayerKind, LayerShape, Matrix, Model, Plan, execute};

    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let weights = (0..12).map(|_| rng.r#gen::<i8>()).collect();
    let shape = LayerShape { inputs: 4, outputs: 3, kind: LayerKind::MatMul };
    let model = Model::new(vec![Layer { shape, weights, bias: vec![] }]).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(input_seed);
    let input = Matrix::new(2, 4, (0..8).map(|_| rng.r#gen::<i8>()).collect()).unwrap();
    let exec = execute(&model, &input).unwrap();
    (Plan::auto(exec.shape.clone()), exec)
}

#[test]
fn settles_requested_work_once_at_the_work_tariff() {
    use alloy::sol_types::SolCall;
    use ark_bn254::{Bn254, Fr};
    use ark_groth16::Groth16;
    use rand::SeedableRng;
    use sha3::{Digest, Keccak256};
    use zkmeter_circuits::KeyHeader;
    use zkmeter_circuits::workload::WorkloadCircuit;
    use zkmeter_contracts::bindings::Settlement;
    use zkmeter_contracts::{CircuitToDeploy, U256, WorkStatus, circuit_id};
    use zkmeter_verifier::proof_codec::encode_proof;

    let mut chain = EmbeddedChain::in_memory();
    let meter_prover = prover();
    let (mut d, job) = setup_job(&mut chain, &meter_prover, None);

    // The workload's key: a stock seeded setup. Key files for workloads are the circuits
    // crate's; here the header only has to name the circuit and its key.
    let (plan, exec) = tiny_workload(1);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let pk = Groth16::<Bn254>::generate_random_parameters_with_reduction(WorkloadCircuit::setup(plan.clone()), &mut rng)
        .unwrap();
    let name = plan.circuit_id();
    let header = KeyHeader { circuit: name.clone(), slots: 0, digest: Keccak256::digest(name.as_bytes()).into() };
    let deployed = d.add_work_circuit(&mut chain, &CircuitToDeploy { header: &header, vk: &pk.vk }).unwrap().clone();
    assert_eq!(deployed.circuit_id, circuit_id(&header));
    assert_eq!(d.work_circuit(&name), Some(&deployed));
    assert_eq!(d.circuits.len(), 1, "the meter circuit stays as it was");
    let work = deployed.circuit_id;
    // A meter key is refused as a workload key before anything is sent.
    let meter_key = CircuitToDeploy { header: &meter_prover.shape().header, vk: meter_prover.verifying_key() };
    let err = d.add_work_circuit(&mut chain, &meter_key).unwrap_err();
    assert!(err.to_string().contains("public inputs"), "{err}");

    // A deployment file from before workloads loads, with none.
    let mut old = serde_json::to_value(&d).unwrap();
    old.as_object_mut().unwrap().remove("work_circuits");
    let old: Deployment = serde_json::from_value(old).unwrap();
    assert!(old.work_circuits.is_empty());
    assert_eq!(serde_json::from_value::<Deployment>(serde_json::to_value(&d).unwrap()).unwrap(), d);

    // Work is paid in GPU tokens, 7 per 3 multiply-accumulates, less a 2.5 % fee.
    d.set_work_tariff(&mut chain, 0, 7, 3).unwrap();
    let fee = Settlement::setProtocolFeeCall { bps: U256::from(250) };
    chain.transact("set protocol fee", d.deployer, Some(d.settlement), fee.abi_encode().into()).unwrap();
    assert_eq!(d.work_tariff(&mut chain).unwrap(), (0, 7, 3));

    let statement = exec.statement(job);
    assert_eq!(statement.work_units, 24);
    let prove = |s: &zkmeter_circuits::workload::WorkloadStatement, seed: u64| {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let circuit = WorkloadCircuit::assigned(plan.clone(), s, exec.witness.clone());
        encode_proof(&Groth16::<Bn254>::create_random_proof_with_reduction(circuit, &pk, &mut rng).unwrap())
    };
    let proof = prove(&statement, 1);
    let status = |chain: &mut EmbeddedChain| d.work_status(chain, job, work, statement.model, statement.input).unwrap();
    assert_eq!(status(&mut chain), WorkStatus::None);

    // Unrequested work is not billed; only the consumer requests.
    let err = d.settle_work(&mut chain, provider(), work, &statement, &proof).unwrap_err();
    assert!(err.is_revert_with("WorkNotRequested"), "{err}");
    let err = d.request_work(&mut chain, provider(), job, work, statement.model, statement.input).unwrap_err();
    assert!(err.is_revert_with("NotConsumer"), "{err}");
    d.request_work(&mut chain, consumer(), job, work, statement.model, statement.input).unwrap();
    assert_eq!(status(&mut chain), WorkStatus::Requested);

    // Meter circuits do not settle work.
    let meter_circuit = d.circuit(SLOTS).unwrap().circuit_id;
    let err = d.settle_work(&mut chain, provider(), meter_circuit, &statement, &proof).unwrap_err();
    assert!(err.is_revert_with("UnknownWorkCircuit"), "{err}");
    // A wrong output does not verify.
    let mut wrong = statement;
    wrong.output += Fr::from(1u64);
    let err = d.settle_work(&mut chain, provider(), work, &wrong, &proof).unwrap_err();
    assert!(err.is_revert_with("InvalidProof"), "{err}");

    let provider_before = d.balances(&mut chain, provider()).unwrap();
    let settled = d.settle_work(&mut chain, provider(), work, &statement, &proof).unwrap();
    let bill = 24 * 7 / 3; // 56
    let minted = bill - bill * 250 / 10_000; // 56 − 1
    assert_eq!((settled.job_id, settled.provider, settled.work_units), (job, provider(), 24));
    assert_eq!(settled.output, statement.output);
    assert_eq!((settled.burned, settled.minted), (U256::from(bill), U256::from(minted)));
    assert!(settled.unpaid.is_none());
    assert_eq!(status(&mut chain), WorkStatus::Settled);
    let provider_after = d.balances(&mut chain, provider()).unwrap();
    assert_eq!(provider_after[0], provider_before[0] + U256::from(minted));
    assert_eq!(provider_after[1..], provider_before[1..], "only the work class is paid");
    assert_eq!(d.job(&mut chain, job).unwrap().escrow[0], ESCROW[0] - bill);
    eprintln!("embedded chain: settle_work gas {}", settled.receipt.gas_used);

    // A second settlement, with the same proof or a fresh one, is refused: settled once.
    for again in [proof, prove(&statement, 2)] {
        let err = d.settle_work(&mut chain, provider(), work, &statement, &again).unwrap_err();
        assert!(err.is_revert_with("WorkAlreadySettled"), "{err}");
    }
    // The same model on an input nobody requested is not billed.
    let (_, other) = tiny_workload(2);
    let unrequested = other.statement(job);
    assert_eq!(unrequested.model, statement.model);
    assert_ne!(unrequested.input, statement.input);
    let err = d.settle_work(&mut chain, provider(), work, &unrequested, &proof).unwrap_err();
    assert!(err.is_revert_with("WorkNotRequested"), "{err}");
    assert_eq!(d.balances(&mut chain, provider()).unwrap(), provider_after);
}

#[test]
fn a_batch_skips_epochs_settled_already_settles_the_rest_in_order_and_reverts_whole_on_a_bad_one() {
    use zkmeter_contracts::{EpochToSettle, U256, sign_state};
    use zkmeter_verifier::proof_codec::encode_proof;
    let dir = tempfile::tempdir().unwrap();
    let prover = prover();
    let mut chain = EmbeddedChain::open(dir.path()).unwrap();
    let (d, job) = setup_job(&mut chain, &prover, None);
    let chain_id = chain.chain_id();
    let mut prev = d.stream_state(&mut chain, job).unwrap();
    let mut epochs = Vec::new();
    for k in 1..=3 {
        let (statement, proof) = epoch(&prover, job, prev, k);
        prev = statement.new;
        let signature = sign_state(&meter_key(), chain_id, d.settlement, job, &statement.new);
        epochs.push((statement, encode_proof(&proof), signature));
    }
    let batch = || -> Vec<EpochToSettle<'_>> {
        epochs.iter().map(|(statement, proof, meter_signature)| EpochToSettle { statement, proof, meter_signature }).collect()
    };
    // The first settles on its own (an earlier attempt, or anyone: the proof is the authority).
    let (s1, p1, sig1) = &epochs[0];
    d.settle(&mut chain, provider(), SLOTS, s1, p1, sig1).unwrap();

    // One bad epoch (the last, signed by another key) and nothing of the batch settles.
    let forged = sign_state(&other_key(), chain_id, d.settlement, job, &epochs[2].0.new);
    let mut bad = batch();
    bad[2].meter_signature = &forged;
    let err = d.settle_batch(&mut chain, provider(), SLOTS, &bad).unwrap_err();
    assert!(err.is_revert_with("WrongMeterSignature"), "{err}");
    assert_eq!(d.stream_state(&mut chain, job).unwrap(), s1.new, "the batch reverted whole");

    // The good batch skips the settled epoch and settles the other two, in order.
    let done = d.settle_batch(&mut chain, provider(), SLOTS, &batch()).unwrap();
    assert_eq!(done.skipped, vec![(job, s1.new.seq)]);
    assert_eq!(done.settled.iter().map(|e| e.state).collect::<Vec<_>>(), vec![epochs[1].0.new, epochs[2].0.new]);
    assert_eq!(d.stream_state(&mut chain, job).unwrap(), epochs[2].0.new);
    eprintln!("settleBatch of 2 epochs (1 skipped): {} gas", done.receipt.gas_used);
    // Each epoch paid once.
    let paid = d.balances(&mut chain, provider()).unwrap();
    for (c, paid) in paid.iter().enumerate() {
        let billed: u64 = epochs.iter().map(|(s, _, _)| s.totals.0[c]).sum();
        assert_eq!(*paid, U256::from(billed), "class {c}");
    }
    // All skipped: nothing to do, and no error.
    let again = d.settle_batch(&mut chain, provider(), SLOTS, &batch()).unwrap();
    assert!(again.settled.is_empty() && again.skipped.len() == 3);
}
