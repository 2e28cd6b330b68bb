//! Readings recorded in a JSON-lines file, played back: for tests, demos and
//! crash drills, where the same usage must come out however often the daemon is
//! killed and restarted.
//!
//! Each non-blank line is `{"start_ms":..,"end_ms":..,"class":"cpu","quantity":..}`.
//! The whole file is checked when it is opened (syntax, class, intervals in order
//! and not overlapping), so a bad file fails at start-up with its line number.
//! Readings keep their recorded timestamps at both speeds; "recorded" only paces
//! when they are returned. The cursor of a reading is `[index of the next reading]`
//! (counting non-blank lines from 0), so a resumed replay continues exactly after
//! the last logged reading. At the end of the file the replay is
//! [`exhausted`](MeterSource::exhausted) and every poll returns nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkmeter_circuits::ResourceClass;

use super::{check_cursor, Cursor, MeterError, MeterSource, Reading};

const NAME: &str = "replay";

/// How fast a replay plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplaySpeed {
    /// At the pace of the recording: the first poll after `resume` maps the next
    /// reading's start to that poll's time, and a reading is returned once its
    /// mapped end has passed.
    #[default]
    Recorded,
    /// A fixed number of readings at every poll, whatever the time.
    Fast,
}

pub(super) fn default_batch() -> usize {
    16
}

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
    speed: ReplaySpeed,
    batch: usize,
    readings: Vec<Line>,
    next: usize,
    /// Recorded speed: wall-clock time minus recorded time, fixed by the first poll.
    offset: Option<i128>,
}

impl ReplaySource {
    /// Reads and checks the whole file.
    pub fn open(path: &Path, class: ResourceClass, speed: ReplaySpeed, batch: usize) -> Result<Self, MeterError> {
        let config = |reason: String| MeterError::Config { source_name: NAME, reason };
        if batch == 0 {
            return Err(config("batch = 0 would never play a reading; set batch to 1 or more".into()));
        }
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
        Ok(Self { path: path.to_owned(), class, speed, batch, readings, next: 0, offset: None })
    }

    fn reading(&self, index: usize) -> Reading {
        let line = &self.readings[index];
        Reading { start_ms: line.start_ms, end_ms: line.end_ms, quantity: line.quantity, cursor: vec![index as u64 + 1] }
    }
}

impl MeterSource for ReplaySource {
    fn class(&self) -> ResourceClass {
        self.class
    }

    fn describe(&self) -> String {
        let speed = match self.speed {
            ReplaySpeed::Recorded => "at recorded pace".to_string(),
            ReplaySpeed::Fast => format!("{} per poll", self.batch),
        };
        format!("replay: {} ({} {} readings, {speed})", self.path.display(), self.readings.len(), self.class)
    }

    fn resume(&mut self, last: Option<(&Cursor, u64)>, _now_ms: u64) -> Result<(), MeterError> {
        let next = match last {
            None => 0,
            Some((cursor, end_ms)) => {
                check_cursor(NAME, cursor, 1)?;
                let next = usize::try_from(cursor[0]).unwrap_or(usize::MAX);
                let changed = |detail: String| MeterError::Config {
                    source_name: NAME,
                    reason: format!("{detail}: {} changed since the stream was logged; restore it or start a new stream", self.path.display()),
                };
                if next > self.readings.len() {
                    return Err(changed(format!("the log continues at reading {next} but the file has {}", self.readings.len())));
                }
                if let Some(logged) = next.checked_sub(1).map(|i| &self.readings[i]).filter(|l| l.end_ms != end_ms) {
                    return Err(changed(format!("the log's last reading ends at {end_ms}, reading {} of the file at {}", next - 1, logged.end_ms)));
                }
                next
            }
        };
        self.next = next;
        self.offset = None;
        Ok(())
    }

    fn poll(&mut self, now_ms: u64) -> Result<Vec<Reading>, MeterError> {
        let end = match (self.speed, self.readings.get(self.next)) {
            (_, None) => return Ok(Vec::new()),
            (ReplaySpeed::Fast, Some(_)) => (self.next + self.batch).min(self.readings.len()),
            (ReplaySpeed::Recorded, Some(first)) => {
                let offset = *self.offset.get_or_insert(i128::from(now_ms) - i128::from(first.start_ms));
                let due = self.readings[self.next..].iter().take_while(|l| i128::from(l.end_ms) + offset <= i128::from(now_ms));
                self.next + due.count()
            }
        };
        let readings = (self.next..end).map(|i| self.reading(i)).collect();
        self.next = end;
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
    fn fast_plays_batches_then_is_exhausted() {
        let file = cpu_file(5);
        let mut replay = ReplaySource::open(file.path(), ResourceClass::Cpu, ReplaySpeed::Fast, 2).unwrap();
        replay.resume(None, 0).unwrap();
        let first = replay.poll(0).unwrap();
        assert_eq!(first[1], Reading { start_ms: 1000, end_ms: 2000, quantity: 11, cursor: vec![2] });
        assert_eq!(replay.poll(0).unwrap().len(), 2);
        assert!(!replay.exhausted());
        assert_eq!(replay.poll(0).unwrap().len(), 1);
        assert!(replay.exhausted());
        assert!(replay.poll(u64::MAX).unwrap().is_empty());
    }

    #[test]
    fn resume_continues_right_after_the_logged_reading() {
        let file = cpu_file(6);
        let mut replay = ReplaySource::open(file.path(), ResourceClass::Cpu, ReplaySpeed::Fast, 4).unwrap();
        replay.resume(None, 0).unwrap();
        let before = replay.poll(0).unwrap();
        // Crash after logging the first three of the four: restart from the third's cursor.
        let mut restarted = ReplaySource::open(file.path(), ResourceClass::Cpu, ReplaySpeed::Fast, 4).unwrap();
        restarted.resume(Some((&before[2].cursor, before[2].end_ms)), 99).unwrap();
        let after = restarted.poll(0).unwrap();
        assert_eq!(after.iter().map(|r| r.start_ms).collect::<Vec<_>>(), [3000, 4000, 5000]);
        assert!(restarted.resume(Some((&vec![3], 2500)), 0).is_err(), "end mismatch must be caught");
        assert!(restarted.resume(Some((&vec![7], 7000)), 0).is_err(), "index past the file must be caught");
    }

    #[test]
    fn recorded_pace_starts_at_the_first_poll() {
        let file = cpu_file(3);
        let mut replay = ReplaySource::open(file.path(), ResourceClass::Cpu, ReplaySpeed::Recorded, 16).unwrap();
        replay.resume(None, 0).unwrap();
        assert!(replay.poll(50_000).unwrap().is_empty());
        assert!(replay.poll(50_999).unwrap().is_empty());
        let due = replay.poll(51_000).unwrap();
        assert_eq!(due, vec![Reading { start_ms: 0, end_ms: 1000, quantity: 10, cursor: vec![1] }]);
        assert_eq!(replay.poll(60_000).unwrap().len(), 2);
        assert!(replay.exhausted());
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
            let err = ReplaySource::open(file.path(), ResourceClass::Cpu, ReplaySpeed::Fast, 1).err().unwrap();
            assert!(matches!(err, MeterError::Config { .. }));
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn missing_file_is_unavailable() {
        let err = ReplaySource::open(Path::new("/nonexistent.jsonl"), ResourceClass::Cpu, ReplaySpeed::Fast, 1).err().unwrap();
        assert!(matches!(err, MeterError::Unavailable { .. }) && err.to_string().contains("/nonexistent.jsonl"), "{err}");
    }
}
