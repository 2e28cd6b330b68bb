//! Processor time in core-milliseconds, of one cgroup v2 or of the whole host.
//!
//! A cgroup's `cpu.stat` `usage_usec` counts the CPU time of exactly the job's
//! processes, which is what a job should be billed; the host's busy jiffies in
//! `/proc/stat` are for a job that has the machine to itself. The cursor holds the
//! raw counter (µs or jiffies) and a reading's quantity is the difference of its
//! floors in ms, so the sub-millisecond remainder is never rounded away.

use std::path::{Path, PathBuf};

use zkmeter_circuits::ResourceClass;

use super::{check_cursor, not_resumed, read_text, Cursor, MeterError, MeterSource, Reading};

const NAME: &str = "cpu";

/// Reads the CPU time counter of a cgroup or of the host.
pub struct CpuSource {
    counter: Counter,
    /// Raw counter and end of the last reading (or of the baseline).
    last: Option<(u64, u64)>,
}

enum Counter {
    /// `cpu.stat` of a cgroup v2; `usage_usec`, microseconds.
    Cgroup(PathBuf),
    /// `/proc/stat`; busy jiffies, `clk_tck` per second.
    Host { stat: PathBuf, clk_tck: u64 },
}

impl Counter {
    fn read(&self) -> Result<u64, String> {
        match self {
            Counter::Cgroup(stat) => {
                let text = read_text(stat)?;
                let value = text.lines().find_map(|line| line.strip_prefix("usage_usec "));
                let value = value.ok_or_else(|| format!("{} has no usage_usec line", stat.display()))?;
                value.trim().parse().map_err(|e| format!("{}: usage_usec {value:?}: {e}", stat.display()))
            }
            Counter::Host { stat, .. } => {
                let text = read_text(stat)?;
                busy_jiffies(&text).ok_or_else(|| format!("{} does not start with an aggregate \"cpu\" line", stat.display()))
            }
        }
    }

    /// The counter in whole milliseconds, rounded down.
    fn millis(&self, raw: u64) -> u64 {
        match self {
            Counter::Cgroup(_) => raw / 1000,
            Counter::Host { clk_tck, .. } => (u128::from(raw) * 1000 / u128::from(*clk_tck)) as u64,
        }
    }
}

/// Busy time of the first (all-CPU) line of `/proc/stat`: user, nice, system,
/// irq, softirq and steal. Idle and iowait are not use; guest time is already
/// inside user and nice.
fn busy_jiffies(stat: &str) -> Option<u64> {
    let mut fields = stat.lines().next()?.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
    let field = |i: usize| values.get(i).copied().unwrap_or(0);
    (values.len() >= 4).then(|| [0, 1, 2, 5, 6, 7].iter().map(|&i| field(i)).sum())
}

impl CpuSource {
    /// Opens the cgroup's counter (absolute, or relative to `<root>/sys/fs/cgroup`),
    /// or the host's when `cgroup` is `None`.
    pub fn open(cgroup: Option<&Path>, root: &Path) -> Result<Self, MeterError> {
        let counter = match cgroup {
            Some(dir) => Counter::Cgroup(root.join("sys/fs/cgroup").join(dir).join("cpu.stat")),
            None => {
                // SAFETY: sysconf only reads a system constant.
                let clk_tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
                let clk_tck = u64::try_from(clk_tck).ok().filter(|&t| t > 0).ok_or_else(|| MeterError::Unavailable {
                    source_name: NAME,
                    reason: "sysconf(_SC_CLK_TCK) failed: cannot convert /proc/stat jiffies to time".into(),
                })?;
                Counter::Host { stat: root.join("proc/stat"), clk_tck }
            }
        };
        Self::with_counter(counter)
    }

    fn with_counter(counter: Counter) -> Result<Self, MeterError> {
        counter.read().map_err(|e| {
            let hint = match counter {
                Counter::Cgroup(_) => {
                    "; set `cgroup` to the job's cgroup v2 directory (cgroup v1 has no usage_usec), \
                     or leave it out to meter the host"
                }
                Counter::Host { .. } => "; is /proc mounted (set `root` if the host's is elsewhere)?",
            };
            MeterError::Unavailable { source_name: NAME, reason: format!("{e}{hint}") }
        })?;
        Ok(Self { counter, last: None })
    }
}

impl MeterSource for CpuSource {
    fn class(&self) -> ResourceClass {
        ResourceClass::Cpu
    }

    fn describe(&self) -> String {
        match &self.counter {
            Counter::Cgroup(stat) => format!("cpu: cgroup {} (usage_usec)", stat.display()),
            Counter::Host { stat, clk_tck } => format!("cpu: host busy time from {} ({clk_tck} jiffies/s)", stat.display()),
        }
    }

    fn resume(&mut self, last: Option<(&Cursor, u64)>, now_ms: u64) -> Result<(), MeterError> {
        self.last = Some(match last {
            Some((cursor, end_ms)) => {
                check_cursor(NAME, cursor, 1)?;
                (cursor[0], end_ms)
            }
            None => (self.counter.read().map_err(|reason| MeterError::Read { source_name: NAME, reason })?, now_ms),
        });
        Ok(())
    }

    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError> {
        let (start_raw, start_ms) = self.last.ok_or_else(|| not_resumed(NAME))?;
        if now_ms <= start_ms {
            return Ok(Vec::new());
        }
        let raw = self.counter.read().map_err(|reason| MeterError::Read { source_name: NAME, reason })?;
        // A counter below the cursor was restarted (reboot, cgroup recreated) and
        // counts from zero; what it counted before the restart is lost.
        let base = if raw >= start_raw { start_raw } else { 0 };
        let quantity = self.counter.millis(raw) - self.counter.millis(base);
        self.last = Some((raw, now_ms));
        Ok(vec![Reading { start_ms, end_ms: now_ms, quantity, cursor: vec![raw] }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_cgroup(dir: &Path, usec: u64) {
        std::fs::write(dir.join("cpu.stat"), format!("usage_usec {usec}\nuser_usec 1\nsystem_usec 2\n")).unwrap();
    }

    #[test]
    fn cgroup_usage_in_core_ms_keeps_sub_ms_remainder() {
        let dir = tempfile::tempdir().unwrap();
        write_cgroup(dir.path(), 1_000_500);
        let mut cpu = CpuSource::open(Some(dir.path()), Path::new("/")).unwrap();
        cpu.resume(None, 1_000).unwrap();
        write_cgroup(dir.path(), 1_003_700);
        let first = cpu.poll(2_000).unwrap();
        assert_eq!(first, vec![Reading { start_ms: 1_000, end_ms: 2_000, quantity: 3, cursor: vec![1_003_700] }]);
        write_cgroup(dir.path(), 1_004_000);
        let second = cpu.poll(3_000).unwrap();
        // 3 + 1 = floor(1004.0) - floor(1000.5): the 0.5 + 0.7 ms fractions add up.
        assert_eq!(second[0].quantity, 1);
    }

    #[test]
    fn relative_cgroup_is_under_root_sys_fs_cgroup() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sys/fs/cgroup/job42");
        std::fs::create_dir_all(&dir).unwrap();
        write_cgroup(&dir, 5);
        let cpu = CpuSource::open(Some(Path::new("job42")), root.path()).unwrap();
        assert!(cpu.describe().contains("job42/cpu.stat"), "{}", cpu.describe());
    }

    #[test]
    fn host_busy_excludes_idle_iowait_and_guest() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        assert_eq!(busy_jiffies("cpu  10 2 3 1000 50 1 1 1 7 7\ncpu0 1 1 1 1\n"), Some(18));
        assert_eq!(busy_jiffies("intr 1 2 3\n"), None);
    }

    #[test]
    fn host_jiffies_convert_with_clk_tck() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("proc")).unwrap();
        let stat = root.path().join("proc/stat");
        let write = |busy: u64| std::fs::write(&stat, format!("cpu  {busy} 0 0 99 0 0 0 0 0 0\n")).unwrap();
        write(1);
        let mut cpu = CpuSource::with_counter(Counter::Host { stat: stat.clone(), clk_tck: 300 }).unwrap();
        cpu.resume(None, 0).unwrap();
        let mut total = 0;
        for (i, busy) in (2..=301).enumerate() {
            write(busy);
            total += cpu.poll(i as u64 + 1).unwrap()[0].quantity;
        }
        // 300 jiffies at 300/s is exactly 1000 ms, though each single jiffy is 3.33 ms.
        assert_eq!(total, 1000);
    }

    #[test]
    fn real_host_counter_reads() {
        let mut cpu = CpuSource::open(None, Path::new("/")).unwrap();
        cpu.resume(None, 10).unwrap();
        assert_eq!(cpu.poll(20).unwrap().len(), 1);
    }

    #[test]
    fn resume_bills_the_downtime_and_skips_stale_polls() {
        let dir = tempfile::tempdir().unwrap();
        write_cgroup(dir.path(), 9_000_000);
        let mut cpu = CpuSource::open(Some(dir.path()), Path::new("/")).unwrap();
        cpu.resume(Some((&vec![4_000_000], 5_000)), 9_000).unwrap();
        assert!(cpu.poll(5_000).unwrap().is_empty());
        let reading = cpu.poll(10_000).unwrap();
        assert_eq!(reading, vec![Reading { start_ms: 5_000, end_ms: 10_000, quantity: 5_000, cursor: vec![9_000_000] }]);
        assert!(cpu.poll(10_000).unwrap().is_empty());
        assert!(matches!(cpu.resume(Some((&vec![], 5_000)), 9_000), Err(MeterError::Config { .. })));
    }

    #[test]
    fn recreated_cgroup_counts_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        write_cgroup(dir.path(), 2_500);
        let mut cpu = CpuSource::open(Some(dir.path()), Path::new("/")).unwrap();
        cpu.resume(Some((&vec![80_000], 0)), 1).unwrap();
        assert_eq!(cpu.poll(100).unwrap()[0].quantity, 2);
    }

    #[test]
    fn missing_cgroup_is_unavailable_with_its_path() {
        let err = CpuSource::open(Some(Path::new("/nonexistent/job7")), Path::new("/")).err().unwrap();
        assert!(matches!(err, MeterError::Unavailable { .. }));
        assert!(err.to_string().contains("/nonexistent/job7/cpu.stat"), "{err}");
    }
}
