//! The meter statement and its five public inputs (layout in the crate docs).

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field};
use serde::{Deserialize, Serialize};

use crate::error::StatementError;
use crate::record::{CAPACITY_LIMIT, Capacity, PerClass, ResourceClass};
use crate::stream::{StreamId, StreamState, pack_usage};

/// Number of public inputs of [`crate::MeterCircuit`].
pub const PUBLIC_INPUTS: usize = 5;

/// Bit widths of the parts of the packed public inputs (the totals' lanes are
/// [`crate::record::USAGE_BITS`]).
pub(crate) const SEQ_BITS: usize = 64;
pub(crate) const TIME_BITS: usize = 64;
pub(crate) const COUNT_BITS: usize = 32;
pub(crate) const CAPACITY_BITS: usize = 48;

/// Bits of `end − start − 1` of a record: one record lasts 1 ms to 2^32 ms (≈ 49.7
/// days). Meters write records of seconds to minutes.
pub const DURATION_BITS: usize = 32;

/// Bits of the gap between a record's start and the previous record's end (or the
/// settled end): below 2^40 ms (≈ 34.8 years), longer than any job.
pub const GAP_BITS: usize = 40;

/// What one proof says: the stream moved from `prev` to `new` through
/// `record_count` records that add up to `totals`, and no class's total is more
/// than its `capacity` × the time from `prev.end_ms` to `new.end_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterStatement {
    /// The stream (bound through the genesis head and the meter's signature).
    pub stream: StreamId,
    /// The settled state this epoch continues from.
    pub prev: StreamState,
    /// The state after this epoch.
    pub new: StreamState,
    /// Per-class sums of the epoch's quantities.
    pub totals: PerClass,
    /// Number of records in the epoch (at least 1).
    pub record_count: u32,
    /// The stream's capacity per class, in base units per millisecond.
    pub capacity: Capacity,
}

impl MeterStatement {
    /// Checks what the statement says about itself (before any proof is looked at):
    /// `new.seq = prev.seq + record_count`, at least one record, capacities < 2^48,
    /// time moving forward, every total within its lane and within capacity × elapsed
    /// time. A statement that fails here has no proof.
    pub fn check(&self) -> Result<(), StatementError> {
        if self.record_count == 0 {
            return Err(StatementError::NoRecords);
        }
        if self.prev.seq.checked_add(u64::from(self.record_count)) != Some(self.new.seq) {
            return Err(StatementError::SeqMismatch { prev: self.prev.seq, count: self.record_count, new: self.new.seq });
        }
        if self.new.end_ms <= self.prev.end_ms {
            return Err(StatementError::TimeNotAdvancing { prev: self.prev.end_ms, new: self.new.end_ms });
        }
        if let Some((class, value)) = self.capacity.iter().find(|(_, v)| *v >= CAPACITY_LIMIT) {
            return Err(StatementError::CapacityTooLarge { class, value });
        }
        if let Some((class, total)) = self.totals.iter().find(|(c, v)| !c.fits(*v)) {
            return Err(StatementError::TotalTooWide { class, total, bits: class.usage_bits() });
        }
        let elapsed_ms = self.new.end_ms - self.prev.end_ms;
        for ((class, total), capacity) in self.totals.iter().zip(self.capacity.0) {
            if u128::from(total) > u128::from(capacity) * u128::from(elapsed_ms) {
                return Err(StatementError::OverCapacity { class, total, elapsed_ms, capacity, unit: class.unit() });
            }
        }
        Ok(())
    }

    /// The statement as the circuit sees it.
    pub fn instance(&self) -> MeterInstance {
        let f = |v: u64| Fr::from(v);
        MeterInstance {
            prev_head: self.prev.head,
            new_head: self.new.head,
            prev_seq: f(self.prev.seq),
            prev_end_ms: f(self.prev.end_ms),
            new_end_ms: f(self.new.end_ms),
            record_count: f(u64::from(self.record_count)),
            totals: self.totals.0.map(f),
            capacity: self.capacity.0.map(f),
        }
    }

    /// The five public inputs, packed as the crate docs describe.
    pub fn public_inputs(&self) -> [Fr; PUBLIC_INPUTS] {
        self.instance().public_inputs()
    }
}

/// The statement's values as field elements, before packing. Honest values come
/// from [`MeterStatement::instance`]; the circuit tests also build instances with
/// values no u64 can hold, to show the circuit refuses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeterInstance {
    /// `prev.head`.
    pub prev_head: Fr,
    /// `new.head`.
    pub new_head: Fr,
    /// `prev.seq`.
    pub prev_seq: Fr,
    /// `prev.end_ms`.
    pub prev_end_ms: Fr,
    /// `new.end_ms`.
    pub new_end_ms: Fr,
    /// Number of records.
    pub record_count: Fr,
    /// Per-class totals, in [`ResourceClass`] order.
    pub totals: [Fr; ResourceClass::COUNT],
    /// Per-class capacities, in [`ResourceClass`] order.
    pub capacity: [Fr; ResourceClass::COUNT],
}

impl MeterInstance {
    /// Packs the values into the five public inputs.
    pub fn public_inputs(&self) -> [Fr; PUBLIC_INPUTS] {
        [
            self.prev_head,
            self.new_head,
            pack(&[
                (self.prev_seq, SEQ_BITS),
                (self.prev_end_ms, TIME_BITS),
                (self.new_end_ms, TIME_BITS),
                (self.record_count, COUNT_BITS),
            ]),
            pack_usage(&self.totals),
            pack(&self.capacity.map(|v| (v, CAPACITY_BITS))),
        ]
    }
}

/// `Σ part_i · 2^(offset_i)` where each part takes its width's worth of bits.
pub(crate) fn pack(parts: &[(Fr, usize)]) -> Fr {
    let mut acc = Fr::ZERO;
    let mut shift = 0u64;
    for (value, bits) in parts {
        acc += *value * Fr::from(2u64).pow([shift]);
        shift += *bits as u64;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{BigInteger, PrimeField};

    fn statement() -> MeterStatement {
        MeterStatement {
            stream: StreamId { meter: [7; 20], job_id: 3 },
            prev: StreamState { head: Fr::from(11u64), seq: u64::MAX - 5, end_ms: 1_000 },
            new: StreamState { head: Fr::from(12u64), seq: u64::MAX - 2, end_ms: u64::MAX },
            totals: PerClass([(1 << 44) - 1, 1, u64::MAX, 3, (1 << 48) - 1]),
            record_count: 3,
            capacity: PerClass([(1 << 48) - 1, 5, 6, 7, 8]),
        }
    }

    fn word(x: Fr, offset: usize, bits: usize) -> u128 {
        let le = x.into_bigint().to_bits_le();
        le[offset..offset + bits].iter().rev().fold(0u128, |acc, b| (acc << 1) | *b as u128)
    }

    #[test]
    fn public_inputs_follow_the_documented_layout() {
        let s = statement();
        let x = s.public_inputs();
        assert_eq!(x[0], s.prev.head);
        assert_eq!(x[1], s.new.head);
        assert_eq!(word(x[2], 0, 64), s.prev.seq as u128);
        assert_eq!(word(x[2], 64, 64), s.prev.end_ms as u128);
        assert_eq!(word(x[2], 128, 64), s.new.end_ms as u128);
        assert_eq!(word(x[2], 192, 32), 3);
        assert_eq!(word(x[3], 0, 44), (1 << 44) - 1);
        assert_eq!(word(x[3], 44, 44), 1);
        assert_eq!(word(x[3], 88, 64), u64::MAX as u128);
        assert_eq!(word(x[3], 152, 52), 3);
        assert_eq!(word(x[3], 204, 48), (1 << 48) - 1);
        assert_eq!(word(x[3], 252, 2), 0);
        assert_eq!(word(x[4], 0, 48), (1 << 48) - 1);
        assert_eq!(word(x[4], 192, 48), 8);
        assert!(s.check().is_ok());
    }

    #[test]
    fn check_refuses_inconsistent_statements() {
        let mut s = statement();
        s.new.seq += 1;
        assert!(matches!(s.check(), Err(StatementError::SeqMismatch { .. })));
        let mut s = statement();
        s.capacity.0[2] = 1 << 48;
        assert!(matches!(s.check(), Err(StatementError::CapacityTooLarge { .. })));
        let mut s = statement();
        s.record_count = 0;
        assert!(matches!(s.check(), Err(StatementError::NoRecords)));
        let mut s = statement();
        s.totals.0[0] = 1 << 44;
        assert!(matches!(s.check(), Err(StatementError::TotalTooWide { class: ResourceClass::Gpu, .. })));
        let mut s = statement();
        s.prev.end_ms = u64::MAX - 1;
        s.totals.0[1] = 6;
        assert!(matches!(s.check(), Err(StatementError::OverCapacity { class: ResourceClass::Cpu, total: 6, .. })));
        s.totals.0[1] = 5;
        s.totals.0[0] = 0;
        s.totals.0[2] = 6;
        s.totals.0[4] = 8;
        assert!(s.check().is_ok(), "at capacity is fine");
    }
}
