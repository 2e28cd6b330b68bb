//! Field elements as 32 bytes, big-endian, as the EVM words and the gRPC API
//! carry them. Reading refuses values ≥ r instead of reducing them, so one
//! number never has two encodings.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

/// The 32 big-endian bytes of `x`.
pub fn to_be_bytes(x: &Fr) -> [u8; 32] {
    x.into_bigint().to_bytes_be().try_into().expect("a BN254 scalar is 32 bytes")
}

/// The field element `bytes` spell, or `None` if they are not below r.
pub fn from_be_bytes(bytes: &[u8; 32]) -> Option<Fr> {
    let value = Fr::from_be_bytes_mod_order(bytes);
    (to_be_bytes(&value) == *bytes).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{One, Zero};

    #[test]
    fn round_trips_and_refuses_values_from_r_on() {
        for x in [Fr::zero(), Fr::one(), -Fr::one(), Fr::from(u64::MAX)] {
            assert_eq!(from_be_bytes(&to_be_bytes(&x)), Some(x));
        }
        let r: [u8; 32] = Fr::MODULUS.to_bytes_be().try_into().unwrap();
        assert_eq!(from_be_bytes(&r), None, "r itself");
        assert_eq!(from_be_bytes(&[0xff; 32]), None);
    }
}
