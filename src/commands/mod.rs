//! One module per subcommand: each has its `Args` and a `run`.

pub mod balance;
pub mod ceremony;
pub mod chain;
pub mod circuit;
pub mod demo;
pub mod export;
pub mod governance;
pub mod history;
pub mod inspect;
pub mod job;
pub mod keys;
pub mod meter;
pub mod prove;
pub mod settle;
pub mod setup;
pub mod simulate;
pub mod tokens;
pub mod verify;
pub mod work;
pub mod workload;

use anyhow::{Result, bail};
use std::path::Path;
use zkmeter_circuits::{Capacity, ProofFile, ResourceClass};

/// Largest number of record slots `setup` accepts (≈ 620M constraints beyond it).
pub const MAX_SLOTS: u32 = 1 << 20;

/// The commands that operate zkmeter on a chain, by role: on the embedded chain
/// of the data directory, or on any EVM node with `--rpc-url`.
#[derive(clap::Subcommand)]
pub enum Operate {
    /// Meters: a provider registers one (with the meter key's consent); anyone shows one; attestors approve or revoke.
    Meter(meter::Args),
    /// Jobs: a consumer opens, funds, extends them; a provider (or anyone after the grace) closes them; show, list.
    Job(job::Args),
    /// Verified work: the consumer requests a model run on an input in a job.
    Work(work::Args),
    /// Resource tokens: minters issue them, holders transfer them (1 gpu token = 1 GPU-hour).
    Tokens(tokens::Args),
    /// Tariffs: the price of each class and of verified work (governance sets them).
    Tariff(governance::TariffArgs),
    /// The protocol fee (governance sets it).
    Fee(governance::FeeArgs),
    /// The circuits: their size and the powers of tau a ceremony needs, their export
    /// as .r1cs, and the verifiers the settlement contract holds (governance sets them).
    Circuit(governance::CircuitArgs),
    /// Settlement grace, clock skew, whether meters need approval (governance sets them).
    Settings(governance::SettingsArgs),
    /// Roles: the admin grants and revokes governance, attestor, minter, admin.
    Role(governance::RoleArgs),
    /// Settle an epoch's proof file on the chain directly, without the verifier service.
    Settle(settle::Args),
    /// Every settled epoch and piece of work, from the chain's events, with each job's totals.
    History(history::Args),
}

impl Operate {
    /// Runs the command.
    pub fn run(self, data_dir: &Path) -> Result<()> {
        match self {
            Operate::Meter(args) => meter::run(data_dir, args),
            Operate::Job(args) => job::run(data_dir, args),
            Operate::Work(args) => work::run(data_dir, args),
            Operate::Tokens(args) => tokens::run(data_dir, args),
            Operate::Tariff(args) => governance::tariff(data_dir, args),
            Operate::Fee(args) => governance::fee(data_dir, args),
            Operate::Circuit(args) => governance::circuit(data_dir, args),
            Operate::Settings(args) => governance::settings(data_dir, args),
            Operate::Role(args) => governance::role(data_dir, args),
            Operate::Settle(args) => settle::run(data_dir, args),
            Operate::History(args) => history::run(data_dir, args),
        }
    }
}

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
