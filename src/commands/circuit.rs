//! `zkmeter circuit info` and `zkmeter circuit export`: a circuit's size and the
//! powers of tau it needs, and its export as a circom `.r1cs` file for snarkjs
//! (`snarkjs r1cs info`, `snarkjs groth16 setup`, `snarkjs zkey new`). The
//! verifiers the contract holds (`circuit show|set`) are in [`super::governance`].

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use zkmeter_ceremony::CircomR1cs;
use zkmeter_circuits::CircuitShape;
use zkmeter_circuits::keys;
use zkmeter_circuits::workload::{Plan, WORKLOAD_CIRCUIT_PREFIX};

use crate::key_store::KeyStore;
use crate::progress::spinner;

/// Which circuit: the meter circuit with N record slots, or a workload circuit.
#[derive(clap::Args, Clone, Debug)]
pub struct CircuitArgs {
    /// The meter circuit with this many record slots (same as --circuit meter-N).
    #[arg(long, conflicts_with = "circuit")]
    records: Option<u32>,
    /// `meter-N`, or a workload circuit id as `zkmeter workload setup` prints it
    /// (e.g. zkmeter.workload.v1:2:4x3r4d:3x2q2d).
    #[arg(long)]
    circuit: Option<String>,
}

/// A circuit named on the command line.
#[derive(Clone, Debug)]
pub enum Circuit {
    /// The meter circuit with N record slots.
    Meter(u32),
    /// A workload circuit.
    Workload(Plan),
}

impl CircuitArgs {
    /// The circuit the flags name.
    pub fn circuit(&self) -> Result<Circuit> {
        match (self.records, &self.circuit) {
            (Some(slots), _) => Ok(Circuit::Meter(super::check_slots(slots)?)),
            (None, Some(spec)) => spec.parse(),
            (None, None) => bail!("name the circuit: --records N for the meter circuit, or --circuit <meter-N | workload circuit id>"),
        }
    }
}

impl std::str::FromStr for Circuit {
    type Err = anyhow::Error;

    fn from_str(spec: &str) -> Result<Self> {
        if let Some(n) = spec.strip_prefix("meter-").or_else(|| spec.strip_prefix("meter:")) {
            let slots = n.parse().with_context(|| format!("--circuit {spec:?}: {n:?} is not a number of record slots"))?;
            return Ok(Circuit::Meter(super::check_slots(slots)?));
        }
        if spec.starts_with(WORKLOAD_CIRCUIT_PREFIX) {
            return Ok(Circuit::Workload(spec.parse().with_context(|| format!("--circuit {spec:?}"))?));
        }
        bail!("--circuit {spec:?}: write meter-N for the meter circuit with N record slots, or a workload circuit id starting with {WORKLOAD_CIRCUIT_PREFIX} (as `zkmeter workload setup` prints it)")
    }
}

impl Circuit {
    /// The circuit in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Circuit::Meter(slots) => format!("the meter circuit with {slots} record slots"),
            Circuit::Workload(plan) => format!("workload circuit {}", plan.circuit_id()),
        }
    }

    /// Synthesizes the circuit's constraint matrices (with a spinner: large meter
    /// circuits take seconds).
    pub fn shape(&self) -> CircuitShape {
        let progress = spinner(format!("synthesizing {}", self.describe()));
        let shape = match self {
            Circuit::Meter(slots) => CircuitShape::meter(*slots),
            Circuit::Workload(plan) => CircuitShape::workload(plan),
        };
        progress.finish_and_clear();
        shape
    }

    /// Where the data directory keeps this circuit's proving and verifying keys.
    pub fn key_paths(&self, store: &KeyStore) -> (PathBuf, PathBuf) {
        match self {
            Circuit::Meter(slots) => store.paths(*slots),
            Circuit::Workload(plan) => keys::workload_key_paths(store.dir(), plan),
        }
    }
}

/// Arguments of `zkmeter circuit info`.
#[derive(clap::Args)]
pub struct InfoArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
}

/// Arguments of `zkmeter circuit export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    /// The .r1cs file to write.
    #[arg(long)]
    out: PathBuf,
}

/// `zkmeter circuit info`.
pub fn run_info(args: InfoArgs) -> Result<()> {
    info(&args.circuit.circuit()?)
}

/// `zkmeter circuit export`.
pub fn run_export(args: ExportArgs) -> Result<()> {
    export(&args.circuit.circuit()?, &args.out)
}

fn info(circuit: &Circuit) -> Result<()> {
    let shape = circuit.shape();
    let power = shape.domain_size().trailing_zeros();
    println!("{}", circuit.describe());
    println!("  circuit id       {}", shape.header.circuit);
    println!("  constraints      {}", shape.num_constraints);
    println!("  public inputs    {}", shape.num_instance_variables - 1);
    println!("  wires            {}", shape.num_instance_variables + shape.num_witness_variables);
    println!("  QAP domain       2^{power} (constraints + public inputs + 1, rounded up)");
    let ptau = zkmeter_ceremony::ptau_power_needed(shape.domain_size());
    let why = if ptau > power { " (one above the domain: snarkjs's circuit hash reads one more power from 2^15 on)" } else { "" };
    println!("  powers of tau    power {ptau} or more, e.g. powersOfTau28_hez_final_{ptau}.ptau{why}");
    println!("  circuit digest   {}", shape.header.digest_hex());
    Ok(())
}

fn export(circuit: &Circuit, out: &Path) -> Result<()> {
    let shape = circuit.shape();
    let r1cs = CircomR1cs::from_shape(&shape);
    r1cs.write(out)?;
    println!("wrote {} ({}): {} constraints, {} wires, {} public inputs", out.display(), circuit.describe(), r1cs.constraints.len(), r1cs.n_wires, r1cs.n_public());
    println!("check it with: snarkjs r1cs info {}", out.display());
    Ok(())
}
