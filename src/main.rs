//! `zkmeter`: set up keys, simulate meters, prove and verify usage epochs and
//! workloads, deploy and inspect the settlement contracts, and run the end-to-end demo. Each subcommand lives in `commands/`; this file only
//! parses the command line.

mod chain_access;
mod commands;
mod exit;
mod key_store;
mod output;
mod progress;
mod records_file;
mod simulate;
mod units;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Default record slots per proof: small enough that setup and proving take
/// seconds on a laptop, large enough for a few minutes of one meter's records.
pub const DEFAULT_SLOTS: u32 = 32;

#[derive(Parser)]
#[command(name = "zkmeter", version, about = "Verifiable metering: prove usage records with Groth16, verify them anywhere")]
struct Cli {
    /// Where keys, proofs and the embedded chain live.
    #[arg(long, global = true, env = "ZKMETER_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Log more (repeat for even more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make the Groth16 proving and verifying keys of the meter circuit (single-party: development only).
    Setup(commands::setup::Args),
    /// Write synthetic meter records as JSON lines.
    Simulate(commands::simulate::Args),
    /// Prove the next epoch of one stream from a records file.
    Prove(commands::prove::Args),
    /// Verify proof files (batched when there are several).
    Verify(commands::verify::Args),
    /// Print a key, proof or records file in human form.
    Inspect(commands::inspect::Args),
    /// Export a proof for other verifiers: snarkjs JSON files.
    Export(commands::export::Args),
    /// Deploy zkmeter on a chain, or show what a chain holds.
    Chain(commands::chain::Args),
    /// Show an account's resource tokens.
    Balance(commands::balance::Args),
    #[command(flatten)]
    Operate(commands::Operate),
    /// Make or show a meter's signing key.
    Keys(commands::keys::Args),
    /// Simulate meters, prove, verify and settle every epoch on the embedded chain.
    Demo(commands::demo::Args),
    /// Prove that a quantised matmul or MLP inference gave its output: setup, run, verify, export.
    Workload(commands::workload::Args),
    /// Production keys: a multi-party phase-2 ceremony (init, contribute, beacon, verify, finalize).
    Ceremony(commands::ceremony::Args),
}

fn default_data_dir() -> PathBuf {
    dirs::data_dir().map_or_else(|| PathBuf::from("zkmeter-data"), |d| d.join("zkmeter"))
}

fn main() -> std::process::ExitCode {
    // Printing to a closed pipe (`zkmeter chain status | head`) ends the process
    // quietly, as for any Unix tool, instead of panicking in `println!`.
    // SAFETY: setting a signal's disposition to the default at start-up, before
    // any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    exit::report(run())
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Setup(args) => commands::setup::run(&data_dir, args),
        Command::Simulate(args) => commands::simulate::run(args),
        Command::Prove(args) => commands::prove::run(&data_dir, args),
        Command::Verify(args) => commands::verify::run(&data_dir, args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Export(args) => commands::export::run(&data_dir, args),
        Command::Chain(args) => commands::chain::run(&data_dir, args),
        Command::Balance(args) => commands::balance::run(&data_dir, args),
        Command::Operate(command) => command.run(&data_dir),
        Command::Keys(args) => commands::keys::run(args),
        Command::Demo(args) => commands::demo::run(&data_dir, args),
        Command::Workload(args) => commands::workload::run(&data_dir, args),
        Command::Ceremony(args) => commands::ceremony::run(&data_dir, args),
    }
}

#[cfg(test)]
mod tests {
    /// Two commands of one name, or a flag defined twice, only show when the
    /// command line is parsed: every command would then panic.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
