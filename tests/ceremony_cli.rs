//! A ceremony run through the command line as a coordinator and contributors
//! would, with snarkjs contributing and verifying beside zkmeter; the keys it
//! gives prove and verify in Rust, snarkjs and the EVM, and deploy where
//! development keys are refused.

#[path = "../ceremony/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{ptau, run_snarkjs, snarkjs, snarkjs_accepts};
use zkmeter_circuits::ProofFile;
use zkmeter_contracts::anvil::{AnvilNode, anvil_binary};
use zkmeter_contracts::bindings::Groth16Verifier;
use zkmeter_contracts::deploy::view;
use zkmeter_contracts::meter_signature::fr_to_u256;
use zkmeter_contracts::settlement::proof_words;
use zkmeter_contracts::{DEV_PRIVATE_KEYS, Deployment, RpcChain, U256};
use zkmeter_verifier::encode_proof;

fn zkmeter(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkmeter")).arg("--data-dir").arg(data_dir).args(args).output().expect("the zkmeter binary runs")
}

fn ok(data_dir: &Path, args: &[&str]) -> String {
    let out = zkmeter(data_dir, args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "zkmeter {args:?} failed:\n{text}");
    text
}

fn fails(data_dir: &Path, args: &[&str]) -> String {
    let out = zkmeter(data_dir, args);
    assert!(!out.status.success(), "zkmeter {args:?} should fail:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The value printed after `label` on its line.
fn after<'a>(out: &'a str, label: &str) -> &'a str {
    let at = out.find(label).unwrap_or_else(|| panic!("no {label:?} in:\n{out}"));
    out[at + label.len()..].lines().next().unwrap().trim()
}

/// `chain deploy --records N` with the node's flags and `extra`.
fn deploy<'a>(rpc: &[&'a str], records: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    [&["chain", "deploy", "--records", records][..], rpc, extra].concat()
}

/// A chain id that is no local development chain's: what a public chain looks like.
const PUBLIC_CHAIN_ID: u64 = 424_242;

#[test]
fn a_ceremony_on_the_command_line_gives_keys_that_prove_verify_everywhere_and_deploy_to_a_public_chain() {
    let Some(bin) = snarkjs() else { return };
    let ptau_path = ptau(&bin, 11);
    let ptau = ptau_path.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name).to_str().unwrap().to_owned();

    let info = ok(d, &["circuit", "info", "--records", "1"]);
    assert!(info.contains("powers of tau    power 11 or more, e.g. powersOfTau28_hez_final_11.ptau"), "{info}");
    ok(d, &["circuit", "export", "--records", "1", "--out", &p("meter-1.r1cs")]);
    let r1cs_info = run_snarkjs(&bin, d, &["r1cs", "info", "meter-1.r1cs"]);
    assert!(r1cs_info.contains("# of Public Inputs: 5"), "{r1cs_info}");

    // The coordinator: the ptau's hash is checked when given, and a wrong one refused.
    let wrong = "ab".repeat(64);
    let err = fails(d, &["ceremony", "init", "--records", "1", "--ptau", ptau, "--ptau-hash", &wrong, "--out", &p("c0.zkey")]);
    assert!(err.contains("BLAKE2b-512") && err.contains(&wrong) && err.contains("download it again"), "{err}");
    let out = ok(d, &["ceremony", "init", "--records", "1", "--ptau", ptau, "--out", &p("c0.zkey")]);
    let ptau_hash = after(&out, "BLAKE2b-512").to_owned();
    let out = ok(d, &["ceremony", "init", "--records", "1", "--ptau", ptau, "--ptau-hash", &ptau_hash, "--out", &p("c0.zkey")]);
    assert!(out.contains("matches the published hash"), "{out}");
    let err = fails(d, &["ceremony", "finalize", &p("c0.zkey"), "--records", "1", "--ptau", ptau]);
    assert!(err.contains("no contributions"), "{err}");

    // Contributors with either tool, then a beacon.
    let out = ok(d, &["ceremony", "contribute", &p("c0.zkey"), "--out", &p("c1.zkey"), "--name", "alice", "--entropy", "typed by alice"]);
    let alice = out.lines().rev().find_map(|l| l.trim().strip_prefix('(')?.strip_suffix(')')).unwrap().to_owned();
    assert_eq!(alice.len(), 128, "{out}");
    run_snarkjs(&bin, d, &["zkey", "contribute", "c1.zkey", "c2.zkey", "--name=bob", "-e=bob's entropy"]);
    let beacon = "5e1ec7ed".repeat(8);
    ok(d, &["ceremony", "beacon", &p("c2.zkey"), "--out", &p("c3.zkey"), "--hash", &beacon, "--iterations", "2^10"]);

    // Anyone verifies, with either tool.
    let verified = ok(d, &["ceremony", "verify", &p("c3.zkey"), "--records", "1", "--ptau", ptau]);
    for expected in ["#1 \"alice\"", "#2 \"bob\"", &format!("(beacon {beacon} hashed 2^10 times)"), &format!("({alice})")] {
        assert!(verified.contains(expected), "{expected:?} in:\n{verified}");
    }
    let (accepted, said) = snarkjs_accepts(&bin, &d.join("meter-1.r1cs"), &ptau_path, &d.join("c3.zkey"));
    assert!(accepted, "{said}");
    let err = fails(d, &["ceremony", "verify", &p("c3.zkey"), "--records", "2", "--ptau", ptau]);
    assert!(err.contains("is a transcript for another circuit"), "{err}");

    let out = ok(d, &["ceremony", "finalize", &p("c3.zkey"), "--records", "1", "--ptau", ptau]);
    let transcript = after(&out, "(BLAKE2b-512 ").split(',').next().unwrap().to_owned();
    let inspected = ok(d, &["inspect", &p("keys/meter-1.vk")]);
    assert!(inspected.contains(&format!("ceremony key (transcript {transcript})")), "{inspected}");

    // The ceremony key proves through the CLI; Rust, snarkjs and the EVM accept the proof.
    ok(d, &["simulate", "--streams", "1", "--records", "1", "--out", &p("records.jsonl"), "--start-ms", "1700000000000"]);
    ok(d, &["prove", "--input", &p("records.jsonl"), "--records", "1", "--out", &p("epoch.proof.json")]);
    assert!(ok(d, &["verify", &p("epoch.proof.json")]).contains("valid  "));
    ok(d, &["export", &p("epoch.proof.json"), "--out", &p("snarkjs")]);
    let said = run_snarkjs(&bin, &d.join("snarkjs"), &["groth16", "verify", "verification_key.json", "public.json", "proof.json"]);
    assert!(said.contains("OK!"), "{said}");

    let Some(anvil_bin) = anvil_binary() else {
        assert!(std::env::var_os("CI").is_none(), "anvil is not installed: run `npm ci` in contracts/");
        eprintln!("skipping the chain half: anvil is not installed (run `npm ci` in contracts/)");
        return;
    };
    let mut anvil = AnvilNode::start_with_chain_id(&anvil_bin, PUBLIC_CHAIN_ID).unwrap();
    anvil.connect().unwrap();
    let key_file = p("deployer.key");
    std::fs::write(&key_file, DEV_PRIVATE_KEYS[0]).unwrap();
    let rpc = ["--rpc-url", anvil.url(), "--private-key-file", &key_file];

    // Development keys stay off a chain that is not a local development chain...
    ok(d, &["setup", "--records", "2"]);
    let err = fails(d, &deploy(&rpc, "2", &[]));
    assert!(err.contains(&format!("chain {PUBLIC_CHAIN_ID}, not a local development chain")), "{err}");
    assert!(err.contains("meter-2.vk") && err.contains("--allow-development-keys"), "{err}");
    let err = fails(d, &deploy(&rpc, "1", &["--records", "2"]));
    assert!(err.contains("meter-2.vk") && !err.contains("meter-1.vk"), "only the development key is named: {err}");
    // ...while the ceremony's keys deploy, and development keys only when asked.
    assert!(ok(d, &deploy(&rpc, "1", &[])).contains("deployed the verifier for N = 1"));
    assert!(ok(d, &deploy(&rpc, "2", &["--allow-development-keys"])).contains("deployed the verifier for N = 2"));
    let status = ok(d, &["chain", "status", "--rpc-url", anvil.url()]);
    assert!(status.contains(&format!("a ceremony key (transcript {transcript})")), "{status}");
    assert!(status.contains("a development key (single-party setup)"), "{status}");

    // The verifier contract holding the ceremony key accepts the proof.
    let deployment = Deployment::load(&d.join(format!("deployments/chain-{PUBLIC_CHAIN_ID}.json"))).unwrap();
    let file = ProofFile::read(&d.join("epoch.proof.json")).unwrap();
    let inputs = file.statement.public_inputs();
    let mut input = [U256::ZERO; 6];
    for (word, x) in input.iter_mut().zip(&inputs) {
        *word = fr_to_u256(x);
    }
    let call = Groth16Verifier::verifyProofCall { proof: proof_words(&encode_proof(&file.proof)), input };
    let mut chain = RpcChain::connect(anvil.url(), Vec::new(), Some(PUBLIC_CHAIN_ID)).unwrap();
    assert!(view(&mut chain, "verifyProof", deployment.circuit(1).unwrap().verifier, call).unwrap(), "the EVM verifier accepts it");
}
