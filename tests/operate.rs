//! Every role from the command line on the embedded chain: a provider registers
//! a meter, an attestor approves it, a minter issues tokens, a consumer opens,
//! funds and extends a job, an epoch proved from a records file is settled
//! directly (`zkmeter settle`), governance sets prices, the provider closes the
//! job; `history` reads it all back from the chain's events. Then bad input:
//! each mistake gives one line saying what to do and the exit code for its kind.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const DEPLOYER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const PROVIDER: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const CONSUMER: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn zkmeter(data_dir: &Path, args: &[&str]) -> Run {
    let Output { status, stdout, stderr } = Command::new(env!("CARGO_BIN_EXE_zkmeter"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("ZKMETER_RPC_URL")
        .env_remove("ZKMETER_PRIVATE_KEY")
        .output()
        .expect("the zkmeter binary runs");
    Run { code: status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&stdout).into(), stderr: String::from_utf8_lossy(&stderr).into() }
}

fn ok(data_dir: &Path, args: &[&str]) -> String {
    let run = zkmeter(data_dir, args);
    assert_eq!(run.code, 0, "zkmeter {args:?} failed:\n{}\n{}", run.stdout, run.stderr);
    run.stdout
}

fn json(data_dir: &Path, args: &[&str]) -> Value {
    let out = ok(data_dir, &[args, &["--json"]].concat());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("zkmeter {args:?} --json printed no JSON ({e}):\n{out}"))
}

/// Runs a command that must fail with `code`, printing one line on stderr
/// that contains each of `needles`; returns the line.
fn fails(data_dir: &Path, args: &[&str], code: i32, needles: &[&str]) -> String {
    let run = zkmeter(data_dir, args);
    assert_eq!(run.code, code, "zkmeter {args:?}: exit {} instead of {code}:\n{}\n{}", run.code, run.stdout, run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "zkmeter {args:?} should say one line:\n{}", run.stderr);
    for needle in needles {
        assert!(lines[0].contains(needle), "zkmeter {args:?}: {needle:?} not in\n{}", lines[0]);
    }
    assert!(!lines[0].contains("0x08c379a0") && !lines[0].contains("unknown revert data"), "never hex: {}", lines[0]);
    lines[0].to_owned()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a string"))
}

fn n(v: &Value) -> u128 {
    match v {
        Value::String(text) => text.parse().unwrap_or_else(|_| panic!("{v} is not a number")),
        Value::Number(number) => number.as_u64().unwrap_or_else(|| panic!("{v} is not a u64")).into(),
        _ => panic!("{v} is not a number"),
    }
}

/// A deployed embedded chain with N = 2 keys.
fn deployed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["setup", "--records", "2"]);
    ok(dir.path(), &["chain", "deploy", "--records", "2"]);
    dir
}

#[test]
fn every_role_operates_the_chain_and_history_matches_what_settled() {
    let dir = deployed();
    let d = dir.path();
    let key = d.join("meter.key");
    let key = key.to_str().unwrap();
    let meter = ok(d, &["keys", "new", "--out", key]).trim().to_owned();

    // Provider and attestor.
    let reg = json(d, &["meter", "register", "--key", key, "--capacity", "gpu=2,cpu=4,energy=1.5kW"]);
    assert_eq!((s(&reg["meter"]), s(&reg["provider"])), (meter.as_str(), PROVIDER));
    assert_eq!(n(&reg["capacity"]["energy"]), 1_500);
    assert!(ok(d, &["meter", "show", &meter]).contains("approved        no (attestation not required)"));
    ok(d, &["role", "grant", "attestor", DEPLOYER]);
    assert_eq!(json(d, &["role", "show", DEPLOYER])["roles"], serde_json::json!(["admin", "governance", "attestor", "minter"]));
    ok(d, &["meter", "approve", key]);
    let shown = json(d, &["meter", "show", key]);
    assert_eq!(shown["approved"], Value::Bool(true));
    assert_eq!(n(&shown["available"]["cpu"]), 4);

    // Minter and consumer: 1 gpu token is 1 GPU-hour.
    let issued = json(d, &["tokens", "issue", "--to", CONSUMER, "gpu=10h,cpu=1h"]);
    assert_eq!(n(&issued["balance_of_to"]["gpu"]), 36_000_000);
    let opened = json(d, &["job", "open", "--meter", &meter, "--escrow", "gpu=2h,cpu=30m", "--capacity", "gpu=1,cpu=2", "--expires", "1h"]);
    assert_eq!(n(&opened["job"]), 1);
    let opened_ms = n(&opened["stream_start_ms"]) as u64;
    let funded = json(d, &["job", "fund", "1", "--escrow", "gpu=1h"]);
    assert_eq!(n(&funded["escrow"]["gpu"]), 3 * 3_600_000);
    ok(d, &["job", "extend", "1", "--expires", "2h"]);
    let list = ok(d, &["job", "list", "--open"]);
    assert!(list.contains("gpu 3h, cpu 30m") && list.contains("1 job holding gpu 3h, cpu 30m"), "{list}");
    assert!(json(d, &["meter", "show", &meter])["committed"]["gpu"] == "1");

    // An epoch of two records, proved and settled without the service.
    let records = d.join("records.jsonl");
    let line = |seq: u64, gpu: u64, cpu: u64| {
        let start = opened_ms + (seq - 1) * 1_000;
        format!(r#"{{"meter":"{meter}","job_id":1,"seq":{seq},"start_ms":{start},"end_ms":{},"usage":{{"gpu":{gpu},"cpu":{cpu}}}}}"#, start + 1_000)
    };
    std::fs::write(&records, format!("{}\n{}\n", line(1, 400, 1_500), line(2, 1_000, 2_000))).unwrap();
    let proof = d.join("e1.proof.json");
    let opened_arg = opened_ms.to_string();
    ok(d, &[
        "prove", "--input", records.to_str().unwrap(), "--records", "2", "--opened-ms", &opened_arg,
        "--capacity", "gpu=1", "--capacity", "cpu=2", "--capacity", "storage=0", "--capacity", "network=0", "--capacity", "energy=0",
        "--out", proof.to_str().unwrap(),
    ]);
    let settled = json(d, &["settle", proof.to_str().unwrap(), "--meter-key", key]);
    assert_eq!((n(&settled["usage"]["gpu"]), n(&settled["usage"]["cpu"])), (1_400, 3_500));
    assert_eq!(settled["burned"], settled["minted"], "no fee yet");
    let err = fails(d, &["settle", proof.to_str().unwrap(), "--meter-key", key], 4, &["refused by the contract", "StaleState"]);
    assert!(err.starts_with("error: cannot settle"), "{err}");

    // Governance.
    ok(d, &["tariff", "set", "network", "--amount", "3", "--per", "2"]);
    let tariffs = json(d, &["tariff", "show"]);
    assert_eq!((n(&tariffs["classes"]["network"]["amount"]), n(&tariffs["classes"]["network"]["per"])), (3, 2));
    assert!(ok(d, &["tariff", "show"]).contains("an hour of gpu use costs 1h of gpu tokens"));
    ok(d, &["fee", "set", "2.5%"]);
    assert_eq!(n(&json(d, &["fee", "show"])["protocol_fee_bps"]), 250);
    let settings = json(d, &["settings", "set", "--grace", "2d", "--clock-skew", "1m"]);
    assert_eq!((n(&settings["settlement_grace_s"]), n(&settings["clock_skew_ms"])), (172_800, 60_000));
    let circuits = json(d, &["circuit", "show"]);
    assert_eq!(circuits["circuits"][0]["verifier"], circuits["circuits"][0]["deployment_verifier"]);

    // The provider closes the job (the embedded chain sends as the job's provider).
    let closed = json(d, &["job", "close", "1"]);
    assert_eq!(s(&closed["closed_by"]), PROVIDER);
    assert_eq!((n(&closed["refund"]["gpu"]), n(&closed["refund"]["cpu"])), (3 * 3_600_000 - 1_400, 1_800_000 - 3_500));
    let balance = json(d, &["balance", CONSUMER]);
    assert_eq!(n(&balance["balances"]["gpu"]), 36_000_000 - 1_400);
    assert!(ok(d, &["job", "list", "--open"]).contains("no open jobs"));
    ok(d, &["tokens", "transfer", "--to", PROVIDER, "gpu=1h"]);
    assert_eq!(n(&json(d, &["balance", PROVIDER])["balances"]["gpu"]), 3_600_000 + 1_400);

    // The history, from the events: one epoch, and the job's whole account.
    let history = json(d, &["history", "--job", "1"]);
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["settled"]["tx_hash"], settled["tx"]["tx_hash"]);
    assert_eq!((n(&entries[0]["first_seq"]), n(&entries[0]["last_seq"]), n(&entries[0]["start_ms"])), (1, 2, opened_ms as u128));
    let totals = &history["jobs"][0];
    assert_eq!(n(&totals["escrowed"]["gpu"]), 3 * 3_600_000);
    assert_eq!(n(&totals["refunded"]["gpu"]) + n(&totals["burned"]["gpu"]), 3 * 3_600_000);
    assert_eq!((totals["closed"].as_bool(), s(&totals["consumer"])), (Some(true), CONSUMER));
    // Pages of 3 blocks give the same history in more queries.
    let paged = json(d, &["history", "--consumer", CONSUMER, "--page-blocks", "3"]);
    assert_eq!(paged["entries"], history["entries"]);
    assert!(n(&paged["log_queries"]) > n(&history["log_queries"]));
    let table = ok(d, &["history", "--job", "1"]);
    assert!(table.contains("gpu 1.4s, cpu 3.5s") && table.contains("closed"), "{table}");
    let csv = ok(d, &["history", "--provider", PROVIDER, "--format", "csv"]);
    assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with("epoch,1,1,2,") && l.contains(",1400,3500,0,0,0,")), "{csv}");
    assert!(ok(d, &["history", "--since", "1h ago"]).contains("gpu 1.4s"));
    assert!(ok(d, &["history", "--job", "1", "--follow", "--poll", "100ms"]).contains("gpu 1.4s"), "follow ends when the job is closed");
}

#[test]
fn bad_input_gives_one_clear_line_and_the_exit_code_of_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails(d, &["job", "list"], 3, &["no embedded chain", "zkmeter chain deploy"]);
    let err = fails(d, &["job", "show", "1", "--json"], 3, &[]);
    let err: Value = serde_json::from_str(&err).expect("with --json the error is JSON");
    assert_eq!((n(&err["error"]["code"]), s(&err["error"]["kind"])), (3, "not_found"));

    let dir = deployed();
    let d = dir.path();
    let key = d.join("meter.key");
    let key = key.to_str().unwrap();
    ok(d, &["keys", "new", "--out", key]);
    fails(d, &["job", "show", "9"], 3, &["job 9 does not exist", "it has 0 jobs", "zkmeter job list"]);
    fails(d, &["history", "--job", "9"], 3, &["job 9 does not exist"]);
    fails(d, &["meter", "show", key], 3, &["is not registered", "zkmeter meter register"]);
    fails(d, &["job", "open", "--meter", key, "--escrow", "gpu=1h", "--capacity", "gpu=1"], 4, &["MeterNotRegistered", "register the meter first"]);
    ok(d, &["meter", "register", "--key", key, "--capacity", "gpu=4"]);
    ok(d, &["tokens", "issue", "--to", CONSUMER, "gpu=5h"]);

    // Amounts in the wrong unit, lossy or ambiguous: the accepted forms are listed.
    fails(d, &["job", "open", "--meter", key, "--escrow", "network=2h", "--capacity", "gpu=1"], 2, &["network amount \"2h\"", "50GB", "--raw"]);
    fails(d, &["job", "open", "--meter", key, "--escrow", "gpu=5", "--capacity", "gpu=1"], 2, &["has no unit", "2h, 90m"]);
    fails(d, &["tokens", "issue", "--to", CONSUMER, "gpu=0.0000001h"], 2, &["not a whole number of GPU-ms"]);
    fails(d, &["job", "open", "--meter", key, "--escrow", "gpu=1h", "--capacity", "gpu=2h"], 2, &["gpu capacity", "whole GPUs"]);
    fails(d, &["job", "open", "--meter", key, "--escrow", "gpu=1h", "--capacity", "gpu=1", "--expires", "soon"], 2, &["not a time", "24h"]);
    fails(d, &["balance", "0x1234"], 2, &["is not an address"]);

    // The contract's refusals, by name and meaning.
    fails(d, &["job", "open", "--meter", key, "--escrow", "gpu=9h", "--capacity", "gpu=1"], 4, &["ERC1155InsufficientBalance", "fewer than the 32400000 asked for"]);
    fails(d, &["job", "open", "--meter", key, "--escrow", "gpu=1h", "--capacity", "gpu=5"], 4, &["CapacityUnavailable", "ask for less"]);
    ok(d, &["job", "open", "--meter", key, "--escrow", "gpu=1h", "--capacity", "gpu=1"]);
    // Someone else's job: the provider may not move the consumer's expiry, nor
    // the consumer close it before its deadline.
    fails(d, &["job", "extend", "1", "--expires", "48h", "--from", PROVIDER], 4, &["NotConsumer(jobId 1)", "Only the consumer of job 1 may do this"]);
    fails(d, &["job", "close", "1", "--from", CONSUMER], 4, &["JobNotExpired(jobId 1", "Only the provider may close job 1 before"]);
    fails(d, &["tariff", "set", "gpu", "--amount", "2", "--from", CONSUMER], 4, &["AccessControlUnauthorizedAccount", "lacks the governance role"]);
    fails(d, &["fee", "set", "12%"], 2, &["at most 10%"]);
    ok(d, &["job", "close", "1"]);
    fails(d, &["job", "close", "1"], 4, &["JobNotOpen(jobId 1)", "not open"]);

    // A node that does not answer.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    fails(d, &["job", "list", "--rpc-url", &url], 5, &["not reachable"]);
    fails(d, &["history", "--rpc-url", &url], 5, &["not reachable"]);
    let run = zkmeter(d, &["job", "open", "--meter", key, "--escrow", "gpu=1h", "--capacity", "gpu=1", "--rpc-url", &url]);
    assert_eq!(run.code, 2, "a transaction on a node needs a key: {}", run.stderr);
    assert!(run.stderr.contains("ZKMETER_PRIVATE_KEY"), "{}", run.stderr);
}

/// A demo stopped after it opened its jobs leaves them open with their escrow:
/// `job list --open` shows them and `job close` refunds each.
#[test]
fn jobs_an_interrupted_demo_left_open_can_be_listed_and_closed() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_zkmeter"))
        .arg("--data-dir")
        .arg(d)
        .args(["demo", "--records", "2", "--epochs", "50", "--streams", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    for line in BufReader::new(demo.stdout.take().unwrap()).lines().map_while(Result::ok) {
        seen += &line;
        seen.push('\n');
        if line.contains("held in escrow") {
            break;
        }
    }
    demo.kill().unwrap();
    demo.wait().unwrap();
    assert!(seen.contains("held in escrow"), "the demo did not get to open its jobs:\n{seen}");

    let open = json(d, &["job", "list", "--open"]);
    let jobs = open["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{open}");
    let list = ok(d, &["job", "list", "--open"]);
    assert!(list.contains("2 jobs holding"), "{list}");
    let before = n(&json(d, &["balance", CONSUMER])["balances"]["gpu"]);
    let mut refunded = 0;
    for job in jobs {
        let id = n(&job["job"]).to_string();
        let closed = json(d, &["job", "close", &id]);
        assert_eq!(s(&closed["closed_by"]), PROVIDER);
        refunded += n(&closed["refund"]["gpu"]);
    }
    assert!(refunded > 0);
    assert_eq!(n(&json(d, &["balance", CONSUMER])["balances"]["gpu"]), before + refunded);
    assert!(json(d, &["job", "list", "--open"])["jobs"].as_array().unwrap().is_empty());
}
