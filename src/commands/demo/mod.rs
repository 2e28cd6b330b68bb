//! `zkmeter demo`: the whole system on one machine, in one command. The embedded
//! chain of the data directory with the contracts deployed, a few jobs opened by
//! a consumer who escrows tokens, each served by a meter the provider registered;
//! the verifier service (`zkmeter-service`) on a free loopback port; and the prover
//! daemon (`zkmeter-prover`) metering each job with synthetic sources, three
//! classes per job billed together in one stream (a GPU job's GPU time, energy and
//! network traffic, say), cutting epochs, proving them and submitting them over
//! gRPC, while a live table shows where every stream stands. The service checks
//! each proof and settles it (the contract verifies it again, burns the escrow at
//! the tariff and pays the provider); at the end the jobs are closed, the unused
//! escrow refunded, and the balances and a summary printed.
//!
//! A good citizen of its data directory: one demo runs on it at a time; before it
//! escrows anything it checks that the keys, the receipts and the stream logs can
//! be used with this chain; it resumes the jobs an interrupted run left open
//! instead of opening new ones; Ctrl-C or SIGTERM stops it cleanly and says which
//! jobs stay open. The chain, the receipts and the stream logs persist: a second
//! run starts from the balances the first one left.

mod checks;
mod interrupt;
mod jobs;
mod table;

use anyhow::{Context, Result, bail};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zkmeter_circuits::{ResourceClass, StreamId};
use zkmeter_contracts::durable::{Lock, try_lock};
use zkmeter_contracts::{Chain, Deployment};
use zkmeter_prover::config::{Config as ProverConfig, StreamConfig};
use zkmeter_prover::daemon::{self, RunOptions, Status};
use zkmeter_prover::meter::MeterConfig;

use crate::DEFAULT_SLOTS;
use crate::chain_access::open_embedded;
use crate::units::show_tokens;
use crate::key_store::KeyStore;
use crate::simulate::default_capacity;
use interrupt::Interrupt;
use jobs::{CONSUMER, DemoStream, PROVIDER};
use table::LiveTable;

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
    /// Where the verifier serves its web explorer (port 0: any free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    explorer_listen: SocketAddr,
    /// Once every job is settled and closed, keep the verifier and its explorer
    /// running (read-only) until Ctrl-C, to look around.
    #[arg(long)]
    stay: bool,
}

/// Synthetic meters use this share of the capacity on average (percent).
const LOAD_PERCENT: u64 = 40;

/// How long the demo waits for every epoch to settle.
const DEMO_TIMEOUT: Duration = Duration::from_secs(600);

/// The exit status of a demo stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
const INTERRUPTED: i32 = 130;

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let slots = super::check_slots(args.records)?;
    if args.streams == 0 || args.epochs == 0 || args.sample_interval_ms == 0 {
        bail!("the demo needs at least one stream, one epoch and a sample interval above 0");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let interrupt = Interrupt::listen(&runtime);
    std::fs::create_dir_all(data_dir.join("demo")).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let _one_demo = match try_lock(&data_dir.join("demo").join("demo.lock"))? {
        Lock::Held(file) => file,
        Lock::Busy { holder } => bail!(
            "another zkmeter demo (process {holder}) is running on {}: wait for it or stop it (Ctrl-C), or run this one \
             with another --data-dir",
            data_dir.display()
        ),
    };
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
    stop_if_asked(&interrupt, "before touching the chain")?;

    let mut target = open_embedded(data_dir, None)?;
    let (d, report) = target.ensure_deployed(&[(shape.header.clone(), prover.verifying_key().clone())])?;
    println!("chain: {}, settlement contract {}", target.description, d.settlement);
    for line in report {
        println!("  {line}");
    }
    let num_constraints = shape.num_constraints;
    drop(prover);
    let chain = target.chain.as_mut();
    let domain = checks::domain(chain, &d)?;
    runtime.block_on(checks::receipts(data_dir, domain))?;
    checks::no_retired_logs(data_dir)?;

    // The last epoch of each stream is left partly empty, to show padding slots.
    let per_stream = (args.epochs * slots as usize - (slots as usize / 2).min(slots as usize - 1)) as u64;
    let capacity = default_capacity();
    // A record bills at most capacity × its duration; twice the sample interval
    // leaves room for a loaded machine reading the meters late.
    let escrow = |class: ResourceClass| u128::from(capacity.get(class)) * u128::from(2 * args.sample_interval_ms) * u128::from(per_stream);
    jobs::ensure_budget(chain, &d, &capacity)?;
    let before_opening = |job_id: u64| {
        stop_if_asked(&interrupt, "before opening another job")?;
        checks::no_log_for_new_job(data_dir, job_id)
    };
    let streams = jobs::resume_or_open(chain, &d, data_dir, args.streams, &capacity, escrow, before_opening)?;
    for s in streams.iter().filter(|s| s.resumed) {
        checks::resumed_log(data_dir, StreamId { meter: s.meter.into(), job_id: s.job_id }, domain)?;
    }

    println!("\nbalances before settlement");
    println!("  provider {PROVIDER}: {}", show_tokens(&d.balances(chain, PROVIDER)?, true));
    println!("  consumer {CONSUMER}: {}", show_tokens(&d.balances(chain, CONSUMER)?, true));
    println!("  held in escrow:      {}\n", show_tokens(&d.balances(chain, d.settlement)?, true));
    let chain_id = chain.chain_id();
    // From here the verifier service owns the chain until it stops.
    drop(target);

    let verifier = runtime.block_on(start_verifier(data_dir, keys.paths(slots).1, args.explorer_listen))?;
    let (url, stop, server) = (verifier.url, verifier.stop, verifier.server);
    println!("verifier service on {url} (gRPC, receipts in {})", data_dir.join("receipts.db").display());
    println!("explorer on http://{}/ (jobs, epochs and proofs as they settle)", verifier.explorer);
    let config = prover_config(data_dir, slots, url, &args, &streams, per_stream);
    config.check()?;
    println!(
        "prover daemon: stream logs in {}, synthetic meters read every {} ms\n",
        config.data_dir.display(),
        args.sample_interval_ms
    );

    let status = Status::default();
    let proving_started = Instant::now();
    let shutdown = interrupt.clone().wait();
    let mut daemon = runtime.spawn(daemon::run(config, RunOptions { exit_when_settled: true }, status.clone(), shutdown));
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
    let served = runtime.block_on(server);
    if let Err(e) = outcome {
        stays_open(&streams);
        return Err(e);
    }
    served??;
    if interrupt.asked() {
        drop(runtime);
        println!("\nstopped.");
        stays_open(&streams);
        std::process::exit(INTERRUPTED);
    }
    let wall = proving_started.elapsed();

    let mut target = open_embedded(data_dir, None)?;
    let chain = target.chain.as_mut();
    for s in &streams {
        let state = d.stream_state(chain, s.job_id)?;
        let row = rows.iter().find(|r| r.job_id == s.job_id).expect("a row per stream");
        if state.seq != row.records {
            stays_open(&streams);
            bail!("job {}: the chain settled {} records, the meter logged {}", s.job_id, state.seq, row.records);
        }
        d.close_job(chain, PROVIDER, s.job_id)?;
    }
    summary(chain, &d, &rows, num_constraints, chain_id, wall)?;
    if args.stay {
        drop(target);
        // The same address as before, so that an open browser tab keeps working.
        let again = runtime.block_on(start_verifier(data_dir, keys.paths(slots).1, verifier.explorer))?;
        println!("\nexplorer stays on http://{}/ until Ctrl-C", again.explorer);
        runtime.block_on(interrupt.wait());
        let _ = again.stop.send(());
        runtime.block_on(again.server)??;
    }
    Ok(())
}

/// Stops here, before anything is escrowed, if Ctrl-C or SIGTERM came.
fn stop_if_asked(interrupt: &Interrupt, when: &str) -> Result<()> {
    if interrupt.asked() {
        println!("stopped {when}: nothing was escrowed");
        std::process::exit(INTERRUPTED);
    }
    Ok(())
}

/// Says which jobs stay open (with their escrow) and how to finish or close them.
fn stays_open(streams: &[DemoStream]) {
    if streams.is_empty() {
        return;
    }
    let ids: Vec<String> = streams.iter().map(|s| s.job_id.to_string()).collect();
    println!(
        "jobs {} stay open with their escrow and logged records: run `zkmeter demo` again on this data directory to \
         finish and close them (it resumes them), or close one with `zkmeter job close ID` (unused escrow goes back to \
         the consumer; records not yet settled are then never billed)",
        ids.join(", ")
    );
}

/// The daemon's configuration: one stream per job, a synthetic source per class
/// it bills.
fn prover_config(data_dir: &Path, slots: u32, url: String, args: &Args, streams: &[DemoStream], per_stream: u64) -> ProverConfig {
    let capacity = default_capacity();
    ProverConfig {
        data_dir: data_dir.join("prover"),
        keys_dir: data_dir.join("keys"),
        slots,
        verifier_url: url,
        sample_interval_ms: args.sample_interval_ms,
        streams: streams
            .iter()
            .map(|s| StreamConfig {
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
                        seed: args.seed.wrapping_add(10 * s.job_id + k as u64),
                    })
                    .collect(),
                stop_after_records: Some(per_stream),
            })
            .collect(),
        ..ProverConfig::default()
    }
}

fn summary(
    chain: &mut dyn Chain,
    d: &Deployment,
    rows: &[zkmeter_prover::daemon::StreamStatus],
    num_constraints: usize,
    chain_id: u64,
    wall: Duration,
) -> Result<()> {
    println!("\nbalances after settling every epoch and closing the jobs (unused escrow refunded)");
    println!("  provider {PROVIDER}: {}", show_tokens(&d.balances(chain, PROVIDER)?, true));
    println!("  consumer {CONSUMER}: {}", show_tokens(&d.balances(chain, CONSUMER)?, true));

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

/// A verifier service the demo started.
struct Verifier {
    /// Its gRPC URL.
    url: String,
    /// Its explorer's address.
    explorer: SocketAddr,
    /// Stops it.
    stop: tokio::sync::oneshot::Sender<()>,
    /// Its task: how it ended.
    server: tokio::task::JoinHandle<Result<()>>,
}

/// Starts the verifier service over the data directory on a free loopback port,
/// accepting the circuit of `verifying_key`, with its explorer on `explorer`.
async fn start_verifier(data_dir: &Path, verifying_key: PathBuf, explorer: SocketAddr) -> Result<Verifier> {
    let config = zkmeter_service::config::Config {
        listen: "127.0.0.1:0".parse().expect("a valid address"),
        data_dir: data_dir.to_owned(),
        verifying_keys: vec![verifying_key],
        max_wait_ms: 1,
        explorer_listen: Some(explorer),
        ..Default::default()
    };
    let (bound_send, bound) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zkmeter_service::server::serve(
        config,
        move |b| {
            let _ = bound_send.send((b.grpc, b.explorer.expect("the explorer was asked for")));
        },
        async move {
            let _ = stopped.await;
        },
    ));
    match bound.await {
        Ok((grpc, explorer)) => Ok(Verifier { url: format!("http://{grpc}"), explorer, stop, server }),
        // The service stopped before binding: its error says why.
        Err(_) => Err(server.await?.err().unwrap_or_else(|| anyhow::anyhow!("the verifier service did not start"))),
    }
}
