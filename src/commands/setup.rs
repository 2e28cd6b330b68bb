//! `zkmeter setup`: make the keys.

use anyhow::Result;
use std::path::Path;
use std::time::Instant;
use zkmeter_circuits::CircuitShape;

use crate::DEFAULT_SLOTS;
use crate::key_store::KeyStore;

/// Arguments of `zkmeter setup`.
#[derive(clap::Args)]
pub struct Args {
    /// Record slots per proof (N): the most records one proof can hold.
    #[arg(long, default_value_t = DEFAULT_SLOTS)]
    records: u32,
    /// Replace keys that already exist.
    #[arg(long)]
    force: bool,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let slots = super::check_slots(args.records)?;
    let store = KeyStore::new(data_dir);
    let (pk_path, vk_path) = store.paths(slots);
    if !args.force
        && pk_path.exists()
        && let Ok((_, header, _)) = store.verifying_key(None, slots)
        && header == CircuitShape::meter(slots).header
    {
        println!("keys for {slots} record slots already exist in {} (use --force to replace them)", pk_path.parent().unwrap_or(&pk_path).display());
        return Ok(());
    }
    let started = Instant::now();
    let prover = store.setup(slots)?;
    let shape = prover.shape();
    println!("made Groth16 keys for the meter circuit in {:.1} s", started.elapsed().as_secs_f64());
    println!("  record slots     {slots}");
    println!("  constraints      {} ({} per record slot)", shape.num_constraints, zkmeter_circuits::meter_circuit::CONSTRAINTS_PER_SLOT);
    println!("  public inputs    {}", zkmeter_circuits::PUBLIC_INPUTS);
    println!("  circuit digest   {}", shape.header.digest_hex());
    println!("  proving key      {} ({} MB)", pk_path.display(), file_mb(&pk_path));
    println!("  verifying key    {}", vk_path.display());
    println!("this was a single-party setup: fine for development, production keys need a multi-party ceremony");
    Ok(())
}

fn file_mb(path: &Path) -> String {
    std::fs::metadata(path).map_or_else(|_| "?".into(), |m| format!("{:.1}", m.len() as f64 / 1e6))
}
