//! The service's configuration: a TOML file (`--config`), each setting
//! overridable by a flag or an environment variable, with defaults that run a
//! local verifier on the embedded chain of a data directory.
//!
//! ```toml
//! listen = "127.0.0.1:50051"
//! tls_cert = "/etc/zkmeter/verifier.crt"                  # PEM; with tls_key: serve gRPC over TLS
//! tls_key = "/etc/zkmeter/verifier.key"
//! metrics_listen = "127.0.0.1:9464"
//! data_dir = "/var/lib/zkmeter"
//! database_url = "postgres://zkmeter@127.0.0.1/zkmeter"   # default: SQLite in data_dir
//! verifying_keys = ["/var/lib/zkmeter/keys/meter-32.vk"]  # default: every keys/meter-*.vk
//! work_verifying_keys = ["/var/lib/zkmeter/keys/workload-2-4x3md.vk"]  # default: keys/workload-*.vk the deployment has
//! rpc_url = "http://127.0.0.1:8545"                       # default: the embedded chain
//! private_key_file = "/etc/zkmeter/settler.key"           # or $ZKMETER_PRIVATE_KEY
//! max_batch = 64
//! max_wait_ms = 5
//! max_message_bytes = 1048576
//! request_timeout_ms = 30000
//! concurrency_per_connection = 256
//! retry_initial_ms = 500
//! retry_max_ms = 30000
//! chain_cache_ms = 2000
//! replica = "verifier-a"                                  # default: host name and data directory
//! ```

use anyhow::{Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The environment variable with the settling account's hex private key (JSON-RPC chains).
pub const PRIVATE_KEY_ENV: &str = "ZKMETER_PRIVATE_KEY";

/// Everything the service needs to start.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC address.
    pub listen: SocketAddr,
    /// PEM certificate chain: with `tls_key`, gRPC is served over TLS only.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Prometheus `/metrics` address; none: no metrics endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// The data directory: keys, the embedded chain, the SQLite receipts.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://…`; default: `receipts.db` in the data directory.
    pub database_url: Option<String>,
    /// Verifying key files of the meter circuits to accept; default: every `keys/meter-*.vk`.
    pub verifying_keys: Vec<PathBuf>,
    /// Verifying key files of the workload circuits to accept (SubmitWork); each
    /// must be the key of a workload circuit the deployment has. Default: every
    /// `keys/workload-*.vk` whose circuit the deployment has (others are skipped
    /// with a warning), none if there are none.
    pub work_verifying_keys: Vec<PathBuf>,
    /// A JSON-RPC node to settle on; default: the embedded chain in the data directory.
    pub rpc_url: Option<String>,
    /// The settling account's key file (JSON-RPC only); default: $ZKMETER_PRIVATE_KEY.
    pub private_key_file: Option<PathBuf>,
    /// The chain id the node must have (JSON-RPC only).
    pub chain_id: Option<u64>,
    /// The deployment file; default: as `zkmeter chain deploy` writes it.
    pub deployment: Option<PathBuf>,
    /// Most proofs per verification batch.
    pub max_batch: usize,
    /// Longest a proof waits for a batch to fill, in milliseconds.
    pub max_wait_ms: u64,
    /// Largest gRPC message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Deadline of each request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Requests served at once per connection.
    pub concurrency_per_connection: usize,
    /// First wait before retrying a settlement the chain did not take, in milliseconds.
    pub retry_initial_ms: u64,
    /// Longest wait between settlement retries, in milliseconds.
    pub retry_max_ms: u64,
    /// How long a job read from the chain (meter, capacity, settled state) is
    /// used before it is read again, in milliseconds. While the chain cannot be
    /// read, the last read is used however old.
    pub chain_cache_ms: u64,
    /// This replica's name in the store's settlement claims; one name per live
    /// replica sharing a store (a restarted replica keeps its name and resumes
    /// its claims at once).
    pub replica: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50051".parse().expect("a valid address"),
            tls_cert: None,
            tls_key: None,
            metrics_listen: None,
            data_dir: default_data_dir(),
            database_url: None,
            verifying_keys: Vec::new(),
            work_verifying_keys: Vec::new(),
            rpc_url: None,
            private_key_file: None,
            chain_id: None,
            deployment: None,
            max_batch: 64,
            max_wait_ms: 5,
            // A submission is about 700 bytes; SubmitProofs carries up to 1024.
            max_message_bytes: 1 << 20,
            request_timeout_ms: 30_000,
            concurrency_per_connection: 256,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
            chain_cache_ms: 2_000,
            replica: None,
        }
    }
}

/// The data directory the `zkmeter` command line uses too.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().map_or_else(|| PathBuf::from("zkmeter-data"), |d| d.join("zkmeter"))
}

impl Config {
    /// Reads a TOML file; settings it leaves out keep their defaults.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a valid verifier config", path.display()))
    }

    /// The receipt database URL.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("receipts.db").display()))
    }

    /// The meter verifying key files to load.
    pub fn verifying_key_files(&self) -> Result<Vec<PathBuf>> {
        if !self.verifying_keys.is_empty() {
            return Ok(self.verifying_keys.clone());
        }
        let dir = self.data_dir.join("keys");
        let found = self.key_files("meter-")?;
        anyhow::ensure!(!found.is_empty(), "no meter-*.vk files in {}: run `zkmeter setup` or set verifying_keys", dir.display());
        Ok(found)
    }

    /// The workload verifying key files to load, and whether they were
    /// configured (rather than found in `keys/`, where a key the deployment
    /// lacks is skipped instead of stopping the service).
    pub fn work_verifying_key_files(&self) -> Result<(Vec<PathBuf>, bool)> {
        if !self.work_verifying_keys.is_empty() {
            return Ok((self.work_verifying_keys.clone(), true));
        }
        // Meter keys may be configured elsewhere: no key directory, no workload keys.
        if !self.data_dir.join("keys").is_dir() {
            return Ok((Vec::new(), false));
        }
        Ok((self.key_files("workload-")?, false))
    }

    /// The `PREFIX*.vk` files in `keys/`, sorted.
    fn key_files(&self, prefix: &str) -> Result<Vec<PathBuf>> {
        let dir = self.data_dir.join("keys");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("no keys in {}: run `zkmeter setup` or set verifying_keys", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "vk")
                    && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix))
            })
            .collect();
        found.sort();
        Ok(found)
    }

    /// The replica name: as configured, else the host name and the data
    /// directory (stable across restarts, distinct for replicas on one host).
    pub fn replica_name(&self) -> String {
        self.replica.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into());
            format!("{}:{}", host.trim(), self.data_dir.display())
        })
    }

    /// The TLS identity (certificate chain and key) to serve with, if configured.
    pub fn tls_identity(&self) -> Result<Option<tonic::transport::Identity>> {
        let read = |what: &str, path: &Path| {
            std::fs::read(path).with_context(|| format!("cannot read the TLS {what} {}", path.display()))
        };
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(tonic::transport::Identity::from_pem(read("certificate", cert)?, read("key", key)?))),
            _ => anyhow::bail!("TLS needs both tls_cert and tls_key (PEM files); set both, or neither to serve plaintext"),
        }
    }

    /// The deployment file.
    pub fn deployment_file(&self, chain_id: u64) -> PathBuf {
        self.deployment.clone().unwrap_or_else(|| match self.rpc_url {
            None => self.data_dir.join("chain").join(zkmeter_contracts::DEPLOYMENT_FILE),
            Some(_) => self.data_dir.join("deployments").join(format!("chain-{chain_id}.json")),
        })
    }
}
