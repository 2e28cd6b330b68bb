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
    /// Rule 3: a record lasts at most 2^32 ms (the circuit's duration width).
    #[error("record {index} lasts {duration_ms} ms, longer than the {max_ms} ms (about 49.7 days) one record may cover: cut it into shorter records")]
    TooLong {
        /// Position in the epoch, from 0.
        index: usize,
        /// Its duration.
        duration_ms: u64,
        /// The longest a record may last.
        max_ms: u64,
    },
    /// Rule 3: a record starts at most 2^40 − 1 ms after the previous one ended.
    #[error("record {index} starts {gap_ms} ms after the previous record ended, more than the {max_ms} ms (about 34.8 years) the circuit represents")]
    GapTooLong {
        /// Position in the epoch, from 0.
        index: usize,
        /// The gap.
        gap_ms: u64,
        /// The longest gap.
        max_ms: u64,
    },
    /// Rules 3 and 6: a class's total, up to and including this record, does not fit its lane.
    #[error("with record {index} the epoch's {class} total reaches {total} {unit}, which does not fit the {bits} bits the statement gives {class}: end the epoch before this record")]
    TotalTooWide {
        /// Position in the epoch, from 0, of the record that overflows the lane.
        index: usize,
        /// The class.
        class: ResourceClass,
        /// The total it would reach (saturated at u64::MAX).
        total: u64,
        /// The lane's width.
        bits: usize,
        /// The class's unit.
        unit: &'static str,
    },
    /// Rule 4: more usage in the epoch than capacity × the time it covers.
    #[error("the epoch bills {total} {unit} of {class} over {elapsed_ms} ms (from the settled end to its last record's end), above the job's capacity of {capacity} {unit} per ms: the meter reported more than the job's capacity allows")]
    OverCapacity {
        /// The class.
        class: ResourceClass,
        /// The epoch's total.
        total: u64,
        /// `new.end_ms − prev.end_ms`.
        elapsed_ms: u64,
        /// The class's capacity per ms.
        capacity: u64,
        /// The class's unit.
        unit: &'static str,
    },
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
    /// A total wider than its lane: packed, it would spill into the next class.
    #[error("the statement's {class} total {total} does not fit the {bits} bits the statement gives {class}")]
    TotalTooWide {
        /// Class.
        class: ResourceClass,
        /// The total.
        total: u64,
        /// The lane's width.
        bits: usize,
    },
    /// More usage than capacity × elapsed time: no proof exists for it.
    #[error("the statement bills {total} {unit} of {class} over {elapsed_ms} ms, above the capacity of {capacity} {unit} per ms")]
    OverCapacity {
        /// Class.
        class: ResourceClass,
        /// The total.
        total: u64,
        /// `new.end_ms − prev.end_ms`.
        elapsed_ms: u64,
        /// The class's capacity per ms.
        capacity: u64,
        /// The class's unit.
        unit: &'static str,
    },
}
