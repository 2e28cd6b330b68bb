//! Streams and their hash chain: one meter serving one job appends records, and
//! each record moves the stream's head.

use ark_bn254::Fr;
use ark_ff::{Field, PrimeField};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use std::fmt;
use std::str::FromStr;

use crate::error::RecordError;
use crate::field_hex;
use crate::poseidon::poseidon;
use crate::record::{ResourceClass, USAGE_OFFSETS, UsageRecord};

/// Domain separator of genesis heads; the settlement contract uses the same bytes.
pub const GENESIS_TAG: &[u8] = b"zkmeter.stream.v2";

/// A stream: one meter (identified by its Ethereum address) serving one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamId {
    /// The meter's address (the secp256k1 key that signs its stream states).
    #[serde(with = "address_hex")]
    pub meter: [u8; 20],
    /// The job this meter serves.
    pub job_id: u64,
}

impl StreamId {
    /// The head every stream starts from:
    /// `keccak256(GENESIS_TAG ‖ meter ‖ job_id as 8 big-endian bytes) mod r`.
    /// Distinct streams start from distinct heads, so a proof for one stream can
    /// never continue another.
    pub fn genesis_head(&self) -> Fr {
        let digest = Keccak256::new()
            .chain_update(GENESIS_TAG)
            .chain_update(self.meter)
            .chain_update(self.job_id.to_be_bytes())
            .finalize();
        Fr::from_be_bytes_mod_order(&digest)
    }

    /// The state before the stream's first record: the stream starts when its job was
    /// opened (`opened_ms`, the opening block's time in ms, as the settlement contract
    /// stores it), so no record can claim time before the job existed.
    pub fn genesis(&self, opened_ms: u64) -> StreamState {
        StreamState { head: self.genesis_head(), seq: 0, end_ms: opened_ms }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}/{}", hex::encode(self.meter), self.job_id)
    }
}

impl FromStr for StreamId {
    type Err = RecordError;

    /// Parses `0x<40 hex digits>/<job id>`, the form [`Display`](fmt::Display) prints.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RecordError::BadStreamId(s.to_owned());
        let (meter, job) = s.split_once('/').ok_or_else(bad)?;
        Ok(StreamId { meter: address_hex::parse(meter).ok_or_else(bad)?, job_id: job.parse().map_err(|_| bad())? })
    }
}

/// Where a stream stands: the head of its hash chain, the seq of its last record
/// and the end of its last record (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamState {
    /// Head of the hash chain, after the salt of the last settled epoch.
    #[serde(with = "field_hex")]
    pub head: Fr,
    /// Seq of the last record (0 before the first).
    pub seq: u64,
    /// End of the last record, Unix milliseconds (before the first: when the job
    /// was opened).
    pub end_ms: u64,
}

/// Packs a record into the two field elements the head chain hashes:
/// `pack_a = seq + start·2^64 + end·2^128`, `pack_b = Σ_c usage_c · 2^USAGE_OFFSETS[c]`.
/// Taking field elements lets the circuit tests pack values that are not u64.
pub fn pack_record(seq: Fr, start_ms: Fr, end_ms: Fr, usage: &[Fr; ResourceClass::COUNT]) -> (Fr, Fr) {
    let two64 = Fr::from(u64::MAX) + Fr::from(1u64);
    (seq + start_ms * two64 + end_ms * two64 * two64, pack_usage(usage))
}

/// `Σ_c usage_c · 2^USAGE_OFFSETS[c]`: a record's usage, or an epoch's totals, in one
/// field element.
pub fn pack_usage(usage: &[Fr; ResourceClass::COUNT]) -> Fr {
    usage.iter().zip(USAGE_OFFSETS).map(|(u, offset)| *u * Fr::from(2u64).pow([offset as u64])).sum()
}

/// `Poseidon(head, pack_a, pack_b)`: the head after one more record.
pub fn chain_head(head: Fr, packed: (Fr, Fr)) -> Fr {
    poseidon(&[head, packed.0, packed.1])
}

/// `Poseidon(tip, salt)`: the head a settled epoch leaves behind. The salt keeps
/// the published head from revealing the records behind it.
pub fn close_head(tip: Fr, salt: Fr) -> Fr {
    poseidon(&[tip, salt])
}

/// The head after appending `record` to a chain at `head`.
pub fn append(head: Fr, record: &UsageRecord) -> Fr {
    let f = Fr::from;
    chain_head(head, pack_record(f(record.seq), f(record.start_ms), f(record.end_ms), &record.usage.0.map(f)))
}

/// Serde for 20-byte addresses as `0x`-prefixed hex.
pub(crate) mod address_hex {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(a: &[u8; 20], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(a)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 20], D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| D::Error::custom(format!("{s:?} is not an address: expected 0x and 40 hex digits")))
    }

    pub fn parse(s: &str) -> Option<[u8; 20]> {
        let bytes = hex::decode(s.strip_prefix("0x")?).ok()?;
        bytes.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_parse_what_they_print() {
        let id = StreamId { meter: [0xab; 20], job_id: 42 };
        assert_eq!(id.to_string().parse::<StreamId>().unwrap(), id);
        assert!("0xab/1".parse::<StreamId>().is_err());
        assert!(format!("0x{}", "ab".repeat(20)).parse::<StreamId>().is_err(), "job id missing");
    }

    #[test]
    fn genesis_heads_differ_per_stream() {
        let a = StreamId { meter: [1; 20], job_id: 1 };
        let b = StreamId { meter: [1; 20], job_id: 2 };
        let c = StreamId { meter: [2; 20], job_id: 1 };
        assert_ne!(a.genesis_head(), b.genesis_head());
        assert_ne!(a.genesis_head(), c.genesis_head());
    }
}
