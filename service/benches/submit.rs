//! End-to-end submissions over loopback gRPC: a verifier service on the embedded
//! chain (in this process), and 1, 8 and 64 concurrent clients each submitting
//! the epochs of its own job one after another. Prints submissions per second
//! and p50/p99 latency (submit → verified receipt) per level. Settlement runs in
//! the background meanwhile, as in production. Each level's anchor, measured in
//! the same run on the same proofs, is batched verification alone (batches of
//! the service's `max_batch`, one after another): the ceiling the service's own
//! work is measured against.
//!
//! `cargo bench -p zkmeter-service --bench submit`; `ZKMETER_BENCH_CLIENTS=1,8,64`
//! and `ZKMETER_BENCH_SUBMISSIONS=128` (per level) change the sizes.

#[path = "../../contracts/tests/common/mod.rs"]
mod common;

use common::*;
use std::time::{Duration, Instant};
use zkmeter_circuits::keys::{KeyKind, key_paths, write_key};
use zkmeter_contracts::{Chain, DEPLOYMENT_FILE, EmbeddedChain, deploy, meter_address, sign_state};
use zkmeter_service::config::Config;
use zkmeter_service::convert::submit_request;
use zkmeter_service::proto::verifier_service_client::VerifierServiceClient;
use zkmeter_service::proto::{self, ReceiptStatus};
use zkmeter_verifier::encode_proof;

fn sizes(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var).unwrap_or_else(|_| default.to_owned()).split(',').map(|s| s.trim().parse().expect("a number")).collect()
}

/// One client's requests, in order, and the statements and proofs they carry.
type ClientWork = (Vec<proto::SubmitProofRequest>, Vec<(zkmeter_circuits::MeterStatement, ark_groth16::Proof<ark_bn254::Bn254>)>);

/// A data directory with `clients` open jobs and each job's epochs proven: the
/// requests each client will send, in order.
fn prepare(dir: &std::path::Path, prover: &zkmeter_circuits::MeterProver, clients: usize, per_client: usize) -> Vec<ClientWork> {
    let (_, vk_path) = key_paths(&dir.join("keys"), SLOTS);
    write_key(&vk_path, KeyKind::Verifying, &prover.shape().header, prover.verifying_key()).unwrap();
    let chain_dir = dir.join("chain");
    let mut chain = EmbeddedChain::open(&chain_dir).unwrap();
    let header = &prover.shape().header;
    let d = deploy(&mut chain, &[zkmeter_contracts::CircuitToDeploy { header, vk: prover.verifying_key() }], Some(&chain_dir.join(DEPLOYMENT_FILE))).unwrap();
    let meter = meter_address(&meter_key());
    // One meter serves every client's job, each with the test capacity: a meter's
    // open jobs share its registration, so it registers that many times over.
    let consent = zkmeter_contracts::sign_registration(&meter_key(), chain.chain_id(), d.settlement, provider());
    let registered = zkmeter_circuits::PerClass(CAPACITY.0.map(|c| c * clients as u64));
    d.register_meter(&mut chain, provider(), meter, &registered, &consent).unwrap();
    let job_capacity = CAPACITY;
    let per_job = [30_000 * per_client as u128, 0, 0, 0, 10_000 * per_client as u128];
    d.mint_tokens(&mut chain, consumer(), per_job.map(|a| a * clients as u128)).unwrap();
    let expires = chain.block().unwrap().timestamp + 3600;
    let circuit_id = d.circuits[0].circuit_id;
    (0..clients)
        .map(|_| {
            let opened = d.open_job(&mut chain, consumer(), meter, &job_capacity, expires, per_job).unwrap();
            let (job, mut state) = (opened.job_id, opened.genesis);
            (1..=per_client as u64)
                .map(|k| {
                    let (s, proof) = epoch(prover, job, state, k);
                    state = s.new;
                    let sig = sign_state(&meter_key(), chain.chain_id(), d.settlement, job, &s.new);
                    (submit_request(&circuit_id, &s, &encode_proof(&proof), &sig), (s, proof))
                })
                .unzip()
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Proofs per second of batched verification alone over `proven`, in batches of `batch`.
fn anchor(prover: &zkmeter_circuits::MeterProver, proven: &[(zkmeter_circuits::MeterStatement, ark_groth16::Proof<ark_bn254::Bn254>)], batch: usize) -> f64 {
    let verifier = zkmeter_verifier::Verifier::new(prover.verifying_key());
    let inputs: Vec<_> = proven.iter().map(|(s, _)| s.public_inputs()).collect();
    let started = Instant::now();
    for (chunk, chunk_inputs) in proven.chunks(batch).zip(inputs.chunks(batch)) {
        let pairs: Vec<_> = chunk.iter().zip(chunk_inputs).map(|((_, proof), x)| (proof, &x[..])).collect();
        let report = verifier.verify_batch(&pairs, &mut rand::rngs::OsRng);
        assert!(report.invalid_indices().is_empty(), "every proof verifies");
    }
    proven.len() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let prover = prover();
    let total = sizes("ZKMETER_BENCH_SUBMISSIONS", "128")[0];
    println!(
        "{:>8} {:>12} {:>14} {:>10} {:>10} {:>18} {:>10}",
        "clients", "submissions", "submissions/s", "p50 ms", "p99 ms", "anchor verified/s", "ratio"
    );
    for clients in sizes("ZKMETER_BENCH_CLIENTS", "1,8,64") {
        let per_client = total.div_ceil(clients);
        let dir = tempfile::tempdir().unwrap();
        let (work, proven): (Vec<_>, Vec<_>) = prepare(dir.path(), &prover, clients, per_client).into_iter().unzip();
        let proven: Vec<_> = proven.into_iter().flatten().collect();
        let ceiling = anchor(&prover, &proven, Config::default().max_batch);
        let (latencies, wall) = runtime.block_on(async {
            let config = Config { listen: "127.0.0.1:0".parse().unwrap(), data_dir: dir.path().to_owned(), ..Config::default() };
            let (send, bound) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                zkmeter_service::server::serve(config, |b| send.send(b.grpc).unwrap(), std::future::pending()).await.unwrap();
            });
            let url = format!("http://{}", bound.await.unwrap());
            let started = Instant::now();
            let tasks: Vec<_> = work
                .into_iter()
                .map(|requests| {
                    let url = url.clone();
                    tokio::spawn(async move {
                        let mut client = VerifierServiceClient::connect(url).await.unwrap();
                        let mut latencies = Vec::new();
                        for r in requests {
                            let t = Instant::now();
                            let receipt = client.submit_proof(r).await.unwrap().into_inner().receipt.unwrap();
                            latencies.push(t.elapsed());
                            assert!(receipt.status != ReceiptStatus::Rejected as i32, "{}", receipt.reason);
                        }
                        latencies
                    })
                })
                .collect();
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            (all, started.elapsed())
        });
        let mut sorted = latencies;
        sorted.sort();
        let rate = sorted.len() as f64 / wall.as_secs_f64();
        println!(
            "{clients:>8} {:>12} {rate:>14.0} {:>10.1} {:>10.1} {ceiling:>18.0} {:>10.3}",
            sorted.len(),
            percentile(&sorted, 0.5).as_secs_f64() * 1e3,
            percentile(&sorted, 0.99).as_secs_f64() * 1e3,
            rate / ceiling
        );
    }
}
