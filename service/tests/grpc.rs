//! The verifier service over real gRPC on loopback, in process, on the embedded
//! chain, with real proofs: the happy path to settlement, idempotency, and every
//! kind of bad submission getting its status code while the service keeps serving.

#[path = "../../contracts/tests/common/mod.rs"]
mod common;
mod support;

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use common::*;
use rand::SeedableRng;
use support::*;
use tonic::Code;
use zkmeter_contracts::{DEPLOYMENT_FILE, sign_state};
use zkmeter_circuits::field_bytes::to_be_bytes;
use zkmeter_service::convert::state_message;
use zkmeter_service::proto::{self, ReceiptStatus};
use zkmeter_verifier::encode_proof;

fn code(result: Result<tonic::Response<proto::SubmitProofResponse>, tonic::Status>) -> (Code, String) {
    let status = result.expect_err("refused");
    (status.code(), status.message().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_verifies_settles_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (prover, job, chain_id, genesis) = prepare(dir.path());
    let (mut client, url) = start(dir.path()).await;
    let deployment = zkmeter_contracts::Deployment::load(&dir.path().join("chain").join(DEPLOYMENT_FILE)).unwrap();
    let circuit = client.get_circuit(proto::GetCircuitRequest::default()).await.unwrap().into_inner();
    assert_eq!(circuit.slots, SLOTS);
    assert_eq!(circuit.public_inputs.len(), 5);
    assert_eq!(circuit.verifier_contract, deployment.circuits[0].verifier.to_vec());
    assert_eq!((circuit.chain_id, circuit.settlement_contract), (chain_id, deployment.settlement.to_vec()), "the meters' EIP-712 domain");
    assert_eq!((circuit.key_origin.as_str(), circuit.ceremony_transcript.len()), ("development", 0), "a single-party key says so");
    let circuit_id = circuit.circuit_id;

    let state = client.get_stream_state(proto::GetStreamStateRequest { job_id: job }).await.unwrap().into_inner();
    assert_eq!(state.latest.unwrap().head, to_be_bytes(&genesis.head).to_vec());
    assert_eq!(state.capacity, CAPACITY.0.to_vec(), "the meter's registered capacity");

    let (statement, proof) = epoch(&prover, job, genesis, 1);
    let sig = sign_state(&meter_key(), chain_id, deployment.settlement, job, &statement.new);
    let good = request(&circuit_id, &statement, &encode_proof(&proof), &sig);

    // Bad input first: each refused with its code, nothing recorded.
    let mut bad = good.clone();
    bad.proof.pop();
    assert_eq!(code(client.submit_proof(bad).await).0, Code::InvalidArgument);
    let mut bad = good.clone();
    bad.proof[31] ^= 1; // A.y changed: off the curve
    let (c, m) = code(client.submit_proof(bad).await);
    assert_eq!(c, Code::InvalidArgument, "{m}");
    let mut bad = good.clone();
    set_b_outside_the_subgroup(&mut bad.proof);
    let (c, m) = code(client.submit_proof(bad).await);
    assert!(c == Code::InvalidArgument && m.contains("subgroup"), "{m}");
    let mut bad = good.clone();
    bad.statement.as_mut().unwrap().next.as_mut().unwrap().head = vec![0xff; 32];
    let (c, m) = code(client.submit_proof(bad).await);
    assert!(c == Code::InvalidArgument && m.contains("below the BN254 scalar modulus"), "{m}");
    let mut bad = good.clone();
    bad.circuit_id = vec![7; 32];
    assert_eq!(code(client.submit_proof(bad).await).0, Code::NotFound);
    let mut bad = good.clone();
    bad.statement.as_mut().unwrap().job_id = 999;
    let (c, m) = code(client.submit_proof(bad).await);
    assert!(c == Code::NotFound && m.contains("job 999"), "{m}");
    let wrong_sig = sign_state(&other_key(), chain_id, deployment.settlement, job, &statement.new);
    let (c, _) = code(client.submit_proof(request(&circuit_id, &statement, &encode_proof(&proof), &wrong_sig)).await);
    assert_eq!(c, Code::PermissionDenied);
    let (other_statement, other_proof) = epoch(&prover, job, genesis, 2);
    let (c, m) = code(client.submit_proof(request(&circuit_id, &statement, &encode_proof(&other_proof), &sig)).await);
    assert!(c == Code::InvalidArgument && m.contains("does not verify"), "{m}");
    let mut bad = good.clone();
    bad.statement.as_mut().unwrap().totals.pop();
    assert_eq!(code(client.submit_proof(bad).await).0, Code::InvalidArgument);
    // Bytes that are no protobuf message, and a message over the size limit.
    let (c, m) = raw_call(&url, "SubmitProof", vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0xff]).await;
    assert_eq!(c, Code::InvalidArgument, "{m}");
    assert!(m.contains("decode"), "{m}");
    let (c, m) = raw_call(&url, "SubmitProofs", vec![0; 2 << 20]).await;
    assert_eq!(c, Code::ResourceExhausted, "{m}");
    let listed: Vec<_> = list(&mut client, proto::ListReceiptsRequest::default()).await;
    assert!(listed.is_empty(), "refused submissions leave no receipt");

    // The real one: verified, then settled on the chain.
    let first = client.submit_proof(good.clone()).await.unwrap().into_inner();
    assert!(first.created);
    let receipt = first.receipt.unwrap();
    assert!(receipt.status == ReceiptStatus::Verified as i32 || receipt.status >= ReceiptStatus::Submitted as i32);
    let done = settled(&mut client, &receipt.id).await;
    assert_eq!(done.status, ReceiptStatus::Settled as i32, "{}", done.reason);
    assert_eq!(done.tx_hash.len(), 32);
    assert!(done.gas_used > 200_000, "gas {}", done.gas_used);

    // The same statement again, and a re-randomised proof of it: the same receipt, nothing new.
    let again = client.submit_proof(good.clone()).await.unwrap().into_inner();
    assert!(!again.created);
    assert_eq!(again.receipt.unwrap().id, receipt.id);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let rerandomised = Groth16::<Bn254>::rerandomize_proof(prover.verifying_key(), &proof, &mut rng);
    let again = client.submit_proof(request(&circuit_id, &statement, &encode_proof(&rerandomised), &sig)).await.unwrap().into_inner();
    assert!(!again.created);
    assert_eq!(again.receipt.unwrap().id, receipt.id);

    // A different statement from the same (now stale) state.
    let sig2 = sign_state(&meter_key(), chain_id, deployment.settlement, job, &other_statement.new);
    let (c, m) = code(client.submit_proof(request(&circuit_id, &other_statement, &encode_proof(&other_proof), &sig2)).await);
    assert!(c == Code::FailedPrecondition && m.contains("stale"), "{m}");

    // The next epoch, in a batch call, continues from the settled state.
    let (next, next_proof) = epoch(&prover, job, statement.new, 3);
    let next_sig = sign_state(&meter_key(), chain_id, deployment.settlement, job, &next.new);
    let (future, future_proof) = epoch(&prover, job, next.new, 4);
    let future_sig = sign_state(&meter_key(), chain_id, deployment.settlement, job, &future.new);
    let batch = client
        .submit_proofs(proto::SubmitProofsRequest {
            submissions: vec![
                request(&circuit_id, &next, &encode_proof(&next_proof), &next_sig),
                request(&circuit_id, &future, &encode_proof(&future_proof), &future_sig),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.results.len(), 2);
    let next_receipt = batch.results[0].response.as_ref().expect("the next epoch is accepted").receipt.clone().unwrap();
    assert!(batch.results[1].response.is_none(), "an epoch two ahead of the stream is refused");
    assert_eq!(batch.results[1].error_code, Code::FailedPrecondition as i32, "{}", batch.results[1].error_message);
    let done = settled(&mut client, &next_receipt.id).await;
    assert_eq!(done.status, ReceiptStatus::Settled as i32, "{}", done.reason);

    let all = list(&mut client, proto::ListReceiptsRequest::default()).await;
    assert_eq!(all.len(), 2);
    let by_status = list(&mut client, proto::ListReceiptsRequest { status: ReceiptStatus::Settled as i32, ..Default::default() }).await;
    assert_eq!(by_status.len(), 2);
    let limited = list(&mut client, proto::ListReceiptsRequest { limit: 1, ..Default::default() }).await;
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].id, receipt.id, "oldest first");

    let state = client.get_stream_state(proto::GetStreamStateRequest { job_id: job }).await.unwrap().into_inner();
    assert_eq!(state.settled.unwrap(), state_message(&next.new));
}

/// Replaces the proof's B with a point on the G2 curve outside its prime-order
/// subgroup (words 2..6 of the EVM layout: x.c1, x.c0, y.c1, y.c0).
fn set_b_outside_the_subgroup(proof: &mut [u8]) {
    use ark_bn254::{Fq, Fq2, G2Affine};
    use ark_ec::AffineRepr;
    use ark_ff::{BigInteger, One, PrimeField};
    let outside = (1u64..)
        .filter_map(|x| G2Affine::get_point_from_x_unchecked(Fq2::new(Fq::from(x), Fq::one()), true))
        .find(|p| !p.is_in_correct_subgroup_assuming_on_curve())
        .expect("most points of the G2 curve lie outside the subgroup");
    let (x, y) = outside.xy().expect("not the point at infinity");
    for (word, c) in [(2, x.c1), (3, x.c0), (4, y.c1), (5, y.c0)] {
        proof[32 * word..32 * (word + 1)].copy_from_slice(&c.into_bigint().to_bytes_be());
    }
}

/// Sends `body` as the request message of `method`, bytes as they are.
async fn raw_call(url: &str, method: &str, body: Vec<u8>) -> (Code, String) {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned()).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = format!("/zkmeter.v1.VerifierService/{method}").parse().unwrap();
    let status = grpc.unary(tonic::Request::new(body), path, RawCodec).await.expect_err("refused");
    (status.code(), status.message().to_owned())
}

/// A codec that sends and receives message bytes unchanged.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let bytes = bytes::Buf::copy_to_bytes(src, bytes::Buf::remaining(src));
        Ok(Some(bytes.to_vec()))
    }
}

/// Work tariff of the workload test: GPU tokens per multiply-accumulate.
const WORK_PRICE: u128 = 3;

/// A tiny workload (2×4 · 4×3 int8 matmul) with keys of its own, for job `job`.
struct Workload {
    prover: zkmeter_circuits::WorkloadProver,
    model: zkmeter_circuits::workload::Model,
    circuit_id: zkmeter_contracts::B256,
}

impl Workload {
    fn new(seed: u64) -> Workload {
        use zkmeter_circuits::workload::{Layer, LayerKind, LayerShape, Model, Plan, WorkloadShape};
        let weights = (0..12).map(|i| (i * 7 % 19) as i8 - 9).collect();
        let shape = LayerShape { inputs: 4, outputs: 3, kind: LayerKind::MatMul };
        let model = Model::new(vec![Layer { shape, weights, bias: vec![] }]).unwrap();
        let plan = Plan::auto(WorkloadShape::matmul(2, 4, 3).unwrap());
        let shape = zkmeter_circuits::CircuitShape::workload(&plan);
        let pk = zkmeter_circuits::keys::setup(&shape, &mut rand_chacha::ChaCha20Rng::seed_from_u64(seed)).unwrap();
        let circuit_id = zkmeter_contracts::circuit_id(&shape.header);
        Workload { prover: zkmeter_circuits::WorkloadProver::new(plan, shape, pk), model, circuit_id }
    }

    /// The run of the model on input number `k`.
    fn run(&self, k: i8) -> zkmeter_circuits::workload::Execution {
        let input = zkmeter_circuits::workload::Matrix::new(2, 4, (0..8).map(|i| i * k - 20).collect()).unwrap();
        zkmeter_circuits::workload::execute(&self.model, &input).unwrap()
    }

    fn prove(&self, job: u64, k: i8) -> (zkmeter_circuits::workload::WorkloadStatement, ark_groth16::Proof<Bn254>) {
        let (proof, statement) = self.prover.prove(job, &self.run(k), &mut rand_chacha::ChaCha20Rng::seed_from_u64(k as u64)).unwrap();
        (statement, proof)
    }
}

fn work_code(result: Result<tonic::Response<proto::SubmitWorkResponse>, tonic::Status>) -> (Code, String) {
    let status = result.expect_err("refused");
    (status.code(), status.message().to_owned())
}

async fn work_settled(client: &mut Client, id: &[u8]) -> proto::WorkReceipt {
    for _ in 0..200 {
        let r = client.get_work_receipt(proto::GetWorkReceiptRequest { id: id.to_vec() }).await.unwrap().into_inner().receipt.unwrap();
        if r.status == ReceiptStatus::Settled as i32 || r.status == ReceiptStatus::Rejected as i32 {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("workload receipt not settled within 10 s");
}

/// Workload proofs end to end: the consumer requests the work on the chain, the
/// provider proves it and submits it, the service verifies and settles it, and
/// the provider is paid work units × the tariff. Every bad submission gets its
/// code; a receipt left `submitted` by a crash after its transaction went
/// through is recognised as settled, not paid twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settles_workload_proofs_and_refuses_bad_ones() {
    use zkmeter_circuits::keys::{KeyKind, workload_key_paths, write_key};
    use zkmeter_contracts::{Chain, CircuitToDeploy, Deployment, EmbeddedChain};
    use zkmeter_service::convert::submit_work_request;
    use zkmeter_service::work_submission::work_id;

    let dir = tempfile::tempdir().unwrap();
    let (_, job, chain_id, _) = prepare(dir.path());
    let work = Workload::new(1);
    let (_, vk_path) = workload_key_paths(&dir.path().join("keys"), work.prover.plan());
    write_key(&vk_path, KeyKind::Verifying, &work.prover.shape().header, work.prover.verifying_key()).unwrap();

    // On the chain, before the service owns it: the workload circuit, its price,
    // the consumer's requests (inputs 1, 2, 3; input 4 is never requested), and
    // two of them settled without the service.
    let chain_dir = dir.path().join("chain");
    let deployment_file = chain_dir.join(DEPLOYMENT_FILE);
    let mut chain = EmbeddedChain::open(&chain_dir).unwrap();
    let mut d = Deployment::load(&deployment_file).unwrap();
    let header = work.prover.shape().header.clone();
    d.add_work_circuit(&mut chain, &CircuitToDeploy { header: &header, vk: work.prover.verifying_key() }).unwrap();
    d.save(&deployment_file).unwrap();
    d.set_work_tariff(&mut chain, 0, WORK_PRICE, 1).unwrap();
    for k in 1..=3 {
        let run = work.run(k);
        d.request_work(&mut chain, consumer(), job, work.circuit_id, run.model_commitment, run.input_commitment).unwrap();
    }
    let (crashed, crashed_proof) = work.prove(job, 2);
    d.settle_work(&mut chain, provider(), work.circuit_id, &crashed, &encode_proof(&crashed_proof)).unwrap();
    let (elsewhere, elsewhere_proof) = work.prove(job, 3);
    d.settle_work(&mut chain, provider(), work.circuit_id, &elsewhere, &encode_proof(&elsewhere_proof)).unwrap();
    let paid_before = d.balances(&mut chain, provider()).unwrap()[0];
    drop(chain);
    // Input 2's receipt as a crash left it: submitted, its transaction included, the outcome not recorded.
    let crashed_id = work_id(chain_id, d.settlement, &work.circuit_id, &crashed);
    {
        let store = zkmeter_store::Store::open_sqlite(&dir.path().join("receipts.db")).await.unwrap();
        let fr = zkmeter_circuits::field_bytes::to_be_bytes;
        let r = zkmeter_store::NewWorkReceipt {
            id: crashed_id,
            chain_id,
            circuit_id: work.circuit_id.0,
            job_id: job,
            model: fr(&crashed.model),
            input: fr(&crashed.input),
            output: fr(&crashed.output),
            work_units: crashed.work_units,
            proof: encode_proof(&crashed_proof).to_vec(),
        };
        store.accept_work(r).await.unwrap();
        store.set_work_status(&crashed_id, zkmeter_store::Status::Submitted, None, None, None).await.unwrap();
        store.close().await;
    }

    // Keys that do not match the deployment stop the service at start-up, saying what to do.
    let elsewhere_dir = tempfile::tempdir().unwrap();
    let other_setup = Workload::new(2);
    let other_vk = elsewhere_dir.path().join("other-setup.vk");
    write_key(&other_vk, KeyKind::Verifying, &other_setup.prover.shape().header, other_setup.prover.verifying_key()).unwrap();
    let undeployed_plan = zkmeter_circuits::workload::Plan::auto(zkmeter_circuits::workload::WorkloadShape::matmul(2, 4, 2).unwrap());
    let undeployed_shape = zkmeter_circuits::CircuitShape::workload(&undeployed_plan);
    let undeployed_pk = zkmeter_circuits::keys::setup(&undeployed_shape, &mut rand_chacha::ChaCha20Rng::seed_from_u64(3)).unwrap();
    let undeployed_vk = elsewhere_dir.path().join("undeployed.vk");
    write_key(&undeployed_vk, KeyKind::Verifying, &undeployed_shape.header, &undeployed_pk.vk).unwrap();
    for (key, expected) in [(&other_vk, "holds another verifying key"), (&undeployed_vk, "has no verifier for this circuit")] {
        let config = zkmeter_service::config::Config { work_verifying_keys: vec![key.clone()], ..local_config(dir.path()) };
        let err = zkmeter_service::server::serve(config, |_: &zkmeter_service::server::Bound| panic!("must not start"), std::future::pending()).await.unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains(expected) && message.contains(key.to_str().unwrap()), "{message}");
    }

    // The service finds the workload key in keys/ and lists the circuit.
    let (mut client, _) = start(dir.path()).await;
    let meter_circuit = client.get_circuit(proto::GetCircuitRequest::default()).await.unwrap().into_inner();
    assert_eq!(meter_circuit.work_circuits.len(), 1);
    let listed = &meter_circuit.work_circuits[0];
    assert_eq!(listed.circuit_id, work.circuit_id.to_vec());
    assert_eq!(listed.name, work.prover.plan().circuit_id());
    assert_eq!(listed.verifier_contract, d.work_circuits[0].verifier.to_vec());
    let described = client.get_circuit(proto::GetCircuitRequest { circuit_id: work.circuit_id.to_vec() }).await.unwrap().into_inner();
    assert_eq!((described.slots, described.public_inputs.len(), described.name.as_str()), (0, 4, listed.name.as_str()));

    let (statement, proof) = work.prove(job, 1);
    assert_eq!(statement.work_units, 24);
    let good = submit_work_request(&work.circuit_id, &statement, &encode_proof(&proof));

    // Bad submissions first: each refused with its code, nothing recorded.
    let mut bad = good.clone();
    bad.proof[31] ^= 1; // A.y changed: off the curve
    let (c, m) = work_code(client.submit_work(bad).await);
    assert!(c == Code::InvalidArgument && m.contains("proof"), "{m}");
    let mut bad = good.clone();
    bad.proof.truncate(255);
    assert_eq!(work_code(client.submit_work(bad).await).0, Code::InvalidArgument);
    let mut bad = good.clone();
    bad.statement.as_mut().unwrap().input = vec![0xff; 32];
    let (c, m) = work_code(client.submit_work(bad).await);
    assert!(c == Code::InvalidArgument && m.contains("statement.input") && m.contains("below the BN254 scalar modulus"), "{m}");
    let mut bad = good.clone();
    bad.statement.as_mut().unwrap().work_units = 25;
    let (c, m) = work_code(client.submit_work(bad).await);
    assert!(c == Code::InvalidArgument && m.contains("24"), "{m}");
    let mut bad = good.clone();
    bad.circuit_id = vec![7; 32];
    let (c, m) = work_code(client.submit_work(bad).await);
    assert!(c == Code::NotFound && m.contains("GetCircuit"), "{m}");
    let mut bad = good.clone();
    bad.statement.as_mut().unwrap().job_id = 999;
    let (c, m) = work_code(client.submit_work(bad).await);
    assert!(c == Code::NotFound && m.contains("job 999"), "{m}");
    let (unrequested, unrequested_proof) = work.prove(job, 4);
    let (c, m) = work_code(client.submit_work(submit_work_request(&work.circuit_id, &unrequested, &encode_proof(&unrequested_proof))).await);
    assert!(c == Code::FailedPrecondition && m.contains("requestWork"), "{m}");
    let mut wrong_output = statement;
    wrong_output.output = unrequested.output;
    let (c, m) = work_code(client.submit_work(submit_work_request(&work.circuit_id, &wrong_output, &encode_proof(&proof))).await);
    assert!(c == Code::InvalidArgument && m.contains("does not verify"), "{m}");
    let (c, m) = work_code(client.submit_work(submit_work_request(&work.circuit_id, &elsewhere, &encode_proof(&elsewhere_proof))).await);
    assert!(c == Code::AlreadyExists && m.contains("settled on the chain already"), "{m}");

    // The real one: verified, then settled on the chain.
    let first = client.submit_work(good.clone()).await.unwrap().into_inner();
    assert!(first.created);
    let receipt = first.receipt.unwrap();
    assert_eq!(receipt.id, work_id(chain_id, d.settlement, &work.circuit_id, &statement).to_vec());
    assert_ne!(receipt.status, ReceiptStatus::Rejected as i32, "{}", receipt.reason);
    let done = work_settled(&mut client, &receipt.id).await;
    assert_eq!(done.status, ReceiptStatus::Settled as i32, "{}", done.reason);
    assert_eq!(done.tx_hash.len(), 32);
    assert!(done.gas_used > 100_000, "gas {}", done.gas_used);
    assert_eq!(done.statement, good.statement);

    // The same request again, and a re-randomised proof of it: the same receipt.
    let again = client.submit_work(good.clone()).await.unwrap().into_inner();
    assert!(!again.created);
    assert_eq!(again.receipt.unwrap(), done);
    let rerandomised = Groth16::<Bn254>::rerandomize_proof(work.prover.verifying_key(), &proof, &mut rand_chacha::ChaCha20Rng::seed_from_u64(9));
    let again = client.submit_work(submit_work_request(&work.circuit_id, &statement, &encode_proof(&rerandomised))).await.unwrap().into_inner();
    assert_eq!((again.created, again.receipt.unwrap().id), (false, receipt.id.clone()));
    // Another output for the same request.
    let (c, m) = work_code(client.submit_work(submit_work_request(&work.circuit_id, &wrong_output, &encode_proof(&proof))).await);
    assert!(c == Code::AlreadyExists && m.contains("one model and one input"), "{m}");

    // The receipt a crash left submitted: recognised as settled, not sent twice.
    let recovered = work_settled(&mut client, &crashed_id).await;
    assert_eq!(recovered.status, ReceiptStatus::Settled as i32, "{}", recovered.reason);
    assert!(recovered.reason.contains("earlier attempt"), "{}", recovered.reason);
    let again = client.submit_work(submit_work_request(&work.circuit_id, &crashed, &encode_proof(&crashed_proof))).await.unwrap().into_inner();
    assert_eq!((again.created, again.receipt.unwrap().id), (false, crashed_id.to_vec()));
    let (c, _) = match client.get_work_receipt(proto::GetWorkReceiptRequest { id: vec![1; 32] }).await {
        Err(s) => (s.code(), s.message().to_owned()),
        Ok(_) => panic!("no such receipt"),
    };
    assert_eq!(c, Code::NotFound);

    // Paid once, for the work the service settled: work units × the tariff.
    let mut chain = EmbeddedChain::open_read_only(&chain_dir).unwrap();
    let paid = d.balances(&mut chain, provider()).unwrap()[0] - paid_before;
    assert_eq!(paid, zkmeter_contracts::U256::from(u128::from(statement.work_units) * WORK_PRICE));
    assert_eq!(chain.chain_id(), chain_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_invalid_proofs_is_refused_before_verification_once_over_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (prover, job, chain_id, genesis) = prepare(dir.path());
    let config = zkmeter_service::config::Config { bad_proof_burst: 2, bad_proofs_per_minute: 0, ..local_config(dir.path()) };
    let (grpc, metrics) = serve_in_process(config).await;
    let mut client = proto::verifier_service_client::VerifierServiceClient::connect(format!("http://{grpc}")).await.unwrap();
    let deployment = zkmeter_contracts::Deployment::load(&dir.path().join("chain").join(DEPLOYMENT_FILE)).unwrap();
    let circuit_id = client.get_circuit(proto::GetCircuitRequest::default()).await.unwrap().into_inner().circuit_id;

    // Signed by the job's meter, with a proof of another statement: the pairing check fails.
    let (statement, proof) = epoch(&prover, job, genesis, 1);
    let (_, other_proof) = epoch(&prover, job, genesis, 2);
    let sig = sign_state(&meter_key(), chain_id, deployment.settlement, job, &statement.new);
    let invalid = request(&circuit_id, &statement, &encode_proof(&other_proof), &sig);
    for _ in 0..2 {
        let (c, m) = code(client.submit_proof(invalid.clone()).await);
        assert!(c == Code::InvalidArgument && m.contains("does not verify"), "{m}");
    }
    let (c, m) = code(client.submit_proof(invalid).await);
    assert!(c == Code::ResourceExhausted && m.starts_with("too many invalid proofs from this address"), "{c:?} {m}");
    // The budget is the peer's: even its valid proof waits until the budget refills.
    let valid = request(&circuit_id, &statement, &encode_proof(&proof), &sig);
    assert_eq!(code(client.submit_proof(valid).await).0, Code::ResourceExhausted);
    let listed = list(&mut client, proto::ListReceiptsRequest::default()).await;
    assert!(listed.is_empty(), "nothing recorded");
    let page = metrics_page(metrics.unwrap()).await;
    assert!(page.contains("zkmeter_verifier_submissions_total{outcome=\"over_budget\"} 2"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_wait_while_too_many_receipts_wait_for_settlement() {
    let dir = tempfile::tempdir().unwrap();
    let (prover, job, chain_id, genesis) = prepare(dir.path());
    let config = zkmeter_service::config::Config { max_unsettled: 1, ..local_config(dir.path()) };
    let (grpc, metrics) = serve_in_process(config).await;
    let mut client = proto::verifier_service_client::VerifierServiceClient::connect(format!("http://{grpc}")).await.unwrap();
    let deployment = zkmeter_contracts::Deployment::load(&dir.path().join("chain").join(DEPLOYMENT_FILE)).unwrap();
    let circuit_id = client.get_circuit(proto::GetCircuitRequest::default()).await.unwrap().into_inner().circuit_id;
    let (first, first_proof) = epoch(&prover, job, genesis, 1);
    let (second, second_proof) = epoch(&prover, job, first.new, 2);
    let signed = |s: &zkmeter_circuits::MeterStatement, p: &ark_groth16::Proof<Bn254>| {
        request(&circuit_id, s, &encode_proof(p), &sign_state(&meter_key(), chain_id, deployment.settlement, job, &s.new))
    };

    assert!(client.submit_proof(signed(&first, &first_proof)).await.unwrap().into_inner().created);
    // The first receipt waits for the chain (counted at once, not at the next
    // count of the store): the second is refused, saying why, and not recorded.
    let (c, m) = code(client.submit_proof(signed(&second, &second_proof)).await);
    assert!(c == Code::ResourceExhausted && m.starts_with("settlement backlog full: 1 verified epochs wait"), "{c:?} {m}");
    assert_eq!(list(&mut client, proto::ListReceiptsRequest::default()).await.len(), 1);
    // Once the settler has caught up, it goes through.
    let mut answer = None;
    for _ in 0..300 {
        match client.submit_proof(signed(&second, &second_proof)).await {
            Ok(r) => {
                answer = Some(r.into_inner());
                break;
            }
            Err(s) if s.code() == Code::ResourceExhausted => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            Err(s) => panic!("{s}"),
        }
    }
    assert!(answer.expect("accepted once the first settled").created);
    let page = metrics_page(metrics.unwrap()).await;
    assert!(page.contains("zkmeter_verifier_submissions_total{outcome=\"backlogged\"}"), "{page}");
    assert!(page.contains("zkmeter_verifier_unsettled_receipts"), "{page}");
}

/// The metrics page, over a plain socket.
async fn metrics_page(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).await.unwrap();
    page
}
