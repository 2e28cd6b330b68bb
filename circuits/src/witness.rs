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
use crate::statement::{MeterInstance, MeterStatement};
use crate::stream::{StreamId, StreamState, chain_head, close_head, pack_record};

/// One record slot of the circuit, in the circuit's own terms: times as the gap
/// since the previous record's end and the duration, the class one-hot. All values
/// are field elements so tests can assign what no honest record has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotWitness {
    /// 1 for a real record, 0 for padding (padding only after all real records).
    pub active: Fr,
    /// The record's seq (0 in padding).
    pub seq: Fr,
    /// `start − end of the previous record` (or of the settled state).
    pub gap_ms: Fr,
    /// `end − start`.
    pub duration_ms: Fr,
    /// One-hot class (all zero in padding).
    pub class: [Fr; ResourceClass::COUNT],
    /// The quantity.
    pub quantity: Fr,
}

impl SlotWitness {
    /// An unused slot: all zero.
    pub fn padding() -> Self {
        SlotWitness {
            active: Fr::zero(),
            seq: Fr::zero(),
            gap_ms: Fr::zero(),
            duration_ms: Fr::zero(),
            class: [Fr::zero(); ResourceClass::COUNT],
            quantity: Fr::zero(),
        }
    }

    /// A real record that starts `gap_ms` after the previous one ended.
    pub fn record(record: &UsageRecord, gap_ms: u64) -> Self {
        let mut class = [Fr::zero(); ResourceClass::COUNT];
        class[record.class.index()] = Fr::one();
        SlotWitness {
            active: Fr::one(),
            seq: Fr::from(record.seq),
            gap_ms: Fr::from(gap_ms),
            duration_ms: Fr::from(record.duration_ms()),
            class,
            quantity: Fr::from(record.quantity),
        }
    }

    /// The class index the one-hot encodes (`Σ k·class_k`, as the circuit packs it).
    pub fn class_index(&self) -> Fr {
        self.class.iter().enumerate().map(|(k, c)| Fr::from(k as u64) * c).sum()
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
/// an epoch that continues `prev` in a circuit with `slots` record slots.
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
        let expected = prev.seq.checked_add(index as u64 + 1).ok_or(RecordError::SeqOverflow)?;
        if r.seq != expected {
            return Err(RecordError::SeqGap { index, expected, found: r.seq });
        }
        if r.start_ms < prev_end {
            return Err(RecordError::Overlap { index, start_ms: r.start_ms, prev_end_ms: prev_end });
        }
        if r.end_ms <= r.start_ms {
            return Err(RecordError::EmptyInterval { index, start_ms: r.start_ms, end_ms: r.end_ms });
        }
        let cap = capacity.get(r.class);
        if u128::from(r.quantity) > u128::from(cap) * u128::from(r.duration_ms()) {
            return Err(RecordError::OverCapacity {
                index,
                class: r.class,
                quantity: r.quantity,
                duration_ms: r.duration_ms(),
                capacity: cap,
                unit: r.class.unit(),
            });
        }
        let total = totals.get(r.class).checked_add(r.quantity).ok_or(RecordError::TotalOverflow(r.class))?;
        totals.set(r.class, total);
        witness.slots.push(SlotWitness::record(r, r.start_ms - prev_end));
        prev_end = r.end_ms;
    }
    witness.slots.resize(slots, SlotWitness::padding());

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
    for slot in &witness.slots {
        let start = end + slot.gap_ms;
        end = start + slot.duration_ms;
        let next = chain_head(head, pack_record(slot.seq, start, end, slot.class_index(), slot.quantity));
        head += slot.active * (next - head);
        count += slot.active;
        for (total, one_hot) in totals.iter_mut().zip(slot.class) {
            *total += one_hot * slot.quantity;
        }
    }
    MeterInstance {
        new_head: close_head(head, witness.salt),
        new_end_ms: end,
        record_count: count,
        totals,
        ..*prev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamId {
        StreamId { meter: [9; 20], job_id: 1 }
    }

    fn rec(seq: u64, start_ms: u64, end_ms: u64, class: ResourceClass, quantity: u64) -> UsageRecord {
        UsageRecord { seq, start_ms, end_ms, class, quantity }
    }

    fn caps() -> Capacity {
        PerClass([8, 64, 1 << 40, 1 << 24, 1 << 20])
    }

    #[test]
    fn statement_matches_the_native_chain() {
        let s = stream();
        let records = [rec(1, 100, 200, ResourceClass::Gpu, 500), rec(2, 200, 300, ResourceClass::Cpu, 700), rec(3, 310, 320, ResourceClass::Gpu, 1)];
        let salt = Fr::from(77u64);
        let (statement, witness) = build_epoch(s, s.genesis(), &records, caps(), salt, 5).unwrap();
        let tip = records.iter().fold(s.genesis_head(), crate::stream::append);
        assert_eq!(statement.new, StreamState { head: close_head(tip, salt), seq: 3, end_ms: 320 });
        assert_eq!(statement.totals, PerClass([501, 700, 0, 0, 0]));
        assert_eq!(statement.record_count, 3);
        assert_eq!(witness.slots.len(), 5);
        assert_eq!(witness.slots[3], SlotWitness::padding());
        statement.check().unwrap();
    }

    #[test]
    fn each_rule_is_checked_natively_with_the_record_named() {
        let s = stream();
        let g = s.genesis();
        let build = |records: &[UsageRecord]| build_epoch(s, g, records, caps(), Fr::zero(), 4).unwrap_err();
        let ok = rec(1, 10, 20, ResourceClass::Gpu, 1);
        assert_eq!(build(&[]), RecordError::NoRecords);
        assert_eq!(build(&[ok; 5]), RecordError::TooManyRecords { records: 5, slots: 4 });
        assert_eq!(build(&[ok, rec(3, 20, 30, ResourceClass::Gpu, 1)]), RecordError::SeqGap { index: 1, expected: 2, found: 3 });
        assert_eq!(build(&[ok, rec(2, 19, 30, ResourceClass::Gpu, 1)]), RecordError::Overlap { index: 1, start_ms: 19, prev_end_ms: 20 });
        assert_eq!(build(&[rec(1, 20, 20, ResourceClass::Gpu, 0)]), RecordError::EmptyInterval { index: 0, start_ms: 20, end_ms: 20 });
        assert!(matches!(build(&[rec(1, 10, 20, ResourceClass::Gpu, 81)]), RecordError::OverCapacity { index: 0, .. }));
        let huge = PerClass([u64::MAX >> 16; 5]);
        let err = build_epoch(s, g, &[rec(1, 0, u64::MAX / 2, ResourceClass::Cpu, u64::MAX), rec(2, u64::MAX / 2, u64::MAX, ResourceClass::Cpu, 1)], huge, Fr::zero(), 4);
        assert_eq!(err.unwrap_err(), RecordError::TotalOverflow(ResourceClass::Cpu));
    }
}
