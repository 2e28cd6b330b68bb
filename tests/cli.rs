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

/// The account line `label` (e.g. "provider") of the balances block that follows `heading`.
fn balance_line<'a>(out: &'a str, heading: &str, label: &str) -> &'a str {
    let block = &out[out.find(heading).unwrap_or_else(|| panic!("no {heading:?} in:\n{out}"))..];
    block.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("no {label} line in:\n{block}"))
}

#[test]
fn demo_runs_the_whole_system_and_settles_every_epoch_on_a_persistent_chain() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(dir.path(), &["demo", "--records", "4", "--epochs", "2", "--streams", "2"]);
    assert!(out.contains("epochs settled        4 (each proved by the daemon"), "{out}");
    // 2 streams × (2 epochs × 4 slots − 2 left empty in the last epoch).
    assert!(out.contains("records settled       12 (the chain's stream states match"), "{out}");
    assert!(out.contains("constraints / proof   2931"), "{out}");
    assert!(out.contains("settlements           4 on chain 31341"), "{out}");
    assert!(out.contains("verifier service on http://127.0.0.1:"), "submitted over gRPC: {out}");
    assert!(out.contains("prover daemon: stream logs in"), "{out}");
    assert!(out.contains("deployed the verifier for N = 4"), "{out}");
    assert!(out.contains("job 1: meter") && out.contains("job 2: meter"), "{out}");
    // The live table's last rows: every epoch cut, proved and settled.
    assert!(out.matches("2/2/2").count() >= 2, "{out}");
    let before = balance_line(&out, "balances before settlement", "provider");
    assert!(before.ends_with(": none"), "a fresh chain's provider holds nothing: {before}");
    let after = balance_line(&out, "balances after", "provider");
    assert!(after.contains("GPU-ms") && after.contains("core-ms"), "paid for both streams: {after}");
    let gas: f64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("gas / settlement"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no gas line in {out}"))
        .parse()
        .unwrap();
    assert!((100_000.0..1_000_000.0).contains(&gas), "{gas}");

    // A second run reuses the keys and the chain: its balances start where the first ended.
    let again = ok(dir.path(), &["demo", "--records", "4", "--epochs", "1", "--streams", "1"]);
    assert!(again.contains("epochs settled        1"), "{again}");
    assert!(again.contains("verifier for N = 4 at") && again.contains("holds this key"), "{again}");
    assert!(again.contains("job 3: meter"), "{again}");
    assert_eq!(balance_line(&again, "balances before settlement", "provider"), after);

    // The chain commands see what the demo did.
    let status = ok(dir.path(), &["chain", "status"]);
    assert!(status.contains("jobs: 3"), "{status}");
    assert!(status.contains("(holds ") && status.contains("meter-4.vk"), "{status}");
    assert_eq!(status.matches("closed").count(), 3, "the demo closes its jobs: {status}");
    let provider = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    let provider_after = balance_line(&again, "balances after", "provider");
    let gpu: u128 = provider_after.split("gpu ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let balance = ok(dir.path(), &["balance", provider]);
    let line = balance.lines().find(|l| l.trim_start().starts_with("gpu")).unwrap();
    // class, amount in human units, base units, unit
    assert_eq!(line.split_whitespace().nth(2).unwrap().parse::<u128>().unwrap(), gpu, "{balance}");
}

#[test]
fn keys_new_writes_a_private_key_file_and_show_prints_its_address() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = path(dir.path(), "meter.key");
    let address = ok(dir.path(), &["keys", "new", "--out", &key]);
    let address = address.trim();
    assert!(address.starts_with("0x") && address.len() == 42, "{address}");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the owner reads a meter key");
    assert_eq!(ok(dir.path(), &["keys", "show", &key]).trim(), address);
    let err = fails(dir.path(), &["keys", "new", "--out", &key]);
    assert!(err.contains("exists"), "never overwrites a key: {err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = fails(dir.path(), &["keys", "show", &key]);
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn chain_commands_deploy_and_report_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = fails(d, &["chain", "deploy", "--records", "2"]);
    assert!(err.contains("run `zkmeter setup --records 2`"), "{err}");
    let err = fails(d, &["chain", "status"]);
    assert!(err.contains("run `zkmeter chain deploy`"), "{err}");

    ok(d, &["setup", "--records", "2"]);
    let out = ok(d, &["chain", "deploy", "--records", "2"]);
    assert!(out.contains("deployed ResourceToken") && out.contains("deployed the verifier for N = 2"), "{out}");
    let out = ok(d, &["chain", "deploy", "--records", "2"]);
    assert!(out.contains("holds this key") && !out.contains("deployed"), "nothing to do twice: {out}");
    // New keys for the same circuit: the verifier is replaced, the contracts kept.
    std::fs::remove_dir_all(d.join("keys")).unwrap();
    ok(d, &["setup", "--records", "2"]);
    let out = ok(d, &["chain", "deploy", "--records", "2"]);
    assert!(out.contains("which held another key") && !out.contains("ResourceToken"), "{out}");
    let status = ok(d, &["chain", "status"]);
    assert!(status.contains("jobs: 0") && status.contains("(deployer): none"), "{status}");

    let err = fails(d, &["balance", "0x1234"]);
    assert!(err.contains("is not an address"), "{err}");
    // The chain's state moved away: nothing is made for a reader, and a new chain
    // made in its place is another chain, whose deployment is not the old one's.
    std::fs::rename(d.join("chain/chain.json"), d.join("old-chain.json")).unwrap();
    let err = fails(d, &["chain", "status"]);
    assert!(err.contains("there is no embedded chain"), "{err}");
    assert!(!d.join("chain/chain.json").exists(), "a read makes no chain");
    let err = fails(d, &["chain", "deploy", "--records", "2"]);
    assert!(err.contains("made again or is another one"), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let err = fails(d, &["chain", "status", "--rpc-url", &url]);
    assert!(err.contains("not reachable"), "{err}");
    let run = Command::new(env!("CARGO_BIN_EXE_zkmeter"))
        .args(["--data-dir", d.to_str().unwrap(), "chain", "deploy", "--records", "2", "--rpc-url", &url])
        .env_remove("ZKMETER_PRIVATE_KEY")
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("ZKMETER_PRIVATE_KEY"), "a node needs a key");
}

#[test]
fn chain_commands_over_json_rpc_on_anvil() {
    use zkmeter_contracts::DEV_PRIVATE_KEYS;
    use zkmeter_contracts::anvil::{AnvilNode, anvil_binary};
    let Some(binary) = anvil_binary() else {
        assert!(std::env::var_os("CI").is_none(), "anvil is not installed: run `npm ci` in contracts/");
        eprintln!("skipping: anvil is not installed (run `npm ci` in contracts/)");
        return;
    };
    let mut anvil = AnvilNode::start(&binary).unwrap();
    anvil.connect().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["setup", "--records", "2"]);
    let key_file = path(d, "deployer.key");
    std::fs::write(&key_file, DEV_PRIVATE_KEYS[0]).unwrap();
    let url = anvil.url();
    let err = fails(d, &["chain", "deploy", "--records", "2", "--rpc-url", url, "--private-key-file", &key_file, "--chain-id", "1"]);
    assert!(err.contains("on chain 31337, not 1"), "{err}");
    let out = ok(d, &["chain", "deploy", "--records", "2", "--rpc-url", url, "--private-key-file", &key_file]);
    assert!(out.contains("deployed the verifier for N = 2"), "{out}");
    assert!(d.join("deployments/chain-31337.json").exists());
    // Reading needs no key.
    let status = ok(d, &["chain", "status", "--rpc-url", url]);
    assert!(status.contains("id 31337") && status.contains("jobs: 0"), "{status}");
    let balance = ok(d, &["balance", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--rpc-url", url]);
    assert!(balance.lines().any(|l| l.split_whitespace().eq(["gpu", "0s", "0", "GPU-ms"])), "{balance}");
}

#[test]
fn setup_simulate_prove_verify_inspect_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let setup = ok(d, &["setup", "--records", "4"]);
    assert!(setup.contains("constraints      2931"), "{setup}");
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
    let out = ok(d, &["prove", "--input", &records, "--stream", &ids[0], "--records", "4", "--limit", "4", "--out", &first]);
    assert!(out.contains(" on the cpu"), "no GPU in this build or machine: --backend auto falls back: {out}");
    let out = ok(d, &["prove", "--input", &records, "--stream", &ids[0], "--records", "4", "--after", &first, "--out", &second]);
    assert!(out.contains("seq 5..=6"), "{out}");
    if !cfg!(feature = "cuda") {
        let err = fails(d, &["prove", "--input", &records, "--stream", &ids[0], "--records", "4", "--limit", "4", "--backend", "cuda"]);
        assert!(err.contains("not compiled into this build"), "{err}");
    }
    let err = fails(d, &["prove", "--input", &records, "--stream", &ids[0], "--records", "4", "--backend", "tpu"]);
    assert!(err.contains("use auto, cpu or cuda"), "{err}");
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
    assert!(err.contains("with 2 record slots, but zkmeter.meter.v2 with 3 record slots is needed"), "wrong key: {err}");

    let mut key = std::fs::read(path(d, "keys/meter-2.pk")).unwrap();
    let middle = key.len() / 2;
    key[middle] ^= 1;
    std::fs::write(path(d, "keys/meter-2.pk"), key).unwrap();
    let err = fails(d, &["prove", "--input", &records, "--records", "2"]);
    assert!(err.contains("corrupted"), "corrupt key: {err}");

    let bad = path(d, "bad.jsonl");
    let good_line = std::fs::read_to_string(&records).unwrap().lines().next().unwrap().to_owned();
    std::fs::write(&bad, format!("{good_line}\n{}\n", good_line.replacen("\"usage\":{\"gpu\":", "\"usage\":{\"gpu\":-", 1))).unwrap();
    let err = fails(d, &["prove", "--input", &bad, "--stream", id]);
    assert!(err.contains("bad.jsonl:2: not a meter record"), "malformed record: {err}");

    let over = path(d, "over.jsonl");
    std::fs::write(&over, good_line.replace("\"seq\":1", "\"seq\":2")).unwrap();
    let err = fails(d, &["prove", "--input", &over, "--records", "2"]);
    assert!(err.contains("has seq 2, but the stream continues at seq 1"), "gap: {err}");

    let err = fails(d, &["setup", "--records", "0"]);
    assert!(err.contains("--records must be between 1"), "{err}");
}

/// The example workload in `examples/workload/` (2 rows through 4 → 3 → 2).
fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/workload").join(name).to_str().unwrap().to_owned()
}

#[test]
fn workload_setup_run_verify_export_and_refuse_a_tampered_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (model, input) = (example("tiny-mlp.model"), example("tiny-mlp.input"));
    let proof = path(d, "mlp.proof.json");

    let err = fails(d, &["workload", "run", "--model", &model, "--input", &input, "--job", "7", "--out", &proof]);
    assert!(err.contains(&format!("run `zkmeter workload setup --model {model} --rows 2 --plan auto` first")), "missing key: {err}");

    let setup = ok(d, &["workload", "setup", "--model", &model, "--rows", "2"]);
    assert!(setup.contains("circuit          zkmeter.workload.v1:2:4x3r4d:3x2q2d"), "{setup}");
    assert!(setup.contains("work units       36 multiply-accumulates"), "{setup}");
    assert!(setup.contains("workload-2-4x3r4d-3x2q2d.vk"), "{setup}");
    assert!(ok(d, &["workload", "setup", "--model", &model, "--rows", "2"]).contains("already exist"));
    assert!(ok(d, &["inspect", &path(d, "keys/workload-2-4x3r4d-3x2q2d.vk")]).contains("matches this build's workload circuit"));

    // Keys for another plan are another circuit: `run` with the default plan ignores them.
    let other = ok(d, &["workload", "setup", "--model", &model, "--rows", "2", "--plan", "freivalds"]);
    assert!(other.contains("zkmeter.workload.v1:2:4x3r4f:3x2q2f"), "{other}");

    let out = ok(d, &["workload", "run", "--model", &model, "--input", &input, "--job", "7", "--out", &proof]);
    assert!(out.contains("proved job 7: 36 multiply-accumulates") && out.contains(" on the cpu"), "{out}");
    let verified = ok(d, &["workload", "verify", &proof]);
    assert!(verified.starts_with("valid  ") && verified.contains("job 7: 36 multiply-accumulates"), "{verified}");

    let exported = path(d, "snarkjs");
    ok(d, &["workload", "export", "--proof", &proof, "--dir", &exported]);
    let public: Vec<String> = serde_json::from_slice(&std::fs::read(Path::new(&exported).join("public.json")).unwrap()).unwrap();
    assert_eq!(public.len(), 4);

    // Another output than the one proved: the file no longer matches its commitment.
    let text = std::fs::read_to_string(&proof).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = json["output"]["values"][0].as_i64().unwrap();
    json["output"]["values"][0] = (if first == 127 { 126 } else { first + 1 }).into();
    let tampered = path(d, "tampered.proof.json");
    std::fs::write(&tampered, json.to_string()).unwrap();
    let err = fails(d, &["workload", "verify", &tampered]);
    assert!(err.contains("the output does not match the statement's output commitment"), "{err}");

    // The statement forged to match (output commitment + 1, public inputs recomputed):
    // the file reads, the proof does not verify.
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut statement: zkmeter_circuits::WorkloadStatement = serde_json::from_value(json["statement"].clone()).unwrap();
    statement.job_id = 8;
    json["statement"] = serde_json::to_value(statement).unwrap();
    json["public_inputs"] = statement.public_inputs().iter().map(zkmeter_circuits::field_hex::to_hex).collect();
    let forged = path(d, "forged.proof.json");
    std::fs::write(&forged, json.to_string()).unwrap();
    let err = fails(d, &["workload", "verify", &forged]);
    assert!(err.contains("does not verify"), "{err}");

    // A key for another circuit is refused by name.
    let err = fails(d, &["workload", "verify", &proof, "--key", &path(d, "keys/workload-2-4x3r4f-3x2q2f.vk")]);
    assert!(err.contains("verify it with the key it was made with"), "{err}");
}
