//! The settlement flow over JSON-RPC against a real node: anvil from
//! `contracts/node_modules` (`npm ci` in contracts/ installs it).
//!
//! Without anvil the test is skipped with a note on stderr, unless the environment
//! variable CI is set: then it fails, since CI must run it.

mod common;

use common::*;
use std::net::TcpListener;
use zkmeter_contracts::anvil::{ANVIL_CHAIN_ID, AnvilNode, anvil_binary};
use zkmeter_contracts::{Chain, ChainError, DEV_PRIVATE_KEYS, RpcChain, parse_private_key};

#[test]
fn settles_a_real_proof_on_anvil_and_refuses_replays() {
    let Some(binary) = anvil_binary() else {
        if std::env::var_os("CI").is_some() {
            panic!("anvil is not installed: run `npm ci` in contracts/ (it installs @foundry-rs/anvil-linux-amd64)");
        }
        eprintln!("skipping the anvil test: anvil is not installed (run `npm ci` in contracts/)");
        return;
    };
    let mut anvil = AnvilNode::start(&binary).unwrap();
    let mut chain = anvil.connect().unwrap();
    assert_eq!(chain.chain_id(), ANVIL_CHAIN_ID);

    // A wrong chain id is refused before anything is sent.
    let key = parse_private_key(DEV_PRIVATE_KEYS[0]).unwrap();
    let err = RpcChain::connect(anvil.url(), vec![key], Some(1)).err().expect("wrong chain refused");
    assert!(matches!(err, ChainError::WrongChain { expected: 1, actual: 31337, .. }), "{err}");

    let prover = prover();
    let (d, job) = setup_job(&mut chain, &prover, None);
    assert_eq!(d.chain_id, 31337);

    // setup_job read the job id from the JobOpened event; the job is there.
    let opened = d.job(&mut chain, job).unwrap();
    assert_eq!(opened.meter, zkmeter_contracts::meter_address(&meter_key()));
    assert_eq!((opened.consumer, opened.provider, opened.escrow), (consumer(), provider(), ESCROW));

    // A client without keys reads, and refuses to send.
    let mut reader = RpcChain::connect(anvil.url(), Vec::new(), Some(31337)).unwrap();
    assert_eq!(d.job(&mut reader, job).unwrap(), opened);
    let err = d.close_job(&mut reader, provider(), job).unwrap_err();
    assert!(matches!(err, ChainError::NoSigner(a) if a == provider()), "{err}");

    let gas = settle_and_refuse_replays(chain, &prover, &d, job, |chain| chain);
    eprintln!("anvil: settle gas {} (first epoch), {} (second)", gas.first, gas.second);
    // The target is 250k; the contracts' own gas snapshot (snapshots/settle.json)
    // is above it too. This bound only catches a gross regression.
    assert!(gas.first < 450_000 && gas.second < 450_000, "settle used {} / {} gas", gas.first, gas.second);
    drop(anvil);
}

#[test]
fn an_unreachable_node_says_what_to_do() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let key = parse_private_key(DEV_PRIVATE_KEYS[0]).unwrap();
    let err = RpcChain::connect(&format!("http://127.0.0.1:{port}"), vec![key], None).err().expect("refused");
    assert!(matches!(err, ChainError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("start anvil"), "{err}");
}
