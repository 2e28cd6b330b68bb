//! `zkmeter demo`: the whole system on one machine, in one command. The embedded
//! chain of the data directory with the contracts deployed, a few jobs opened by
//! a consumer who escrows tokens, each served by a meter the provider registered;
//! the verifier service (`zkmeter-service`) on a free loopback port; and the prover
//! daemon (`zkmeter-prover`) metering each job with synthetic sources, three classes
//! per job billed together in one stream (a GPU job's GPU time, energy and network
//! traffic, say), cutting
//! epochs, proving them and submitting them over gRPC, while a live table shows
//! where every stream stands. The service checks each proof and settles it (the
//! contract verifies it again, burns the escrow at the tariff and pays the
//! provider); at the end the jobs are closed, the unused escrow refunded, and the
//! balances and a summary printed. The chain, the receipts and the stream logs
//! persist: a second run starts from the balances the first one left.

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha3::{Digest, Keccak256};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zkmeter_circuits::{Capacity, ResourceClass};
use zkmeter_contracts::{Address, Chain, DEV_ACCOUNTS, Deployment, U256, sign_registration};
use zkmeter_prover::config::{Config as ProverConfig, StreamConfig};
use zkmeter_prover::daemon::{self, RunOptions, Status, StreamStatus};
use zkmeter_prover::identity::MeterKey;
use zkmeter_prover::meter::MeterConfig;

use crate::DEFAULT_SLOTS;
use crate::chain_access::{open_embedded, tokens};
use crate::key_store::KeyStore;
use crate::simulate::default_capacity;

/// Arguments of `zkmeter demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of metered streams (one job each).
    #[arg(long, default_value_t = 3)]
    streams: usize,
    /// Epochs (proofs) per stream.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Record slots per proof (N).
    #[arg(long, default_value_t = DEFAULT_SLOTS)]
    records: u32,
    /// Seed of the synthetic meters.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How often the synthetic meters are read, in milliseconds (one record each time).
    #[arg(long, default_value_t = 50)]
    sample_interval_ms: u64,
}

/// The dev accounts the demo uses: the provider owns the meters, the consumer
/// opens the jobs (the deployer, account 0, issues the consumer's tokens).
const PROVIDER: Address = DEV_ACCOUNTS[1];
const CONSUMER: Address = DEV_ACCOUNTS[2];

/// The classes the demo's jobs meter, in turn: each job bills all of its classes
/// through its one stream.
const JOB_CLASSES: [[ResourceClass; 3]; 3] = [
    [ResourceClass::Gpu, ResourceClass::Energy, ResourceClass::Network],
    [ResourceClass::Cpu, ResourceClass::Storage, ResourceClass::Network],
    [ResourceClass::Gpu, ResourceClass::Cpu, ResourceClass::Energy],
];

/// Synthetic meters use this share of the capacity on average (percent).
const LOAD_PERCENT: u64 = 40;

/// How long the demo waits for every epoch to settle.
const DEMO_TIMEOUT: Duration = Duration::from_secs(600);

/// One demo stream: its meter's key file, its job and what it meters.
struct DemoStream {
    key_file: PathBuf,
    job_id: u64,
    classes: [ResourceClass; 3],
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let slots = super::check_slots(args.records)?;
    if args.streams == 0 || args.epochs == 0 || args.sample_interval_ms == 0 {
        bail!("the demo needs at least one stream, one epoch and a sample interval above 0");
    }
    println!("zkmeter demo: {} streams × {} epochs, up to {slots} records per proof", args.streams, args.epochs);
    println!("data directory: {}", data_dir.display());

    let started = Instant::now();
    let keys = KeyStore::new(data_dir);
    let prover = keys.prover_or_setup(slots)?;
    let shape = prover.shape();
    println!(
        "keys ready in {:.1} s: {} constraints per proof ({} per record slot)",
        started.elapsed().as_secs_f64(),
        shape.num_constraints,
        zkmeter_circuits::meter_circuit::CONSTRAINTS_PER_SLOT
    );

    let mut target = open_embedded(data_dir, None)?;
    let (d, report) = target.ensure_deployed(&[(shape.header.clone(), prover.verifying_key().clone())])?;
    println!("chain: {}, settlement contract {}", target.description, d.settlement);
    for line in report {
        println!("  {line}");
    }
    let num_constraints = shape.num_constraints;
    drop(prover);
    let chain = target.chain.as_mut();
    // The last epoch of each stream is left partly empty, to show padding slots.
    let per_stream = (args.epochs * slots as usize - (slots as usize / 2).min(slots as usize - 1)) as u64;
    let capacity = default_capacity();
    let streams = open_jobs(chain, &d, data_dir, &args, per_stream, &capacity)?;

    println!("\nbalances before settlement");
    println!("  provider {PROVIDER}: {}", tokens(&d.balances(chain, PROVIDER)?));
    println!("  consumer {CONSUMER}: {}", tokens(&d.balances(chain, CONSUMER)?));
    println!("  held in escrow:      {}\n", tokens(&d.balances(chain, d.settlement)?));
    let chain_id = chain.chain_id();
    // From here the verifier service owns the chain until it stops.
    drop(target);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (url, stop, server) = runtime.block_on(start_verifier(data_dir, keys.paths(slots).1))?;
    println!("verifier service on {url} (gRPC, receipts in {})", data_dir.join("receipts.db").display());
    let config = ProverConfig {
        data_dir: data_dir.join("prover"),
        keys_dir: data_dir.join("keys"),
        slots,
        verifier_url: url,
        sample_interval_ms: args.sample_interval_ms,
        streams: streams
            .iter()
            .enumerate()
            .map(|(i, s)| StreamConfig {
                job_id: s.job_id,
                key_file: s.key_file.clone(),
                capacity: Some(capacity),
                sources: s
                    .classes
                    .iter()
                    .enumerate()
                    .map(|(k, &class)| MeterConfig::Synthetic {
                        class,
                        rate: capacity.get(class) * 1000 * LOAD_PERCENT / 100,
                        seed: args.seed.wrapping_add(10 * i as u64 + k as u64),
                    })
                    .collect(),
                stop_after_records: Some(per_stream),
            })
            .collect(),
        ..ProverConfig::default()
    };
    config.check()?;
    println!("prover daemon: stream logs in {}, synthetic meters read every {} ms\n", config.data_dir.display(), args.sample_interval_ms);

    let status = Status::default();
    let proving_started = Instant::now();
    let mut daemon = runtime.spawn(daemon::run(config, RunOptions { exit_when_settled: true }, status.clone(), std::future::pending()));
    let mut table = LiveTable::new(std::io::stdout().is_terminal());
    let outcome = runtime.block_on(async {
        loop {
            tokio::select! {
                result = &mut daemon => break result.context("the prover daemon panicked")?.map_err(anyhow::Error::from),
                () = tokio::time::sleep(Duration::from_millis(200)) => table.draw(&status.snapshot()),
            }
            if proving_started.elapsed() > DEMO_TIMEOUT {
                bail!("not every epoch settled within {} s", DEMO_TIMEOUT.as_secs());
            }
        }
    });
    let rows = status.snapshot();
    table.finish(&rows);
    let _ = stop.send(());
    runtime.block_on(server)??;
    drop(runtime);
    outcome?;
    let wall = proving_started.elapsed();

    let mut target = open_embedded(data_dir, None)?;
    let chain = target.chain.as_mut();
    for s in &streams {
        let state = d.stream_state(chain, s.job_id)?;
        let row = rows.iter().find(|r| r.job_id == s.job_id).expect("a row per stream");
        if state.seq != row.records {
            bail!("job {}: the chain settled {} records, the meter logged {}", s.job_id, state.seq, row.records);
        }
        d.close_job(chain, PROVIDER, s.job_id)?;
    }
    println!("\nbalances after settling every epoch and closing the jobs (unused escrow refunded)");
    println!("  provider {PROVIDER}: {}", tokens(&d.balances(chain, PROVIDER)?));
    println!("  consumer {CONSUMER}: {}", tokens(&d.balances(chain, CONSUMER)?));

    let epochs: u64 = rows.iter().map(|r| r.epochs.2).sum();
    let records: u64 = rows.iter().map(|r| r.records).sum();
    let gas: u64 = rows.iter().map(|r| r.gas).sum();
    let prove: Duration = rows.iter().map(|r| r.prove_total).sum();
    println!();
    println!("summary");
    println!("  epochs settled        {epochs} (each proved by the daemon, verified by the service and by the contract)");
    println!("  records settled       {records} (the chain's stream states match the meters' logs)");
    println!("  constraints / proof   {num_constraints}");
    println!("  mean prove time       {:.0} ms", prove.as_secs_f64() * 1e3 / epochs.max(1) as f64);
    println!("  settlements           {epochs} on chain {chain_id}");
    println!("  gas / settlement      {:.0} mean ({:.0} per record)", gas as f64 / epochs.max(1) as f64, gas as f64 / records.max(1) as f64);
    println!("  metering to settled   {:.1} s", wall.as_secs_f64());
    println!("\nsee the chain with: zkmeter chain status");
    Ok(())
}

/// Starts the verifier service over the data directory on a free loopback port,
/// accepting the circuit of `verifying_key`; returns its URL, the switch that stops
/// it and its task.
async fn start_verifier(
    data_dir: &Path,
    verifying_key: PathBuf,
) -> Result<(String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<()>>)> {
    let config = zkmeter_service::config::Config {
        listen: "127.0.0.1:0".parse().expect("a valid address"),
        data_dir: data_dir.to_owned(),
        verifying_keys: vec![verifying_key],
        max_wait_ms: 1,
        ..Default::default()
    };
    let (bound_send, bound) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zkmeter_service::server::serve(
        config,
        move |b| {
            let _ = bound_send.send(b.grpc);
        },
        async move {
            let _ = stopped.await;
        },
    ));
    match bound.await {
        Ok(addr) => Ok((format!("http://{addr}"), stop, server)),
        // The service stopped before binding: its error says why.
        Err(_) => Err(server.await?.err().unwrap_or_else(|| anyhow::anyhow!("the verifier service did not start"))),
    }
}

/// The demo's meter key file for stream `index`: the key is derived from a public
/// string, so anyone can sign as these meters. Demo only.
fn demo_meter_key(data_dir: &Path, index: usize) -> Result<(PathBuf, MeterKey)> {
    let path = data_dir.join("demo").join(format!("meter-{index}.key"));
    if path.exists() {
        return Ok((path.clone(), MeterKey::load(&path)?));
    }
    let seed: [u8; 32] = Keccak256::digest(format!("zkmeter demo meter key {index}")).into();
    let key = MeterKey::generate(&path, &mut ChaCha20Rng::from_seed(seed))?;
    Ok((path, key))
}

/// Registers each stream's meter (first run only), issues the consumer the
/// tokens its jobs need, and opens one job per stream escrowing what its meter
/// can bill at most; returns the streams with their job ids.
fn open_jobs(
    chain: &mut dyn Chain,
    d: &Deployment,
    data_dir: &Path,
    args: &Args,
    records: u64,
    capacity: &Capacity,
) -> Result<Vec<DemoStream>> {
    // A record bills at most capacity × its duration; twice the sample interval
    // leaves room for a loaded machine reading the meters late.
    let most = |class: ResourceClass| u128::from(capacity.get(class)) * u128::from(2 * args.sample_interval_ms) * u128::from(records);
    let classes: Vec<[ResourceClass; 3]> = (0..args.streams).map(|i| JOB_CLASSES[i % JOB_CLASSES.len()]).collect();
    let escrows: Vec<[u128; 5]> = classes
        .iter()
        .map(|job| {
            let mut escrow = [0u128; 5];
            for &class in job {
                escrow[class.index()] = most(class);
            }
            escrow
        })
        .collect();
    let mut issued = [0u128; 5];
    for escrow in &escrows {
        for (total, e) in issued.iter_mut().zip(escrow) {
            *total += e;
        }
    }
    d.mint_tokens(chain, CONSUMER, issued)?;
    println!("issued the consumer {}", tokens(&issued.map(U256::from)));

    let expires_at = chain.block()?.timestamp + 24 * 3600;
    let mut streams = Vec::new();
    for (index, (class, escrow)) in classes.into_iter().zip(escrows).enumerate() {
        let (key_file, key) = demo_meter_key(data_dir, index)?;
        let meter = key.address();
        let info = d.meter_info(chain, meter)?;
        if info.provider == Address::ZERO {
            let consent = sign_registration(key.signing_key(), chain.chain_id(), d.settlement, PROVIDER);
            d.register_meter(chain, PROVIDER, meter, capacity, &consent)?;
        } else if info.provider != PROVIDER || info.capacity != *capacity {
            bail!(
                "meter {meter} is registered on this chain by {} with capacity {:?}, not as the demo registers it: run \
                 the demo with a fresh --data-dir",
                info.provider,
                info.capacity
            );
        }
        let job_id = d.open_job(chain, CONSUMER, meter, capacity, expires_at, escrow)?.job_id;
        let names: Vec<&str> = class.iter().map(|c| c.name()).collect();
        println!("job {job_id}: meter {meter} ({}), escrow {}", names.join(" + "), tokens(&escrow.map(U256::from)));
        streams.push(DemoStream { key_file, job_id, classes: class });
    }
    Ok(streams)
}

/// The live table of the streams: redrawn in place on a terminal; elsewhere
/// printed again only when an epoch moves.
struct LiveTable {
    terminal: bool,
    drawn: usize,
    last: Vec<(u64, u64, u64)>,
}

impl LiveTable {
    fn new(terminal: bool) -> Self {
        LiveTable { terminal, drawn: 0, last: Vec::new() }
    }

    fn draw(&mut self, rows: &[StreamStatus]) {
        let epochs: Vec<_> = rows.iter().map(|r| r.epochs).collect();
        if !self.terminal && epochs == self.last {
            return;
        }
        self.last = epochs;
        let mut out = std::io::stdout().lock();
        if self.terminal && self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        let lines = table_lines(rows);
        for line in &lines {
            let _ = writeln!(out, "{}{line}", if self.terminal { "\x1b[2K" } else { "" });
        }
        if !self.terminal {
            let _ = writeln!(out);
        }
        let _ = out.flush();
        self.drawn = lines.len();
    }

    fn finish(&mut self, rows: &[StreamStatus]) {
        self.last.clear();
        self.draw(rows);
    }
}

fn table_lines(rows: &[StreamStatus]) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<5} {:<12} {:>7} {:>20} {:>10}  {:<40} {}",
        "job", "meter", "records", "epochs cut/prv/set", "last prove", "billed (settled)", "status"
    )];
    for r in rows {
        let (cut, proved, settled) = r.epochs;
        let prove = r.last_prove.map_or_else(|| "-".to_owned(), |d| format!("{} ms", d.as_millis()));
        let billed = tokens(&r.settled_totals.0.map(U256::from));
        let meter = format!("{}", r.meter);
        lines.push(format!(
            "{:<5} {:<12} {:>7} {:>20} {:>10}  {:<40} {}",
            r.job_id,
            format!("{}…", &meter[..10]),
            r.records,
            format!("{cut}/{proved}/{settled}"),
            prove,
            billed,
            r.note
        ));
    }
    lines
}
