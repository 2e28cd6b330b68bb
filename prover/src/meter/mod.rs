//! Meter sources: where usage readings come from.
//!
//! A [`MeterSource`] turns a counter of the machine (cgroup `cpu.stat`, NVML,
//! powercap, interface byte counters, bytes under a directory) or a recorded file
//! into [`Reading`]s: `quantity` units of one [`ResourceClass`] used during
//! `[start_ms, end_ms)`. Each reading carries a [`Cursor`], the raw counter values at
//! its end; the stream log stores it with the record, and after a restart the
//! source resumes from it. A stream may have several sources, one per class;
//! [`set::SourceSet`] reads them together into one record per interval.
//!
//! # Across downtime
//!
//! A meter bills only what its source really counted, never a sampled or made-up
//! quantity for time nobody observed:
//!
//! | kind | while the daemon is down |
//! |---|---|
//! | cpu (cgroup `usage_usec`, `/proc/stat`) | the kernel's counter keeps counting: the first reading after a restart bills its difference, over the downtime |
//! | network (interface byte counters) | the same |
//! | energy (RAPL), gpu energy (NVML) | the same (the energy counters) |
//! | gpu busy (NVML utilisation, a sampled rate) | nothing is billed: the first reading starts at the restart |
//! | storage (sampled sizes) | nothing is billed: the first reading starts at the restart |
//! | synthetic | nothing is generated: the first reading starts at the restart |
//! | replay | the recorded readings whose (moved) time passed meanwhile are played at once |
//!
//! A counter found below its cursor was reset (reboot, interface or cgroup
//! recreated): only its new value is billed, what it counted before the reset is lost.
//!
//! A source whose hardware or file is absent fails to open with
//! [`MeterError::Unavailable`], which says what is missing.
//!
//! Sources do not know about streams, seqs, logs or proofs: the scheduler numbers
//! their readings and logs them.
//!
//! One file per source kind: [`cpu`], [`gpu`], [`storage`], [`network`],
//! [`energy`] (live counters), [`replay`] (a recorded file, for tests and crash
//! drills) and [`synthetic`] (deterministic demo usage); [`set`] combines a
//! stream's sources.

pub mod cpu;
pub mod energy;
pub mod gpu;
pub mod network;
pub mod replay;
pub mod set;
pub mod storage;
pub mod synthetic;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkmeter_circuits::ResourceClass;

pub use gpu::GpuMeasure;
pub use network::Direction;
pub use storage::StorageMode;

/// Raw counter values at the end of a reading, as the source needs them to resume.
pub type Cursor = Vec<u64>;

/// Usage of one class over one interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    /// Start of the interval, Unix milliseconds.
    pub start_ms: u64,
    /// End of the interval (exclusive), Unix milliseconds; `> start_ms`.
    pub end_ms: u64,
    /// Usage in the class's base unit.
    pub quantity: u64,
    /// Counter values at `end_ms`.
    pub cursor: Cursor,
}

/// Why a source could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    /// The hardware, library or file the source reads is not on this machine.
    #[error("{source_name} metering is not available here: {reason}")]
    Unavailable {
        /// The source kind, e.g. "gpu".
        source_name: &'static str,
        /// What is missing, e.g. "libnvidia-ml.so.1 not found (no NVIDIA driver)".
        reason: String,
    },
    /// Reading the counter failed after the source was opened.
    #[error("{source_name} meter: {reason}")]
    Read {
        /// The source kind.
        source_name: &'static str,
        /// What failed.
        reason: String,
    },
    /// The configuration of the source is invalid.
    #[error("{source_name} meter configuration: {reason}")]
    Config {
        /// The source kind.
        source_name: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

/// A source of readings of one class.
pub trait MeterSource: Send {
    /// The class its readings are in.
    fn class(&self) -> ResourceClass;

    /// What it reads, for logs and the daemon's start-up report
    /// (e.g. "cpu: cgroup /sys/fs/cgroup/job42/cpu.stat").
    fn describe(&self) -> String;

    /// Sets where the source starts: from the cursor and end of the last logged
    /// reading (after a restart), or `None` for a stream with no reading yet, when
    /// the source takes the counters as they are now as its baseline. A source
    /// that cannot have observed the downtime starts its next reading at `now_ms`
    /// (see the module doc).
    ///
    /// A cursor of the wrong shape (the log was written by another configuration)
    /// is a [`MeterError::Config`].
    fn resume(&mut self, last: Option<(&Cursor, u64)>, now_ms: u64) -> Result<(), MeterError>;

    /// The readings since the previous call (or since `resume`), up to `now_ms`.
    /// Live sources return at most one, and none when `now_ms` is not past the end
    /// of the previous reading; replay returns those recorded as ended by
    /// `now_ms`. Readings never overlap and come in time order.
    ///
    /// Readings with quantity 0 are returned too: whether an idle interval is
    /// logged is the scheduler's decision, not the source's.
    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError>;

    /// Whether the source will never produce another reading (a replay at the end
    /// of its file). Live sources never are.
    fn exhausted(&self) -> bool {
        false
    }
}

/// One source of a stream, as written in the daemon's configuration
/// (`[[stream.source]]`), chosen by `kind`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum MeterConfig {
    /// Processor time in core-milliseconds, of one cgroup or of the whole host.
    Cpu {
        /// A cgroup v2 directory whose `cpu.stat` `usage_usec` is metered: absolute,
        /// or relative to `<root>/sys/fs/cgroup` (e.g. "system.slice/job42.service").
        /// Absent: the host's busy time from `/proc/stat`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cgroup: Option<PathBuf>,
        /// Prefix of the `/proc` and `/sys` paths (for containers that mount the
        /// host's at another place, and for tests). Default "/".
        #[serde(default = "default_root")]
        root: PathBuf,
    },
    /// NVIDIA GPU busy time (GPU-ms) or energy (mJ), through NVML.
    Gpu {
        /// NVML index of the GPU to meter. Absent: all GPUs, summed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<u32>,
        /// "busy" (default): utilisation integrated over time, class gpu.
        /// "energy": the driver's energy counter, class energy.
        #[serde(default)]
        measure: GpuMeasure,
    },
    /// Bytes stored, integrated over time, in byte-seconds.
    Storage {
        /// The directory (mode "tree") or any path on the volume (mode "volume").
        path: PathBuf,
        /// "tree" (default): apparent size of the files under `path`, symlinks not
        /// followed. "volume": used bytes of the whole filesystem holding `path`.
        #[serde(default)]
        mode: StorageMode,
    },
    /// Bytes through network interfaces.
    Network {
        /// Interface names. Absent: every interface present at start-up except "lo".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interfaces: Option<Vec<String>>,
        /// "both" (default), "rx" (received) or "tx" (sent).
        #[serde(default)]
        direction: Direction,
        /// Prefix of the `/sys` paths (containers, tests). Default "/".
        #[serde(default = "default_root")]
        root: PathBuf,
    },
    /// Processor package energy in millijoules, from RAPL (powercap).
    Energy {
        /// Prefix of the `/sys` paths (containers, tests). Default "/".
        #[serde(default = "default_root")]
        root: PathBuf,
    },
    /// Readings recorded in a JSON-lines file, played back at the recorded pace,
    /// moved to the present (the stream's only source).
    Replay {
        /// The file: one `{"start_ms":..,"end_ms":..,"class":"cpu","quantity":..}`
        /// per line.
        path: PathBuf,
        /// The class of the readings; every line must be of this class.
        class: ResourceClass,
    },
    /// Deterministic pseudo-random usage, for demos.
    Synthetic {
        /// The class the usage is in.
        class: ResourceClass,
        /// Mean usage, in the class's base unit per second. Readings peak at twice
        /// this, so the class's capacity must allow `2 × rate / 1000` per ms.
        rate: u64,
        /// Seed; the same seed gives the same usage for the same intervals. Default 0.
        #[serde(default)]
        seed: u64,
    },
}

impl MeterConfig {
    /// The class the configured source's readings are in, known without opening it.
    pub fn class(&self) -> ResourceClass {
        match self {
            MeterConfig::Cpu { .. } => ResourceClass::Cpu,
            MeterConfig::Gpu { measure: GpuMeasure::Busy, .. } => ResourceClass::Gpu,
            MeterConfig::Gpu { measure: GpuMeasure::Energy, .. } | MeterConfig::Energy { .. } => ResourceClass::Energy,
            MeterConfig::Storage { .. } => ResourceClass::Storage,
            MeterConfig::Network { .. } => ResourceClass::Network,
            MeterConfig::Replay { class, .. } | MeterConfig::Synthetic { class, .. } => *class,
        }
    }
}

fn default_root() -> PathBuf {
    PathBuf::from("/")
}

/// Opens the source `config` describes.
pub fn open(config: &MeterConfig) -> Result<Box<dyn MeterSource>, MeterError> {
    Ok(match config {
        MeterConfig::Cpu { cgroup, root } => Box::new(cpu::CpuSource::open(cgroup.as_deref(), root)?),
        MeterConfig::Gpu { device, measure } => Box::new(gpu::GpuSource::open(*device, *measure)?),
        MeterConfig::Storage { path, mode } => Box::new(storage::StorageSource::open(path, *mode)?),
        MeterConfig::Network { interfaces, direction, root } => {
            Box::new(network::NetworkSource::open(interfaces.as_deref(), *direction, root)?)
        }
        MeterConfig::Energy { root } => Box::new(energy::EnergySource::open(root)?),
        MeterConfig::Replay { path, class } => Box::new(replay::ReplaySource::open(path, *class)?),
        MeterConfig::Synthetic { class, rate, seed } => Box::new(synthetic::SyntheticSource::new(*class, *rate, *seed)),
    })
}

/// Rejects a logged cursor that another configuration of the source wrote.
fn check_cursor(source_name: &'static str, cursor: &Cursor, expected: usize) -> Result<(), MeterError> {
    if cursor.len() == expected {
        return Ok(());
    }
    Err(MeterError::Config {
        source_name,
        reason: format!(
            "the stream's last reading has a cursor of {} values but this meter keeps {expected}: \
             the log was written with another meter configuration; restore that configuration or start a new stream",
            cursor.len()
        ),
    })
}

/// The error of a poll before `resume`, a mistake of the caller.
fn not_resumed(source_name: &'static str) -> MeterError {
    MeterError::Read { source_name, reason: "polled before resume; call resume with the stream's last reading first".into() }
}

/// Usage between two readings of a monotonic counter. A counter below its last
/// value was restarted from zero (reboot, interface or cgroup recreated): all of
/// its new value is usage since the restart, and what it counted between the last
/// reading and the restart is lost.
fn counter_delta(start: u64, end: u64) -> u64 {
    if end >= start { end - start } else { end }
}

/// Reads a small procfs/sysfs file; the error names the file.
fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Reads a sysfs file holding one unsigned integer.
fn read_u64(path: &Path) -> Result<u64, String> {
    let text = read_text(path)?;
    text.trim().parse().map_err(|e| format!("{} holds {:?}, not a counter: {e}", path.display(), text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> MeterConfig {
        toml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn toml_of_every_kind_parses() {
        assert_eq!(
            parse("kind = \"cpu\"\ncgroup = \"system.slice/job42.service\""),
            MeterConfig::Cpu { cgroup: Some("system.slice/job42.service".into()), root: "/".into() }
        );
        assert_eq!(parse("kind = \"cpu\""), MeterConfig::Cpu { cgroup: None, root: "/".into() });
        assert_eq!(
            parse("kind = \"gpu\"\ndevice = 1\nmeasure = \"energy\""),
            MeterConfig::Gpu { device: Some(1), measure: GpuMeasure::Energy }
        );
        assert_eq!(parse("kind = \"gpu\""), MeterConfig::Gpu { device: None, measure: GpuMeasure::Busy });
        assert_eq!(
            parse("kind = \"storage\"\npath = \"/data/job42\""),
            MeterConfig::Storage { path: "/data/job42".into(), mode: StorageMode::Tree }
        );
        assert_eq!(
            parse("kind = \"storage\"\npath = \"/data\"\nmode = \"volume\""),
            MeterConfig::Storage { path: "/data".into(), mode: StorageMode::Volume }
        );
        assert_eq!(
            parse("kind = \"network\"\ninterfaces = [\"eth0\"]\ndirection = \"tx\""),
            MeterConfig::Network { interfaces: Some(vec!["eth0".into()]), direction: Direction::Tx, root: "/".into() }
        );
        assert_eq!(parse("kind = \"energy\"\nroot = \"/host\""), MeterConfig::Energy { root: "/host".into() });
        assert_eq!(
            parse("kind = \"replay\"\npath = \"usage.jsonl\"\nclass = \"cpu\""),
            MeterConfig::Replay { path: "usage.jsonl".into(), class: ResourceClass::Cpu }
        );
        assert_eq!(
            parse("kind = \"synthetic\"\nclass = \"storage\"\nrate = 5000\nseed = 7"),
            MeterConfig::Synthetic { class: ResourceClass::Storage, rate: 5000, seed: 7 }
        );
    }

    #[test]
    fn config_class_matches_the_opened_source() {
        let configs = [
            MeterConfig::Cpu { cgroup: None, root: "/".into() },
            MeterConfig::Synthetic { class: ResourceClass::Network, rate: 1, seed: 0 },
        ];
        for config in configs {
            assert_eq!(open(&config).unwrap().class(), config.class());
        }
        assert_eq!(MeterConfig::Gpu { device: None, measure: GpuMeasure::Energy }.class(), ResourceClass::Energy);
    }

    #[test]
    fn toml_round_trips() {
        let config = MeterConfig::Network { interfaces: None, direction: Direction::Both, root: "/".into() };
        assert_eq!(parse(&toml::to_string(&config).unwrap()), config);
    }

    #[test]
    fn unknown_fields_and_kinds_are_rejected() {
        for text in ["kind = \"cpu\"\ncgroups = \"x\"", "kind = \"disk\"", "kind = \"gpu\"\nmeasure = \"power\""] {
            assert!(toml::from_str::<MeterConfig>(text).is_err(), "{text} parsed");
        }
    }

    #[test]
    fn counter_restart_counts_from_zero() {
        assert_eq!(counter_delta(10, 25), 15);
        assert_eq!(counter_delta(1000, 7), 7);
    }

    #[test]
    fn foreign_cursor_is_a_config_error() {
        let err = check_cursor("cpu", &vec![1, 2], 1).unwrap_err();
        assert!(matches!(err, MeterError::Config { .. }));
        assert!(err.to_string().contains("another meter configuration"), "{err}");
    }
}
