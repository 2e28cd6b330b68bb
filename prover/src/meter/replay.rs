//! Readings recorded in a JSON-lines file, played back: for tests, demos and
//! crash drills, where the same usage must come out however often the daemon is
//! killed and restarted.
//!
//! Each non-blank line is `{"start_ms":..,"end_ms":..,"class":"cpu","quantity":..}`.
//! The whole file is checked when it is opened (syntax, class, intervals in order
//! and not overlapping), so a bad file fails at start-up with its line number.
//!
//! A replay plays at the recorded pace, moved to the present: the first poll maps
//! the first reading's start to that poll's time, and a reading is returned once
//! its mapped end has passed, with its mapped times (a settlement chain refuses
//! records in the future, and the stream started when its job was opened). The
//! cursor of a reading is `[index of the next reading]` (counting non-blank lines
//! from 0); after a restart the replay continues right after the last logged
//! reading, keeping the mapping the log shows, and catches up on the readings
//! whose time passed while the daemon was down. At the end of the file the replay
//! is [`exhausted`](MeterSource::exhausted) and every poll returns nothing.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use zkmeter_circuits::ResourceClass;

use super::{check_cursor, Cursor, MeterError, MeterSource, Reading};

const NAME: &str = "replay";

/// One line of the file; other fields (notes, seqs) are ignored.
#[derive(Deserialize)]
struct Line {
    start_ms: u64,
    end_ms: u64,
    class: ResourceClass,
    quantity: u64,
}

/// Plays a recorded file.
pub struct ReplaySource {
    path: PathBuf,
    class: ResourceClass,
    readings: Vec<Line>,
    next: usize,
    /// Wall-clock time minus recorded time: fixed by the first poll, or by the
    /// logged reading a restart resumes after.
    offset: Option<i128>,
}

impl ReplaySource {
    /// Reads and checks the whole file.
    pub fn open(path: &Path, class: ResourceClass) -> Result<Self, MeterError> {
        let config = |reason: String| MeterError::Config { source_name: NAME, reason };
        let text = std::fs::read_to_string(path).map_err(|e| MeterError::Unavailable {
            source_name: NAME,
            reason: format!("cannot read {}: {e}; fix `path`", path.display()),
        })?;
        let mut readings: Vec<Line> = Vec::new();
        for (number, text) in text.lines().enumerate().map(|(i, t)| (i + 1, t.trim())).filter(|(_, t)| !t.is_empty()) {
            let at = format!("{}:{number}", path.display());
            let line: Line = serde_json::from_str(text).map_err(|e| {
                config(format!("{at}: {e}; expected {{\"start_ms\":..,\"end_ms\":..,\"class\":\"{class}\",\"quantity\":..}}"))
            })?;
            if line.class != class {
                return Err(config(format!("{at}: a {} reading in a replay of class {class}; fix the line or `class`", line.class)));
            }
            if line.start_ms >= line.end_ms {
                return Err(config(format!("{at}: start_ms {} is not before end_ms {}", line.start_ms, line.end_ms)));
            }
            if let Some(previous) = readings.last().filter(|p| p.end_ms > line.start_ms) {
                return Err(config(format!(
                    "{at}: starts at {} before the previous reading ends at {}; readings must be in order and not overlap",
                    line.start_ms, previous.end_ms
                )));
            }
            readings.push(line);
        }
        Ok(Self { path: path.to_owned(), class, readings, next: 0, offset: None })
    }

    fn mapped(&self, index: usize, offset: i128) -> Reading {
        let line = &self.readings[index];
        let map = |t: u64| u64::try_from(i128::from(t) + offset).unwrap_or(0);
        Reading { start_ms: map(line.start_ms), end_ms: map(line.end_ms), quantity: line.quantity, cursor: vec![index as u64 + 1] }
    }
}

impl MeterSource for ReplaySource {
    fn class(&self) -> ResourceClass {
        self.class
    }

    fn describe(&self) -> String {
        format!("replay: {} ({} {} readings, at recorded pace)", self.path.display(), self.readings.len(), self.class)
    }

    fn resume(&mut self, last: Option<(&Cursor, u64)>, _now_ms: u64) -> Result<(), MeterError> {
        let (next, offset) = match last {
            None => (0, None),
            Some((cursor, end_ms)) => {
                check_cursor(NAME, cursor, 1)?;
                let next = usize::try_from(cursor[0]).unwrap_or(usize::MAX);
                if next == 0 || next > self.readings.len() {
                    return Err(MeterError::Config {
                        source_name: NAME,
                        reason: format!(
                            "the log continues at reading {next} but {} has {}: the file changed since the stream was logged; \
                             restore it or start a new stream",
                            self.path.display(),
                            self.readings.len()
                        ),
                    });
                }
                (next, Some(i128::from(end_ms) - i128::from(self.readings[next - 1].end_ms)))
            }
        };
        self.next = next;
        self.offset = offset;
        Ok(())
    }

    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError> {
        let Some(first) = self.readings.get(self.next) else { return Ok(Vec::new()) };
        let offset = *self.offset.get_or_insert(i128::from(now_ms) - i128::from(first.start_ms));
        let due = self.readings[self.next..].iter().take_while(|l| i128::from(l.end_ms) + offset <= i128::from(now_ms)).count();
        let readings = (self.next..self.next + due).map(|i| self.mapped(i, offset)).collect();
        self.next += due;
        Ok(readings)
    }

    fn exhausted(&self) -> bool {
        self.next >= self.readings.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(lines: &[&str]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        for line in lines {
            writeln!(file, "{line}").unwrap();
        }
        file
    }

    fn cpu_file(count: u64) -> tempfile::NamedTempFile {
        let lines: Vec<String> = (0..count)
            .map(|i| format!(r#"{{"start_ms":{},"end_ms":{},"class":"cpu","quantity":{}}}"#, 1000 * i, 1000 * (i + 1), 10 + i))
            .collect();
        file(&lines.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn plays_at_the_recorded_pace_moved_to_the_first_poll() {
        let file = cpu_file(3);
        let mut replay = ReplaySource::open(file.path(), ResourceClass::Cpu).unwrap();
        replay.resume(None, 0).unwrap();
        assert!(replay.poll(50_000).unwrap().is_empty());
        assert!(replay.poll(50_999).unwrap().is_empty());
        let due = replay.poll(51_000).unwrap();
        assert_eq!(due, vec![Reading { start_ms: 50_000, end_ms: 51_000, quantity: 10, cursor: vec![1] }]);
        let rest = replay.poll(60_000).unwrap();
        assert_eq!(rest.iter().map(|r| (r.start_ms, r.end_ms)).collect::<Vec<_>>(), [(51_000, 52_000), (52_000, 53_000)]);
        assert!(replay.exhausted());
        assert!(replay.poll(u64::MAX).unwrap().is_empty());
    }

    #[test]
    fn resume_continues_right_after_the_logged_reading_with_its_times() {
        let file = cpu_file(6);
        let mut replay = ReplaySource::open(file.path(), ResourceClass::Cpu).unwrap();
        replay.resume(None, 0).unwrap();
        replay.poll(10_000).unwrap();
        let before = replay.poll(14_000).unwrap();
        // Crash after logging the first three: restart from the third's cursor and end.
        let mut restarted = ReplaySource::open(file.path(), ResourceClass::Cpu).unwrap();
        restarted.resume(Some((&before[2].cursor, before[2].end_ms)), 99_000).unwrap();
        let after = restarted.poll(99_000).unwrap();
        assert_eq!(after.iter().map(|r| r.start_ms).collect::<Vec<_>>(), [13_000, 14_000, 15_000], "caught up, same mapping");
        assert!(restarted.resume(Some((&vec![7], 7000)), 0).is_err(), "index past the file must be caught");
        assert!(restarted.resume(Some((&vec![0], 7000)), 0).is_err(), "index 0 is no reading");
    }

    #[test]
    fn bad_lines_are_config_errors_naming_the_line() {
        let cases: [(&[&str], &str); 4] = [
            (&[r#"{"start_ms":0,"end_ms":1,"class":"cpu","quantity":1}"#, "", "not json"], ":3:"),
            (&[r#"{"start_ms":0,"end_ms":1,"class":"gpu","quantity":1}"#], ":1: a gpu reading"),
            (&[r#"{"start_ms":5,"end_ms":5,"class":"cpu","quantity":1}"#], ":1: start_ms 5"),
            (&[r#"{"start_ms":0,"end_ms":9,"class":"cpu","quantity":1}"#, r#"{"start_ms":8,"end_ms":10,"class":"cpu","quantity":1}"#], ":2: starts at 8"),
        ];
        for (lines, expected) in cases {
            let file = file(lines);
            let err = ReplaySource::open(file.path(), ResourceClass::Cpu).err().unwrap();
            assert!(matches!(err, MeterError::Config { .. }));
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn missing_file_is_unavailable() {
        let err = ReplaySource::open(Path::new("/nonexistent.jsonl"), ResourceClass::Cpu).err().unwrap();
        assert!(matches!(err, MeterError::Unavailable { .. }) && err.to_string().contains("/nonexistent.jsonl"), "{err}");
    }
}
