//! The service's configuration: a TOML file (`--config`), each setting
//! overridable by a flag or an environment variable, with defaults that run a
//! local verifier on the embedded chain of a data directory.
//!
//! ```toml
//! listen = "127.0.0.1:50051"
//! tls_cert = "/etc/zkmeter/verifier.crt"                  # PEM; with tls_key: serve gRPC over TLS
//! tls_key = "/etc/zkmeter/verifier.key"
//! metrics_listen = "127.0.0.1:9464"
//! explorer_listen = "127.0.0.1:8780"                      # the web explorer; default: off
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
//! max_connections = 1024                                  # keep below `ulimit -n`
//! max_connections_per_peer = 256
//! idle_timeout_ms = 120000                                # longer than request_timeout_ms
//! bad_proof_burst = 32                                    # invalid proofs a peer may send at once
//! bad_proofs_per_minute = 60                              # and then each minute
//! max_unsettled = 100000                                  # receipts waiting for the chain before submissions are refused
//! retry_initial_ms = 500
//! retry_max_ms = 30000
//! chain_cache_ms = 2000
//! replica = "verifier-a"                                  # default: host name, data directory and listen address
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
    /// The web explorer's address (read-only pages and JSON over the chain and
    /// the receipts); none: no explorer.
    pub explorer_listen: Option<SocketAddr>,
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
    /// gRPC connections open at once; beyond it new clients wait. Keep it below
    /// the process's file descriptor limit (`ulimit -n`).
    pub max_connections: usize,
    /// gRPC connections open at once from one IP address; more are closed at once.
    pub max_connections_per_peer: usize,
    /// A gRPC connection with no traffic for this long is closed, in milliseconds
    /// (clients reconnect when they next call). Longer than `request_timeout_ms`.
    pub idle_timeout_ms: u64,
    /// Invalid proofs one IP address may send at once before its submissions
    /// are refused (RESOURCE_EXHAUSTED) until its budget refills.
    pub bad_proof_burst: u32,
    /// Invalid proofs one IP address may send each minute beyond the burst.
    pub bad_proofs_per_minute: u32,
    /// Receipts waiting for settlement (verified, not yet settled) beyond which
    /// new submissions are refused (RESOURCE_EXHAUSTED) until the chain catches up.
    pub max_unsettled: u64,
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
            explorer_listen: None,
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
            max_connections: 1024,
            max_connections_per_peer: 256,
            idle_timeout_ms: 120_000,
            bad_proof_burst: 32,
            bad_proofs_per_minute: 60,
            // About 1 KB of database each.
            max_unsettled: 100_000,
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

    /// The replica name: as configured, else the host name, the data directory
    /// and the gRPC address (stable across restarts; distinct for replicas on
    /// one host, which cannot listen on one address, even when they share a
    /// data directory).
    pub fn replica_name(&self) -> String {
        self.replica.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "localhost".into());
            format!("{}:{}@{}", host.trim(), self.data_dir.display(), self.listen)
        })
    }

    /// The bounds on gRPC connections.
    pub fn connection_limits(&self) -> Result<crate::connections::Limits> {
        anyhow::ensure!(
            self.max_connections > 0 && self.max_connections_per_peer > 0,
            "max_connections and max_connections_per_peer must be at least 1"
        );
        anyhow::ensure!(
            self.idle_timeout_ms > self.request_timeout_ms,
            "idle_timeout_ms ({}) must be longer than request_timeout_ms ({}): a connection waiting for its answer would \
             be closed as idle",
            self.idle_timeout_ms,
            self.request_timeout_ms
        );
        Ok(crate::connections::Limits {
            max_connections: self.max_connections,
            max_connections_per_peer: self.max_connections_per_peer,
            idle_timeout: std::time::Duration::from_millis(self.idle_timeout_ms),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_on_one_host_and_data_directory_get_distinct_names() {
        let a = Config { listen: "127.0.0.1:50051".parse().unwrap(), ..Config::default() };
        let b = Config { listen: "127.0.0.1:50052".parse().unwrap(), ..Config::default() };
        assert_ne!(a.replica_name(), b.replica_name());
        assert_eq!(a.replica_name(), a.clone().replica_name(), "the same configuration, the same name");
        let named = Config { replica: Some("verifier-a".into()), ..a };
        assert_eq!(named.replica_name(), "verifier-a");
    }
}
