//! `zkmeter work request`: the job's consumer asks for a piece of verified work
//! (a model run on an input), so that a proof of it can be billed to the job.

use anyhow::{Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use zkmeter_circuits::field_hex;
use zkmeter_circuits::workload::execute;

use crate::chain_access::{Acting, ChainArgs, SenderArgs};
use crate::commands::meter::json_receipt;
use crate::commands::workload::{PlanChoice, read_input, read_model};
use crate::exit::not_found;
use crate::output::{OutputArgs, fields};

/// Arguments of `zkmeter work`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Request work in a job: MODEL run on INPUT with the workload circuit of
    /// their shape (the consumer's call); only requested work is billed.
    Request(RequestArgs),
}

#[derive(clap::Args)]
struct RequestArgs {
    /// The job the work is billed to.
    #[arg(long)]
    job: u64,
    /// The model file.
    #[arg(long)]
    model: PathBuf,
    /// The input file.
    #[arg(long)]
    input: PathBuf,
    /// Per-layer method of the circuit (as `zkmeter workload setup --plan`).
    #[arg(long, value_enum, default_value_t = PlanChoice::Auto)]
    plan: PlanChoice,
    #[command(flatten)]
    sender: SenderArgs,
    #[command(flatten)]
    chain: ChainArgs,
    #[command(flatten)]
    out: OutputArgs,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let Command::Request(args) = args.command;
    let model = read_model(&args.model)?;
    let input = read_input(&args.input)?;
    let execution = execute(&model, &input).with_context(|| format!("{} cannot run on {}", args.model.display(), args.input.display()))?;
    let plan = args.plan.plan(execution.shape.clone());
    let name = plan.circuit_id();
    let mut s = args.chain.session(data_dir, true)?;
    let circuit = s.d.work_circuit(&name).map(|c| c.circuit_id).ok_or_else(|| {
        not_found(format!(
            "{} has no workload circuit {name}: its keys are made with `zkmeter workload setup` and its verifier deployed by the deployer",
            s.target.deployment_path.display()
        ))
    })?;
    s.job(args.job)?;
    let consumer = s.sender(&args.sender, Acting::Consumer)?;
    let d = s.d.clone();
    let (m, i) = (model.commitment(), input.commitment());
    let receipt = d.request_work(s.chain(), consumer, args.job, circuit, m, i)?;
    let units = execution.shape.work_units();
    args.out.emit(
        json!({
            "job": args.job, "circuit": name, "circuit_id": circuit.to_string(),
            "model": field_hex::to_hex(&m), "input": field_hex::to_hex(&i), "work_units": units, "tx": json_receipt(&receipt),
        }),
        || {
            println!("requested work in job {}: {units} multiply-accumulates", args.job);
            fields(&[
                ("circuit", name.clone()),
                ("model", field_hex::to_hex(&m)),
                ("input", field_hex::to_hex(&i)),
                ("tx", format!("{} (block {})", receipt.tx_hash, receipt.block_number)),
            ]);
        },
    );
    Ok(())
}
