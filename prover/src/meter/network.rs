//! Bytes through network interfaces, from their kernel byte counters.
//!
//! `/sys/class/net/<if>/statistics/{rx,tx}_bytes` count every byte since the
//! interface came up, so the downtime of the daemon is billed after a restart. The
//! cursor holds both counters of each interface, interfaces in sorted name order:
//! `[if0 rx, if0 tx, if1 rx, if1 tx, …]` (both, whatever the direction, so a change of
//! direction keeps old cursors valid). A counter below its cursor value means the
//! interface was recreated; its new value is all usage since then.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkmeter_circuits::ResourceClass;

use super::{counter_delta, not_resumed, read_u64, Cursor, MeterError, MeterSource, Reading};

const NAME: &str = "network";

/// Which bytes a network meter counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Received and sent.
    #[default]
    Both,
    /// Received only.
    Rx,
    /// Sent only.
    Tx,
}

/// Reads the byte counters of a fixed set of interfaces.
pub struct NetworkSource {
    net: PathBuf,
    interfaces: Vec<String>,
    direction: Direction,
    /// Counters and end of the last reading (or of the baseline).
    last: Option<(Vec<u64>, u64)>,
}

impl NetworkSource {
    /// Opens the named interfaces, or all present except "lo" when `None`.
    pub fn open(interfaces: Option<&[String]>, direction: Direction, root: &Path) -> Result<Self, MeterError> {
        let unavailable = |reason: String| MeterError::Unavailable { source_name: NAME, reason };
        let net = root.join("sys/class/net");
        let entries = std::fs::read_dir(&net).map_err(|e| unavailable(format!("cannot list {}: {e}; is /sys mounted?", net.display())))?;
        let mut present: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
        present.sort();
        let mut chosen: Vec<String> = match interfaces {
            Some(names) => names.to_vec(),
            None => present.iter().filter(|name| *name != "lo").cloned().collect(),
        };
        chosen.sort();
        chosen.dedup();
        if chosen.is_empty() {
            return Err(match interfaces {
                Some(_) => MeterError::Config {
                    source_name: NAME,
                    reason: "`interfaces` is empty; name at least one, or leave it out for all but lo".into(),
                },
                None => unavailable(format!("no interface but lo under {}", net.display())),
            });
        }
        if let Some(missing) = chosen.iter().find(|name| !present.contains(name)) {
            return Err(unavailable(format!(
                "no interface {missing:?} under {} (present: {}); fix `interfaces`",
                net.display(),
                present.join(", ")
            )));
        }
        let source = Self { net, interfaces: chosen, direction, last: None };
        source.counters().map_err(unavailable)?;
        Ok(source)
    }

    fn counters(&self) -> Result<Vec<u64>, String> {
        let mut values = Vec::with_capacity(2 * self.interfaces.len());
        for name in &self.interfaces {
            let statistics = self.net.join(name).join("statistics");
            values.push(read_u64(&statistics.join("rx_bytes"))?);
            values.push(read_u64(&statistics.join("tx_bytes"))?);
        }
        Ok(values)
    }

    /// Bytes between two sets of counters, in the configured direction.
    fn bytes(&self, start: &[u64], end: &[u64]) -> u64 {
        let counted = |i: usize| match self.direction {
            Direction::Both => true,
            Direction::Rx => i.is_multiple_of(2),
            Direction::Tx => !i.is_multiple_of(2),
        };
        start.iter().zip(end).enumerate().filter(|(i, _)| counted(*i)).map(|(_, (&a, &b))| counter_delta(a, b)).sum()
    }
}

impl MeterSource for NetworkSource {
    fn class(&self) -> ResourceClass {
        ResourceClass::Network
    }

    fn describe(&self) -> String {
        let what = match self.direction {
            Direction::Both => "rx+tx",
            Direction::Rx => "rx",
            Direction::Tx => "tx",
        };
        format!("network: {what} bytes of {} ({})", self.interfaces.join(", "), self.net.display())
    }

    fn resume(&mut self, last: Option<(&Cursor, u64)>, now_ms: u64) -> Result<(), MeterError> {
        self.last = Some(match last {
            Some((cursor, end_ms)) => {
                if cursor.len() != 2 * self.interfaces.len() {
                    return Err(MeterError::Config {
                        source_name: NAME,
                        reason: format!(
                            "the stream's last reading has {} counters, but rx and tx of {} make {}: the set of interfaces changed; \
                             list the original ones in `interfaces`, or start a new stream",
                            cursor.len(),
                            self.interfaces.join(", "),
                            2 * self.interfaces.len()
                        ),
                    });
                }
                (cursor.clone(), end_ms)
            }
            None => (self.counters().map_err(|reason| MeterError::Read { source_name: NAME, reason })?, now_ms),
        });
        Ok(())
    }

    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError> {
        let (start, start_ms) = self.last.as_ref().ok_or_else(|| not_resumed(NAME))?;
        if now_ms <= *start_ms {
            return Ok(Vec::new());
        }
        let end = self.counters().map_err(|reason| MeterError::Read { source_name: NAME, reason })?;
        let reading = Reading { start_ms: *start_ms, end_ms: now_ms, quantity: self.bytes(start, &end), cursor: end.clone() };
        self.last = Some((end, now_ms));
        Ok(vec![reading])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(root: &Path, name: &str, rx: u64, tx: u64) {
        let dir = root.join("sys/class/net").join(name).join("statistics");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rx_bytes"), format!("{rx}\n")).unwrap();
        std::fs::write(dir.join("tx_bytes"), format!("{tx}\n")).unwrap();
    }

    fn fake_host() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        set(root.path(), "wlan0", 1000, 2000);
        set(root.path(), "lo", 5, 5);
        set(root.path(), "eth0", 100, 200);
        root
    }

    #[test]
    fn default_is_all_but_lo_in_sorted_order() {
        let root = fake_host();
        let mut net = NetworkSource::open(None, Direction::Both, root.path()).unwrap();
        assert_eq!(net.interfaces, ["eth0", "wlan0"]);
        net.resume(None, 0).unwrap();
        set(root.path(), "eth0", 150, 260);
        set(root.path(), "lo", 1_000_000, 1_000_000);
        let reading = net.poll(1_000).unwrap();
        assert_eq!(reading, vec![Reading { start_ms: 0, end_ms: 1_000, quantity: 110, cursor: vec![150, 260, 1000, 2000] }]);
    }

    #[test]
    fn direction_selects_rx_or_tx() {
        let root = fake_host();
        for (direction, expected) in [(Direction::Rx, 7), (Direction::Tx, 30), (Direction::Both, 37)] {
            let mut net = NetworkSource::open(Some(&["wlan0".to_string()]), direction, root.path()).unwrap();
            net.resume(Some((&vec![993, 1970], 50)), 60).unwrap();
            assert_eq!(net.poll(100).unwrap()[0].quantity, expected, "{direction:?}");
        }
    }

    #[test]
    fn reset_interface_counts_from_zero() {
        let root = fake_host();
        let mut net = NetworkSource::open(Some(&["eth0".to_string()]), Direction::Both, root.path()).unwrap();
        net.resume(Some((&vec![90_000, 100], 0)), 10).unwrap();
        // rx went down (recreated): its 100 are new; tx grew by 100.
        assert_eq!(net.poll(20).unwrap()[0].quantity, 200);
        assert!(net.poll(20).unwrap().is_empty());
    }

    #[test]
    fn changed_interface_set_is_a_config_error() {
        let root = fake_host();
        let mut net = NetworkSource::open(None, Direction::Both, root.path()).unwrap();
        let err = net.resume(Some((&vec![1, 2], 0)), 1).unwrap_err();
        assert!(matches!(err, MeterError::Config { .. }));
        assert!(err.to_string().contains("interfaces"), "{err}");
    }

    #[test]
    fn missing_interface_is_unavailable_and_lists_the_present() {
        let root = fake_host();
        let err = NetworkSource::open(Some(&["eth9".to_string()]), Direction::Both, root.path()).err().unwrap();
        assert!(matches!(err, MeterError::Unavailable { .. }));
        assert!(err.to_string().contains("eth9") && err.to_string().contains("eth0, lo, wlan0"), "{err}");
        assert!(matches!(NetworkSource::open(Some(&[]), Direction::Both, root.path()), Err(MeterError::Config { .. })));
    }
}
