//! One module per subcommand: each has its `Args` and a `run`.

pub mod balance;
pub mod chain;
pub mod demo;
pub mod export;
pub mod inspect;
pub mod keys;
pub mod prove;
pub mod setup;
pub mod simulate;
pub mod verify;
pub mod workload;

use anyhow::{Result, bail};
use zkmeter_circuits::{Capacity, ProofFile, ResourceClass};

/// Largest number of record slots `setup` accepts (≈ 620M constraints beyond it).
pub const MAX_SLOTS: u32 = 1 << 20;

/// Checks a `--records N` value.
pub fn check_slots(slots: u32) -> Result<u32> {
    if slots == 0 || slots > MAX_SLOTS {
        bail!("--records must be between 1 and {MAX_SLOTS}, got {slots}");
    }
    Ok(slots)
}

/// Applies `class=value` overrides (e.g. `gpu=4`) to a capacity.
pub fn apply_capacity(mut capacity: Capacity, overrides: &[String]) -> Result<Capacity> {
    for spec in overrides {
        let Some((class, value)) = spec.split_once('=') else {
            bail!("--capacity {spec:?}: write it as CLASS=UNITS_PER_MS, e.g. gpu=8");
        };
        let class: ResourceClass = class.trim().parse()?;
        let value: u64 = value.trim().parse().map_err(|_| anyhow::anyhow!("--capacity {spec:?}: {value:?} is not a whole number"))?;
        capacity.set(class, value);
    }
    Ok(capacity)
}

/// One line describing what a proof file proves.
pub fn describe(file: &ProofFile) -> String {
    let s = &file.statement;
    let totals: Vec<String> =
        s.totals.iter().filter(|(_, v)| *v > 0).map(|(c, v)| format!("{v} {}", c.unit())).collect();
    format!(
        "stream {} seq {}..={} ({} records, {} ms .. {} ms): {}",
        s.stream,
        s.prev.seq + 1,
        s.new.seq,
        s.record_count,
        s.prev.end_ms,
        s.new.end_ms,
        if totals.is_empty() { "nothing used".to_owned() } else { totals.join(", ") }
    )
}
