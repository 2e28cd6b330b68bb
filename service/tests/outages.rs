//! The service through outages of what it depends on, over real gRPC on loopback:
//!
//! - the chain node (anvil over JSON-RPC) goes down: submissions for known jobs
//!   are still checked and kept, their settlement is retried, and it goes
//!   through once the node is back; a job the service never read gets a clear
//!   "unavailable";
//! - the receipt database (PostgreSQL) goes down: submissions get "unavailable"
//!   and lose nothing, and the service serves again once the database is back.
//!
//! Each outage is a [`Proxy`] in front of the real server, switched off and on.
//! Without anvil or `ZKMETER_TEST_POSTGRES_URL` the test is skipped with a note,
//! unless CI is set: CI must run both.

#[path = "../../contracts/tests/common/mod.rs"]
mod common;
mod support;

use ark_bn254::Bn254;
use ark_groth16::Proof;
use common::*;
use std::time::Duration;
use support::proxy::Proxy;
use support::*;
use tonic::Code;
use zkmeter_circuits::MeterStatement;
use zkmeter_circuits::keys::{KeyKind, key_paths, write_key};
use zkmeter_contracts::anvil::{AnvilNode, anvil_binary};
use zkmeter_contracts::{DEV_PRIVATE_KEYS, sign_state};
use zkmeter_service::proto::{self, ReceiptStatus};
use zkmeter_verifier::encode_proof;

fn required(what: &str, how: &str) {
    assert!(std::env::var_os("CI").is_none(), "CI must run this test: {what} ({how})");
    eprintln!("skipping: {what} ({how})");
}

/// The test meter's submissions for one job of the service's chain.
struct Meter {
    circuit_id: Vec<u8>,
    chain_id: u64,
    settlement: zkmeter_contracts::Address,
    job: u64,
}

impl Meter {
    async fn new(client: &mut Client, chain_id: u64, settlement: zkmeter_contracts::Address, job: u64) -> Meter {
        let circuit_id = client.get_circuit(proto::GetCircuitRequest::default()).await.unwrap().into_inner().circuit_id;
        Meter { circuit_id, chain_id, settlement, job }
    }

    /// The signed submission of `statement` with `proof`.
    fn request(&self, statement: &MeterStatement, proof: &Proof<Bn254>) -> proto::SubmitProofRequest {
        let sig = sign_state(&meter_key(), self.chain_id, self.settlement, self.job, &statement.new);
        request(&self.circuit_id, statement, &encode_proof(proof), &sig)
    }

    /// Proves, submits and waits for the settlement of the job's first epoch:
    /// its statement and receipt id.
    async fn settle_first_epoch(&self, client: &mut Client, prover: &zkmeter_circuits::MeterProver) -> (MeterStatement, Vec<u8>) {
        let state = client.get_stream_state(proto::GetStreamStateRequest { job_id: self.job }).await.unwrap().into_inner();
        let genesis = zkmeter_service::convert::stream_state("latest", state.latest.as_ref()).unwrap();
        let (first, proof) = epoch(prover, self.job, genesis, 1);
        let receipt = client.submit_proof(self.request(&first, &proof)).await.unwrap().into_inner().receipt.unwrap();
        assert_eq!(settled(client, &receipt.id).await.status, ReceiptStatus::Settled as i32);
        (first, receipt.id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_node_outage_delays_settlement_and_loses_nothing() {
    let Some(binary) = anvil_binary() else {
        return required("anvil is not installed", "npm ci in contracts/");
    };
    let dir = tempfile::tempdir().unwrap();
    let prover = std::sync::Arc::new(prover());
    // The JSON-RPC client blocks on a runtime of its own: it is used off the test's runtime.
    let (anvil, deployment, job, chain_id) = {
        let (prover, dir) = (prover.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || {
            let mut anvil = AnvilNode::start(&binary).unwrap();
            let mut chain = anvil.connect().unwrap();
            let (_, vk_path) = key_paths(&dir.join("keys"), SLOTS);
            write_key(&vk_path, KeyKind::Verifying, &prover.shape().header, prover.verifying_key()).unwrap();
            let chain_id = zkmeter_contracts::Chain::chain_id(&chain);
            let deployment_file = dir.join("deployments").join(format!("chain-{chain_id}.json"));
            let (deployment, job) = setup_job(&mut chain, &prover, Some(&deployment_file));
            (anvil, deployment, job, chain_id)
        })
        .await
        .unwrap()
    };
    let node: std::net::SocketAddr = anvil.url().trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(node).await;
    let key_file = dir.path().join("settler.key");
    std::fs::write(&key_file, DEV_PRIVATE_KEYS[0]).unwrap();
    let config = zkmeter_service::config::Config {
        rpc_url: Some(format!("http://{}", proxy.addr())),
        private_key_file: Some(key_file),
        chain_id: Some(chain_id),
        retry_initial_ms: 100,
        retry_max_ms: 400,
        chain_cache_ms: 100,
        ..local_config(dir.path())
    };
    let (grpc, _) = serve_in_process(config).await;
    let mut client = Client::connect(format!("http://{grpc}")).await.unwrap();
    let meter = Meter::new(&mut client, chain_id, deployment.settlement, job).await;
    let submission = |statement: &MeterStatement, proof: &Proof<Bn254>| meter.request(statement, proof);

    // Epoch 1 settles while the node is up (and the service learns the job).
    let (first, _) = meter.settle_first_epoch(&mut client, &prover).await;

    // The node goes away. Epoch 2 is still checked, verified and kept...
    proxy.set_up(false);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (second, proof) = epoch(&prover, job, first.new, 2);
    let r2 = client.submit_proof(submission(&second, &proof)).await.unwrap().into_inner().receipt.unwrap();
    // ...and its settlement is retried, not given up.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let waiting = client.get_receipt(proto::GetReceiptRequest { id: r2.id.clone() }).await.unwrap().into_inner().receipt.unwrap();
    assert_eq!(waiting.status, ReceiptStatus::Submitted as i32, "{}", waiting.reason);
    assert!(waiting.attempts >= 2, "retried {} times", waiting.attempts);
    assert!(!waiting.reason.is_empty(), "the receipt says why it waits");
    // The stream's state is still answered, from what the service knows.
    let state = client.get_stream_state(proto::GetStreamStateRequest { job_id: job }).await.unwrap().into_inner();
    assert_eq!(state.latest.unwrap(), zkmeter_service::convert::state_message(&second.new));
    // A job the service never read cannot be checked: unavailable, with a reason.
    let mut unknown = submission(&second, &proof);
    unknown.statement.as_mut().unwrap().job_id = job + 1;
    let status = client.submit_proof(unknown).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
    assert!(status.message().contains("retry when the node is back"), "{}", status.message());

    // Epoch 3 waits beside it.
    let (third, proof) = epoch(&prover, job, second.new, 3);
    let r3 = client.submit_proof(submission(&third, &proof)).await.unwrap().into_inner().receipt.unwrap();

    // The node is back: epochs 2 and 3 settle, once each, in one settleBatch.
    proxy.set_up(true);
    let done = settled(&mut client, &r2.id).await;
    assert_eq!(done.status, ReceiptStatus::Settled as i32, "{}", done.reason);
    let done3 = settled(&mut client, &r3.id).await;
    assert_eq!(done3.status, ReceiptStatus::Settled as i32, "{}", done3.reason);
    assert_eq!(done.tx_hash, done3.tx_hash, "one transaction settled both");
    let url = anvil.url().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut chain = zkmeter_contracts::RpcChain::connect(&url, Vec::new(), Some(chain_id)).unwrap();
        assert_eq!(deployment.stream_state(&mut chain, job).unwrap(), third.new);
        let paid = deployment.balances(&mut chain, provider()).unwrap();
        for (c, paid) in paid.iter().enumerate() {
            let expected = [&first, &second, &third].iter().map(|e| u128::from(e.totals.0[c])).sum::<u128>();
            assert_eq!(paid.to::<u128>(), expected, "provider paid exactly once per epoch, class {c}");
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_gets_unavailable_and_loses_nothing() {
    let Ok(url) = std::env::var("ZKMETER_TEST_POSTGRES_URL") else {
        return required("ZKMETER_TEST_POSTGRES_URL is not set", "bash store/scripts/start-postgres.sh");
    };
    let dir = tempfile::tempdir().unwrap();
    let (prover, job, chain_id, _) = prepare(dir.path());
    let (server, schema_url) = postgres_schema(&url, "outage").await;
    let proxy = Proxy::start(server).await;
    let proxied = schema_url.replacen(&server.to_string(), &proxy.addr().to_string(), 1);
    let config = zkmeter_service::config::Config { database_url: Some(proxied), ..local_config(dir.path()) };
    let (grpc, _) = serve_in_process(config).await;
    let mut client = Client::connect(format!("http://{grpc}")).await.unwrap();
    let settlement = zkmeter_contracts::Deployment::load(&dir.path().join("chain").join(zkmeter_contracts::DEPLOYMENT_FILE))
        .unwrap()
        .settlement;
    let meter = Meter::new(&mut client, chain_id, settlement, job).await;
    let submission = |statement: &MeterStatement, proof: &Proof<Bn254>| meter.request(statement, proof);

    let (first, first_receipt) = meter.settle_first_epoch(&mut client, &prover).await;

    // The database goes away: a submission and a read are refused as unavailable,
    // saying which database, and nothing is half-recorded.
    proxy.set_up(false);
    let (second, proof) = epoch(&prover, job, first.new, 2);
    let status = client.submit_proof(submission(&second, &proof)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
    assert!(status.message().contains("receipt store"), "{}", status.message());
    assert!(!status.message().contains(":zkmeter@"), "no password in messages: {}", status.message());
    let status = client.get_receipt(proto::GetReceiptRequest { id: first_receipt.clone() }).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{}", status.message());

    // It is back: the same submission goes through and settles; the first receipt is intact.
    proxy.set_up(true);
    let r2 = client.submit_proof(submission(&second, &proof)).await.unwrap().into_inner();
    assert!(r2.created);
    let done = settled(&mut client, &r2.receipt.unwrap().id).await;
    assert_eq!(done.status, ReceiptStatus::Settled as i32, "{}", done.reason);
    let all = list(&mut client, proto::ListReceiptsRequest::default()).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|r| r.status == ReceiptStatus::Settled as i32));
}
