//! `zkmeter ceremony`: phase 2 of a multi-party trusted setup over a public
//! powers-of-tau file, on snarkjs's `.zkey` transcripts (see zkmeter-ceremony).
//! Every step can also be done with snarkjs (`snarkjs zkey new / contribute /
//! beacon / verify`); the two interleave in one transcript.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zkmeter_ceremony::phase2_beacon::{ITERATIONS_EXP, parse_beacon};
use zkmeter_ceremony::phase2_contribute::Contributed;
use zkmeter_ceremony::phase2_finalize::write_keys;
use zkmeter_ceremony::zkey_file::{Contribution, ContributionKind};
use zkmeter_ceremony::{CircomR1cs, Entropy, Progress, PtauFile, Verified};

use super::circuit::{Circuit, CircuitArgs};
use crate::key_store::KeyStore;

/// Arguments of `zkmeter ceremony`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Start a transcript: the circuit's initial parameters from a powers-of-tau file (as `snarkjs zkey new`).
    Init(InitArgs),
    /// Add your contribution to a transcript (as `snarkjs zkey contribute`); prints the hash to publish.
    Contribute(ContributeArgs),
    /// Close a transcript with public randomness, e.g. a future block hash (as `snarkjs zkey beacon`).
    Beacon(BeaconArgs),
    /// Check a whole transcript against the circuit and the powers of tau (as `snarkjs zkey verify`).
    Verify(VerifyArgs),
    /// Verify a transcript and write zkmeter's proving and verifying keys from it, marked as ceremony keys.
    Finalize(FinalizeArgs),
}

/// The powers-of-tau file and, optionally, its published hash.
#[derive(clap::Args)]
struct PtauArgs {
    /// A prepared .ptau file (e.g. powersOfTau28_hez_final_K.ptau).
    #[arg(long)]
    ptau: PathBuf,
    /// Its published BLAKE2b-512 hash (hex): the file is refused if its hash differs.
    #[arg(long)]
    ptau_hash: Option<String>,
}

impl PtauArgs {
    /// Opens the file, prints its hash, and checks it against --ptau-hash.
    fn open(&self) -> Result<PtauFile> {
        let ptau = PtauFile::open(&self.ptau)?;
        let hash = match &self.ptau_hash {
            Some(expected) => ptau.check_hash(expected, &Bars::new())?,
            None => ptau.blake2b(&Bars::new())?,
        };
        println!("powers of tau  {} (power {}, cut from a 2^{} ceremony)", self.ptau.display(), ptau.power, ptau.ceremony_power);
        println!("  BLAKE2b-512  {}", hex::encode(hash));
        if self.ptau_hash.is_some() {
            println!("  matches the published hash given with --ptau-hash");
        } else {
            println!("  compare it with the hash published for this file, or pass it as --ptau-hash");
        }
        Ok(ptau)
    }
}

#[derive(clap::Args)]
struct InitArgs {
    #[command(flatten)]
    circuit: CircuitArgs,
    #[command(flatten)]
    ptau: PtauArgs,
    /// The initial transcript to write (e.g. c0.zkey).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct ContributeArgs {
    /// The transcript to contribute to.
    input: PathBuf,
    /// The transcript to write, with your contribution added.
    #[arg(long)]
    out: PathBuf,
    /// Your name, recorded in the transcript (at most 64 characters).
    #[arg(long)]
    name: Option<String>,
    /// Text mixed into the operating system's randomness. Without it you are asked
    /// to type some when stdin is a terminal (Enter alone skips).
    #[arg(long)]
    entropy: Option<String>,
}

#[derive(clap::Args)]
struct BeaconArgs {
    /// The transcript to close.
    input: PathBuf,
    /// The transcript to write.
    #[arg(long)]
    out: PathBuf,
    /// The beacon value in hex, e.g. the hash of a block announced in advance.
    #[arg(long)]
    hash: String,
    /// How many times to hash it: 2^K, written `2^K` or as the number itself.
    #[arg(long, value_parser = parse_iterations)]
    iterations: u8,
    /// A name for the beacon contribution.
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The transcript to verify.
    input: PathBuf,
    #[command(flatten)]
    circuit: CircuitArgs,
    #[command(flatten)]
    ptau: PtauArgs,
}

#[derive(clap::Args)]
struct FinalizeArgs {
    /// The final transcript (after the beacon).
    input: PathBuf,
    #[command(flatten)]
    circuit: CircuitArgs,
    #[command(flatten)]
    ptau: PtauArgs,
    /// Write the keys here instead of the data directory's keys/ folder.
    #[arg(long)]
    keys_dir: Option<PathBuf>,
}

/// `2^K` or a power of two → K.
fn parse_iterations(s: &str) -> Result<u8, String> {
    let exp = match s.strip_prefix("2^") {
        Some(k) => k.parse::<u8>().map_err(|_| format!("{s:?}: write 2^K with K a whole number"))?,
        None => {
            let n: u64 = s.parse().map_err(|_| format!("{s:?}: write 2^K or a power of two"))?;
            if !n.is_power_of_two() {
                return Err(format!("{n} is not a power of two: write 2^K"));
            }
            n.trailing_zeros() as u8
        }
    };
    if !ITERATIONS_EXP.contains(&exp) {
        return Err(format!("2^{exp} iterations: use 2^{} to 2^{}", ITERATIONS_EXP.start(), ITERATIONS_EXP.end()));
    }
    Ok(exp)
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    match args.command {
        Command::Init(args) => init(args),
        Command::Contribute(args) => contribute(args),
        Command::Beacon(args) => beacon(args),
        Command::Verify(args) => verify(args),
        Command::Finalize(args) => finalize(data_dir, args),
    }
}

/// The circuit in the form the ceremony works on.
fn circuit_r1cs(args: &CircuitArgs) -> Result<(Circuit, zkmeter_circuits::CircuitShape, CircomR1cs)> {
    let circuit = args.circuit()?;
    let shape = circuit.shape();
    let r1cs = CircomR1cs::from_shape(&shape);
    Ok((circuit, shape, r1cs))
}

fn init(args: InitArgs) -> Result<()> {
    let (circuit, _, r1cs) = circuit_r1cs(&args.circuit)?;
    let ptau = args.ptau.open()?;
    let started = Instant::now();
    let made = zkmeter_ceremony::init(&r1cs, &circuit.describe(), &ptau, &args.out, &Bars::new())?;
    println!("wrote {} in {:.1} s: the initial transcript of {}", args.out.display(), started.elapsed().as_secs_f64(), circuit.describe());
    println!("  constraints  {} (QAP domain 2^{})", made.constraints, made.domain_size.trailing_zeros());
    println!("  circuit hash");
    print_hash(&made.cs_hash);
    println!("next: each contributor runs `zkmeter ceremony contribute` (or `snarkjs zkey contribute`) on the latest transcript");
    Ok(())
}

fn contribute(args: ContributeArgs) -> Result<()> {
    let text = match args.entropy {
        Some(text) => text,
        None if std::io::stdin().is_terminal() => {
            print!("Type some random text (it is mixed with the system's randomness; Enter alone skips): ");
            std::io::stdout().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line
        }
        None => String::new(),
    };
    let started = Instant::now();
    let made = zkmeter_ceremony::contribute(&args.input, &args.out, args.name.as_deref(), &Entropy { text: &text }, &Bars::new())?;
    report_contribution(&args.out, &made, started);
    println!("your secret was only in this process's memory, which is gone when it exits");
    Ok(())
}

fn beacon(args: BeaconArgs) -> Result<()> {
    let value = parse_beacon(&args.hash)?;
    let started = Instant::now();
    let made =
        zkmeter_ceremony::beacon(&args.input, &args.out, args.name.as_deref(), &value, args.iterations, &Bars::new())?;
    report_contribution(&args.out, &made, started);
    println!("beacon value {} hashed 2^{} times: anyone can check this contribution", hex::encode(&value), args.iterations);
    Ok(())
}

fn report_contribution(out: &Path, made: &Contributed, started: Instant) {
    println!(
        "wrote {} in {:.1} s with contribution {}",
        out.display(),
        started.elapsed().as_secs_f64(),
        made.contribution.label(made.index)
    );
    println!("contribution hash (publish it; `ceremony verify` and `snarkjs zkey verify` print it too):");
    print_hash(&made.hash);
}

/// A hash as snarkjs prints it (four lines of four 32-bit words) and on one line.
fn print_hash(hash: &[u8; 64]) {
    for line in hash.chunks(16) {
        let words: Vec<String> = line.chunks(4).map(hex::encode).collect();
        println!("\t\t{}", words.join(" "));
    }
    println!("\t\t({})", hex::encode(hash));
}

fn verify(args: VerifyArgs) -> Result<()> {
    let (circuit, _, r1cs) = circuit_r1cs(&args.circuit)?;
    let ptau = args.ptau.open()?;
    let started = Instant::now();
    let verified = zkmeter_ceremony::verify(&args.input, &r1cs, &circuit.describe(), &ptau, &Bars::new())?;
    print_verified(&args.input, &circuit, &verified, started);
    Ok(())
}

/// What a verified transcript holds: the circuit hash and every contribution's
/// hash in order, for contributors to find theirs.
fn print_verified(input: &Path, circuit: &Circuit, verified: &Verified, started: Instant) {
    println!("{} verifies ({:.1} s): a transcript of {}", input.display(), started.elapsed().as_secs_f64(), circuit.describe());
    println!("  circuit hash");
    print_hash(&verified.cs_hash);
    if verified.contributions.is_empty() {
        println!("  no contributions yet: keys from this transcript would not be safe");
    }
    for (index, (c, hash)) in verified.contributions.iter().enumerate() {
        println!("  contribution {}{}", c.label(index), describe_kind(c));
        print_hash(hash);
    }
    println!("  transcript file BLAKE2b-512 {}", hex::encode(verified.file_hash));
}

fn describe_kind(c: &Contribution) -> String {
    match &c.kind {
        ContributionKind::Random => String::new(),
        ContributionKind::Beacon { hash, iterations_exp } => {
            format!(" (beacon {} hashed 2^{iterations_exp} times)", hex::encode(hash))
        }
    }
}

fn finalize(data_dir: &Path, args: FinalizeArgs) -> Result<()> {
    let (circuit, shape, r1cs) = circuit_r1cs(&args.circuit)?;
    let ptau = args.ptau.open()?;
    let started = Instant::now();
    let keys = zkmeter_ceremony::finalize(&args.input, &r1cs, &circuit.describe(), &ptau, &Bars::new())?;
    print_verified(&args.input, &circuit, &keys.verified, started);
    let contributions = &keys.verified.contributions;
    if contributions.is_empty() {
        bail!("{} has no contributions: its δ is 1 and anyone could forge proofs; run the ceremony first", args.input.display());
    }
    if !contributions.iter().any(|(c, _)| matches!(c.kind, ContributionKind::Random)) {
        bail!(
            "{} has only beacon contributions, whose secrets anyone can recompute: at least one contributor must add their own randomness",
            args.input.display()
        );
    }
    let (mut pk_path, mut vk_path) = circuit.key_paths(&KeyStore::new(data_dir));
    if let Some(dir) = &args.keys_dir {
        pk_path = dir.join(pk_path.file_name().expect("key paths end in a file name"));
        vk_path = dir.join(vk_path.file_name().expect("key paths end in a file name"));
    }
    write_keys(&keys, &shape.header, &pk_path, &vk_path).with_context(|| format!("writing the keys of {}", circuit.describe()))?;
    println!("wrote ceremony keys for {}:", circuit.describe());
    println!("  proving key    {}", pk_path.display());
    println!("  verifying key  {}", vk_path.display());
    println!("  transcript     {} (BLAKE2b-512 {}, recorded in both keys)", args.input.display(), hex::encode(keys.verified.file_hash));
    println!("publish the transcript: anyone can check it with `zkmeter ceremony verify` or `snarkjs zkey verify` before the verifier is deployed");
    Ok(())
}

/// Progress bars on stderr for the ceremony's long steps (hidden when stderr is
/// not a terminal).
struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        Bars { bar: Mutex::new(None) }
    }
}

impl Progress for Bars {
    fn start(&self, step: &str, total: u64) {
        let bar = ProgressBar::new(total).with_message(step.to_owned());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {percent}% [{elapsed}, ~{eta} left]")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Some(old) = self.bar.lock().expect("not poisoned").replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, units: u64) {
        if let Some(bar) = &*self.bar.lock().expect("not poisoned") {
            bar.inc(units);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("not poisoned").take() {
            bar.finish_and_clear();
        }
    }
}
