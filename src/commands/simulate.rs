//! `zkmeter simulate`: synthetic meter records.

use anyhow::Result;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::records_file;
use crate::simulate::{default_capacity, simulate};

/// Arguments of `zkmeter simulate`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of streams (one meter serving one job each).
    #[arg(long, default_value_t = 3)]
    streams: usize,
    /// Records per stream.
    #[arg(long, default_value_t = 40)]
    records: usize,
    /// Output file (JSON lines).
    #[arg(long, default_value = "records.jsonl")]
    out: PathBuf,
    /// Random seed (same seed, same records).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Time of the first record, Unix ms (default: now).
    #[arg(long)]
    start_ms: Option<u64>,
}

pub fn run(args: Args) -> Result<()> {
    let start_ms = args.start_ms.unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    });
    let lines = simulate(args.streams, args.records, start_ms, args.seed, &default_capacity());
    records_file::write(&args.out, &lines)?;
    println!("wrote {} records for {} streams to {}", lines.len(), args.streams, args.out.display());
    for s in 0..args.streams {
        println!("  stream {}", crate::simulate::stream(s));
    }
    Ok(())
}
