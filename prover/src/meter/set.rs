//! A stream's sources together: the meters of one job (say its GPU busy time, its
//! GPU energy and its network bytes), read at the same moments and combined into
//! one interval with every class's usage, which the stream logs as one record.
//!
//! Live sources, polled at `now`, each return at most one reading ending at `now`;
//! the interval runs from the earliest of their starts to `now`. A source that
//! cannot be opened, or whose read fails, leaves its class out (zero) while the
//! others go on; the reason is kept for the daemon's status. A source that fails a
//! read and recovers resumes from its own last reading: a counter then bills what
//! it counted meanwhile in its next reading, which the daemon caps at the job's
//! capacity for the interval.
//!
//! A replay plays recorded intervals of its own, so it must be a stream's only
//! source. Two sources of one class are refused: the class's usage would be
//! counted twice.

use zkmeter_circuits::{PerClass, ResourceClass};

use super::{Cursor, MeterError, MeterSource};

/// One configured source: open (and possibly failing), or unavailable.
struct Slot {
    class: ResourceClass,
    source: Option<Box<dyn MeterSource>>,
    /// Why the source is not metering now (unavailable, or its last read failed).
    problem: Option<String>,
    /// Its counters at the end of its last reading (what the log stores).
    cursor: Cursor,
}

/// Usage of every class over one interval, with each source's counters at its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    /// Start, Unix milliseconds.
    pub start_ms: u64,
    /// End (exclusive), Unix milliseconds.
    pub end_ms: u64,
    /// Usage per class.
    pub usage: PerClass,
    /// Each source's cursor, in configuration order.
    pub cursors: Vec<Cursor>,
}

/// The sources of one stream.
pub struct SourceSet {
    slots: Vec<Slot>,
}

/// A configured source of one class: opened, or why it could not be.
pub type OpenedSource = (ResourceClass, Result<Box<dyn MeterSource>, MeterError>);

impl SourceSet {
    /// The sources of a stream, in configuration order: each opened one, or the
    /// reason it could not be opened (with its class). Refuses two sources of one
    /// class, and a replay beside other sources.
    pub fn new(sources: Vec<OpenedSource>) -> Result<Self, MeterError> {
        let config = |reason: String| MeterError::Config { source_name: "stream", reason };
        for (i, (class, _)) in sources.iter().enumerate() {
            if sources[..i].iter().any(|(c, _)| c == class) {
                return Err(config(format!("two sources meter {class}: a class's usage would be counted twice; keep one")));
            }
        }
        let replay = sources.iter().any(|(_, s)| s.as_ref().is_ok_and(|s| s.describe().starts_with("replay")));
        if replay && sources.len() > 1 {
            return Err(config("a replay plays recorded intervals of its own: it must be its stream's only source".into()));
        }
        let slots = sources
            .into_iter()
            .map(|(class, opened)| match opened {
                Ok(source) => Slot { class, source: Some(source), problem: None, cursor: Vec::new() },
                Err(e) => Slot { class, source: None, problem: Some(e.to_string()), cursor: Vec::new() },
            })
            .collect();
        Ok(SourceSet { slots })
    }

    /// Resumes every open source from the log's last record (its cursors, one per
    /// source, and its end), or from now for a stream with no record yet. A source
    /// whose cursor does not fit is left out, with the reason.
    pub fn resume(&mut self, last: Option<(&[Cursor], u64)>, now_ms: u64) -> Result<(), MeterError> {
        if let Some((cursors, _)) = last
            && cursors.len() != self.slots.len()
        {
            return Err(MeterError::Config {
                source_name: "stream",
                reason: format!(
                    "the stream's log was written with {} sources, but {} are configured: restore the configuration \
                     (sources in the same order) or meter the job with a new stream",
                    cursors.len(),
                    self.slots.len()
                ),
            });
        }
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let cursor = last.map(|(cursors, end)| (&cursors[i], end));
            slot.cursor = cursor.map(|(c, _)| c.clone()).unwrap_or_default();
            if let Some(source) = slot.source.as_mut()
                && let Err(e) = source.resume(cursor, now_ms)
            {
                slot.problem = Some(e.to_string());
                slot.source = None;
            }
        }
        Ok(())
    }

    /// Reads every open source at `now_ms`: the intervals to log, oldest first (at
    /// most one for live sources; a replay may return several).
    pub fn poll(&mut self, now_ms: u64) -> Vec<Interval> {
        let mut polled = Vec::with_capacity(self.slots.len());
        for slot in &mut self.slots {
            let Some(source) = slot.source.as_mut() else {
                polled.push(Vec::new());
                continue;
            };
            match source.poll(now_ms) {
                Ok(readings) => {
                    slot.problem = None;
                    polled.push(readings);
                }
                Err(e) => {
                    slot.problem = Some(e.to_string());
                    polled.push(Vec::new());
                }
            }
        }
        if self.slots.len() == 1 {
            let class = self.slots[0].class;
            let readings = polled.pop().expect("one source");
            if let Some(last) = readings.last() {
                self.slots[0].cursor = last.cursor.clone();
            }
            return readings
                .into_iter()
                .map(|r| {
                    let mut usage = PerClass::default();
                    usage.set(class, r.quantity);
                    Interval { start_ms: r.start_ms, end_ms: r.end_ms, usage, cursors: vec![r.cursor] }
                })
                .collect();
        }
        let mut combined: Option<(u64, u64)> = None;
        let mut usage = PerClass::default();
        for (slot, readings) in self.slots.iter_mut().zip(polled) {
            for r in readings {
                combined = Some(match combined {
                    Some((start, end)) => (start.min(r.start_ms), end.max(r.end_ms)),
                    None => (r.start_ms, r.end_ms),
                });
                usage.set(slot.class, usage.get(slot.class).saturating_add(r.quantity));
                slot.cursor = r.cursor;
            }
        }
        let Some((start_ms, end_ms)) = combined else { return Vec::new() };
        vec![Interval { start_ms, end_ms, usage, cursors: self.slots.iter().map(|s| s.cursor.clone()).collect() }]
    }

    /// What each source reads, or why it does not, one per line.
    pub fn describe(&self) -> String {
        self.slots
            .iter()
            .map(|s| match (&s.source, &s.problem) {
                (Some(source), None) => source.describe(),
                (_, Some(problem)) => format!("{}: {problem}", s.class),
                (None, None) => format!("{}: not open", s.class),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Why some sources are not metering (unavailable, or failing), if any.
    pub fn problems(&self) -> Option<String> {
        let problems: Vec<String> = self.slots.iter().filter_map(|s| s.problem.clone()).collect();
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    /// Whether no source can produce another reading: all unavailable, or every
    /// open one exhausted (a replay at its end).
    pub fn exhausted(&self) -> bool {
        self.slots.iter().all(|s| s.source.as_ref().is_none_or(|source| source.exhausted()))
    }

    /// Whether any source is open.
    pub fn any_open(&self) -> bool {
        self.slots.iter().any(|s| s.source.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::synthetic::SyntheticSource;
    use crate::meter::Reading;

    /// A source whose next poll returns what the test queued.
    struct Scripted {
        class: ResourceClass,
        next: Vec<Result<Vec<Reading>, String>>,
    }

    impl MeterSource for Scripted {
        fn class(&self) -> ResourceClass {
            self.class
        }
        fn describe(&self) -> String {
            format!("scripted {}", self.class)
        }
        fn resume(&mut self, _: Option<(&Cursor, u64)>, _: u64) -> Result<(), MeterError> {
            Ok(())
        }
        fn poll(&mut self, _: u64) -> Result<Vec<Reading>, MeterError> {
            self.next.remove(0).map_err(|reason| MeterError::Read { source_name: "scripted", reason })
        }
    }

    fn reading(start_ms: u64, end_ms: u64, quantity: u64, cursor: u64) -> Reading {
        Reading { start_ms, end_ms, quantity, cursor: vec![cursor] }
    }

    fn scripted(class: ResourceClass, next: Vec<Result<Vec<Reading>, String>>) -> (ResourceClass, Result<Box<dyn MeterSource>, MeterError>) {
        (class, Ok(Box::new(Scripted { class, next })))
    }

    #[test]
    fn several_sources_make_one_interval_with_every_class() {
        let mut set = SourceSet::new(vec![
            scripted(ResourceClass::Gpu, vec![Ok(vec![reading(1_000, 2_000, 700, 1)]), Ok(vec![reading(2_000, 3_000, 800, 2)])]),
            scripted(ResourceClass::Energy, vec![Ok(vec![reading(1_000, 2_000, 90, 10)]), Err("sensor gone".into())]),
            scripted(ResourceClass::Network, vec![Ok(vec![reading(1_000, 2_000, 5, 100)]), Ok(vec![reading(2_000, 3_000, 6, 101)])]),
        ])
        .unwrap();
        set.resume(None, 1_000).unwrap();
        let first = set.poll(2_000);
        assert_eq!(
            first,
            vec![Interval { start_ms: 1_000, end_ms: 2_000, usage: PerClass([700, 0, 0, 5, 90]), cursors: vec![vec![1], vec![10], vec![100]] }]
        );
        // Energy fails: its class is left out, its cursor stays, the others go on.
        let second = set.poll(3_000);
        assert_eq!(second[0].usage, PerClass([800, 0, 0, 6, 0]));
        assert_eq!(second[0].cursors, vec![vec![2], vec![10], vec![101]]);
        assert!(set.problems().unwrap().contains("sensor gone"));
    }

    #[test]
    fn an_unavailable_source_leaves_its_class_out() {
        let unavailable = MeterError::Unavailable { source_name: "gpu", reason: "no NVIDIA driver".into() };
        let mut set = SourceSet::new(vec![
            (ResourceClass::Gpu, Err(unavailable)),
            (ResourceClass::Cpu, Ok(Box::new(SyntheticSource::new(ResourceClass::Cpu, 1000, 1)))),
        ])
        .unwrap();
        set.resume(None, 0).unwrap();
        let got = set.poll(1_000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].usage.get(ResourceClass::Gpu), 0);
        assert!(set.describe().contains("no NVIDIA driver") && set.any_open() && !set.exhausted());
    }

    #[test]
    fn duplicate_classes_and_a_replay_beside_others_are_refused() {
        let two = SourceSet::new(vec![scripted(ResourceClass::Cpu, vec![]), scripted(ResourceClass::Cpu, vec![])]);
        assert!(two.err().unwrap().to_string().contains("two sources meter cpu"));
    }

    #[test]
    fn a_log_of_another_source_count_is_refused() {
        let mut set = SourceSet::new(vec![scripted(ResourceClass::Cpu, vec![])]).unwrap();
        let err = set.resume(Some((&[vec![1], vec![2]], 5)), 10).unwrap_err();
        assert!(err.to_string().contains("written with 2 sources, but 1 are configured"), "{err}");
    }
}
