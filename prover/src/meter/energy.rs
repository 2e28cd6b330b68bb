//! Processor package energy in millijoules, from RAPL through powercap.
//!
//! Each top-level zone `/sys/class/powercap/intel-rapl:N` (one per CPU package,
//! Intel and AMD alike) counts µJ in `energy_uj`. Subzones (`intel-rapl:N:M`: cores,
//! uncore, DRAM) are parts of their package and the MMIO interface
//! (`intel-rapl-mmio:N`) is the same package again, so both are left out: counting
//! them would bill the same joules twice. The counters wrap at
//! `max_energy_range_uj`; a reading across a wrap adds the range. A counter that
//! wraps more than once between two readings (hours at full power, e.g. a long
//! downtime) cannot be told from one that wrapped once.
//!
//! The cursor is `[counter of each zone, in index order, µJ remainder]`: the
//! remainder below one mJ is carried, so no µJ is rounded away.

use std::path::{Path, PathBuf};

use zkmeter_circuits::ResourceClass;

use super::{check_cursor, not_resumed, read_u64, Cursor, MeterError, MeterSource, Reading};

const NAME: &str = "energy";

const UJ_PER_MJ: u64 = 1000;

/// Reads the RAPL package counters.
pub struct EnergySource {
    zones: Vec<Zone>,
    /// Counters, remainder and end of the last reading (or of the baseline).
    last: Option<(Vec<u64>, u64, u64)>,
}

struct Zone {
    dir: PathBuf,
    label: String,
    max_uj: u64,
}

/// The package index of a top-level zone directory name, `None` for the rest.
fn package_index(name: &str) -> Option<u32> {
    let index = name.strip_prefix("intel-rapl:")?;
    index.bytes().all(|b| b.is_ascii_digit()).then(|| index.parse().ok())?
}

/// µJ counted from `start` to `end` by a counter that wraps after `max`.
fn wrapped_delta(start: u64, end: u64, max: u64) -> u64 {
    if end >= start { end - start } else { max.saturating_sub(start).saturating_add(end).saturating_add(1) }
}

impl EnergySource {
    /// Finds the package zones under `<root>/sys/class/powercap` and reads them once.
    pub fn open(root: &Path) -> Result<Self, MeterError> {
        let unavailable = |reason: String| MeterError::Unavailable { source_name: NAME, reason };
        let powercap = root.join("sys/class/powercap");
        let no_rapl = |detail: String| {
            unavailable(format!("{detail}: no RAPL here (not an x86 machine, a VM, or the intel_rapl_common module is not loaded)"))
        };
        let entries = std::fs::read_dir(&powercap).map_err(|e| no_rapl(format!("cannot list {}: {e}", powercap.display())))?;
        let mut packages: Vec<(u32, String)> = entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| Some((package_index(&name)?, name)))
            .collect();
        packages.sort();
        if packages.is_empty() {
            return Err(no_rapl(format!("no intel-rapl:N zone under {}", powercap.display())));
        }
        let mut zones = Vec::new();
        for (_, name) in packages {
            let dir = powercap.join(&name);
            let max_uj = read_u64(&dir.join("max_energy_range_uj")).map_err(unavailable)?;
            let label = match std::fs::read_to_string(dir.join("name")) {
                Ok(zone) => format!("{name} ({})", zone.trim()),
                Err(_) => name,
            };
            zones.push(Zone { dir, label, max_uj });
        }
        let source = Self { zones, last: None };
        source.counters().map_err(|e| {
            unavailable(format!(
                "{e}; energy_uj is readable by root only since Linux 5.10: run the daemon as root \
                 or make the files readable (a udev rule or a systemd-tmpfiles `z` line)"
            ))
        })?;
        Ok(source)
    }

    fn counters(&self) -> Result<Vec<u64>, String> {
        self.zones.iter().map(|zone| read_u64(&zone.dir.join("energy_uj"))).collect()
    }
}

impl MeterSource for EnergySource {
    fn class(&self) -> ResourceClass {
        ResourceClass::Energy
    }

    fn describe(&self) -> String {
        let zones: Vec<&str> = self.zones.iter().map(|z| z.label.as_str()).collect();
        format!("energy: RAPL {}", zones.join(", "))
    }

    fn resume(&mut self, last: Option<(&Cursor, u64)>, now_ms: u64) -> Result<(), MeterError> {
        self.last = Some(match last {
            Some((cursor, end_ms)) => {
                check_cursor(NAME, cursor, self.zones.len() + 1)?;
                let (&remainder, counters) = cursor.split_last().expect("length checked");
                if remainder >= UJ_PER_MJ {
                    return Err(MeterError::Config {
                        source_name: NAME,
                        reason: format!("cursor remainder {remainder} µJ is not below 1 mJ: the log was not written by an energy meter"),
                    });
                }
                (counters.to_vec(), remainder, end_ms)
            }
            None => (self.counters().map_err(|reason| MeterError::Read { source_name: NAME, reason })?, 0, now_ms),
        });
        Ok(())
    }

    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError> {
        let (start, remainder, start_ms) =
            self.last.as_ref().ok_or_else(|| not_resumed(NAME))?;
        if now_ms <= *start_ms {
            return Ok(Vec::new());
        }
        let end = self.counters().map_err(|reason| MeterError::Read { source_name: NAME, reason })?;
        let uj = self.zones.iter().zip(start.iter().zip(&end)).fold(*remainder, |sum, (zone, (&a, &b))| {
            sum.saturating_add(wrapped_delta(a, b, zone.max_uj))
        });
        let (quantity, remainder) = (uj / UJ_PER_MJ, uj % UJ_PER_MJ);
        let mut cursor = end.clone();
        cursor.push(remainder);
        let reading = Reading { start_ms: *start_ms, end_ms: now_ms, quantity, cursor };
        self.last = Some((end, remainder, now_ms));
        Ok(vec![reading])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(root: &Path, name: &str, energy_uj: u64, max_uj: u64) {
        let dir = root.join("sys/class/powercap").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("energy_uj"), format!("{energy_uj}\n")).unwrap();
        std::fs::write(dir.join("max_energy_range_uj"), format!("{max_uj}\n")).unwrap();
        std::fs::write(dir.join("name"), format!("zone-{name}\n")).unwrap();
    }

    fn fake_host() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        zone(root.path(), "intel-rapl:0", 999_000, 999_999);
        zone(root.path(), "intel-rapl:0:0", 5, 999_999);
        zone(root.path(), "intel-rapl-mmio:0", 5, 999_999);
        zone(root.path(), "intel-rapl:1", 10_000, 999_999);
        root
    }

    #[test]
    fn only_package_zones_are_metered() {
        assert_eq!(package_index("intel-rapl:10"), Some(10));
        for name in ["intel-rapl", "intel-rapl:0:1", "intel-rapl-mmio:0", "intel-rapl:"] {
            assert_eq!(package_index(name), None, "{name}");
        }
        let root = fake_host();
        let energy = EnergySource::open(root.path()).unwrap();
        assert_eq!(energy.describe(), "energy: RAPL intel-rapl:0 (zone-intel-rapl:0), intel-rapl:1 (zone-intel-rapl:1)");
    }

    #[test]
    fn wrap_around_adds_the_range_and_remainders_carry() {
        let root = fake_host();
        let mut energy = EnergySource::open(root.path()).unwrap();
        energy.resume(None, 0).unwrap();
        // Package 0 wraps: 999_000 → 500 is 1_000 + 500 = 1_500 µJ; package 1 adds 250 µJ.
        zone(root.path(), "intel-rapl:0", 500, 999_999);
        zone(root.path(), "intel-rapl:1", 10_250, 999_999);
        zone(root.path(), "intel-rapl:0:0", 900_000, 999_999);
        let reading = energy.poll(1_000).unwrap();
        assert_eq!(reading, vec![Reading { start_ms: 0, end_ms: 1_000, quantity: 1, cursor: vec![500, 10_250, 750] }]);
        // 250 + the carried 750 µJ: one more mJ.
        zone(root.path(), "intel-rapl:1", 10_500, 999_999);
        assert_eq!(energy.poll(2_000).unwrap()[0].cursor, vec![500, 10_500, 0]);
        assert_eq!(wrapped_delta(999_999, 0, 999_999), 1);
    }

    #[test]
    fn resume_counts_the_downtime() {
        let root = fake_host();
        let mut energy = EnergySource::open(root.path()).unwrap();
        energy.resume(Some((&vec![0, 0, 999], 100)), 5_000).unwrap();
        assert!(energy.poll(100).unwrap().is_empty());
        let reading = energy.poll(6_000).unwrap();
        assert_eq!((reading[0].start_ms, reading[0].quantity), (100, 1_009));
        assert!(matches!(energy.resume(Some((&vec![0, 0], 100)), 1), Err(MeterError::Config { .. })));
        assert!(matches!(energy.resume(Some((&vec![0, 0, 1000], 100)), 1), Err(MeterError::Config { .. })));
    }

    #[test]
    fn unreadable_or_absent_rapl_is_unavailable_with_the_reason() {
        let root = fake_host();
        // Root reads any file whatever its mode, so make energy_uj unreadable another way.
        let counter = root.path().join("sys/class/powercap/intel-rapl:1/energy_uj");
        std::fs::remove_file(&counter).unwrap();
        std::fs::create_dir(&counter).unwrap();
        let err = EnergySource::open(root.path()).err().unwrap();
        assert!(matches!(err, MeterError::Unavailable { .. }));
        assert!(err.to_string().contains("intel-rapl:1/energy_uj") && err.to_string().contains("root"), "{err}");

        let empty = tempfile::tempdir().unwrap();
        let err = EnergySource::open(empty.path()).err().unwrap();
        assert!(err.to_string().contains("no RAPL"), "{err}");
    }
}
