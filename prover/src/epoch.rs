//! Cutting epochs: when a stream's records make an epoch, and the cut itself
//! (statement, salt, meter signature) that the log keeps before anything is proved.

use ark_bn254::Fr;
use ark_std::UniformRand;
use rand::{CryptoRng, RngCore};
use std::time::Duration;
use zkmeter_circuits::{Capacity, MeterWitness, RecordError, StreamId, StreamState, UsageRecord, build_epoch};
use zkmeter_contracts::{Address, B256, sign_state};

use crate::identity::MeterKey;
use crate::stream_log::Cut;

/// The chain a stream's epochs settle on: the EIP-712 domain a meter signs its
/// stream states in (chain id and settlement contract), and the chain's genesis
/// id, which tells a chain made again with the same id and addresses apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Domain {
    /// The settlement chain.
    pub chain_id: u64,
    /// The settlement contract.
    pub settlement: Address,
    /// The chain's genesis id.
    pub genesis_id: B256,
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use zkmeter_circuits::{PerClass, ResourceClass};
    use zkmeter_contracts::meter_signature::recover;
    use zkmeter_contracts::state_digest;

    const SLOTS: usize = 4;
    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn due_closes_a_full_epoch_at_max_records() {
        assert_eq!(due(4, 4, Duration::ZERO, MINUTE, false), Some(4));
        // A backlog is cut one full epoch at a time.
        assert_eq!(due(10, 4, Duration::ZERO, MINUTE, false), Some(4));
    }

    #[test]
    fn due_closes_a_partial_epoch_only_after_max_age_or_when_metering_is_done() {
        assert_eq!(due(3, 4, MINUTE - Duration::from_millis(1), MINUTE, false), None);
        assert_eq!(due(3, 4, MINUTE, MINUTE, false), Some(3));
        assert_eq!(due(3, 4, Duration::ZERO, MINUTE, true), Some(3));
    }

    #[test]
    fn due_never_closes_an_empty_epoch() {
        assert_eq!(due(0, 4, 10 * MINUTE, MINUTE, true), None);
    }

    struct Meter {
        _dir: tempfile::TempDir,
        key: MeterKey,
        stream: StreamId,
        domain: Domain,
        capacity: Capacity,
    }

    fn meter() -> Meter {
        let dir = tempfile::tempdir().unwrap();
        let key = MeterKey::generate(&dir.path().join("meter.key"), &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        let stream = StreamId { meter: key.address().into(), job_id: 9 };
        let domain = Domain { chain_id: 31337, settlement: Address::repeat_byte(0x11), genesis_id: B256::repeat_byte(0x22) };
        let mut capacity = PerClass::default();
        capacity.set(ResourceClass::Gpu, 2);
        capacity.set(ResourceClass::Cpu, 8);
        Meter { _dir: dir, key, stream, domain, capacity }
    }

    /// `n` records after `prev`, 100 ms each with 100 ms between them, billing cpu
    /// and, every other one, gpu, within capacity.
    fn records_after(prev: StreamState, n: u64) -> Vec<UsageRecord> {
        (1..=n)
            .map(|i| {
                let start = prev.end_ms + 200 * i - 100;
                let gpu = if i % 2 == 0 { 150 + i } else { 0 };
                UsageRecord { seq: prev.seq + i, start_ms: start, end_ms: start + 100, usage: PerClass([gpu, 150 + i, 0, 0, 0]) }
            })
            .collect()
    }

    fn cut_at(m: &Meter, epoch: u64, prev: StreamState, records: &[UsageRecord], seed: u64) -> Result<Cut, RecordError> {
        cut(&m.key, m.domain, m.stream, epoch, prev, records, m.capacity, SLOTS, &mut ChaCha20Rng::seed_from_u64(seed))
    }

    fn signer(m: &Meter, cut: &Cut) -> Option<Address> {
        let settlement = Address::from_slice(&cut.settlement);
        let digest = state_digest(cut.chain_id, settlement, m.key.address(), m.stream.job_id, &cut.statement.new);
        recover(&digest, cut.signature.as_slice().try_into().expect("65 bytes"))
    }

    #[test]
    fn a_cut_states_what_build_epoch_states_and_the_meter_signs_it() {
        let m = meter();
        let genesis = m.stream.genesis(1_000);
        let records = records_after(genesis, 3);
        let first = cut_at(&m, 1, genesis, &records, 2).unwrap();
        let (expected, _) = build_epoch(m.stream, genesis, &records, m.capacity, first.salt, SLOTS).unwrap();
        assert_eq!(first.statement, expected);
        assert_eq!(first.epoch, 1);
        assert_eq!((first.chain_id, first.settlement.as_slice()), (m.domain.chain_id, m.domain.settlement.as_slice()));
        assert_eq!(signer(&m, &first), Some(m.key.address()));

        // The next epoch continues where the first left the stream.
        let more = records_after(first.statement.new, 4);
        let second = cut_at(&m, 2, first.statement.new, &more, 3).unwrap();
        let (expected, _) = build_epoch(m.stream, first.statement.new, &more, m.capacity, second.salt, SLOTS).unwrap();
        assert_eq!(second.statement, expected);
        assert_eq!(signer(&m, &second), Some(m.key.address()));
    }

    #[test]
    fn the_salt_is_drawn_afresh_for_each_cut() {
        let m = meter();
        let genesis = m.stream.genesis(1_000);
        let records = records_after(genesis, 2);
        let a = cut_at(&m, 1, genesis, &records, 4).unwrap();
        let b = cut_at(&m, 1, genesis, &records, 5).unwrap();
        // The salt is what keeps a published head from revealing its records.
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.statement.new.head, b.statement.new.head);
        assert_eq!(a.statement.totals, b.statement.totals);
    }

    #[test]
    fn a_signature_for_another_domain_does_not_recover_to_the_meter() {
        let m = meter();
        let genesis = m.stream.genesis(1_000);
        let c = cut_at(&m, 1, genesis, &records_after(genesis, 1), 6).unwrap();
        let mut elsewhere = c.clone();
        elsewhere.chain_id += 1;
        assert_ne!(signer(&m, &elsewhere), Some(m.key.address()));
    }

    #[test]
    fn the_witness_of_a_cut_is_rebuilt_from_its_records() {
        let m = meter();
        let genesis = m.stream.genesis(1_000);
        let records = records_after(genesis, 3);
        let c = cut_at(&m, 1, genesis, &records, 7).unwrap();
        let (_, expected) = build_epoch(m.stream, genesis, &records, m.capacity, c.salt, SLOTS).unwrap();
        assert_eq!(witness(&c, &records, SLOTS).unwrap(), expected);
    }

    #[test]
    fn the_witness_of_a_cut_is_refused_when_its_records_changed() {
        let m = meter();
        let genesis = m.stream.genesis(1_000);
        let records = records_after(genesis, 3);
        let c = cut_at(&m, 4, genesis, &records, 8).unwrap();

        let mut changed = records.clone();
        changed[1].usage.0[1] -= 1;
        assert!(matches!(witness(&c, &changed, SLOTS), Err(EpochError::Changed { epoch: 4 })));
        assert!(matches!(witness(&c, &records[..2], SLOTS), Err(EpochError::Changed { epoch: 4 })));

        // 8 core-ms per ms over the 600 ms the three records span.
        let mut impossible = records.clone();
        impossible[0].usage.0[1] = 8 * 600 + 1;
        assert!(matches!(
            witness(&c, &impossible, SLOTS),
            Err(EpochError::Records(RecordError::OverCapacity { class: ResourceClass::Cpu, .. }))
        ));
    }

    #[test]
    fn records_breaking_a_rule_of_the_circuit_are_not_cut() {
        let m = meter();
        let genesis = m.stream.genesis(1_000);
        let records = records_after(genesis, 3);

        // 2 GPU-ms per ms over the 600 ms from the job's start to the last end.
        let mut over = records.clone();
        over[1].usage.0[0] = 2 * 600 + 1;
        assert!(matches!(cut_at(&m, 1, genesis, &over, 9), Err(RecordError::OverCapacity { class: ResourceClass::Gpu, .. })));

        let mut gap = records.clone();
        gap[1].seq += 1;
        assert!(matches!(cut_at(&m, 1, genesis, &gap, 9), Err(RecordError::SeqGap { index: 1, .. })));

        let too_many = records_after(genesis, SLOTS as u64 + 1);
        assert!(matches!(cut_at(&m, 1, genesis, &too_many, 9), Err(RecordError::TooManyRecords { .. })));
        assert!(matches!(cut_at(&m, 1, genesis, &[], 9), Err(RecordError::NoRecords)));
    }
}
