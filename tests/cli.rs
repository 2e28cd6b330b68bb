//! The `zkmeter` binary, run as a user would, on small circuits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn zkmeter(data_dir: &Path, args: &[&str]) -> Run {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_zkmeter"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("the zkmeter binary runs");
    Run { ok: status.success(), stdout: String::from_utf8_lossy(&stdout).into(), stderr: String::from_utf8_lossy(&stderr).into() }
}

fn ok(data_dir: &Path, args: &[&str]) -> String {
    let run = zkmeter(data_dir, args);
    assert!(run.ok, "zkmeter {args:?} failed:\n{}\n{}", run.stdout, run.stderr);
    run.stdout
}

fn fails(data_dir: &Path, args: &[&str]) -> String {
    let run = zkmeter(data_dir, args);
    assert!(!run.ok, "zkmeter {args:?} should fail:\n{}", run.stdout);
    run.stderr
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

/// The stream ids `simulate` printed.
fn streams(simulate_output: &str) -> Vec<String> {
    simulate_output.lines().filter_map(|l| l.trim().strip_prefix("stream ")).map(str::to_owned).collect()
}

#[test]
fn demo_proves_and_verifies_every_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(dir.path(), &["demo", "--records", "4", "--epochs", "2", "--streams", "2"]);
    assert!(out.contains("proofs                4 (all verified singly and in one batch)"), "{out}");
    assert!(out.contains("constraints / proof   3432"), "{out}");
    // A second run reuses the keys.
    let again = ok(dir.path(), &["demo", "--records", "4", "--epochs", "1", "--streams", "1"]);
    assert!(again.contains("proofs                1"), "{again}");
}

#[test]
fn setup_simulate_prove_verify_inspect_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let setup = ok(d, &["setup", "--records", "4"]);
    assert!(setup.contains("constraints      3432"), "{setup}");
    assert!(ok(d, &["setup", "--records", "4"]).contains("already exist"));

    let records = path(d, "records.jsonl");
    let sim = ok(d, &["simulate", "--streams", "2", "--records", "6", "--out", &records, "--start-ms", "1700000000000"]);
    let ids = streams(&sim);
    assert_eq!(ids.len(), 2);

    let err = fails(d, &["prove", "--input", &records, "--records", "4"]);
    assert!(err.contains("choose one with --stream"), "{err}");
    let err = fails(d, &["prove", "--input", &records, "--stream", &ids[0], "--records", "4"]);
    assert!(err.contains("do not fit a circuit with 4 record slots") && err.contains("--limit 4"), "{err}");

    let first = path(d, "first.proof.json");
    let second = path(d, "second.proof.json");
    ok(d, &["prove", "--input", &records, "--stream", &ids[0], "--records", "4", "--limit", "4", "--out", &first]);
    let out = ok(d, &["prove", "--input", &records, "--stream", &ids[0], "--records", "4", "--after", &first, "--out", &second]);
    assert!(out.contains("seq 5..=6"), "{out}");
    let verified = ok(d, &["verify", &first, &second]);
    assert_eq!(verified.matches("valid  ").count(), 2, "{verified}");

    let shown = ok(d, &["inspect", &second]);
    assert!(shown.contains("from           seq 4"), "{shown}");
    assert!(ok(d, &["inspect", &path(d, "keys/meter-4.vk")]).contains("matches this build's meter circuit"));
    assert!(ok(d, &["inspect", &records]).contains("records   6 (seq 1..=6)"));

    let exported = PathBuf::from(path(d, "snarkjs"));
    ok(d, &["export", &first, "--out", exported.to_str().unwrap()]);
    for f in ["verification_key.json", "proof.json", "public.json"] {
        assert!(exported.join(f).exists(), "{f} written");
    }

    // A forged statement: more GPU time than was measured, public inputs recomputed
    // to match, proof unchanged.
    let text = std::fs::read_to_string(&second).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let forged_path = path(d, "forged.proof.json");
    json["public_inputs"] = serde_json::Value::Null;
    let main_class = json["statement"]["totals"].as_object().unwrap().iter().find(|(_, v)| v.as_u64() > Some(0)).unwrap().0.clone();
    let bumped = json["statement"]["totals"][&main_class].as_u64().unwrap() + 1;
    json["statement"]["totals"][&main_class] = bumped.into();
    let statement: zkmeter_circuits::MeterStatement = serde_json::from_value(json["statement"].clone()).unwrap();
    json["public_inputs"] = statement.public_inputs().iter().map(zkmeter_circuits::field_hex::to_hex).collect();
    std::fs::write(&forged_path, serde_json::to_string(&json).unwrap()).unwrap();
    let run = zkmeter(d, &["verify", &first, &forged_path]);
    assert!(!run.ok);
    assert!(run.stdout.contains("INVALID") && run.stderr.contains("1 of 2 proofs do not verify"), "{}{}", run.stdout, run.stderr);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let records = path(d, "records.jsonl");
    let sim = ok(d, &["simulate", "--streams", "1", "--records", "2", "--out", &records]);
    let id = &streams(&sim)[0];

    let err = fails(d, &["prove", "--input", &records, "--records", "4"]);
    assert!(err.contains("run `zkmeter setup --records 4`"), "missing keys: {err}");

    ok(d, &["setup", "--records", "2"]);
    std::fs::copy(path(d, "keys/meter-2.pk"), path(d, "keys/meter-3.pk")).unwrap();
    let err = fails(d, &["prove", "--input", &records, "--records", "3"]);
    assert!(err.contains("with 2 record slots, but zkmeter.meter.v1 with 3 slots is needed"), "wrong key: {err}");

    let mut key = std::fs::read(path(d, "keys/meter-2.pk")).unwrap();
    let middle = key.len() / 2;
    key[middle] ^= 1;
    std::fs::write(path(d, "keys/meter-2.pk"), key).unwrap();
    let err = fails(d, &["prove", "--input", &records, "--records", "2"]);
    assert!(err.contains("corrupted"), "corrupt key: {err}");

    let bad = path(d, "bad.jsonl");
    let good_line = std::fs::read_to_string(&records).unwrap().lines().next().unwrap().to_owned();
    std::fs::write(&bad, format!("{good_line}\n{}\n", good_line.replace("\"quantity\":", "\"quantity\":-"))).unwrap();
    let err = fails(d, &["prove", "--input", &bad, "--stream", id]);
    assert!(err.contains("bad.jsonl:2: not a meter record"), "malformed record: {err}");

    let over = path(d, "over.jsonl");
    std::fs::write(&over, good_line.replace("\"seq\":1", "\"seq\":2")).unwrap();
    let err = fails(d, &["prove", "--input", &over, "--records", "2"]);
    assert!(err.contains("has seq 2, but the stream continues at seq 1"), "gap: {err}");

    let err = fails(d, &["setup", "--records", "0"]);
    assert!(err.contains("--records must be between 1"), "{err}");
}
