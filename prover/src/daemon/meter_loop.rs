//! A stream's meter thread: reads its sources every `sample_interval_ms`, logs
//! what they measured as the stream's next records, and cuts the epochs that are due.

use rand::rngs::OsRng;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zkmeter_circuits::{Capacity, PerClass, RecordError, UsageRecord};

use crate::epoch;
use crate::meter::set::{Interval, SourceSet};
use crate::stream_log::LogError;

use super::{Shared, lock, now_ms, refresh};

/// Reads the stream's sources every `sample_interval_ms`, logs the readings as
/// records and cuts the epochs that are due. Waits for the stream's log first.
pub(super) fn run(shared: &Shared, index: usize, mut sources: SourceSet, prove: &mpsc::Sender<(usize, u64)>) {
    let stream = &shared.streams[index];
    let job_id = stream.config.job_id;
    let interval = Duration::from_millis(shared.config.sample_interval_ms);
    // Nothing can be logged before the log exists: the verifier has not said yet
    // where the job's stream starts.
    while stream.log.get().is_none() {
        if shared.stopping() || lock(&stream.blocked).is_some() {
            return;
        }
        std::thread::sleep(interval.min(Duration::from_millis(100)));
    }
    let mut live = sources.any_open() && !stream.metering_done.load(Ordering::SeqCst);
    if live {
        let resumed = {
            let log = stream.log().expect("the log exists");
            sources.resume(log.cursor(), now_ms())
        };
        if let Err(e) = resumed {
            stream.block(shared, index, e.to_string());
            live = false;
        }
        shared.status.update(index, |s| s.source = sources.describe());
    }
    if !live {
        stream.metering_done.store(true, Ordering::SeqCst);
        shared.status.update(index, |s| s.metering_done = true);
    }
    let mut next = Instant::now();
    loop {
        let stopping = shared.stopping();
        if live {
            let intervals = sources.poll(now_ms());
            if let Err(e) = log_intervals(shared, index, intervals) {
                shared.fail(job_id, format!("cannot log readings: {e}"));
                return;
            }
            if let Some(problems) = sources.problems() {
                shared.status.update(index, |s| s.source = sources.describe());
                tracing::debug!(job_id, "{problems}");
            }
            let limit = stream.config.stop_after_records.is_some_and(|n| stream.log().is_some_and(|log| log.next_seq() > n));
            if limit || sources.exhausted() {
                live = false;
                stream.metering_done.store(true, Ordering::SeqCst);
                shared.status.update(index, |st| st.metering_done = true);
            }
        }
        if stopping {
            return;
        }
        cut_due(shared, index, prove);
        next += interval;
        while Instant::now() < next && !shared.stopping() {
            std::thread::sleep((next - Instant::now()).min(Duration::from_millis(50)));
        }
    }
}

/// What one class may bill for `duration_ms`: the job's capacity for that time,
/// and never more than the class's lane in a statement holds.
fn cap(capacity: &Capacity, class: zkmeter_circuits::ResourceClass, duration_ms: u64) -> u64 {
    let by_capacity = u128::from(capacity.get(class)) * u128::from(duration_ms);
    let lane = if class.usage_bits() >= 64 { u128::from(u64::MAX) } else { (1u128 << class.usage_bits()) - 1 };
    u64::try_from(by_capacity.min(lane)).expect("at most u64::MAX")
}

/// Turns the sources' intervals into the stream's next records (numbered, not
/// overlapping the last one, never ending after now, cut down to capacity; empty
/// ones dropped) and logs them.
fn log_intervals(shared: &Shared, index: usize, intervals: Vec<Interval>) -> Result<(), LogError> {
    if intervals.is_empty() {
        return Ok(());
    }
    let stream = &shared.streams[index];
    let limit = stream.config.stop_after_records.unwrap_or(u64::MAX);
    let now = now_ms();
    let mut log = stream.log().expect("metering starts once the log exists");
    let capacity = log.header().capacity;
    let (mut seq, mut last_end) = (log.next_seq(), log.last_end_ms());
    let mut batch = Vec::new();
    let mut clamped = 0;
    for i in intervals {
        let start = i.start_ms.max(last_end);
        if seq > limit || i.end_ms <= start || i.end_ms > now {
            continue;
        }
        let duration = i.end_ms - start;
        let mut usage = PerClass::default();
        for (class, quantity) in i.usage.iter() {
            let most = cap(&capacity, class, duration);
            if quantity > most {
                clamped += 1;
            }
            usage.set(class, quantity.min(most));
        }
        if usage == PerClass::default() {
            continue;
        }
        batch.push((UsageRecord { seq, start_ms: start, end_ms: i.end_ms, usage }, i.cursors));
        seq += 1;
        last_end = i.end_ms;
    }
    if batch.is_empty() {
        return Ok(());
    }
    let n = batch.len();
    log.append_records(batch)?;
    lock(&stream.uncut_since).get_or_insert_with(Instant::now);
    drop(log);
    crate::pause_point::pause_thread("after-log");
    let log = stream.log().expect("the log exists");
    shared.metrics.logged(stream.config.job_id, n, clamped);
    if clamped > 0 {
        tracing::warn!(job_id = stream.config.job_id, clamped, "readings above the job's capacity were cut down to it");
    }
    refresh(shared, index, &log);
    Ok(())
}

/// Cuts every epoch that is due and queues it for proving.
fn cut_due(shared: &Shared, index: usize, prove: &mpsc::Sender<(usize, u64)>) {
    let stream = &shared.streams[index];
    let Some(&domain) = shared.domain.get() else { return };
    if let Some(why) = lock(&stream.blocked).as_ref() {
        shared.status.update(index, |s| s.note = why.clone());
        return;
    }
    let done = stream.metering_done.load(Ordering::SeqCst);
    let policy = &shared.config.epoch;
    loop {
        let Some(mut log) = stream.log() else { return };
        let waited = lock(&stream.uncut_since).map_or(Duration::ZERO, |t| t.elapsed());
        let max_age = Duration::from_millis(policy.max_age_ms);
        let Some(mut n) = epoch::due(log.uncut().len(), shared.config.max_records(), waited, max_age, done) else {
            return;
        };
        let (capacity, slots) = (log.header().capacity, shared.config.slots as usize);
        let cut = loop {
            let records = &log.uncut()[..n];
            match epoch::cut(&stream.key, domain, log.stream(), log.next_epoch(), log.tip(), records, capacity, slots, &mut OsRng) {
                // An epoch ends before a class's total would leave its lane.
                Err(RecordError::TotalTooWide { index, .. }) if index > 0 && index < n => n = index,
                other => break other,
            }
        };
        let cut = match cut {
            Ok(cut) => cut,
            Err(why) => {
                drop(log);
                stream.block(shared, index, format!("cannot cut an epoch: {why}"));
                return;
            }
        };
        let number = cut.epoch;
        match log.append_cut(cut) {
            Ok(()) => {
                *lock(&stream.uncut_since) = (!log.uncut().is_empty()).then(Instant::now);
                shared.metrics.epoch(stream.config.job_id, "cut");
                refresh(shared, index, &log);
                let _ = prove.send((index, number));
            }
            Err(e) => {
                shared.fail(stream.config.job_id, format!("cannot log a cut epoch: {e}"));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkmeter_circuits::ResourceClass;

    #[test]
    fn a_record_bills_at_most_capacity_times_its_time_and_its_lane() {
        let capacity = PerClass([8, 1 << 40, u64::MAX >> 16, 1 << 47, 1 << 47]);
        assert_eq!(cap(&capacity, ResourceClass::Gpu, 1_000), 8_000);
        assert_eq!(cap(&capacity, ResourceClass::Cpu, 1 << 10), (1 << 44) - 1, "the cpu lane holds 44 bits");
        assert_eq!(cap(&capacity, ResourceClass::Storage, u64::MAX), u64::MAX, "the storage lane holds a u64");
        assert_eq!(cap(&PerClass::default(), ResourceClass::Energy, 5), 0, "no capacity, nothing billed");
    }
}
