//! `zkmeter-prover`: the provider's daemon. Reads its TOML configuration (see
//! `zkmeter_prover::config`), meters every configured stream, proves its epochs
//! and submits them to the verifier service until SIGINT or SIGTERM. It exits
//! non-zero when a stream log cannot be written, so that its supervisor restarts
//! it from the logs.

use anyhow::{Context, Result};
use clap::Parser;
use std::path::PathBuf;
use zkmeter_prover::config::Config;
use zkmeter_prover::daemon::{self, RunOptions, Status};

#[derive(Parser)]
#[command(name = "zkmeter-prover", version, about = "zkmeter's prover daemon: meter usage, prove every epoch, submit it for settlement")]
struct Args {
    /// The configuration file (TOML).
    #[arg(long, env = "ZKMETER_PROVER_CONFIG")]
    config: PathBuf,
    /// Override the config's prover backend: auto, cpu or cuda.
    #[arg(long)]
    backend: Option<String>,
    /// Exit once every stream has stopped metering and every epoch is settled
    /// (for replayed or limited meters).
    #[arg(long)]
    exit_when_settled: bool,
    /// Log more (repeat for even more).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let filter = match args.verbose {
        0 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut config = Config::load(&args.config)?;
    if let Some(backend) = args.backend {
        config.backend = backend.parse().context("--backend")?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        // Installed before the key loads (which takes a while for large keys), so a
        // SIGTERM then is a clean stop too, not death by the signal.
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot install the SIGINT handler")?;
        let shutdown = async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = term.recv() => {}
            }
        };
        let options = RunOptions { exit_when_settled: args.exit_when_settled };
        daemon::run(config, options, Status::default(), shutdown).await.map_err(anyhow::Error::from)
    })?;
    Ok(())
}
