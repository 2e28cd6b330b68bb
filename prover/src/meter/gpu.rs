//! NVIDIA GPU busy time (GPU-ms) or energy (mJ), through NVML.
//!
//! NVML is loaded at run time (`Nvml::init` opens libnvidia-ml), so the daemon
//! starts on machines without an NVIDIA driver and says GPU metering is unavailable.
//!
//! Busy time: NVML reports utilisation (the percentage of its last sample period in
//! which a kernel ran), a rate and not a counter, so each poll multiplies the
//! current percentage by the time since the previous poll. The cursor keeps that
//! running total in hundredths of a GPU-ms (percent × ms), so no fraction is ever
//! rounded away. Nothing is sampled while the daemon is down, so nothing is billed
//! for that time: the first reading after a restart starts at the restart.
//! NVML has no utilisation for MIG-enabled GPUs; meter their energy instead.
//!
//! Energy: the driver's millijoule counter since it loaded (Volta and newer), one
//! cursor value per GPU; it keeps counting while the daemon is down.

use nvml_wrapper::Nvml;
use serde::{Deserialize, Serialize};
use zkmeter_circuits::ResourceClass;

use super::{check_cursor, counter_delta, not_resumed, Cursor, MeterError, MeterSource, Reading};

const NAME: &str = "gpu";

/// What a GPU meter measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuMeasure {
    /// Busy time, GPU-ms (class gpu).
    #[default]
    Busy,
    /// Energy, mJ (class energy).
    Energy,
}

/// Samples one or all GPUs through NVML.
pub struct GpuSource {
    nvml: Nvml,
    gpus: Vec<Gpu>,
    measure: GpuMeasure,
    last: Option<Mark>,
}

struct Gpu {
    index: u32,
    name: String,
    mig: bool,
}

struct Mark {
    /// Busy: [hundredths of GPU-ms so far]. Energy: the mJ counter of each GPU.
    counters: Vec<u64>,
    end_ms: u64,
    /// Busy: the time up to which utilisation has been integrated.
    sampled_to: u64,
}

impl GpuSource {
    /// Opens GPU `device` (an NVML index), or all GPUs when `None`, and samples them
    /// once so that an unsupported measure fails here, not at the first poll.
    pub fn open(device: Option<u32>, measure: GpuMeasure) -> Result<Self, MeterError> {
        let unavailable = |reason: String| MeterError::Unavailable { source_name: NAME, reason };
        let nvml = Nvml::init()
            .map_err(|e| unavailable(format!("NVML could not be loaded ({e}); no NVIDIA driver on this machine?")))?;
        let count = nvml.device_count().map_err(|e| unavailable(format!("NVML cannot count GPUs: {e}")))?;
        let indices: Vec<u32> = match device {
            Some(index) if index < count => vec![index],
            Some(index) => {
                return Err(MeterError::Config {
                    source_name: NAME,
                    reason: format!("there is no GPU {index}: NVML sees {count} (indices from 0); fix `device` or leave it out to meter all"),
                })
            }
            None if count == 0 => return Err(unavailable("NVML sees no GPU".into())),
            None => (0..count).collect(),
        };
        let mut gpus = Vec::new();
        for index in indices {
            let handle = nvml.device_by_index(index).map_err(|e| unavailable(format!("NVML cannot open GPU {index}: {e}")))?;
            let name = handle.name().unwrap_or_else(|_| "unknown model".into());
            let mig = handle.mig_mode().is_ok_and(|mode| mode.current == 1);
            gpus.push(Gpu { index, name, mig });
        }
        let source = Self { nvml, gpus, measure, last: None };
        source.sample().map_err(|e| match e {
            MeterError::Read { reason, .. } => unavailable(reason),
            other => other,
        })?;
        Ok(source)
    }

    /// Busy: [sum of the GPUs' utilisation percentages]. Energy: each GPU's mJ counter.
    fn sample(&self) -> Result<Vec<u64>, MeterError> {
        let values = self.gpus.iter().map(|gpu| {
            let handle = self.nvml.device_by_index(gpu.index).map_err(|e| format!("NVML cannot open GPU {}: {e}", gpu.index))?;
            match self.measure {
                GpuMeasure::Busy => handle.utilization_rates().map(|u| u64::from(u.gpu)).map_err(|e| {
                    if gpu.mig {
                        format!(
                            "GPU {} ({}) is in MIG mode, and NVML reports no utilisation for MIG-enabled GPUs or their instances ({e}); \
                             set measure = \"energy\" or disable MIG on it",
                            gpu.index, gpu.name
                        )
                    } else {
                        format!("GPU {} ({}): NVML utilisation: {e}", gpu.index, gpu.name)
                    }
                }),
                GpuMeasure::Energy => handle.total_energy_consumption().map_err(|e| {
                    format!("GPU {} ({}): NVML energy counter: {e} (it needs a Volta or newer GPU); set measure = \"busy\"", gpu.index, gpu.name)
                }),
            }
        });
        let values: Result<Vec<u64>, String> = values.collect();
        let values = values.map_err(|reason| MeterError::Read { source_name: NAME, reason })?;
        Ok(match self.measure {
            GpuMeasure::Busy => vec![values.iter().sum()],
            GpuMeasure::Energy => values,
        })
    }

    fn cursor_len(&self) -> usize {
        match self.measure {
            GpuMeasure::Busy => 1,
            GpuMeasure::Energy => self.gpus.len(),
        }
    }
}

/// Adds `percent` (summed over GPUs) held for `elapsed_ms` to a running total in
/// hundredths of a GPU-ms; returns the whole GPU-ms it adds and the new total.
fn integrate_busy(total: u64, percent: u64, elapsed_ms: u64) -> (u64, u64) {
    let new_total = total.saturating_add(percent.saturating_mul(elapsed_ms));
    (new_total / 100 - total / 100, new_total)
}

impl MeterSource for GpuSource {
    fn class(&self) -> ResourceClass {
        match self.measure {
            GpuMeasure::Busy => ResourceClass::Gpu,
            GpuMeasure::Energy => ResourceClass::Energy,
        }
    }

    fn describe(&self) -> String {
        let gpus: Vec<String> = self.gpus.iter().map(|g| format!("{} ({})", g.index, g.name)).collect();
        match self.measure {
            GpuMeasure::Busy => format!("gpu: busy time of GPU {}, NVML utilisation sampled at each poll", gpus.join(", ")),
            GpuMeasure::Energy => format!("gpu: NVML energy counter of GPU {}", gpus.join(", ")),
        }
    }

    fn resume(&mut self, last: Option<(&Cursor, u64)>, now_ms: u64) -> Result<(), MeterError> {
        self.last = Some(match last {
            Some((cursor, end_ms)) => {
                check_cursor(NAME, cursor, self.cursor_len())?;
                // A counter (energy) counted the downtime; utilisation was not sampled.
                let resumed_at = match self.measure {
                    GpuMeasure::Busy => now_ms.max(end_ms),
                    GpuMeasure::Energy => end_ms,
                };
                Mark { counters: cursor.clone(), end_ms: resumed_at, sampled_to: now_ms.max(end_ms) }
            }
            None => {
                let counters = match self.measure {
                    GpuMeasure::Busy => vec![0],
                    GpuMeasure::Energy => self.sample()?,
                };
                Mark { counters, end_ms: now_ms, sampled_to: now_ms }
            }
        });
        Ok(())
    }

    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError> {
        let mark = self.last.as_ref().ok_or_else(|| not_resumed(NAME))?;
        if now_ms <= mark.end_ms {
            return Ok(Vec::new());
        }
        let sample = self.sample()?;
        let (quantity, counters) = match self.measure {
            GpuMeasure::Busy => {
                let (quantity, total) = integrate_busy(mark.counters[0], sample[0], now_ms.saturating_sub(mark.sampled_to));
                (quantity, vec![total])
            }
            GpuMeasure::Energy => (mark.counters.iter().zip(&sample).map(|(&a, &b)| counter_delta(a, b)).sum(), sample),
        };
        let reading = Reading { start_ms: mark.end_ms, end_ms: now_ms, quantity, cursor: counters.clone() };
        self.last = Some(Mark { counters, end_ms: now_ms, sampled_to: now_ms });
        Ok(vec![reading])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_integration_loses_no_fraction() {
        // 33% for 1 ms is 0.33 GPU-ms; a hundred such polls are exactly 33 GPU-ms.
        let (mut total, mut billed) = (0, 0);
        for _ in 0..100 {
            let (quantity, new_total) = integrate_busy(total, 33, 1);
            billed += quantity;
            total = new_total;
        }
        assert_eq!((billed, total), (33, 3300));
        // Two GPUs at 100% for a second: 2000 GPU-ms.
        assert_eq!(integrate_busy(0, 200, 1000), (2000, 200_000));
    }

    /// Without an NVIDIA driver (as on the build machine) opening fails cleanly;
    /// with one, a GPU is busy at most 100% of the time.
    #[test]
    fn opens_where_nvml_is_and_fails_cleanly_elsewhere() {
        match GpuSource::open(None, GpuMeasure::Busy) {
            Err(MeterError::Unavailable { source_name, reason }) => {
                assert_eq!(source_name, "gpu");
                assert!(reason.contains("NVML"), "{reason}");
            }
            Err(other) => panic!("expected Unavailable, got {other}"),
            Ok(mut gpu) => {
                assert!(gpu.describe().starts_with("gpu: busy time of GPU 0"), "{}", gpu.describe());
                gpu.resume(None, 1_000).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
                let reading = gpu.poll(2_000).unwrap();
                assert!(reading[0].quantity <= 1_000 * gpu.gpus.len() as u64);
            }
        }
    }

    #[test]
    fn energy_without_nvml_is_unavailable() {
        if let Err(err) = GpuSource::open(Some(0), GpuMeasure::Energy) {
            assert!(matches!(err, MeterError::Unavailable { .. }), "{err}");
        }
    }
}
