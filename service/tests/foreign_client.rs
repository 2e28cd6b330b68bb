//! A client that is not ours submits a proof and reads its receipt: Python
//! grpcio, learning the API through reflection only (`foreign_client.py`).
//! The interpreter is `$ZKMETER_TEST_PYTHON` (default `python3`) and needs the
//! PyPI packages grpcio, grpcio-reflection and protobuf; without them the test
//! is skipped with a note, unless CI is set.

#[path = "../../contracts/tests/common/mod.rs"]
mod common;
mod support;

use common::*;
use std::process::Command;
use support::*;
use zkmeter_contracts::{DEPLOYMENT_FILE, Deployment, sign_state};
use zkmeter_circuits::field_bytes::to_be_bytes;
use zkmeter_service::proto::{self, ReceiptStatus};
use zkmeter_verifier::encode_proof;

fn python() -> Option<String> {
    let python = std::env::var("ZKMETER_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import grpc, grpc_reflection, google.protobuf"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the foreign-client test: install grpcio grpcio-reflection protobuf and set ZKMETER_TEST_PYTHON"
    );
    eprintln!("skipping: {python} lacks grpcio, grpcio-reflection or protobuf (pip install them, or set ZKMETER_TEST_PYTHON)");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_grpcio_through_reflection_submits_and_reads_the_receipt() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (prover, job, chain_id, genesis) = prepare(dir.path());
    let d = Deployment::load(&dir.path().join("chain").join(DEPLOYMENT_FILE)).unwrap();
    let (mut client, url) = start(dir.path()).await;
    let (s, proof) = epoch(&prover, job, genesis, 1);
    let state = |x: &zkmeter_circuits::StreamState| {
        serde_json::json!({ "head": hex::encode(to_be_bytes(&x.head)), "seq": x.seq, "end_ms": x.end_ms })
    };
    let submission = serde_json::json!({
        "job_id": job,
        "meter": hex::encode(s.stream.meter),
        "prev": state(&s.prev),
        "next": state(&s.new),
        "record_count": s.record_count,
        "totals": s.totals.0,
        "proof": hex::encode(encode_proof(&proof)),
        "meter_signature": hex::encode(sign_state(&meter_key(), chain_id, d.settlement, job, &s.new)),
    });
    let file = dir.path().join("submission.json");
    std::fs::write(&file, submission.to_string()).unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/foreign_client.py");
    let target = url.trim_start_matches("http://").to_owned();
    let output = tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(target).arg(&file).output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&format!("N={SLOTS}")), "{stdout}");
    let id = stdout.lines().find_map(|l| l.strip_prefix("receipt ")).unwrap().split(' ').next().unwrap();
    assert!(stdout.contains("settled "), "{stdout}");

    let ours = client.get_receipt(proto::GetReceiptRequest { id: hex::decode(id).unwrap() }).await.unwrap();
    assert_eq!(ours.into_inner().receipt.unwrap().status, ReceiptStatus::Settled as i32);
}
