//! The meter's signatures, exactly as the settlement contract checks them: EIP-712
//! with domain (name "zkmeter", version "1", the chain id, the settlement contract),
//! signed with the meter's secp256k1 key (k256), low-s, as 65 bytes `r ‖ s ‖ v`
//! with `v ∈ {27, 28}`. Two structs:
//!
//! - `StreamState(address meter,uint64 jobId,uint256 head,uint64 seq,uint64 endMs)`:
//!   the stream's new state, over every epoch `settle` takes;
//! - `MeterRegistration(address meter,address provider)`: the meter's consent to be
//!   registered by `provider` (`registerMeter`), so nobody can squat or front-run a
//!   meter address without its key.

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::sol_types::{Eip712Domain, SolValue};
use ark_ff::PrimeField;
use k256::ecdsa::{SigningKey, VerifyingKey};
use std::borrow::Cow;
use zkmeter_circuits::StreamState;

/// `keccak256("StreamState(address meter,uint64 jobId,uint256 head,uint64 seq,uint64 endMs)")`,
/// the contract's `STREAM_STATE_TYPEHASH`.
pub fn stream_state_typehash() -> B256 {
    keccak256("StreamState(address meter,uint64 jobId,uint256 head,uint64 seq,uint64 endMs)")
}

/// `keccak256("MeterRegistration(address meter,address provider)")`, the contract's
/// `METER_REGISTRATION_TYPEHASH`.
pub fn registration_typehash() -> B256 {
    keccak256("MeterRegistration(address meter,address provider)")
}

/// The EIP-712 domain of the settlement contract at `settlement` on `chain_id`.
pub fn domain(chain_id: u64, settlement: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(Cow::Borrowed("zkmeter")),
        Some(Cow::Borrowed("1")),
        Some(U256::from(chain_id)),
        Some(settlement),
        None,
    )
}

/// A field element as the `uint256` the contract stores.
pub fn fr_to_u256(x: &ark_bn254::Fr) -> U256 {
    let limbs = x.into_bigint().0;
    U256::from_limbs(limbs)
}

/// The digest the meter signs for stream (`meter`, `job_id`) reaching `state`
/// (what the contract's `stateDigest` returns).
pub fn state_digest(chain_id: u64, settlement: Address, meter: Address, job_id: u64, state: &StreamState) -> B256 {
    let struct_hash = keccak256(
        (stream_state_typehash(), meter, job_id, fr_to_u256(&state.head), state.seq, state.end_ms).abi_encode(),
    );
    let separator = domain(chain_id, settlement).separator();
    keccak256([&[0x19, 0x01][..], separator.as_slice(), struct_hash.as_slice()].concat())
}

/// The digest a meter signs to be registered by `provider` (what the contract's
/// `registrationDigest` returns).
pub fn registration_digest(chain_id: u64, settlement: Address, meter: Address, provider: Address) -> B256 {
    let struct_hash = keccak256((registration_typehash(), meter, provider).abi_encode());
    let separator = domain(chain_id, settlement).separator();
    keccak256([&[0x19, 0x01][..], separator.as_slice(), struct_hash.as_slice()].concat())
}

/// The meter's consent to being registered by `provider` with the settlement
/// contract at `settlement` on `chain_id`.
pub fn sign_registration(key: &SigningKey, chain_id: u64, settlement: Address, provider: Address) -> [u8; 65] {
    sign_digest(key, &registration_digest(chain_id, settlement, meter_address(key), provider))
}

/// The Ethereum address of a secp256k1 public key: the last 20 bytes of the
/// keccak256 of its uncompressed encoding (without the 0x04 prefix).
pub fn address_of(key: &VerifyingKey) -> Address {
    let point = key.to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// A meter's address.
pub fn meter_address(key: &SigningKey) -> Address {
    address_of(key.verifying_key())
}

/// Signs `digest`: 65 bytes `r ‖ s ‖ v`, `s` in the lower half of the order (the
/// contract, through OpenZeppelin's ECDSA, refuses high `s`), `v = 27 + recovery id`.
pub fn sign_digest(key: &SigningKey, digest: &B256) -> [u8; 65] {
    let (mut signature, mut recovery) =
        key.sign_prehash_recoverable(digest.as_slice()).expect("a 32-byte prehash always signs");
    if let Some(low) = signature.normalize_s() {
        signature = low;
        recovery = k256::ecdsa::RecoveryId::new(!recovery.is_y_odd(), recovery.is_x_reduced());
    }
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&signature.to_bytes());
    out[64] = 27 + recovery.to_byte();
    out
}

/// The meter's signature over stream (`meter_address(key)`, `job_id`) reaching
/// `state`, for the settlement contract at `settlement` on `chain_id`.
pub fn sign_state(key: &SigningKey, chain_id: u64, settlement: Address, job_id: u64, state: &StreamState) -> [u8; 65] {
    let digest = state_digest(chain_id, settlement, meter_address(key), job_id, state);
    sign_digest(key, &digest)
}

/// Who signed `digest` (what the contract's `ecrecover` sees), if the signature
/// is well formed.
pub fn recover(digest: &B256, signature: &[u8; 65]) -> Option<Address> {
    let sig = k256::ecdsa::Signature::from_slice(&signature[..64]).ok()?;
    let recovery = k256::ecdsa::RecoveryId::from_byte(signature[64].checked_sub(27)?)?;
    let key = VerifyingKey::recover_from_prehash(digest.as_slice(), &sig, recovery).ok()?;
    Some(address_of(&key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_recover_to_the_meter() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let state = StreamState { head: ark_bn254::Fr::from(5u64), seq: 3, end_ms: 9_000 };
        let settlement = Address::repeat_byte(0x11);
        let sig = sign_state(&key, 31337, settlement, 1, &state);
        let digest = state_digest(31337, settlement, meter_address(&key), 1, &state);
        assert_eq!(recover(&digest, &sig), Some(meter_address(&key)));
        let other = state_digest(31338, settlement, meter_address(&key), 1, &state);
        assert_ne!(recover(&other, &sig), Some(meter_address(&key)));
        // low s
        let s = U256::from_be_slice(&sig[32..64]);
        let half_n = U256::from_str_radix("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0", 16).unwrap();
        assert!(s <= half_n);
    }
}
