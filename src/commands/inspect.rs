//! `zkmeter inspect`: print a key, proof or records file in human form.

use anyhow::Result;
use std::io::Read;
use std::path::PathBuf;
use zkmeter_circuits::keys::{self, KeyKind};
use zkmeter_circuits::workload::Plan;
use zkmeter_circuits::{CircuitShape, KeyError, PerClass, ProofFile};

use crate::records_file;

/// Arguments of `zkmeter inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// A key file (.pk/.vk), a proof file (.proof.json) or a records file (.jsonl).
    file: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let path = &args.file;
    let mut start = [0u8; 9];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut start))
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    if start[..read].starts_with(b"ZKMKEY") {
        return inspect_key(path, start[8]);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{} is not a zkmeter key, proof or records file ({e})", path.display()))?;
    if serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.get("format").is_some()) {
        return inspect_proof(&ProofFile::read(path)?);
    }
    let streams = records_file::read(path)
        .map_err(|e| anyhow::anyhow!("{} is not a zkmeter key, proof or records file: {e:#}", path.display()))?;
    for (stream, records) in streams {
        let mut totals = PerClass::default();
        for r in &records {
            for (class, v) in r.usage.iter() {
                totals.set(class, totals.get(class).saturating_add(v));
            }
        }
        println!("stream {stream}");
        println!("  records   {} (seq {}..={})", records.len(), records[0].seq, records[records.len() - 1].seq);
        println!("  time      {} ms .. {} ms", records[0].start_ms, records[records.len() - 1].end_ms);
        print_per_class("  totals", &totals);
    }
    Ok(())
}

fn inspect_key(path: &std::path::Path, kind: u8) -> Result<()> {
    let kind = if kind == KeyKind::Proving as u8 { KeyKind::Proving } else { KeyKind::Verifying };
    let (header, body) = keys::read_key_file(path, kind)?;
    println!("{kind}");
    println!("  circuit        {}", header.circuit);
    if !header.is_workload() {
        println!("  record slots   {}", header.slots);
    }
    println!("  digest         {}", header.digest_hex());
    println!("  size           {} bytes", body.len());
    println!("  origin         {}", keys::key_origin(path)?);
    if kind == KeyKind::Verifying {
        let (_, vk) = keys::load_verifying_key(path)?;
        println!("  public inputs  {}", vk.gamma_abc_g1.len() - 1);
    }
    // A workload key's circuit id names its plan, so its circuit can be rebuilt too.
    let (expected, what) = if header.is_workload() {
        let plan: Plan = header.circuit.parse()?;
        (CircuitShape::workload(&plan).header, "workload circuit")
    } else {
        (CircuitShape::meter(header.slots).header, "meter circuit")
    };
    match keys::check_header(path, &header, &expected) {
        Ok(()) => println!("  matches this build's {what}"),
        Err(KeyError::DigestMismatch { .. }) => println!("  made for a different version of the {what} than this build's"),
        Err(e) => println!("  {e}"),
    }
    Ok(())
}

fn inspect_proof(file: &ProofFile) -> Result<()> {
    let s = &file.statement;
    println!("meter proof ({} with {} record slots, digest {})", file.key.circuit, file.key.slots, file.key.digest_hex());
    println!("  stream         {}", s.stream);
    println!("  from           seq {} ending {} ms, head {}", s.prev.seq, s.prev.end_ms, zkmeter_circuits::field_hex::to_hex(&s.prev.head));
    println!("  to             seq {} ending {} ms, head {}", s.new.seq, s.new.end_ms, zkmeter_circuits::field_hex::to_hex(&s.new.head));
    println!("  records        {}", s.record_count);
    print_per_class("  totals", &s.totals);
    println!("  capacity (per ms)");
    for (class, v) in s.capacity.iter() {
        println!("    {class:<8} {v} {}", class.unit());
    }
    println!("  public inputs");
    for x in s.public_inputs() {
        println!("    {}", zkmeter_circuits::field_hex::to_hex(&x));
    }
    Ok(())
}

fn print_per_class(title: &str, values: &PerClass) {
    println!("{title}");
    for (class, v) in values.iter().filter(|(_, v)| *v > 0) {
        println!("    {class:<8} {v} {}", class.unit());
    }
}
