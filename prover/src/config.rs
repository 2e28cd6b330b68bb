//! The daemon's configuration: a TOML file (`zkmeter-prover --config prover.toml`).
//! Everything but the streams has a default that runs against a verifier service
//! on loopback.
//!
//! ```toml
//! data_dir = "/var/lib/zkmeter-prover"        # stream logs (streams/job-<id>.log)
//! keys_dir = "/var/lib/zkmeter/keys"          # default: the zkmeter data directory's keys/
//! slots = 32                                  # record slots N of the proving key (keys/meter-N.pk)
//! verifier_url = "http://127.0.0.1:50051"
//! backend = "auto"                            # auto | cpu | cuda
//! metrics_listen = "127.0.0.1:9465"           # Prometheus /metrics; default: none
//! sample_interval_ms = 1000
//! # chain_id = 31337                          # optional: pin the EIP-712 domain the meter signs in;
//! # settlement = "0x…"                        # default: learned from the verifier service
//!
//! [epoch]
//! max_records = 32                            # close an epoch at this many records (≤ slots) …
//! max_age_ms = 60000                          # … or when its oldest record is this old
//!
//! [proving]
//! nice = 10                                   # CPU priority of proving threads (0 = normal, 19 = lowest)
//! threads = 0                                 # proving threads; 0: one per core
//!
//! [submit]
//! backoff_initial_ms = 200
//! backoff_max_ms = 30000
//! poll_ms = 250
//!
//! [[stream]]
//! job_id = 1
//! key_file = "/etc/zkmeter/meter-1.key"      # `zkmeter keys new --out …`
//! capacity = { cpu = 64 }                     # as registered on chain, per ms of each class
//! meter = { kind = "cpu", cgroup = "/sys/fs/cgroup/job1" }
//! ```

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use zkmeter_circuits::Capacity;
use zkmeter_contracts::Address;
use zkmeter_engine::BackendKind;

use crate::meter::MeterConfig;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path} is not a valid prover config: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said (line, field).
        message: String,
    },
    /// A setting has a value the daemon cannot run with.
    #[error("invalid prover config: {0}")]
    Invalid(String),
}

/// Everything the daemon needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the stream logs live.
    pub data_dir: PathBuf,
    /// Where `meter-N.pk` is; default: `keys/` of the `zkmeter` data directory.
    pub keys_dir: PathBuf,
    /// Record slots N of the proving key.
    pub slots: u32,
    /// The verifier service, `http://host:port` (or `https://`).
    pub verifier_url: String,
    /// Which prover backend: `auto` takes the GPU when there is one.
    #[serde(deserialize_with = "backend_kind")]
    pub backend: BackendKind,
    /// Prometheus `/metrics` address; none: no metrics endpoint.
    pub metrics_listen: Option<SocketAddr>,
    /// How often meters are read, in milliseconds.
    pub sample_interval_ms: u64,
    /// The chain id of the EIP-712 domain; default: the verifier's.
    pub chain_id: Option<u64>,
    /// The settlement contract of the EIP-712 domain; default: the verifier's.
    pub settlement: Option<Address>,
    /// When epochs close.
    pub epoch: EpochPolicy,
    /// How proving shares the machine.
    pub proving: ProvingConfig,
    /// Submission retries.
    pub submit: SubmitConfig,
    /// The streams this daemon meters.
    #[serde(rename = "stream")]
    pub streams: Vec<StreamConfig>,
}

/// An epoch closes at `max_records` records or when its oldest record is
/// `max_age_ms` old, whichever comes first.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpochPolicy {
    /// Records per epoch at most (default and upper bound: the key's slots).
    pub max_records: Option<u32>,
    /// Longest a record waits for its epoch to close, in milliseconds.
    pub max_age_ms: u64,
}

/// How proving shares the machine with the provider's own workloads.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvingConfig {
    /// Nice value of the proving threads (0 normal … 19 lowest): customer
    /// workloads on the same cores go first. GPU work is queued behind the
    /// customer's kernels by the driver whatever this says.
    pub nice: i32,
    /// Proving threads; 0: one per core.
    pub threads: usize,
    /// How long a shutdown waits for the proof in progress before abandoning it
    /// (it is proved again after the restart), in milliseconds.
    pub shutdown_grace_ms: u64,
}

/// Submission retries and receipt polling.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmitConfig {
    /// First wait after a failed submission, in milliseconds (doubles each time).
    pub backoff_initial_ms: u64,
    /// Longest wait between retries, in milliseconds.
    pub backoff_max_ms: u64,
    /// How often an accepted receipt is polled until it is settled, in milliseconds.
    pub poll_ms: u64,
    /// Deadline of each request to the verifier, in milliseconds.
    pub request_timeout_ms: u64,
}

/// One stream: a meter serving a job.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The job on the settlement contract.
    pub job_id: u64,
    /// The meter's key file (`zkmeter keys new`).
    pub key_file: PathBuf,
    /// The capacity the meter is registered with (per ms of each class); a
    /// reading above `capacity × duration` is cut down to it (and counted in
    /// `zkmeter_prover_clamped_records`), since no proof could bill it.
    pub capacity: Capacity,
    /// What to meter.
    pub meter: MeterConfig,
    /// Stop metering after this many records (demos and tests); default: never.
    #[serde(default)]
    pub stop_after_records: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("zkmeter-prover-data"),
            keys_dir: zkmeter_data_dir().join("keys"),
            slots: 32,
            verifier_url: "http://127.0.0.1:50051".into(),
            backend: BackendKind::Auto,
            metrics_listen: None,
            sample_interval_ms: 1000,
            chain_id: None,
            settlement: None,
            epoch: EpochPolicy::default(),
            proving: ProvingConfig::default(),
            submit: SubmitConfig::default(),
            streams: Vec::new(),
        }
    }
}

impl Default for EpochPolicy {
    fn default() -> Self {
        EpochPolicy { max_records: None, max_age_ms: 60_000 }
    }
}

impl Default for ProvingConfig {
    fn default() -> Self {
        ProvingConfig { nice: 0, threads: 0, shutdown_grace_ms: 30_000 }
    }
}

impl Default for SubmitConfig {
    fn default() -> Self {
        SubmitConfig { backoff_initial_ms: 200, backoff_max_ms: 30_000, poll_ms: 250, request_timeout_ms: 30_000 }
    }
}

/// The data directory of the `zkmeter` command line (where `zkmeter setup` writes keys).
pub fn zkmeter_data_dir() -> PathBuf {
    std::env::var_os("ZKMETER_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("zkmeter")))
        .unwrap_or_else(|| PathBuf::from("zkmeter-data"))
}

fn backend_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BackendKind, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

impl Config {
    /// Reads and checks a TOML file; settings it leaves out keep their defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let config: Config =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        config.check()?;
        Ok(config)
    }

    /// Refuses settings the daemon cannot run with, saying which.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.streams.is_empty() {
            return invalid("no [[stream]] configured: add one per job this provider meters".into());
        }
        if self.slots == 0 {
            return invalid("slots must be at least 1".into());
        }
        if let Some(n) = self.epoch.max_records
            && (n == 0 || n > self.slots)
        {
            return invalid(format!("epoch.max_records = {n}, but it must be between 1 and slots = {}", self.slots));
        }
        if self.sample_interval_ms == 0 || self.submit.poll_ms == 0 || self.submit.backoff_initial_ms == 0 {
            return invalid("sample_interval_ms, submit.poll_ms and submit.backoff_initial_ms must be above 0".into());
        }
        if !(0..=19).contains(&self.proving.nice) {
            return invalid(format!("proving.nice = {}, but it must be between 0 and 19", self.proving.nice));
        }
        let mut jobs: Vec<u64> = self.streams.iter().map(|s| s.job_id).collect();
        jobs.sort_unstable();
        if let Some(w) = jobs.windows(2).find(|w| w[0] == w[1]) {
            return invalid(format!("job {} has two [[stream]] entries: one meter stream per job", w[0]));
        }
        Ok(())
    }

    /// Records per epoch at most.
    pub fn max_records(&self) -> usize {
        self.epoch.max_records.unwrap_or(self.slots) as usize
    }

    /// The proving key file.
    pub fn proving_key(&self) -> PathBuf {
        zkmeter_circuits::keys::key_paths(&self.keys_dir, self.slots).0
    }

    /// The log file of a job's stream.
    pub fn stream_log(&self, job_id: u64) -> PathBuf {
        self.data_dir.join("streams").join(format!("job-{job_id}.log"))
    }
}
