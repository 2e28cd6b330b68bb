//! Field elements as text: `0x` and 64 hex digits, big-endian, as Solidity's
//! `uint256` prints them. Parsing refuses values ≥ r instead of reducing them, so
//! one number never has two spellings.

use ark_bn254::Fr;
use serde::{Deserialize, Deserializer, Serializer, de::Error};

use crate::field_bytes::{from_be_bytes, to_be_bytes};

/// `0x`-prefixed, zero-padded, big-endian hex.
pub fn to_hex(x: &Fr) -> String {
    format!("0x{}", hex::encode(to_be_bytes(x)))
}

/// Parses what [`to_hex`] prints (leading zeros optional); `None` if it is not hex
/// or not below r.
pub fn from_hex(s: &str) -> Option<Fr> {
    let digits = s.strip_prefix("0x")?;
    if digits.is_empty() || digits.len() > 64 {
        return None;
    }
    let bytes: [u8; 32] = hex::decode(format!("{digits:0>64}")).ok()?.try_into().ok()?;
    from_be_bytes(&bytes)
}

/// Serde `serialize_with`.
pub fn serialize<S: Serializer>(x: &Fr, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_hex(x))
}

/// Serde `deserialize_with`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fr, D::Error> {
    let s = String::deserialize(d)?;
    from_hex(&s).ok_or_else(|| D::Error::custom(format!("{s:?} is not a field element: expected 0x and up to 64 hex digits, below the BN254 scalar modulus")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_r() {
        let x = Fr::from(12345u64);
        assert_eq!(from_hex(&to_hex(&x)), Some(x));
        assert_eq!(from_hex("0x3039"), Some(x));
        let r = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";
        assert_eq!(from_hex(r), None);
        let r_minus_1 = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000000";
        assert_eq!(from_hex(r_minus_1), Some(-Fr::from(1u64)));
        assert_eq!(from_hex("12"), None);
        assert_eq!(from_hex("0x"), None);
    }
}
