//! `zkmeter demo`: the whole flow on one machine — simulated meters, one proof per
//! epoch of each stream, every proof verified singly and then all in one batch.

use anyhow::{Result, bail};
use ark_bn254::Fr;
use ark_std::UniformRand;
use rand::SeedableRng;
use rand::rngs::OsRng;
use rand_chacha::ChaCha20Rng;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zkmeter_circuits::{PUBLIC_INPUTS, ProofFile, build_epoch};
use zkmeter_verifier::{Verifier, encode_proof};

use crate::DEFAULT_SLOTS;
use crate::key_store::KeyStore;
use crate::progress::bar;
use crate::simulate::{default_capacity, simulate, stream};

/// Arguments of `zkmeter demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of simulated streams.
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

struct Row {
    file: ProofFile,
    epoch: usize,
    prove: Duration,
    verify: Duration,
}

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

    // The last epoch of each stream is left partly empty, to show padding slots.
    let per_stream = args.epochs * slots as usize - (slots as usize / 2).min(slots as usize - 1);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let capacity = default_capacity();
    let lines = simulate(args.streams, per_stream, now_ms, args.seed, &capacity);
    println!("simulated {} meter records\n", lines.len());

    let verifier = Verifier::new(prover.verifying_key());
    let proofs_dir = data_dir.join("demo");
    let progress = bar((args.streams * args.epochs) as u64, "proving epochs");
    let mut rng = ChaCha20Rng::from_rng(OsRng)?;
    let mut rows = Vec::new();
    for s in 0..args.streams {
        let id = stream(s);
        let records: Vec<_> = lines.iter().filter(|l| l.stream == id).map(|l| l.record).collect();
        let mut state = id.genesis();
        for (epoch, chunk) in records.chunks(slots as usize).enumerate() {
            let (statement, witness) = build_epoch(id, state, chunk, capacity, Fr::rand(&mut rng), slots as usize)?;
            let t = Instant::now();
            let proof = prover.prove(&statement.instance(), &witness, &mut rng)?;
            let prove = t.elapsed();
            let t = Instant::now();
            verifier.verify(&proof, &statement.public_inputs())?;
            let verify = t.elapsed();
            let file = ProofFile { key: shape.header.clone(), statement, proof };
            file.write(&proofs_dir.join(format!("stream{s}-epoch{epoch}.proof.json")))?;
            state = statement.new;
            rows.push(Row { file, epoch, prove, verify });
            progress.inc(1);
        }
    }
    progress.finish_and_clear();

    println!("{:<8} {:>5} {:>13} {:>7} {:>10} {:>10}  totals", "stream", "epoch", "seq", "records", "prove ms", "verify ms");
    for row in &rows {
        let s = &row.file.statement;
        let totals: Vec<String> =
            s.totals.iter().filter(|(_, v)| *v > 0).map(|(c, v)| format!("{c} {v} {}", c.unit())).collect();
        println!(
            "{:<8} {:>5} {:>13} {:>7} {:>10.0} {:>10.2}  {}",
            format!("{}/{}", hex::encode(&s.stream.meter[..2]), s.stream.job_id),
            row.epoch,
            format!("{}..={}", s.prev.seq + 1, s.new.seq),
            s.record_count,
            row.prove.as_secs_f64() * 1e3,
            row.verify.as_secs_f64() * 1e3,
            totals.join(", ")
        );
    }

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
    println!();
    println!("summary");
    println!("  proofs                {} (all verified singly and in one batch)", rows.len());
    println!("  records proved        {}", rows.iter().map(|r| r.file.statement.record_count as usize).sum::<usize>());
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
    println!("  proof files           {}", proofs_dir.display());
    println!("\nverify them again with: zkmeter verify {}/*.proof.json", proofs_dir.display());
    Ok(())
}
