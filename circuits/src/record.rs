//! What a meter measures: resource classes and usage records.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::RecordError;

/// A kind of metered resource. Each class has one base unit; quantities and
/// totals are integers in that unit, capacities are in that unit per millisecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceClass {
    /// Accelerator busy time in GPU-milliseconds (one GPU busy for 1 ms = 1).
    Gpu = 0,
    /// Processor time in core-milliseconds (one core busy for 1 ms = 1).
    Cpu = 1,
    /// Storage held over time in byte-seconds (1 byte kept for 1 s = 1).
    Storage = 2,
    /// Data transferred, in bytes.
    Network = 3,
    /// Energy used, in millijoules.
    Energy = 4,
}

impl ResourceClass {
    /// Number of classes; the circuit's one-hot class encoding has this many slots.
    pub const COUNT: usize = 5;

    /// All classes in index order.
    pub const ALL: [ResourceClass; Self::COUNT] = [
        ResourceClass::Gpu,
        ResourceClass::Cpu,
        ResourceClass::Storage,
        ResourceClass::Network,
        ResourceClass::Energy,
    ];

    /// The class's index in statements, public inputs and token ids.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class with this index, if there is one.
    pub fn from_index(index: u64) -> Option<Self> {
        Self::ALL.get(usize::try_from(index).ok()?).copied()
    }

    /// Lower-case name, as in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ResourceClass::Gpu => "gpu",
            ResourceClass::Cpu => "cpu",
            ResourceClass::Storage => "storage",
            ResourceClass::Network => "network",
            ResourceClass::Energy => "energy",
        }
    }

    /// The base unit quantities of this class are counted in.
    pub fn unit(self) -> &'static str {
        match self {
            ResourceClass::Gpu => "GPU-ms",
            ResourceClass::Cpu => "core-ms",
            ResourceClass::Storage => "byte-s",
            ResourceClass::Network => "bytes",
            ResourceClass::Energy => "mJ",
        }
    }
}

impl fmt::Display for ResourceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ResourceClass {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| RecordError::UnknownClass(s.to_owned()))
    }
}

/// One measurement: what each class used during `[start_ms, end_ms)` (zero where a
/// class is not metered), the `seq`-th record of its stream (the first record of a
/// stream has seq 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Position in the stream, counting from 1.
    pub seq: u64,
    /// Start of the measured interval, Unix milliseconds.
    pub start_ms: u64,
    /// End of the measured interval (exclusive), Unix milliseconds.
    pub end_ms: u64,
    /// How much of each class, in the class's base unit. In JSON an object keyed by
    /// class name; absent classes are 0.
    pub usage: PerClass,
}

impl UsageRecord {
    /// Length of the interval in milliseconds (0 if the record is malformed).
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Per-class values (totals, capacities), indexed by [`ResourceClass::index`].
/// In JSON: an object keyed by class name; absent classes are 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerClass(pub [u64; ResourceClass::COUNT]);

impl Serialize for PerClass {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter().map(|(class, v)| (class.name(), v)))
    }
}

impl<'de> Deserialize<'de> for PerClass {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<ResourceClass, u64>::deserialize(d)?;
        let mut out = PerClass::default();
        for (class, v) in map {
            out.set(class, v);
        }
        Ok(out)
    }
}

impl PerClass {
    /// The value for one class.
    pub fn get(&self, class: ResourceClass) -> u64 {
        self.0[class.index()]
    }

    /// Sets the value for one class.
    pub fn set(&mut self, class: ResourceClass, value: u64) {
        self.0[class.index()] = value;
    }

    /// (class, value) pairs in class order.
    pub fn iter(&self) -> impl Iterator<Item = (ResourceClass, u64)> + '_ {
        ResourceClass::ALL.into_iter().zip(self.0)
    }
}

/// The most a stream can use per millisecond of each class; the circuit refuses a
/// record whose quantity exceeds `capacity × duration`. Each value is < 2^48.
pub type Capacity = PerClass;

/// Largest capacity per class (exclusive): capacities are packed 48 bits each.
pub const CAPACITY_LIMIT: u64 = 1 << 48;

/// Bits of each class's lane in a record's packed usage and in the epoch's packed
/// totals: a quantity, and an epoch's total, of class `c` is below `2^USAGE_BITS[c]`.
/// The lanes fill 252 bits, below the field modulus, so a packed value has one reading.
/// What fits: 2^44 GPU-ms ≈ 557 GPU-years and as many core-years; 2^64 byte-s (1 PB
/// kept for 5 h, 10 TB for 21 days); 2^52 bytes ≈ 4.5 PB (100 Gbit/s for 4 days);
/// 2^48 mJ ≈ 78 MWh. These bound one epoch; a longer job settles more epochs.
pub const USAGE_BITS: [usize; ResourceClass::COUNT] = [44, 44, 64, 52, 48];

/// Where each class's lane starts in a packed usage or totals value.
pub const USAGE_OFFSETS: [usize; ResourceClass::COUNT] = [0, 44, 88, 152, 204];

impl ResourceClass {
    /// Bits of this class's lane ([`USAGE_BITS`]).
    pub fn usage_bits(self) -> usize {
        USAGE_BITS[self.index()]
    }

    /// Whether `value` fits this class's lane.
    pub fn fits(self, value: u64) -> bool {
        self.usage_bits() >= 64 || value < 1u64 << self.usage_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for class in ResourceClass::ALL {
            assert_eq!(class.name().parse::<ResourceClass>().unwrap(), class);
            assert_eq!(ResourceClass::from_index(class.index() as u64), Some(class));
        }
        assert!("disk".parse::<ResourceClass>().is_err());
        assert_eq!(ResourceClass::from_index(5), None);
    }

    #[test]
    fn record_json_uses_class_names() {
        let r = UsageRecord { seq: 1, start_ms: 10, end_ms: 20, usage: PerClass([7, 0, 0, 3, 0]) };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""usage":{"gpu":7,"cpu":0,"storage":0,"network":3,"energy":0}"#), "{json}");
        assert_eq!(serde_json::from_str::<UsageRecord>(&json).unwrap(), r);
    }

    #[test]
    fn usage_lanes_tile_252_bits() {
        let mut next = 0;
        for c in ResourceClass::ALL {
            assert_eq!(USAGE_OFFSETS[c.index()], next);
            next += c.usage_bits();
        }
        assert_eq!(next, 252, "the packed usage stays below r (> 2^253)");
        assert!(ResourceClass::Gpu.fits((1 << 44) - 1) && !ResourceClass::Gpu.fits(1 << 44));
        assert!(ResourceClass::Storage.fits(u64::MAX));
    }

    #[test]
    fn per_class_json_is_keyed_by_class() {
        let v = PerClass([1, 0, 3, 0, 5]);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"{"gpu":1,"cpu":0,"storage":3,"network":0,"energy":5}"#);
        assert_eq!(serde_json::from_str::<PerClass>(r#"{"gpu":1,"storage":3,"energy":5}"#).unwrap(), v);
        assert!(serde_json::from_str::<PerClass>(r#"{"disk":1}"#).is_err());
    }
}
