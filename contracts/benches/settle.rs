//! Settlement throughput: epochs settled one `settle` transaction each (the
//! anchor) against `settleBatch` transactions of 8 and of 32 epochs, on the
//! embedded chain and on anvil, in the same run. For each: gas per epoch,
//! settled epochs per second, and the ratio of both to the anchor's.
//!
//! Each row deploys afresh and opens one job, proves its epochs (not timed), then
//! settles them in order, timing only the transactions.
//!
//! Run: `cargo bench -p zkmeter-contracts --bench settle`
//! (`ZKMETER_BENCH_EPOCHS`, default 32: epochs per row; each is 4.1 s of metered
//! time, and the contract refuses epochs more than 5 minutes ahead of its clock,
//! so at most 70).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::{Duration, Instant};
use zkmeter_contracts::anvil::{AnvilNode, anvil_binary};
use zkmeter_contracts::{Chain, Deployment, EmbeddedChain, EpochToSettle, sign_state};
use zkmeter_verifier::proof_codec::{PROOF_LEN, encode_proof};

type Epoch = (zkmeter_circuits::MeterStatement, [u8; PROOF_LEN], [u8; 65]);

fn main() {
    let epochs: u64 = std::env::var("ZKMETER_BENCH_EPOCHS").ok().map_or(32, |v| v.parse().expect("a number of epochs"));
    assert!((1..=70).contains(&epochs), "ZKMETER_BENCH_EPOCHS must be 1..=70");
    let prover = prover();
    println!("{epochs} epochs per row (meter circuit N = {SLOTS}); load average {}", load_average());
    let dir = tempfile::tempdir().unwrap();
    run("embedded chain", &prover, epochs, |row| EmbeddedChain::open(&dir.path().join(row.to_string())).unwrap());
    match anvil_binary() {
        Some(binary) => {
            let mut nodes = Vec::new();
            run("anvil", &prover, epochs, |_| {
                let mut node = AnvilNode::start(&binary).unwrap();
                let chain = node.connect().unwrap();
                nodes.push(node);
                chain
            });
        }
        None => println!("anvil: skipped, not installed (npm ci in contracts/)"),
    }
    println!("load average after: {}", load_average());
}

/// The three rows on chains `fresh` makes: one per row.
fn run<C: Chain>(name: &str, prover: &zkmeter_circuits::MeterProver, epochs: u64, mut fresh: impl FnMut(usize) -> C) {
    println!("{name}:");
    let mut anchor = None;
    for (row, batch) in [1usize, 8, 32].into_iter().enumerate() {
        let mut chain = fresh(row);
        let (d, job) = setup_job(&mut chain, prover, None);
        let work = prove(&mut chain, &d, prover, job, epochs);
        let (gas, took) = settle(&mut chain, &d, &work, batch);
        let per_epoch = gas as f64 / epochs as f64;
        let rate = epochs as f64 / took.as_secs_f64();
        let (gas_ratio, rate_ratio) = *anchor.get_or_insert((per_epoch, rate));
        let how = if batch == 1 { "settle, one per tx".to_owned() } else { format!("settleBatch of {batch}") };
        println!(
            "  {how:<20} {per_epoch:>9.0} gas/epoch ({:.2}× single)   {rate:>7.1} epochs/s ({:.2}× single)",
            per_epoch / gas_ratio,
            rate / rate_ratio
        );
        assert_eq!(d.stream_state(&mut chain, job).unwrap(), work.last().unwrap().0.new, "every epoch settled");
    }
}

/// Epochs 1..=count of `job`, proven and signed.
fn prove(chain: &mut dyn Chain, d: &Deployment, prover: &zkmeter_circuits::MeterProver, job: u64, count: u64) -> Vec<Epoch> {
    let mut prev = d.stream_state(chain, job).unwrap();
    (1..=count)
        .map(|k| {
            let (statement, proof) = epoch(prover, job, prev, k);
            prev = statement.new;
            let signature = sign_state(&meter_key(), chain.chain_id(), d.settlement, job, &statement.new);
            (statement, encode_proof(&proof), signature)
        })
        .collect()
}

/// Settles `work` in batches of `batch` (1: `settle` per epoch): gas used and time taken.
fn settle(chain: &mut dyn Chain, d: &Deployment, work: &[Epoch], batch: usize) -> (u64, Duration) {
    let started = Instant::now();
    let mut gas = 0;
    for group in work.chunks(batch) {
        gas += if batch == 1 {
            let (statement, proof, signature) = &group[0];
            d.settle(chain, provider(), SLOTS, statement, proof, signature).unwrap().receipt.gas_used
        } else {
            let epochs: Vec<EpochToSettle<'_>> = group
                .iter()
                .map(|(statement, proof, meter_signature)| EpochToSettle { statement, proof, meter_signature })
                .collect();
            let done = d.settle_batch(chain, provider(), SLOTS, &epochs).unwrap();
            assert_eq!(done.settled.len(), group.len());
            done.receipt.gas_used
        };
    }
    (gas, started.elapsed())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "?".into(), |s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
}
