//! Crash safety with the real binary: `zkmeter-verifier` is stopped at a point of
//! its pipeline (`ZKMETER_VERIFIER_PAUSE_AT`), killed with SIGKILL there, and
//! restarted. No accepted receipt is lost, no statement is settled twice, and
//! pending work resumes.

#[path = "../../contracts/tests/common/mod.rs"]
mod common;
mod support;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::*;
use zkmeter_circuits::MeterStatement;
use zkmeter_contracts::{Chain, DEPLOYMENT_FILE, Deployment, EmbeddedChain, U256, sign_state};
use zkmeter_service::pause_point::PAUSE_AT_ENV;
use zkmeter_service::proto::verifier_service_client::VerifierServiceClient;
use zkmeter_service::proto::{self, ReceiptStatus};
use zkmeter_service::submission::statement_id;
use zkmeter_verifier::encode_proof;

/// The binary, serving a data directory; SIGKILLed when dropped.
struct Verifier {
    child: Child,
    client: Client,
}

impl Verifier {
    async fn start(dir: &Path, pause_at: Option<&str>) -> Verifier {
        let mut command = Command::new(env!("CARGO_BIN_EXE_zkmeter-verifier"));
        command
            .args(["--data-dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0", "--max-wait-ms", "1"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(point) = pause_at {
            command.env(PAUSE_AT_ENV, point);
        }
        let mut child = command.spawn().expect("start zkmeter-verifier");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let client = VerifierServiceClient::connect(format!("http://{addr}")).await.unwrap();
        Verifier { child, client }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn receipt(client: &mut Client, id: &[u8]) -> Option<proto::Receipt> {
    client.get_receipt(proto::GetReceiptRequest { id: id.to_vec() }).await.ok().map(|r| r.into_inner().receipt.unwrap())
}

/// Polls until `done` holds for the receipt (10 s at most).
async fn wait_for(client: &mut Client, id: &[u8], what: &str, done: impl Fn(&proto::Receipt) -> bool) -> proto::Receipt {
    for _ in 0..200 {
        if let Some(r) = receipt(client, id).await.filter(|r| done(r)) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("receipt {} never became {what}", hex::encode(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_each_point_loses_nothing_and_settles_once() {
    let dir = tempfile::tempdir().unwrap();
    let (prover, job, chain_id, genesis) = prepare(dir.path());
    let d = Deployment::load(&dir.path().join("chain").join(DEPLOYMENT_FILE)).unwrap();
    let circuit_id = d.circuits[0].circuit_id;
    let submit = |s: &MeterStatement, proof: &ark_groth16::Proof<ark_bn254::Bn254>| {
        let sig = sign_state(&meter_key(), chain_id, d.settlement, job, &s.new);
        request(circuit_id.as_slice(), s, &encode_proof(proof), &sig)
    };

    // 1. Killed after marking the receipt submitted, before sending the transaction.
    let (e1, p1) = epoch(&prover, job, genesis, 1);
    let mut v = Verifier::start(dir.path(), Some("before-settle-tx")).await;
    let r1 = v.client.submit_proof(submit(&e1, &p1)).await.unwrap().into_inner().receipt.unwrap();
    wait_for(&mut v.client, &r1.id, "submitted", |r| r.status == ReceiptStatus::Submitted as i32).await;
    v.kill();
    let mut v = Verifier::start(dir.path(), None).await;
    let done = wait_for(&mut v.client, &r1.id, "settled", |r| r.status == ReceiptStatus::Settled as i32).await;
    assert_eq!(done.tx_hash.len(), 32, "sent after the restart");
    v.kill();

    // 2. Killed after the transaction was included, before recording it.
    let (e2, p2) = epoch(&prover, job, e1.new, 2);
    let mut v = Verifier::start(dir.path(), Some("after-settle-tx")).await;
    let r2 = v.client.submit_proof(submit(&e2, &p2)).await.unwrap().into_inner().receipt.unwrap();
    for _ in 0..200 {
        let s = v.client.get_stream_state(proto::GetStreamStateRequest { job_id: job }).await.unwrap().into_inner();
        if s.settled.unwrap().seq == e2.new.seq {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(receipt(&mut v.client, &r2.id).await.unwrap().status, ReceiptStatus::Submitted as i32);
    v.kill();
    let mut v = Verifier::start(dir.path(), None).await;
    let done = wait_for(&mut v.client, &r2.id, "settled", |r| r.status == ReceiptStatus::Settled as i32).await;
    assert!(done.reason.contains("earlier attempt"), "recognised, not sent again: {}", done.reason);
    v.kill();

    // 3. Killed after recording the receipt (verified, in its group's
    //    transaction), before answering; the client's call dies with the
    //    process and is retried after the restart.
    let (e3, p3) = epoch(&prover, job, e2.new, 3);
    let id3 = statement_id(chain_id, d.settlement, &circuit_id, &e3);
    let mut v = Verifier::start(dir.path(), Some("after-record")).await;
    let mut hanging = v.client.clone();
    let call = tokio::spawn({
        let req = submit(&e3, &p3);
        async move { hanging.submit_proof(req).await }
    });
    // Recorded (and the settler, rung at once, may have moved it on already).
    wait_for(&mut v.client, &id3, "recorded", |_| true).await;
    v.kill();
    assert!(call.await.unwrap().is_err(), "the call in flight failed with the process");
    let mut v = Verifier::start(dir.path(), None).await;
    wait_for(&mut v.client, &id3, "settled", |r| r.status == ReceiptStatus::Settled as i32).await;
    let again = v.client.submit_proof(submit(&e3, &p3)).await.unwrap().into_inner();
    assert!(!again.created);
    assert_eq!(again.receipt.unwrap().id, id3.to_vec());
    v.kill();

    // 4. A receipt as a version before group commit could leave it: recorded,
    //    its verification not (`accepted`), never sent. The settler is stopped
    //    before sending, the process killed and the row put back to accepted:
    //    the restart checks the proof again, then settles it.
    let (e4, p4) = epoch(&prover, job, e3.new, 4);
    let id4 = statement_id(chain_id, d.settlement, &circuit_id, &e4);
    let mut v = Verifier::start(dir.path(), Some("before-settle-tx")).await;
    assert!(v.client.submit_proof(submit(&e4, &p4)).await.unwrap().into_inner().created);
    wait_for(&mut v.client, &id4, "submitted", |r| r.status == ReceiptStatus::Submitted as i32).await;
    v.kill();
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&format!("sqlite://{}", dir.path().join("receipts.db").display())).await.unwrap();
    sqlx::query("UPDATE receipts SET status = 'accepted' WHERE id = $1").bind(id4.to_vec()).execute(&raw).await.unwrap();
    raw.close().await;
    let mut v = Verifier::start(dir.path(), None).await;
    wait_for(&mut v.client, &id4, "settled", |r| r.status == ReceiptStatus::Settled as i32).await;
    let all = list(&mut v.client, proto::ListReceiptsRequest::default()).await;
    assert_eq!(all.len(), 4, "one receipt per statement");
    assert!(all.iter().all(|r| r.status == ReceiptStatus::Settled as i32));
    v.kill();

    // The chain: each epoch paid exactly once.
    let mut chain = EmbeddedChain::open(&dir.path().join("chain")).unwrap();
    assert_eq!(d.stream_state(&mut chain, job).unwrap(), e4.new);
    let paid = d.balances(&mut chain, provider()).unwrap();
    for (c, paid) in paid.iter().enumerate() {
        let billed: u64 = [&e1, &e2, &e3, &e4].iter().map(|e| e.totals.0[c]).sum();
        assert_eq!(*paid, U256::from(billed), "class {c}");
    }
    assert_eq!(chain.chain_id(), chain_id);
}
