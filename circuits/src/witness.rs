//! Native witness building: from a stream's settled state and the next records to
//! the statement and the private witness of [`crate::MeterCircuit`].
//!
//! [`build_epoch`] checks every rule of the circuit natively first and names the
//! offending record, so a provider learns what is wrong before spending a proof.
//! [`evaluate`] is the circuit's arithmetic done natively over field elements; the
//! statement comes out of it, and so do the tampered instances of the tests.

use ark_bn254::Fr;
use ark_ff::{One, Zero};

use crate::error::RecordError;
use crate::record::{CAPACITY_LIMIT, Capacity, PerClass, ResourceClass, UsageRecord};
use crate::statement::{DURATION_BITS, GAP_BITS, MeterInstance, MeterStatement};
use crate::stream::{StreamId, StreamState, chain_head, close_head, pack_record};

/// One record slot of the circuit, in the circuit's own terms: times as the gap
/// since the previous record's end and the duration; the seq is implied by the
/// slot's position. All values are field elements so tests can assign what no
/// honest record has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotWitness {
    /// 1 for a real record, 0 for padding (padding only after all real records).
    pub active: Fr,
    /// `start − end of the previous record` (or of the settled state).
    pub gap_ms: Fr,
    /// `end − start`.
    pub duration_ms: Fr,
    /// The quantity of each class (all zero in padding).
    pub usage: [Fr; ResourceClass::COUNT],
}

impl SlotWitness {
    /// An unused slot: all zero.
    pub fn padding() -> Self {
        SlotWitness { active: Fr::zero(), gap_ms: Fr::zero(), duration_ms: Fr::zero(), usage: [Fr::zero(); ResourceClass::COUNT] }
    }

    /// A real record that starts `gap_ms` after the previous one ended.
    pub fn record(record: &UsageRecord, gap_ms: u64) -> Self {
        SlotWitness {
            active: Fr::one(),
            gap_ms: Fr::from(gap_ms),
            duration_ms: Fr::from(record.duration_ms()),
            usage: record.usage.0.map(Fr::from),
        }
    }
}

/// The private witness of one epoch: the salt and exactly N slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterWitness {
    /// Salt of the closing head.
    pub salt: Fr,
    /// N slots, real records first.
    pub slots: Vec<SlotWitness>,
}

/// Checks `records` against every rule, then builds the statement and witness of
/// an epoch that continues `prev` in a circuit with `slots` record slots, for a job
/// with `capacity`.
pub fn build_epoch(
    stream: StreamId,
    prev: StreamState,
    records: &[UsageRecord],
    capacity: Capacity,
    salt: Fr,
    slots: usize,
) -> Result<(MeterStatement, MeterWitness), RecordError> {
    if records.is_empty() {
        return Err(RecordError::NoRecords);
    }
    if records.len() > slots {
        return Err(RecordError::TooManyRecords { records: records.len(), slots });
    }
    if let Some((class, value)) = capacity.iter().find(|(_, v)| *v >= CAPACITY_LIMIT) {
        return Err(RecordError::CapacityTooLarge { class, value });
    }
    let mut witness = MeterWitness { salt, slots: Vec::with_capacity(slots) };
    let mut totals = PerClass::default();
    let mut prev_end = prev.end_ms;
    for (index, r) in records.iter().enumerate() {
        check_record(index, r, prev.seq, prev_end)?;
        for (class, quantity) in r.usage.iter() {
            let sum = totals.get(class).checked_add(quantity);
            let Some(total) = sum.filter(|t| class.fits(*t)) else {
                let total = totals.get(class).saturating_add(quantity);
                return Err(RecordError::TotalTooWide { index, class, total, bits: class.usage_bits(), unit: class.unit() });
            };
            totals.set(class, total);
        }
        witness.slots.push(SlotWitness::record(r, r.start_ms - prev_end));
        prev_end = r.end_ms;
    }
    witness.slots.resize(slots, SlotWitness::padding());
    let elapsed_ms = prev_end - prev.end_ms;
    for ((class, total), capacity) in totals.iter().zip(capacity.0) {
        if u128::from(total) > u128::from(capacity) * u128::from(elapsed_ms) {
            return Err(RecordError::OverCapacity { class, total, elapsed_ms, capacity, unit: class.unit() });
        }
    }

    let last = records.last().expect("checked non-empty");
    let instance = evaluate(&prev_instance(&prev, &capacity), &witness);
    let statement = MeterStatement {
        stream,
        prev,
        new: StreamState { head: instance.new_head, seq: last.seq, end_ms: last.end_ms },
        totals,
        record_count: records.len() as u32,
        capacity,
    };
    debug_assert_eq!(statement.instance(), instance, "the u64 statement and the field evaluation agree");
    Ok((statement, witness))
}

/// Rules 1–3 for the `index`-th record of an epoch that continues seq `prev_seq`,
/// after a record (or settled state) that ended at `prev_end`.
fn check_record(index: usize, r: &UsageRecord, prev_seq: u64, prev_end: u64) -> Result<(), RecordError> {
    let expected = prev_seq.checked_add(index as u64 + 1).ok_or(RecordError::SeqOverflow)?;
    if r.seq != expected {
        return Err(RecordError::SeqGap { index, expected, found: r.seq });
    }
    if r.start_ms < prev_end {
        return Err(RecordError::Overlap { index, start_ms: r.start_ms, prev_end_ms: prev_end });
    }
    if r.end_ms <= r.start_ms {
        return Err(RecordError::EmptyInterval { index, start_ms: r.start_ms, end_ms: r.end_ms });
    }
    let max_ms = 1u64 << DURATION_BITS;
    if r.duration_ms() > max_ms {
        return Err(RecordError::TooLong { index, duration_ms: r.duration_ms(), max_ms });
    }
    let max_gap = (1u64 << GAP_BITS) - 1;
    if r.start_ms - prev_end > max_gap {
        return Err(RecordError::GapTooLong { index, gap_ms: r.start_ms - prev_end, max_ms: max_gap });
    }
    Ok(())
}

/// The parts of an instance that come before the epoch: previous state and capacity.
pub fn prev_instance(prev: &StreamState, capacity: &Capacity) -> MeterInstance {
    MeterInstance {
        prev_head: prev.head,
        new_head: Fr::zero(),
        prev_seq: Fr::from(prev.seq),
        prev_end_ms: Fr::from(prev.end_ms),
        new_end_ms: Fr::zero(),
        record_count: Fr::zero(),
        totals: [Fr::zero(); ResourceClass::COUNT],
        capacity: capacity.0.map(Fr::from),
    }
}

/// Computes, over the field and exactly as the circuit does, the instance a
/// witness proves when continuing from `prev`'s previous state and capacity: head
/// chain, closing head, new end, record count and totals. (`prev`'s other fields
/// are ignored.)
pub fn evaluate(prev: &MeterInstance, witness: &MeterWitness) -> MeterInstance {
    let mut head = prev.prev_head;
    let mut end = prev.prev_end_ms;
    let mut count = Fr::zero();
    let mut totals = [Fr::zero(); ResourceClass::COUNT];
    for (index, slot) in witness.slots.iter().enumerate() {
        let start = end + slot.gap_ms;
        end = start + slot.duration_ms;
        let seq = prev.prev_seq + Fr::from(index as u64 + 1);
        let next = chain_head(head, pack_record(seq, start, end, &slot.usage));
        head += slot.active * (next - head);
        count += slot.active;
        for (total, quantity) in totals.iter_mut().zip(slot.usage) {
            *total += quantity;
        }
    }
    MeterInstance { new_head: close_head(head, witness.salt), new_end_ms: end, record_count: count, totals, ..*prev }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamId {
        StreamId { meter: [9; 20], job_id: 1 }
    }

    fn rec(seq: u64, start_ms: u64, end_ms: u64, usage: [u64; 5]) -> UsageRecord {
        UsageRecord { seq, start_ms, end_ms, usage: PerClass(usage) }
    }

    fn caps() -> Capacity {
        PerClass([8, 64, 1 << 40, 1 << 24, 1 << 20])
    }

    #[test]
    fn statement_matches_the_native_chain() {
        let s = stream();
        let records = [rec(1, 100, 200, [500, 0, 0, 7, 9]), rec(2, 200, 300, [0, 700, 0, 0, 0]), rec(3, 310, 320, [1, 0, 0, 0, 0])];
        let salt = Fr::from(77u64);
        let (statement, witness) = build_epoch(s, s.genesis(90), &records, caps(), salt, 5).unwrap();
        let tip = records.iter().fold(s.genesis_head(), crate::stream::append);
        assert_eq!(statement.new, StreamState { head: close_head(tip, salt), seq: 3, end_ms: 320 });
        assert_eq!(statement.totals, PerClass([501, 700, 0, 7, 9]));
        assert_eq!(statement.record_count, 3);
        assert_eq!(witness.slots.len(), 5);
        assert_eq!(witness.slots[3], SlotWitness::padding());
        statement.check().unwrap();
    }

    #[test]
    fn each_rule_is_checked_natively_with_the_record_named() {
        let s = stream();
        let g = s.genesis(10);
        let build = |records: &[UsageRecord]| build_epoch(s, g, records, caps(), Fr::zero(), 4).unwrap_err();
        let ok = rec(1, 10, 20, [1, 0, 0, 0, 0]);
        assert_eq!(build(&[]), RecordError::NoRecords);
        assert_eq!(build(&[ok; 5]), RecordError::TooManyRecords { records: 5, slots: 4 });
        assert_eq!(build(&[ok, rec(3, 20, 30, [1, 0, 0, 0, 0])]), RecordError::SeqGap { index: 1, expected: 2, found: 3 });
        assert_eq!(build(&[ok, rec(2, 19, 30, [0; 5])]), RecordError::Overlap { index: 1, start_ms: 19, prev_end_ms: 20 });
        assert_eq!(build(&[rec(1, 5, 20, [0; 5])]), RecordError::Overlap { index: 0, start_ms: 5, prev_end_ms: 10 });
        assert_eq!(build(&[rec(1, 20, 20, [0; 5])]), RecordError::EmptyInterval { index: 0, start_ms: 20, end_ms: 20 });
        let long = rec(1, 10, 10 + (1 << 32) + 1, [0; 5]);
        assert_eq!(build(&[long]), RecordError::TooLong { index: 0, duration_ms: (1 << 32) + 1, max_ms: 1 << 32 });
        assert!(build_epoch(s, g, &[rec(1, 10, 10 + (1 << 32), [0; 5])], caps(), Fr::zero(), 4).is_ok(), "2^32 ms is the longest record");
        let late = rec(1, 10 + (1 << 40), 11 + (1 << 40), [0; 5]);
        assert!(matches!(build(&[late]), RecordError::GapTooLong { index: 0, .. }));
        // 8 GPU-ms per ms over the 10 ms from the settled end: 80 fits, 81 does not.
        assert!(matches!(build(&[rec(1, 10, 20, [81, 0, 0, 0, 0])]), RecordError::OverCapacity { class: ResourceClass::Gpu, total: 81, elapsed_ms: 10, .. }));
        let huge = PerClass([(1 << 48) - 1; 5]);
        let wide = [rec(1, 10, 1 << 30, [1 << 43, 0, 0, 0, 0]), rec(2, 1 << 30, 1 << 31, [1 << 43, 0, 0, 0, 0])];
        let err = build_epoch(s, g, &wide, huge, Fr::zero(), 4).unwrap_err();
        assert!(matches!(err, RecordError::TotalTooWide { index: 1, class: ResourceClass::Gpu, bits: 44, .. }), "{err}");
        let full = [rec(1, 10, 1 << 30, [0, 0, u64::MAX, 0, 0]), rec(2, 1 << 30, 1 << 31, [0, 0, 1, 0, 0])];
        let err = build_epoch(s, g, &full, huge, Fr::zero(), 4).unwrap_err();
        assert!(matches!(err, RecordError::TotalTooWide { index: 1, class: ResourceClass::Storage, bits: 64, .. }), "{err}");
    }
}
