//! `zkmeter workload`: prove that a quantised matmul or MLP inference gave its
//! output, billed by its multiply-accumulates (see `zkmeter_circuits::workload`).

use anyhow::{Context, Result, bail};
use rand::rngs::OsRng;
use std::path::{Path, PathBuf};
use std::time::Instant;
use zkmeter_circuits::workload::{Matrix, Method, Model, Plan, WorkloadCircuit, WorkloadShape, execute};
use zkmeter_circuits::{CircuitShape, WorkloadProofFile, field_hex, keys, snarkjs};
use zkmeter_engine::{AnyProver, BackendKind};
use zkmeter_verifier::Verifier;

use crate::key_store::KeyStore;
use crate::progress::spinner;

/// Arguments of `zkmeter workload`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Make the Groth16 keys of the workload circuit of a model at a number of input rows (single-party: development only).
    Setup(SetupArgs),
    /// Run a model on an input, prove the output with the keys `workload setup` made, and write a proof file.
    Run(RunArgs),
    /// Verify a workload proof file.
    Verify(VerifyArgs),
    /// Export a workload proof for snarkjs: verification_key.json, proof.json, public.json.
    Export(ExportArgs),
}

/// How each layer's product is checked (the circuit, and so its keys, differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlanChoice {
    /// Per layer whichever costs fewer constraints.
    Auto,
    /// Every multiply-accumulate in the circuit.
    Direct,
    /// Freivalds' check with a challenge hashed in the circuit.
    Freivalds,
}

impl PlanChoice {
    pub(crate) fn plan(self, shape: WorkloadShape) -> Plan {
        let layers = shape.layers().len();
        match self {
            PlanChoice::Auto => Plan::auto(shape),
            PlanChoice::Direct => Plan::with_methods(shape, vec![Method::Direct; layers]),
            PlanChoice::Freivalds => Plan::with_methods(shape, vec![Method::Freivalds; layers]),
        }
    }

    fn name(self) -> &'static str {
        match self {
            PlanChoice::Auto => "auto",
            PlanChoice::Direct => "direct",
            PlanChoice::Freivalds => "freivalds",
        }
    }
}

#[derive(clap::Args)]
struct SetupArgs {
    /// Model file (the format in `circuits/src/workload/model.rs`).
    #[arg(long)]
    model: PathBuf,
    /// Rows of the inputs the keys will prove (a circuit is made for one shape).
    #[arg(long)]
    rows: usize,
    /// Per-layer method.
    #[arg(long, value_enum, default_value_t = PlanChoice::Auto)]
    plan: PlanChoice,
    /// Replace keys that already exist.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Model file.
    #[arg(long)]
    model: PathBuf,
    /// Input file (an int8 matrix; its rows pick the circuit).
    #[arg(long)]
    input: PathBuf,
    /// Job the work is billed to (bound into the proof).
    #[arg(long)]
    job: u64,
    /// Where to write the proof file.
    #[arg(long)]
    out: PathBuf,
    /// Per-layer method: the one the keys were made with.
    #[arg(long, value_enum, default_value_t = PlanChoice::Auto)]
    plan: PlanChoice,
    /// Prover backend: auto (the GPU when this build has CUDA and a GPU answers,
    /// else the CPU), cpu or cuda.
    #[arg(long, default_value = "auto")]
    backend: BackendKind,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// Workload proof file.
    proof: PathBuf,
    /// Verifying key (default: the data directory's key for the proof's circuit).
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Workload proof file.
    #[arg(long)]
    proof: PathBuf,
    /// Verifying key (default: the data directory's key for the proof's circuit).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Directory for verification_key.json, proof.json and public.json.
    #[arg(long)]
    dir: PathBuf,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let store = KeyStore::new(data_dir);
    match args.command {
        Command::Setup(args) => setup(&store, args),
        Command::Run(args) => prove(&store, args),
        Command::Verify(args) => verify(&store, args),
        Command::Export(args) => export(&store, args),
    }
}

pub(crate) fn read_model(path: &Path) -> Result<Model> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the model file {}", path.display()))?;
    Model::parse(&bytes).with_context(|| format!("{} is not a usable model file", path.display()))
}

pub(crate) fn read_input(path: &Path) -> Result<Matrix<i8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the input file {}", path.display()))?;
    Matrix::parse(&bytes).with_context(|| format!("{} is not a usable input file", path.display()))
}

fn setup(store: &KeyStore, args: SetupArgs) -> Result<()> {
    let model = read_model(&args.model)?;
    let shape = model.shape(args.rows).context("--rows does not fit the limits")?;
    let plan = args.plan.plan(shape);
    let circuit = plan.circuit_id();
    keys::check_circuit_id(&circuit)?;
    let (pk_path, vk_path) = store.workload_paths(&plan);
    let progress = spinner(format!("synthesizing workload circuit {circuit}"));
    let shape = CircuitShape::workload(&plan);
    if !args.force
        && pk_path.exists()
        && let Ok((header, _)) = keys::load_verifying_key(&vk_path)
        && header == shape.header
    {
        progress.finish_and_clear();
        println!("keys for {circuit} already exist in {} (use --force to replace them)", store.dir().display());
        return Ok(());
    }
    progress.set_message(format!("generating Groth16 keys for {} constraints", shape.num_constraints));
    let started = Instant::now();
    let pk = keys::setup(&shape, &mut OsRng)?;
    progress.set_message("writing keys");
    keys::write_key(&pk_path, keys::KeyKind::Proving, &shape.header, &pk)?;
    keys::write_key(&vk_path, keys::KeyKind::Verifying, &shape.header, &pk.vk)?;
    progress.finish_and_clear();
    let units = plan.shape().work_units();
    println!("made Groth16 keys for the workload circuit in {:.1} s", started.elapsed().as_secs_f64());
    println!("  circuit          {circuit}");
    println!("  workload         {}", plan.shape());
    println!("  work units       {units} multiply-accumulates");
    println!("  constraints      {} ({:.2} per multiply-accumulate)", shape.num_constraints, shape.num_constraints as f64 / units as f64);
    println!("  public inputs    {}", zkmeter_circuits::workload::WORKLOAD_PUBLIC_INPUTS);
    println!("  circuit digest   {}", shape.header.digest_hex());
    println!("  proving key      {}", pk_path.display());
    println!("  verifying key    {}", vk_path.display());
    println!("this was a single-party setup: fine for development, production keys need a multi-party ceremony");
    Ok(())
}

fn prove(store: &KeyStore, args: RunArgs) -> Result<()> {
    let model = read_model(&args.model)?;
    let input = read_input(&args.input)?;
    let started = Instant::now();
    let execution = execute(&model, &input)
        .with_context(|| format!("{} cannot run on {}", args.model.display(), args.input.display()))?;
    let ran = started.elapsed();
    let plan = args.plan.plan(execution.shape.clone());
    let (pk_path, _) = store.workload_paths(&plan);
    if !pk_path.exists() {
        bail!(
            "no proving key for workload circuit {} ({}) in {}: run `zkmeter workload setup --model {} --rows {} --plan {}` first",
            plan.circuit_id(),
            plan.shape(),
            store.dir().display(),
            args.model.display(),
            input.rows,
            args.plan.name()
        );
    }
    let progress = spinner(format!("loading the proving key of {}", plan.circuit_id()));
    let shape = CircuitShape::workload(&plan);
    let pk = keys::load_proving_key(&pk_path, &shape)?;
    let prover = AnyProver::new(args.backend, pk, (&shape).into())?;
    progress.set_message(format!("proving {} constraints on the {}", shape.num_constraints, prover.backend_name()));
    let statement = execution.statement(args.job);
    let started = Instant::now();
    let circuit = WorkloadCircuit::assigned(plan, &statement, execution.witness.clone());
    let proof = prover.prove_verified(circuit, &mut OsRng)?;
    let proved = started.elapsed();
    progress.finish_and_clear();

    let file = WorkloadProofFile { key: shape.header.clone(), statement, output: execution.output, proof };
    file.write(&args.out)?;
    println!(
        "proved job {}: {} multiply-accumulates in {:.2} s on the {} (the workload itself took {:.3} ms)",
        args.job,
        statement.work_units,
        proved.as_secs_f64(),
        prover.backend_name(),
        ran.as_secs_f64() * 1e3
    );
    println!("  circuit  {}", file.key.circuit);
    println!("  model    {}", field_hex::to_hex(&statement.model));
    println!("  input    {}", field_hex::to_hex(&statement.input));
    println!("  output   {}", field_hex::to_hex(&statement.output));
    println!("wrote {}", args.out.display());
    Ok(())
}

/// Reads a workload proof file and the verifying key for it, refusing a key made
/// for another circuit.
fn proof_and_key(
    store: &KeyStore,
    proof: &Path,
    key: Option<&Path>,
) -> Result<(WorkloadProofFile, ark_groth16::VerifyingKey<ark_bn254::Bn254>)> {
    let file = WorkloadProofFile::read(proof)?;
    let vk_path = match key {
        Some(path) => path.to_path_buf(),
        None => {
            let plan: Plan = file.key.circuit.parse()?;
            store.workload_paths(&plan).1
        }
    };
    let (header, vk) =
        keys::load_verifying_key(&vk_path).with_context(|| format!("cannot use verifying key {}", vk_path.display()))?;
    super::verify::check_same_key(proof, &file.key, &vk_path, &header)?;
    Ok((file, vk))
}

fn verify(store: &KeyStore, args: VerifyArgs) -> Result<()> {
    let (file, vk) = proof_and_key(store, &args.proof, args.key.as_deref())?;
    let s = &file.statement;
    if let Err(e) = Verifier::new(&vk).verify(&file.proof, &s.public_inputs()) {
        bail!("{} does not verify: {e}", args.proof.display());
    }
    println!(
        "valid  {}  job {}: {} multiply-accumulates of {}, output {}",
        args.proof.display(),
        s.job_id,
        s.work_units,
        file.key.circuit,
        field_hex::to_hex(&s.output)
    );
    Ok(())
}

fn export(store: &KeyStore, args: ExportArgs) -> Result<()> {
    let (file, vk) = proof_and_key(store, &args.proof, args.key.as_deref())?;
    let inputs = file.statement.public_inputs();
    if let Err(e) = Verifier::new(&vk).verify(&file.proof, &inputs) {
        bail!("{} does not verify ({e}); not exporting it", args.proof.display());
    }
    snarkjs::write_snarkjs_files(&args.dir, &vk, &file.proof, &inputs)?;
    println!("wrote verification_key.json, proof.json and public.json to {}", args.dir.display());
    println!("check them with: snarkjs groth16 verify {0}/verification_key.json {0}/public.json {0}/proof.json", args.dir.display());
    Ok(())
}
