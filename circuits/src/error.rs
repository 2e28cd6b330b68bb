//! Errors of this crate. Each says what was wrong and what to do about it.

use crate::record::ResourceClass;

/// Records that cannot form an epoch (the native checks mirror the circuit's
/// rules, so a bad record is reported here, by position, before any proving).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// A class name that is not one of gpu, cpu, storage, network, energy.
    #[error("unknown resource class {0:?}: use one of gpu, cpu, storage, network, energy")]
    UnknownClass(String),
    /// A stream id that does not parse.
    #[error("{0:?} is not a stream id: write it as 0x<40 hex digits of the meter address>/<job id>")]
    BadStreamId(String),
    /// An epoch needs at least one record.
    #[error("the epoch has no records: a proof needs at least one")]
    NoRecords,
    /// More records than the circuit has slots.
    #[error("{records} records do not fit a circuit with {slots} record slots: split them into epochs of at most {slots}, or set up keys with more slots")]
    TooManyRecords {
        /// Records given.
        records: usize,
        /// Slots of the circuit.
        slots: usize,
    },
    /// Rule 1: records must continue the stream's sequence without gap or repeat.
    #[error("record {index} has seq {found}, but the stream continues at seq {expected}: records must be consecutive, with no gap or repeat")]
    SeqGap {
        /// Position in the epoch, from 0.
        index: usize,
        /// The seq the record should have.
        expected: u64,
        /// The seq it has.
        found: u64,
    },
    /// Rule 2: a record starts before the previous one (or the settled state) ended.
    #[error("record {index} starts at {start_ms} ms, before the previous record ended at {prev_end_ms} ms: records must not overlap")]
    Overlap {
        /// Position in the epoch, from 0.
        index: usize,
        /// Its start.
        start_ms: u64,
        /// End of the record (or settled state) before it.
        prev_end_ms: u64,
    },
    /// Rule 2: a record must last at least one millisecond.
    #[error("record {index} ends at {end_ms} ms, not after its start at {start_ms} ms: a record must cover at least 1 ms")]
    EmptyInterval {
        /// Position in the epoch, from 0.
        index: usize,
        /// Its start.
        start_ms: u64,
        /// Its end.
        end_ms: u64,
    },
    /// Rule 4: more usage than the stream's capacity allows in the interval.
    #[error("record {index} reports {quantity} {unit} of {class} in {duration_ms} ms, above the stream's capacity of {capacity} {unit} per ms")]
    OverCapacity {
        /// Position in the epoch, from 0.
        index: usize,
        /// Its class.
        class: ResourceClass,
        /// Its quantity.
        quantity: u64,
        /// Its duration.
        duration_ms: u64,
        /// The class's capacity per ms.
        capacity: u64,
        /// The class's unit.
        unit: &'static str,
    },
    /// Rule 6: a per-class total must fit in a u64.
    #[error("the epoch's {0} total does not fit in 64 bits: split it into smaller epochs")]
    TotalOverflow(ResourceClass),
    /// A capacity too large to pack.
    #[error("capacity {value} for {class} is too large: capacities must be below 2^48 units per ms")]
    CapacityTooLarge {
        /// Class.
        class: ResourceClass,
        /// Value given.
        value: u64,
    },
    /// The stream's seq would pass 2^64.
    #[error("the stream's seq would pass 2^64: the stream is exhausted, start a new job")]
    SeqOverflow,
}

/// A statement that contradicts itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatementError {
    /// No records.
    #[error("the statement claims no records: an epoch has at least one")]
    NoRecords,
    /// `new.seq` is not `prev.seq + record_count`.
    #[error("the statement's new seq {new} is not its previous seq {prev} plus its {count} records")]
    SeqMismatch {
        /// Previous seq.
        prev: u64,
        /// Record count.
        count: u32,
        /// New seq.
        new: u64,
    },
    /// Time must move forward.
    #[error("the statement's new end {new} ms is not after its previous end {prev} ms")]
    TimeNotAdvancing {
        /// Previous end.
        prev: u64,
        /// New end.
        new: u64,
    },
    /// A capacity too large to pack.
    #[error("capacity {value} for {class} is too large: capacities must be below 2^48 units per ms")]
    CapacityTooLarge {
        /// Class.
        class: ResourceClass,
        /// Value.
        value: u64,
    },
}
