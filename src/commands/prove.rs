//! `zkmeter prove`: prove the next epoch of one stream.

use anyhow::{Context, Result, bail};
use ark_bn254::Fr;
use ark_std::UniformRand;
use rand::rngs::OsRng;
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkmeter_circuits::{CircuitShape, MeterCircuit, ProofFile, RecordError, StreamId, build_epoch, keys};
use zkmeter_engine::{AnyProver, BackendKind};

use crate::DEFAULT_SLOTS;
use crate::key_store::KeyStore;
use crate::progress::spinner;
use crate::records_file;
use crate::simulate::default_capacity;

/// Arguments of `zkmeter prove`.
#[derive(clap::Args)]
pub struct Args {
    /// Records file (JSON lines, as `zkmeter simulate` writes).
    #[arg(long)]
    input: PathBuf,
    /// Stream to prove, as 0x<meter address>/<job id> (needed when the file has several).
    #[arg(long)]
    stream: Option<StreamId>,
    /// The stream's previous proof file: this epoch continues from its new state.
    /// Without it the epoch starts at the stream's genesis.
    #[arg(long)]
    after: Option<PathBuf>,
    /// Without --after: when the stream's job was opened (Unix ms; on chain, the
    /// opening block's time × 1000, as `zkmeter chain status` shows it), where the
    /// stream starts. Default: the start of its first record.
    #[arg(long, conflicts_with = "after")]
    opened_ms: Option<u64>,
    /// Record slots of the keys to use (N).
    #[arg(long, default_value_t = DEFAULT_SLOTS)]
    records: u32,
    /// Prove at most this many of the remaining records (default: all, which must fit N).
    #[arg(long)]
    limit: Option<usize>,
    /// Capacity override, CLASS=UNITS_PER_MS (repeatable); defaults to the simulator's
    /// capacities, or to the previous proof's with --after.
    #[arg(long)]
    capacity: Vec<String>,
    /// Where to write the proof file (default: <data dir>/proofs/…).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Prover backend: auto (the GPU when this build has CUDA and a GPU answers,
    /// else the CPU), cpu or cuda.
    #[arg(long, default_value = "auto")]
    backend: BackendKind,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let slots = super::check_slots(args.records)?;
    let streams = records_file::read(&args.input)?;
    let stream = match args.stream {
        Some(id) => id,
        None if streams.len() == 1 => *streams.keys().next().expect("one stream"),
        None => bail!(
            "{} holds {} streams: choose one with --stream (e.g. --stream {})",
            args.input.display(),
            streams.len(),
            streams.keys().next().expect("non-empty")
        ),
    };
    let records = streams.get(&stream).with_context(|| format!("{} has no records for stream {stream}", args.input.display()))?;

    let (prev, base_capacity) = match &args.after {
        Some(path) => {
            let previous = ProofFile::read(path)?;
            if previous.statement.stream != stream {
                bail!("{} is a proof for stream {}, not {stream}", path.display(), previous.statement.stream);
            }
            (previous.statement.new, previous.statement.capacity)
        }
        None => {
            let first = records.first().map_or(0, |r| r.start_ms);
            (stream.genesis(args.opened_ms.unwrap_or(first)), default_capacity())
        }
    };
    let capacity = super::apply_capacity(base_capacity, &args.capacity)?;
    let remaining: Vec<_> = records.iter().copied().filter(|r| r.seq > prev.seq).collect();
    if remaining.is_empty() {
        bail!("stream {stream} has no records after seq {} in {}", prev.seq, args.input.display());
    }
    let take = args.limit.unwrap_or(remaining.len()).min(remaining.len());
    if take > slots as usize {
        return Err(RecordError::TooManyRecords { records: take, slots: slots as usize })
            .context(format!("use --limit {slots} to prove the first {slots} now and the rest with --after"));
    }
    let (statement, witness) = build_epoch(stream, prev, &remaining[..take], capacity, Fr::rand(&mut OsRng), slots as usize)
        .with_context(|| format!("the records of stream {stream} cannot be proved"))?;

    let progress = spinner(format!("loading the proving key for {slots} record slots"));
    let shape = CircuitShape::meter(slots);
    let pk = keys::load_proving_key(&KeyStore::new(data_dir).paths(slots).0, &shape)?;
    let prover = AnyProver::new(args.backend, pk, (&shape).into())?;
    progress.set_message(format!("proving {take} records ({} constraints) on the {}", shape.num_constraints, prover.backend_name()));
    let started = Instant::now();
    let proof = prover.prove_verified(MeterCircuit::assigned(statement.instance(), witness), &mut OsRng)?;
    let elapsed = started.elapsed();
    progress.finish_and_clear();

    let file = ProofFile { key: shape.header.clone(), statement, proof };
    let out = args.out.unwrap_or_else(|| {
        data_dir.join("proofs").join(format!(
            "{}-{}-{}-{}.proof.json",
            hex::encode(&stream.meter[..4]),
            stream.job_id,
            prev.seq + 1,
            statement.new.seq
        ))
    });
    file.write(&out)?;
    println!("proved {} in {:.2} s on the {}", super::describe(&file), elapsed.as_secs_f64(), prover.backend_name());
    println!("wrote {}", out.display());
    if take < remaining.len() {
        println!("{} records remain: prove them with --after {}", remaining.len() - take, out.display());
    }
    Ok(())
}
