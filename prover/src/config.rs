//! The daemon's configuration: a TOML file (`zkmeter-prover --config prover.toml`).
//! Everything but the streams has a default that runs against a verifier service
//! on loopback.
//!
//! ```toml
//! data_dir = "/var/lib/zkmeter-prover"        # stream logs (streams/job-<id>.v2.log)
//! keys_dir = "/var/lib/zkmeter/keys"          # default: the zkmeter data directory's keys/
//! slots = 32                                  # record slots N of the proving key (keys/meter-N.pk)
//! verifier_url = "http://127.0.0.1:50051"
//! backend = "auto"                            # auto | cpu | cuda
//! metrics_listen = "127.0.0.1:9465"           # Prometheus /metrics; default: none
//! sample_interval_ms = 1000
//! # chain_id = 31337                          # optional: pin the chain the meters sign for
//! # settlement = "0x…"                        # (all three, or none: learned from the verifier service)
//! # genesis_id = "0x…"                        # the chain's block 0 hash (`zkmeter chain status` shows it)
//!
//! [epoch]
//! max_records = 32                            # close an epoch at this many records (≤ slots) …
//! max_age_ms = 60000                          # … or when its oldest record is this old
//!
//! [proving]
//! nice = 10                                   # CPU priority of proving threads (0 = normal, 19 = lowest)
//! threads = 0                                 # proving threads; 0: one per core
//! defer_while_gpu_busy_percent = 80           # GPU: hold proofs back while customer kernels keep it busier …
//! max_defer_ms = 60000                        # … but no longer than this
//!
//! [submit]
//! backoff_initial_ms = 200
//! backoff_max_ms = 30000
//! poll_ms = 250
//!
//! [[stream]]                                  # one per job: every class the job is billed for
//! job_id = 1
//! key_file = "/etc/zkmeter/meter-1.key"      # `zkmeter keys new --out …`
//! capacity = { gpu = 8, energy = 700000, network = 12500000 }  # optional: checked against the job's
//! [[stream.source]]
//! kind = "gpu"                                # busy time, GPU-ms
//! [[stream.source]]
//! kind = "gpu"
//! measure = "energy"                          # the GPUs' energy counter, mJ
//! [[stream.source]]
//! kind = "network"
//! interfaces = ["eth0"]
//!
//! [[workload]]                                # workload proofs: paid per verified multiply-accumulate
//! job_id = 2
//! circuit = "zkmeter.workload.v1:2:4x3md"     # as `zkmeter workload setup` prints it (keys_dir has its key)
//! model = "/var/lib/zkmeter-prover/models/job2.model"
//! inbox = "/var/lib/zkmeter-prover/inbox/job2"  # the consumer's input files; each is proved once
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
    /// The chain's genesis id; default: the verifier's.
    pub genesis_id: Option<zkmeter_contracts::B256>,
    /// When epochs close.
    pub epoch: EpochPolicy,
    /// How proving shares the machine.
    pub proving: ProvingConfig,
    /// Submission retries.
    pub submit: SubmitConfig,
    /// The streams this daemon meters.
    #[serde(rename = "stream")]
    pub streams: Vec<StreamConfig>,
    /// The workload jobs whose inputs this daemon proves.
    #[serde(rename = "workload")]
    pub workloads: Vec<WorkloadConfig>,
}

/// A workload job: each input file that appears in `inbox` is run through
/// `model`, proved with `circuit`'s key and submitted (see [`crate::work_queue`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// The job on the settlement contract the work is billed to.
    pub job_id: u64,
    /// The workload circuit id, as `zkmeter workload setup` prints it.
    pub circuit: String,
    /// The model file (the consumer's model; its commitment is in each request).
    pub model: PathBuf,
    /// Where the consumer's input files arrive (names starting with `.` are skipped,
    /// so a file can be written under a hidden name and renamed in).
    pub inbox: PathBuf,
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
    /// On the GPU: hold each proof back while a GPU is busier than this
    /// (percent), so customer kernels go first; none: prove at once.
    pub defer_while_gpu_busy_percent: Option<u32>,
    /// The longest a proof is held back for a busy GPU, in milliseconds.
    pub max_defer_ms: u64,
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

/// One stream: a meter serving a job, with a source per class it bills.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The job on the settlement contract.
    pub job_id: u64,
    /// The meter's key file (`zkmeter keys new`).
    pub key_file: PathBuf,
    /// The job's capacity (per ms of each class), fixed when the job was opened;
    /// default: learned from the verifier service. Given, it must equal the job's.
    /// A reading above `capacity × duration` is cut down to it (and counted in
    /// `zkmeter_prover_clamped_records`), since no proof could bill it.
    #[serde(default)]
    pub capacity: Option<Capacity>,
    /// What to meter: one source per class (`[[stream.source]]`).
    #[serde(rename = "source")]
    pub sources: Vec<MeterConfig>,
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
            genesis_id: None,
            settlement: None,
            epoch: EpochPolicy::default(),
            proving: ProvingConfig::default(),
            submit: SubmitConfig::default(),
            streams: Vec::new(),
            workloads: Vec::new(),
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
        ProvingConfig { nice: 0, threads: 0, shutdown_grace_ms: 30_000, defer_while_gpu_busy_percent: None, max_defer_ms: 60_000 }
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
        if self.streams.is_empty() && self.workloads.is_empty() {
            return invalid("no [[stream]] or [[workload]] configured: add one per job this provider meters or proves work for".into());
        }
        if self.slots == 0 {
            return invalid("slots must be at least 1".into());
        }
        if let Some(n) = self.epoch.max_records
            && (n == 0 || n > self.slots)
        {
            return invalid(format!("epoch.max_records = {n}, but it must be between 1 and slots = {}", self.slots));
        }
        let intervals = [
            ("sample_interval_ms", self.sample_interval_ms),
            ("submit.poll_ms", self.submit.poll_ms),
            ("submit.backoff_initial_ms", self.submit.backoff_initial_ms),
            // A zero deadline fails every request to the verifier.
            ("submit.request_timeout_ms", self.submit.request_timeout_ms),
        ];
        if let Some((name, _)) = intervals.iter().find(|(_, ms)| *ms == 0) {
            return invalid(format!("{name} = 0, but it must be above 0"));
        }
        if self.proving.defer_while_gpu_busy_percent.is_some_and(|p| p > 100) {
            return invalid("proving.defer_while_gpu_busy_percent must be between 0 and 100".into());
        }
        if !(0..=19).contains(&self.proving.nice) {
            return invalid(format!("proving.nice = {}, but it must be between 0 and 19", self.proving.nice));
        }
        let mut jobs: Vec<u64> = self.streams.iter().map(|s| s.job_id).collect();
        jobs.sort_unstable();
        if let Some(w) = jobs.windows(2).find(|w| w[0] == w[1]) {
            return invalid(format!("job {} has two [[stream]] entries: one stream per job, with a [[stream.source]] per class", w[0]));
        }
        for stream in &self.streams {
            let job = stream.job_id;
            if stream.sources.is_empty() {
                return invalid(format!("the stream of job {job} has no [[stream.source]]: add one per class it meters"));
            }
            let classes: Vec<_> = stream.sources.iter().map(MeterConfig::class).collect();
            if let Some((i, class)) = classes.iter().enumerate().find(|(i, c)| classes[..*i].contains(c)) {
                return invalid(format!(
                    "the stream of job {job} has two sources of class {class} (source {} and an earlier one): one source per class",
                    i + 1
                ));
            }
            if stream.sources.len() > 1 && stream.sources.iter().any(|s| matches!(s, MeterConfig::Replay { .. })) {
                return invalid(format!("the stream of job {job}: a replay plays recorded intervals of its own and must be the only source"));
            }
        }
        let mut jobs: Vec<u64> = self.workloads.iter().map(|w| w.job_id).collect();
        jobs.sort_unstable();
        if let Some(w) = jobs.windows(2).find(|w| w[0] == w[1]) {
            return invalid(format!("job {} has two [[workload]] entries: one per job, with one circuit and model", w[0]));
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
        self.data_dir.join("streams").join(format!("job-{job_id}.v2.log"))
    }

    /// Where a log of the retired meter statement v1 would be (one class per
    /// stream, streams not anchored to the chain's clock): the daemon refuses to
    /// start beside one, since its epochs cannot settle on a v2 contract.
    pub fn retired_stream_log(&self, job_id: u64) -> PathBuf {
        self.data_dir.join("streams").join(format!("job-{job_id}.log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::{Direction, GpuMeasure};
    use zkmeter_circuits::ResourceClass;

    /// The TOML example of the module doc, read from this file so the test and
    /// the doc cannot drift apart.
    fn doc_example() -> String {
        let source = include_str!("config.rs");
        let mut lines = source.lines().skip_while(|l| *l != "//! ```toml").skip(1);
        let example: Vec<&str> = lines
            .by_ref()
            .take_while(|l| *l != "//! ```")
            .map(|l| l.strip_prefix("//! ").or_else(|| l.strip_prefix("//!")).expect("a doc line"))
            .collect();
        assert!(!example.is_empty(), "the module doc has a ```toml example");
        example.join("\n")
    }

    const ONE_STREAM: &str = r#"
        [[stream]]
        job_id = 1
        key_file = "meter.key"
        capacity = { cpu = 64 }
        source = [{ kind = "synthetic", class = "cpu", rate = 1000 }]
    "#;

    fn parse(text: &str) -> Config {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("prover.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_module_doc_example_loads_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load(&write(&dir, &doc_example())).unwrap();
        assert_eq!(config.data_dir, Path::new("/var/lib/zkmeter-prover"));
        assert_eq!(config.keys_dir, Path::new("/var/lib/zkmeter/keys"));
        assert_eq!(config.slots, 32);
        assert_eq!(config.verifier_url, "http://127.0.0.1:50051");
        assert_eq!(config.backend, BackendKind::Auto);
        assert_eq!(config.metrics_listen, Some("127.0.0.1:9465".parse().unwrap()));
        assert_eq!(config.sample_interval_ms, 1000);
        assert_eq!((config.chain_id, config.settlement), (None, None));
        assert_eq!((config.epoch.max_records, config.epoch.max_age_ms), (Some(32), 60_000));
        assert_eq!((config.proving.nice, config.proving.threads), (10, 0));
        assert_eq!((config.submit.backoff_initial_ms, config.submit.backoff_max_ms, config.submit.poll_ms), (200, 30_000, 250));
        assert_eq!(config.streams.len(), 1);
        let stream = &config.streams[0];
        assert_eq!((stream.job_id, stream.key_file.as_path()), (1, Path::new("/etc/zkmeter/meter-1.key")));
        let mut capacity = Capacity::default();
        capacity.set(ResourceClass::Gpu, 8);
        capacity.set(ResourceClass::Energy, 700_000);
        capacity.set(ResourceClass::Network, 12_500_000);
        assert_eq!(stream.capacity, Some(capacity));
        assert_eq!(
            stream.sources,
            [
                MeterConfig::Gpu { device: None, measure: GpuMeasure::Busy },
                MeterConfig::Gpu { device: None, measure: GpuMeasure::Energy },
                MeterConfig::Network { interfaces: Some(vec!["eth0".into()]), direction: Direction::Both, root: "/".into() },
            ]
        );
        assert_eq!(stream.stop_after_records, None);
        assert_eq!(config.workloads.len(), 1);
        let work = &config.workloads[0];
        assert_eq!((work.job_id, work.circuit.as_str()), (2, "zkmeter.workload.v1:2:4x3md"));
        assert_eq!(work.model, Path::new("/var/lib/zkmeter-prover/models/job2.model"));
        assert_eq!(work.inbox, Path::new("/var/lib/zkmeter-prover/inbox/job2"));
        work.circuit.parse::<zkmeter_circuits::workload::Plan>().expect("the example's circuit id is one");
    }

    #[test]
    fn the_commented_out_domain_of_the_doc_example_parses_when_filled_in() {
        let settlement = format!("0x{}", "11".repeat(20));
        let text = doc_example()
            .replace("# chain_id = 31337", "chain_id = 31337")
            .replace("# settlement = \"0x…\"", &format!("settlement = \"{settlement}\""))
            .replace("# genesis_id = \"0x…\"", &format!("genesis_id = \"0x{}\"", "22".repeat(32)));
        let config = parse(&text);
        assert_eq!(config.chain_id, Some(31337));
        assert_eq!(config.settlement, Some(Address::repeat_byte(0x11)));
        assert_eq!(config.genesis_id, Some(zkmeter_contracts::B256::repeat_byte(0x22)));
    }

    #[test]
    fn settings_left_out_keep_their_documented_defaults() {
        let config = parse(ONE_STREAM);
        config.check().unwrap();
        assert_eq!(config.data_dir, Path::new("zkmeter-prover-data"));
        assert_eq!(config.keys_dir, zkmeter_data_dir().join("keys"));
        assert_eq!(config.slots, 32);
        assert_eq!(config.verifier_url, "http://127.0.0.1:50051", "a verifier service on loopback");
        assert_eq!(config.backend, BackendKind::Auto);
        assert_eq!(config.metrics_listen, None, "no metrics endpoint unless asked");
        assert_eq!(config.sample_interval_ms, 1000);
        assert_eq!((config.chain_id, config.settlement), (None, None), "the domain is learned from the verifier");
        assert_eq!(config.epoch.max_records, None);
        assert_eq!(config.max_records(), 32, "an epoch fills the key's slots");
        assert_eq!(config.epoch.max_age_ms, 60_000);
        assert_eq!((config.proving.nice, config.proving.threads, config.proving.shutdown_grace_ms), (0, 0, 30_000));
        let submit = &config.submit;
        assert_eq!(
            (submit.backoff_initial_ms, submit.backoff_max_ms, submit.poll_ms, submit.request_timeout_ms),
            (200, 30_000, 250, 30_000)
        );
        assert_eq!(config.streams[0].stop_after_records, None, "meter forever");
        let without = parse(&ONE_STREAM.replace("capacity = { cpu = 64 }", ""));
        assert_eq!(without.streams[0].capacity, None, "the job's capacity is learned from the verifier");
    }

    #[test]
    fn max_records_follows_the_slots_unless_set() {
        let mut config = parse(&format!("slots = 8\n{ONE_STREAM}"));
        assert_eq!(config.max_records(), 8);
        config.epoch.max_records = Some(5);
        assert_eq!(config.max_records(), 5);
    }

    #[test]
    fn files_are_found_under_the_configured_directories() {
        let config = parse(&format!("data_dir = \"/data\"\nkeys_dir = \"/keys\"\nslots = 8\n{ONE_STREAM}"));
        assert_eq!(config.stream_log(42), Path::new("/data/streams/job-42.v2.log"));
        assert_eq!(config.retired_stream_log(42), Path::new("/data/streams/job-42.log"));
        assert_eq!(config.proving_key(), zkmeter_circuits::keys::key_paths(Path::new("/keys"), 8).0);
        assert!(config.proving_key().starts_with("/keys"));
    }

    /// `check` of the one-stream config after `change`: the refusal's message.
    fn refusal(change: impl FnOnce(&mut Config)) -> String {
        let mut config = parse(ONE_STREAM);
        change(&mut config);
        match config.check() {
            Err(ConfigError::Invalid(message)) => message,
            other => panic!("expected ConfigError::Invalid, got {other:?}"),
        }
    }

    const ONE_WORKLOAD: &str = r#"
        [[workload]]
        job_id = 2
        circuit = "zkmeter.workload.v1:2:4x3md"
        model = "job2.model"
        inbox = "inbox"
    "#;

    #[test]
    fn check_refuses_a_config_without_streams_or_workloads() {
        let message = refusal(|c| c.streams.clear());
        assert!(message.contains("[[stream]]") && message.contains("[[workload]]"), "{message}");
        parse(ONE_WORKLOAD).check().expect("workloads alone are something to do");
    }

    #[test]
    fn check_refuses_two_workloads_of_one_job() {
        let mut config = parse(&format!("{ONE_WORKLOAD}{ONE_WORKLOAD}"));
        config.streams.clear();
        match config.check() {
            Err(ConfigError::Invalid(m)) => assert!(m.contains("job 2") && m.contains("[[workload]]"), "{m}"),
            other => panic!("expected ConfigError::Invalid, got {other:?}"),
        }
    }

    #[test]
    fn check_refuses_zero_slots() {
        assert!(refusal(|c| c.slots = 0).contains("slots"));
    }

    #[test]
    fn check_refuses_max_records_outside_one_to_slots() {
        let over = refusal(|c| c.epoch.max_records = Some(33));
        assert!(over.contains("epoch.max_records = 33") && over.contains("slots = 32"), "{over}");
        assert!(refusal(|c| c.epoch.max_records = Some(0)).contains("epoch.max_records"));
        let mut at_slots = parse(ONE_STREAM);
        at_slots.epoch.max_records = Some(32);
        at_slots.check().unwrap();
    }

    #[test]
    fn check_refuses_a_nice_value_outside_zero_to_nineteen() {
        assert!(refusal(|c| c.proving.nice = -1).contains("proving.nice = -1"));
        assert!(refusal(|c| c.proving.nice = 20).contains("proving.nice = 20"));
        let mut lowest = parse(ONE_STREAM);
        lowest.proving.nice = 19;
        lowest.check().unwrap();
    }

    #[test]
    fn check_refuses_two_streams_of_one_job() {
        let message = refusal(|c| {
            let mut other = c.streams[0].clone();
            other.key_file = "other.key".into();
            c.streams.push(other);
        });
        assert!(message.contains("job 1") && message.contains("[[stream]]"), "{message}");
    }

    #[test]
    fn check_refuses_streams_without_sources_or_with_two_of_a_class() {
        assert!(refusal(|c| c.streams[0].sources.clear()).contains("no [[stream.source]]"));
        let twice = refusal(|c| {
            let again = c.streams[0].sources[0].clone();
            c.streams[0].sources.push(again);
        });
        assert!(twice.contains("two sources of class cpu"), "{twice}");
        let replay = refusal(|c| {
            c.streams[0].sources.push(MeterConfig::Replay { path: "r.jsonl".into(), class: ResourceClass::Gpu });
        });
        assert!(replay.contains("must be the only source"), "{replay}");
    }

    #[test]
    fn check_refuses_zero_intervals_naming_each() {
        type Change = fn(&mut Config);
        let cases: [(&str, Change); 4] = [
            ("sample_interval_ms", |c| c.sample_interval_ms = 0),
            ("submit.poll_ms", |c| c.submit.poll_ms = 0),
            ("submit.backoff_initial_ms", |c| c.submit.backoff_initial_ms = 0),
            ("submit.request_timeout_ms", |c| c.submit.request_timeout_ms = 0),
        ];
        for (name, change) in cases {
            let message = refusal(change);
            assert!(message.starts_with(&format!("{name} = 0")), "{name}: {message}");
        }
    }

    #[test]
    fn load_checks_what_it_parses() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, &format!("slots = 0\n{ONE_STREAM}"));
        assert!(matches!(Config::load(&path), Err(ConfigError::Invalid(m)) if m.contains("slots")));
    }

    #[test]
    fn an_unknown_setting_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let typos = [
            ("sample_interval = 5\n".to_string() + ONE_STREAM, "sample_interval"),
            (format!("[epoch]\nmax_record = 4\n{ONE_STREAM}"), "max_record"),
            (format!("[proving]\nnicety = 4\n{ONE_STREAM}"), "nicety"),
            (format!("[submit]\npoll = 4\n{ONE_STREAM}"), "poll"),
            (format!("{ONE_STREAM}\nstop_after = 3\n"), "stop_after"),
            (ONE_STREAM.replace("rate = 1000", "rate = 1000, sed = 1"), "sed"),
        ];
        for (text, name) in typos {
            let path = write(&dir, &text);
            match Config::load(&path) {
                Err(ConfigError::Parse { path: p, message }) => {
                    assert_eq!(p, path);
                    assert!(message.contains(name), "{name}: {message}");
                }
                other => panic!("{name}: expected ConfigError::Parse, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_missing_file_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.toml");
        assert!(matches!(Config::load(&path), Err(ConfigError::Read { path: p, .. }) if p == path));
    }
}
