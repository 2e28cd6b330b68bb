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
use zkmeter_service::convert::{fr_bytes, state_message};
use zkmeter_service::proto::{self, ReceiptStatus};
use zkmeter_verifier::encode_proof;

fn code(result: Result<tonic::Response<proto::SubmitProofResponse>, tonic::Status>) -> (Code, String) {
    let status = result.expect_err("refused");
    (status.code(), status.message().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_verifies_settles_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (prover, job, chain_id) = prepare(dir.path());
    let (mut client, url) = start(dir.path()).await;
    let deployment = zkmeter_contracts::Deployment::load(&dir.path().join("chain").join(DEPLOYMENT_FILE)).unwrap();
    let circuit = client.get_circuit(proto::GetCircuitRequest::default()).await.unwrap().into_inner();
    assert_eq!(circuit.slots, SLOTS);
    assert_eq!(circuit.public_inputs.len(), 6);
    assert_eq!(circuit.verifier_contract, deployment.circuits[0].verifier.to_vec());
    assert_eq!((circuit.chain_id, circuit.settlement_contract), (chain_id, deployment.settlement.to_vec()), "the meters' EIP-712 domain");
    let circuit_id = circuit.circuit_id;

    let state = client.get_stream_state(proto::GetStreamStateRequest { job_id: job }).await.unwrap().into_inner();
    let genesis = zkmeter_circuits::StreamId { meter: zkmeter_contracts::meter_address(&meter_key()).into(), job_id: job }.genesis();
    assert_eq!(state.latest.unwrap().head, fr_bytes(&genesis.head).to_vec());
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
    assert_eq!(c, Code::Internal, "{m}");
    assert!(m.contains("decode"), "{m}");
    let (c, m) = raw_call(&url, "SubmitProofs", vec![0; 2 << 20]).await;
    assert!(c == Code::OutOfRange || c == Code::ResourceExhausted, "{c:?} {m}");
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
