//! `zkmeter demo`: the whole flow on one machine. Simulated meters of a few
//! streams, each stream a job on the embedded chain of the data directory (the
//! consumer escrows tokens, the provider's meter is registered); one proof per
//! epoch, verified here singly and then all in one batch; every epoch submitted
//! over gRPC to a verifier service (`zkmeter-service`) started on a free loopback
//! port, which checks it again and settles it on the chain (the escrow burned at
//! the tariff, the provider paid); the jobs closed, their unused escrow refunded.
//! The chain and the receipts persist: a second run starts from the balances the
//! first one left.

use anyhow::{Result, bail};
use ark_bn254::Fr;
use ark_std::UniformRand;
use k256::ecdsa::SigningKey;
use rand::SeedableRng;
use rand::rngs::OsRng;
use rand_chacha::ChaCha20Rng;
use sha3::{Digest, Keccak256};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zkmeter_circuits::{Capacity, PUBLIC_INPUTS, ProofFile, StreamId, UsageRecord, build_epoch};
use zkmeter_contracts::{Address, Chain, DEV_ACCOUNTS, Deployment, U256, circuit_id, meter_address, sign_state};
use zkmeter_service::convert::submit_request;
use zkmeter_service::proto::verifier_service_client::VerifierServiceClient;
use zkmeter_service::proto::{GetReceiptRequest, ReceiptStatus};
use zkmeter_verifier::{Verifier, encode_proof};

use crate::DEFAULT_SLOTS;
use crate::chain_access::{open_embedded, tokens};
use crate::key_store::KeyStore;
use crate::progress::bar;
use crate::simulate::{default_capacity, simulate_records};

/// Arguments of `zkmeter demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of simulated streams (one job each).
    #[arg(long, default_value_t = 3)]
    streams: usize,
    /// Epochs (proofs) per stream.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Record slots per proof (N).
    #[arg(long, default_value_t = DEFAULT_SLOTS)]
    records: u32,
    /// Seed of the simulated meters.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The dev accounts the demo uses: the provider owns the meters, the consumer
/// opens the jobs (the deployer, account 0, issues the consumer's tokens).
const PROVIDER: Address = DEV_ACCOUNTS[1];
const CONSUMER: Address = DEV_ACCOUNTS[2];

/// Escrow is the bill plus this many percent, so closing a job refunds something.
const ESCROW_MARGIN_PERCENT: u128 = 10;

/// One simulated stream: its meter's key, its job, its records.
struct DemoStream {
    key: SigningKey,
    id: StreamId,
    records: Vec<UsageRecord>,
}

struct Row {
    file: ProofFile,
    epoch: usize,
    prove: Duration,
    verify: Duration,
    receipt: Vec<u8>,
    gas: u64,
}

/// How long the demo waits for the verifier to settle every receipt.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

type Client = VerifierServiceClient<tonic::transport::Channel>;

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let slots = super::check_slots(args.records)?;
    if args.streams == 0 || args.epochs == 0 {
        bail!("the demo needs at least one stream and one epoch");
    }
    println!("zkmeter demo: {} streams × {} epochs, up to {slots} records per proof", args.streams, args.epochs);
    println!("data directory: {}", data_dir.display());

    let started = Instant::now();
    let prover = KeyStore::new(data_dir).prover_or_setup(slots)?;
    let shape = prover.shape();
    println!(
        "keys ready in {:.1} s: {} constraints per proof ({} per record slot), {PUBLIC_INPUTS} public inputs",
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
    let chain = target.chain.as_mut();

    // The last epoch of each stream is left partly empty, to show padding slots.
    let per_stream = args.epochs * slots as usize - (slots as usize / 2).min(slots as usize - 1);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let capacity = default_capacity();
    let records = simulate_records(args.streams, per_stream, now_ms, args.seed, &capacity);
    println!("simulated {} meter records", records.iter().map(Vec::len).sum::<usize>());
    let streams = open_jobs(chain, &d, records, &capacity)?;

    println!("\nbalances before settlement");
    println!("  provider {PROVIDER}: {}", tokens(&d.balances(chain, PROVIDER)?));
    println!("  consumer {CONSUMER}: {}", tokens(&d.balances(chain, CONSUMER)?));
    println!("  held in escrow:      {}\n", tokens(&d.balances(chain, d.settlement)?));
    let chain_id = chain.chain_id();
    // From here the verifier service owns the chain until it stops.
    drop(target);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (url, stop, server) = runtime.block_on(start_verifier(data_dir, KeyStore::new(data_dir).paths(slots).1))?;
    println!("verifier service on {url} (gRPC, receipts in {})", data_dir.join("receipts.db").display());
    let mut client = runtime.block_on(Client::connect(url))?;

    let verifier = Verifier::new(prover.verifying_key());
    let circuit = circuit_id(&shape.header);
    let proofs_dir = data_dir.join("demo");
    let progress = bar((args.streams * args.epochs) as u64, "proving and submitting epochs");
    let mut rng = ChaCha20Rng::from_rng(OsRng)?;
    let mut rows = Vec::new();
    for stream in &streams {
        let mut state = stream.id.genesis();
        for (epoch, chunk) in stream.records.chunks(slots as usize).enumerate() {
            let (statement, witness) =
                build_epoch(stream.id, state, chunk, capacity, Fr::rand(&mut rng), slots as usize)?;
            let t = Instant::now();
            let proof = prover.prove(&statement.instance(), &witness, &mut rng)?;
            let prove = t.elapsed();
            let t = Instant::now();
            verifier.verify(&proof, &statement.public_inputs())?;
            let verify = t.elapsed();
            let signature = sign_state(&stream.key, chain_id, d.settlement, stream.id.job_id, &statement.new);
            let request = submit_request(&circuit, &statement, &encode_proof(&proof), &signature);
            let response = runtime
                .block_on(client.submit_proof(request))
                .map_err(|s| anyhow::anyhow!("the verifier refused job {} epoch {epoch}: {}", stream.id.job_id, s.message()))?;
            let receipt = response.into_inner().receipt.map(|r| r.id).unwrap_or_default();
            let file = ProofFile { key: shape.header.clone(), statement, proof };
            file.write(&proofs_dir.join(format!("job{}-epoch{epoch}.proof.json", stream.id.job_id)))?;
            state = statement.new;
            rows.push(Row { file, epoch, prove, verify, receipt, gas: 0 });
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let waiting = bar(rows.len() as u64, "waiting for the verifier to settle every epoch");
    for row in &mut rows {
        row.gas = runtime.block_on(settled(&mut client, &row.receipt))?;
        waiting.inc(1);
    }
    waiting.finish_and_clear();
    let _ = stop.send(());
    runtime.block_on(server)??;
    drop(runtime);
    print_table(&rows);

    let mut target = open_embedded(data_dir, None)?;
    let chain = target.chain.as_mut();
    for stream in &streams {
        d.close_job(chain, PROVIDER, stream.id.job_id)?;
    }
    println!("\nbalances after settling every epoch and closing the jobs (unused escrow refunded)");
    println!("  provider {PROVIDER}: {}", tokens(&d.balances(chain, PROVIDER)?));
    println!("  consumer {CONSUMER}: {}", tokens(&d.balances(chain, CONSUMER)?));

    let inputs: Vec<[Fr; PUBLIC_INPUTS]> = rows.iter().map(|r| r.file.statement.public_inputs()).collect();
    let items: Vec<_> = rows.iter().zip(&inputs).map(|(r, x)| (&r.file.proof, &x[..])).collect();
    let t = Instant::now();
    let report = verifier.verify_batch(&items, &mut rng);
    let batch = t.elapsed();
    if !report.all_valid() {
        bail!("batch verification refused proofs {:?}", report.invalid_indices());
    }

    let n = rows.len() as f64;
    let mean = |f: fn(&Row) -> Duration| rows.iter().map(f).sum::<Duration>().as_secs_f64() / n;
    let single_total: f64 = rows.iter().map(|r| r.verify.as_secs_f64()).sum();
    let records_proved: u64 = rows.iter().map(|r| u64::from(r.file.statement.record_count)).sum();
    let gas: u64 = rows.iter().map(|r| r.gas).sum();
    println!();
    println!("summary");
    println!("  proofs                {} (all verified singly and in one batch)", rows.len());
    println!("  records proved        {records_proved}");
    println!("  constraints / proof   {}", shape.num_constraints);
    println!("  proof size            {} bytes (EVM encoding)", encode_proof(&rows[0].file.proof).len());
    println!("  mean prove time       {:.0} ms", mean(|r| r.prove) * 1e3);
    println!("  mean verify time      {:.2} ms", mean(|r| r.verify) * 1e3);
    println!(
        "  batch verify          {:.2} ms for all {} ({:.2} ms one by one)",
        batch.as_secs_f64() * 1e3,
        rows.len(),
        single_total * 1e3
    );
    println!("  settlements           {} on chain {chain_id}, each checked and sent by the verifier service", rows.len());
    println!(
        "  gas / settlement      {:.0} mean ({:.0} per record)",
        gas as f64 / n,
        gas as f64 / records_proved.max(1) as f64
    );
    println!("  proof files           {}", proofs_dir.display());
    println!("\nverify them again with: zkmeter verify {}/*.proof.json", proofs_dir.display());
    println!("see the chain with:      zkmeter chain status");
    Ok(())
}

/// Starts the verifier service over the data directory on a free loopback port,
/// accepting the circuit of `verifying_key`; returns its URL, the switch that stops
/// it and its task.
async fn start_verifier(
    data_dir: &Path,
    verifying_key: std::path::PathBuf,
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

/// Waits until the receipt is settled; returns the settlement's gas.
async fn settled(client: &mut Client, id: &[u8]) -> Result<u64> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let receipt = client.get_receipt(GetReceiptRequest { id: id.to_vec() }).await?.into_inner().receipt.unwrap_or_default();
        match ReceiptStatus::try_from(receipt.status) {
            Ok(ReceiptStatus::Settled) => return Ok(receipt.gas_used),
            Ok(ReceiptStatus::Rejected) => bail!("the verifier rejected receipt {}: {}", hex::encode(id), receipt.reason),
            _ if Instant::now() > deadline => {
                bail!("receipt {} not settled after {} s ({})", hex::encode(id), SETTLE_TIMEOUT.as_secs(), receipt.reason)
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The demo's meter key for stream `index`: derived from a public string, so
/// anyone can sign as these meters. Demo only.
fn demo_meter_key(index: usize) -> SigningKey {
    let secret = Keccak256::digest(format!("zkmeter demo meter key {index}"));
    SigningKey::from_slice(&secret).expect("these digests are below the secp256k1 order")
}

/// Registers each stream's meter (first run only), issues the consumer the
/// tokens its jobs need, and opens one job per stream escrowing its bill plus a
/// margin; returns the streams with their job ids.
fn open_jobs(
    chain: &mut dyn Chain,
    d: &Deployment,
    records: Vec<Vec<UsageRecord>>,
    capacity: &Capacity,
) -> Result<Vec<DemoStream>> {
    let escrows: Vec<[u128; 5]> = records
        .iter()
        .map(|rs| {
            let mut bill = [0u128; 5];
            for r in rs {
                bill[r.class.index()] += u128::from(r.quantity);
            }
            bill.map(|b| b + b * ESCROW_MARGIN_PERCENT / 100)
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
    for (index, (records, escrow)) in records.into_iter().zip(escrows).enumerate() {
        let key = demo_meter_key(index);
        let meter = meter_address(&key);
        let (owner, _, registered) = d.meter_info(chain, meter)?;
        if owner == Address::ZERO {
            d.register_meter(chain, PROVIDER, meter, capacity)?;
        } else if owner != PROVIDER || registered != *capacity {
            bail!(
                "meter {meter} is registered on this chain by {owner} with capacity {registered:?}, not as the demo \
                 registers it: run the demo with a fresh --data-dir"
            );
        }
        let (job_id, _) = d.open_job(chain, CONSUMER, meter, expires_at, escrow)?;
        println!("job {job_id}: meter {meter}, escrow {}", tokens(&escrow.map(U256::from)));
        streams.push(DemoStream { key, id: StreamId { meter: meter.into(), job_id }, records });
    }
    Ok(streams)
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<5} {:>5} {:>13} {:>7} {:>9} {:>9} {:>8}  billed",
        "job", "epoch", "seq", "records", "prove ms", "verify ms", "gas"
    );
    for row in rows {
        let s = &row.file.statement;
        println!(
            "{:<5} {:>5} {:>13} {:>7} {:>9.0} {:>9.2} {:>8}  {}",
            s.stream.job_id,
            row.epoch,
            format!("{}..={}", s.prev.seq + 1, s.new.seq),
            s.record_count,
            row.prove.as_secs_f64() * 1e3,
            row.verify.as_secs_f64() * 1e3,
            row.gas,
            tokens(&s.totals.0.map(U256::from))
        );
    }
}
