//! `zkmeter-verifier`: the gRPC verifier service. Settings come from a TOML file
//! (`--config`), then flags and environment variables; see
//! [`zkmeter_service::config`] for the file's keys and the defaults.

use anyhow::Result;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use zkmeter_service::config::Config;

#[derive(Parser)]
#[command(name = "zkmeter-verifier", version, about = "zkmeter's gRPC verifier service: check proofs, keep receipts, settle on chain")]
struct Args {
    /// A TOML config file; flags override what it says.
    #[arg(long, env = "ZKMETER_VERIFIER_CONFIG")]
    config: Option<PathBuf>,
    /// gRPC address (port 0: any free port; the address is printed).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Serve gRPC over TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "ZKMETER_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "ZKMETER_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Serve the web explorer at http://ADDR/ (read-only; keep it on loopback, or
    /// behind a proxy, unless the chain's usage is meant to be public).
    #[arg(long, env = "ZKMETER_EXPLORER_LISTEN")]
    explorer_listen: Option<SocketAddr>,
    /// Data directory: keys, the embedded chain, SQLite receipts.
    #[arg(long, env = "ZKMETER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Receipt database: sqlite:PATH or postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, env = "ZKMETER_DATABASE_URL")]
    database_url: Option<String>,
    /// Verifying key of a meter circuit to accept (repeat for several).
    #[arg(long = "verifying-key")]
    verifying_keys: Vec<PathBuf>,
    /// Verifying key of a workload circuit to accept (repeat for several).
    #[arg(long = "work-verifying-key")]
    work_verifying_keys: Vec<PathBuf>,
    /// Settle on this JSON-RPC node instead of the embedded chain.
    #[arg(long, env = "ZKMETER_RPC_URL")]
    rpc_url: Option<String>,
    /// Key file of the account that sends settlements (JSON-RPC); else $ZKMETER_PRIVATE_KEY.
    #[arg(long)]
    private_key_file: Option<PathBuf>,
    /// Refuse a node on another chain.
    #[arg(long)]
    chain_id: Option<u64>,
    /// Deployment file.
    #[arg(long)]
    deployment: Option<PathBuf>,
    /// This replica's name in settlement claims (default: host name and data directory).
    #[arg(long, env = "ZKMETER_REPLICA")]
    replica: Option<String>,
    /// Most proofs per verification batch.
    #[arg(long)]
    max_batch: Option<usize>,
    /// Longest a proof waits for its batch to fill, in milliseconds.
    #[arg(long)]
    max_wait_ms: Option<u64>,
}

impl Args {
    fn config(self) -> Result<Config> {
        let mut c = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { c.$field = v; } )* };
        }
        macro_rules! set_some {
            ($($field:ident),*) => { $( if self.$field.is_some() { c.$field = self.$field; } )* };
        }
        set!(listen, data_dir, max_batch, max_wait_ms);
        set_some!(tls_cert, tls_key, replica, metrics_listen, explorer_listen, database_url, rpc_url, private_key_file, chain_id, deployment);
        if !self.verifying_keys.is_empty() {
            c.verifying_keys = self.verifying_keys;
        }
        if !self.work_verifying_keys.is_empty() {
            c.work_verifying_keys = self.work_verifying_keys;
        }
        Ok(c)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = Args::parse().config()?;
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down: finishing requests in flight");
    };
    zkmeter_service::server::serve(
        config,
        |bound| {
            // Tests and scripts read this line to find a port chosen by the OS.
            println!("listening on {}", bound.grpc);
            if let Some(m) = bound.metrics {
                println!("metrics on http://{m}/metrics");
            }
            if let Some(e) = bound.explorer {
                println!("explorer on http://{e}/");
            }
        },
        shutdown,
    )
    .await
}
