//! Cutting epochs: when a stream's records make an epoch, and the cut itself
//! (statement, salt, meter signature) that the log keeps before anything is proved.

use ark_bn254::Fr;
use ark_std::UniformRand;
use rand::{CryptoRng, RngCore};
use std::time::Duration;
use zkmeter_circuits::{Capacity, MeterWitness, RecordError, StreamId, StreamState, UsageRecord, build_epoch};
use zkmeter_contracts::{Address, sign_state};

use crate::identity::MeterKey;
use crate::stream_log::Cut;

/// The EIP-712 domain a meter signs its stream states in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain {
    /// The settlement chain.
    pub chain_id: u64,
    /// The settlement contract.
    pub settlement: Address,
}

/// Whether the `uncut` records (oldest first) make an epoch now: `max_records`
/// of them, or the oldest has waited `max_age` since it was logged (`waited`), or
/// metering has ended. Returns how many go into it. The wait is counted from
/// logging, not from the record's own times, which a replayed meter sets in the past.
pub fn due(uncut: usize, max_records: usize, waited: Duration, max_age: Duration, metering_done: bool) -> Option<usize> {
    if uncut == 0 {
        return None;
    }
    if uncut >= max_records {
        return Some(max_records);
    }
    (waited >= max_age || metering_done).then_some(uncut)
}

/// Cuts epoch `epoch` of `stream` from `records`, continuing `prev`: builds the
/// statement (checking every rule of the circuit), draws the salt and signs the
/// new state.
#[allow(clippy::too_many_arguments)]
pub fn cut<R: RngCore + CryptoRng>(
    key: &MeterKey,
    domain: Domain,
    stream: StreamId,
    epoch: u64,
    prev: StreamState,
    records: &[UsageRecord],
    capacity: Capacity,
    slots: usize,
    rng: &mut R,
) -> Result<Cut, RecordError> {
    let salt = Fr::rand(rng);
    let (statement, _) = build_epoch(stream, prev, records, capacity, salt, slots)?;
    let signature = sign_state(key.signing_key(), domain.chain_id, domain.settlement, stream.job_id, &statement.new);
    Ok(Cut {
        epoch,
        statement,
        salt,
        signature: signature.to_vec(),
        chain_id: domain.chain_id,
        settlement: domain.settlement.to_vec(),
    })
}

/// The witness of a cut epoch, built again from its records and salt. The log
/// holds both, so this gives the statement of the cut exactly; anything else
/// means the log's records changed under the cut.
pub fn witness(cut: &Cut, records: &[UsageRecord], slots: usize) -> Result<MeterWitness, EpochError> {
    let s = &cut.statement;
    let (statement, witness) = build_epoch(s.stream, s.prev, records, s.capacity, cut.salt, slots)?;
    if statement != *s {
        return Err(EpochError::Changed { epoch: cut.epoch });
    }
    Ok(witness)
}

/// Why a cut epoch cannot be proved.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    /// Its records break a rule of the circuit.
    #[error(transparent)]
    Records(#[from] RecordError),
    /// Its records no longer give the statement it was cut with.
    #[error("epoch {epoch}: its records no longer give the statement it was cut with; the log was edited, keep it for inspection")]
    Changed {
        /// The epoch.
        epoch: u64,
    },
}
