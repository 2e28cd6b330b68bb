//! What the service tests share: a prepared data directory, requests, polling.

#![allow(dead_code)]

pub mod proxy;

use crate::common::*;
use std::path::Path;
use std::time::Duration;
use zkmeter_circuits::{MeterStatement, StreamState};
use zkmeter_circuits::keys::{KeyKind, key_paths, write_key};
use zkmeter_contracts::{Chain, DEPLOYMENT_FILE, EmbeddedChain};
use zkmeter_service::config::Config;
use zkmeter_service::proto::verifier_service_client::VerifierServiceClient;
use zkmeter_service::proto::{self, ReceiptStatus};

pub type Client = VerifierServiceClient<tonic::transport::Channel>;

/// A data directory with keys for N = SLOTS, an embedded chain with the
/// contracts deployed, a registered meter and an open job: the prover, the job,
/// the chain id and the job's genesis state (the stream starts when it was opened).
pub fn prepare(dir: &Path) -> (zkmeter_circuits::MeterProver, u64, u64, StreamState) {
    let prover = prover();
    let (_, vk_path) = key_paths(&dir.join("keys"), SLOTS);
    write_key(&vk_path, KeyKind::Verifying, &prover.shape().header, prover.verifying_key()).unwrap();
    let chain_dir = dir.join("chain");
    let mut chain = EmbeddedChain::open(&chain_dir).unwrap();
    let (d, job) = setup_job(&mut chain, &prover, Some(&chain_dir.join(DEPLOYMENT_FILE)));
    let genesis = d.stream_state(&mut chain, job).unwrap();
    (prover, job, chain.chain_id(), genesis)
}

/// Serves the data directory in this process on a free loopback port; returns
/// a client and the URL.
pub async fn start(dir: &Path) -> (Client, String) {
    let (client, url, _) = start_with_metrics(dir).await;
    (client, url)
}

/// Like [`start`], with the metrics endpoint on too: also returns its address.
pub async fn start_with_metrics(dir: &Path) -> (Client, String, std::net::SocketAddr) {
    let (grpc, metrics) = serve_in_process(local_config(dir)).await;
    let url = format!("http://{grpc}");
    (VerifierServiceClient::connect(url.clone()).await.unwrap(), url, metrics.unwrap())
}

/// The service on a free loopback port (and metrics on another) over `dir`.
pub fn local_config(dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: dir.to_owned(),
        ..Config::default()
    }
}

/// Serves `config` in this process; returns the gRPC and metrics addresses once
/// they are bound.
pub async fn serve_in_process(config: Config) -> (std::net::SocketAddr, Option<std::net::SocketAddr>) {
    let (send, bound) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let on_bound = |b: &zkmeter_service::server::Bound| send.send((b.grpc, b.metrics)).unwrap();
        zkmeter_service::server::serve(config, on_bound, std::future::pending()).await.unwrap();
    });
    bound.await.unwrap()
}

pub fn request(circuit_id: &[u8], s: &MeterStatement, proof: &[u8], signature: &[u8]) -> proto::SubmitProofRequest {
    zkmeter_service::convert::submit_request(&circuit_id.try_into().expect("32 bytes"), s, proof, signature)
}

pub async fn settled(client: &mut Client, id: &[u8]) -> proto::Receipt {
    for _ in 0..200 {
        let r = client.get_receipt(proto::GetReceiptRequest { id: id.to_vec() }).await.unwrap().into_inner().receipt.unwrap();
        if r.status == ReceiptStatus::Settled as i32 || r.status == ReceiptStatus::Rejected as i32 {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("receipt not settled within 10 s");
}

/// Every receipt a listing streams.
pub async fn list(client: &mut Client, req: proto::ListReceiptsRequest) -> Vec<proto::Receipt> {
    let mut stream = client.list_receipts(req).await.unwrap().into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.message().await.unwrap() {
        out.push(item.receipt.unwrap());
    }
    out
}

/// A fresh schema named after the process and `test` on the PostgreSQL server of
/// `url`: the server's address, and a URL that uses the schema.
pub async fn postgres_schema(url: &str, test: &str) -> (std::net::SocketAddr, String) {
    let schema = format!("svc_{}_{test}", std::process::id());
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
    admin.close().await;
    let host = url.rsplit_once('@').expect("a URL with user@host").1.split('/').next().unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    (host.parse().expect("the test server is at IP:port"), format!("{url}{sep}options=-c%20search_path%3D{schema}"))
}
