//! Every rule of the meter circuit, broken one at a time.
//!
//! Each negative test tampers with the witness (or the claimed statement) and
//! recomputes everything else natively with [`evaluate`], so exactly the targeted
//! constraint is violated: deleting that constraint from the circuit makes its test
//! fail. A test whose tampering puts a value out of a range check's range runs once
//! per bit position of that check (its `bits` argument), with the excess in that
//! bit ([`excess_at`]): a range check that leaves any one bit unconstrained
//! (deleted, or replaced by a trivially true constraint) makes some test fail. The
//! other tests pass `bits` = 1.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, BigInteger, Field, One, PrimeField, Zero};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use zkmeter_circuits::meter_circuit::{CONSTRAINTS_PER_EPOCH, CONSTRAINTS_PER_SLOT, Fault, FaultSite};
use zkmeter_circuits::range_check::excess_at;
use zkmeter_circuits::record::{USAGE_BITS, USAGE_OFFSETS};
use zkmeter_circuits::stream::{chain_head, close_head, pack_record};
use zkmeter_circuits::witness::{evaluate, prev_instance};
use zkmeter_circuits::{
    Capacity, MeterCircuit, MeterInstance, MeterWitness, PUBLIC_INPUTS, PerClass, SlotWitness, StreamId, StreamState,
    UsageRecord, build_epoch,
};

const SLOTS: usize = 5;
const GPU: usize = 0;
const CPU: usize = 1;
const NETWORK: usize = 3;
const ENERGY: usize = 4;

/// Bit widths of the range checks the tests aim at (see the module doc).
const NO_RANGE: usize = 1;
const GAP: usize = 40;
const DURATION: usize = 32;
const U64: usize = 64;
const SLACK: usize = 112;

fn caps() -> Capacity {
    PerClass([8, 64, 1 << 40, 1 << 24, 1 << 20])
}

fn stream() -> StreamId {
    StreamId { meter: [0x11; 20], job_id: 7 }
}

fn rec(seq: u64, start_ms: u64, end_ms: u64, usage: [u64; 5]) -> UsageRecord {
    UsageRecord { seq, start_ms, end_ms, usage: PerClass(usage) }
}

/// Three records of several classes each in a 5-slot circuit: two padding slots.
/// The epoch runs from the settled end at 900 ms to 3,000 ms.
fn records() -> Vec<UsageRecord> {
    vec![
        rec(11, 1_000, 2_000, [5_000, 20_000, 0, 7, 100]),
        rec(12, 2_000, 2_500, [3_000, 0, 0, 0, 50]),
        rec(13, 2_600, 3_000, [0, 20_000, 0, 1 << 30, 0]),
    ]
}

fn prev() -> StreamState {
    StreamState { head: stream().genesis_head(), seq: 10, end_ms: 900 }
}

fn honest_with(records: &[UsageRecord], capacity: Capacity) -> (MeterInstance, MeterWitness) {
    let (statement, witness) = build_epoch(stream(), prev(), records, capacity, Fr::from(99u64), SLOTS).unwrap();
    (statement.instance(), witness)
}

fn honest() -> (MeterInstance, MeterWitness) {
    honest_with(&records(), caps())
}

/// A long epoch at the largest capacities, so that every total can be read in
/// another way without its capacity check noticing.
fn wide() -> (MeterInstance, MeterWitness) {
    let max = (1 << 48) - 1;
    let long = [rec(11, 1_000, 1 << 22, [1, 1, 1, 1, 1]), rec(12, 1 << 22, 1 << 23, [1, 1, 1, 1, 1])];
    honest_with(&long, PerClass([max; 5]))
}

/// Whether the circuit is satisfied, with out-of-range values' excess in bit `bit`.
/// Runs on one thread: arkworks' parallel satisfaction check spends more time
/// synchronising rayon's threads than checking a circuit this small, and the tests
/// run side by side anyway.
fn satisfied_at(bit: usize, public: [Fr; PUBLIC_INPUTS], instance: MeterInstance, witness: MeterWitness, fault: Option<Fault>) -> bool {
    thread_local! {
        static ONE_THREAD: rayon::ThreadPool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a thread pool");
    }
    ONE_THREAD.with(|pool| pool.install(|| excess_at(bit, || {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let circuit = MeterCircuit::claiming(public, instance, witness);
        let circuit = match fault {
            Some(f) => circuit.with_fault(f),
            None => circuit,
        };
        circuit.generate_constraints(cs.clone()).unwrap();
        cs.is_satisfied().unwrap()
    })))
}

/// The circuit refuses, wherever among the low `bits` bits the range checks put their excess.
fn refused(bits: usize, public: [Fr; PUBLIC_INPUTS], instance: MeterInstance, witness: MeterWitness, fault: Option<Fault>) -> bool {
    (0..bits).all(|bit| !satisfied_at(bit, public, instance, witness.clone(), fault))
}

fn satisfied(instance: MeterInstance, witness: MeterWitness) -> bool {
    satisfied_at(0, instance.public_inputs(), instance, witness, None)
}

/// Tampers with the witness, then recomputes the instance from it: only the rule
/// the tampering breaks can fail. True if the circuit refuses.
fn witness_tampered(bits: usize, f: impl FnOnce(&mut MeterWitness)) -> bool {
    tampered_from(bits, honest(), |_, w| f(w))
}

/// Tampers with the witness and the instance's inputs (capacity, previous state),
/// then recomputes the rest.
fn tampered(bits: usize, f: impl FnOnce(&mut MeterInstance, &mut MeterWitness)) -> bool {
    tampered_from(bits, honest(), f)
}

fn tampered_from(bits: usize, start: (MeterInstance, MeterWitness), f: impl FnOnce(&mut MeterInstance, &mut MeterWitness)) -> bool {
    let (mut instance, mut witness) = start;
    f(&mut instance, &mut witness);
    let instance = evaluate(&instance, &witness);
    refused(bits, instance.public_inputs(), instance, witness, None)
}

/// Tampers with the claimed statement only.
fn statement_tampered(bits: usize, f: impl FnOnce(&mut MeterInstance)) -> bool {
    statement_tampered_from(bits, honest(), f)
}

fn statement_tampered_from(bits: usize, start: (MeterInstance, MeterWitness), f: impl FnOnce(&mut MeterInstance)) -> bool {
    let (mut instance, witness) = start;
    f(&mut instance);
    refused(bits, instance.public_inputs(), instance, witness, None)
}

/// Proves the honest witness while claiming `f`'s change to the public inputs.
fn claimed(f: impl FnOnce(&mut [Fr; PUBLIC_INPUTS])) -> bool {
    let (instance, witness) = honest();
    let mut public = instance.public_inputs();
    f(&mut public);
    refused(NO_RANGE, public, instance, witness, None)
}

/// Injects a fault into one internal value; `adjust` fixes up the claimed statement
/// so that only the constraint defining that value can notice.
fn faulted(fault: Fault, adjust: impl FnOnce(&mut MeterInstance, &MeterWitness)) -> bool {
    let (mut instance, witness) = honest();
    adjust(&mut instance, &witness);
    refused(NO_RANGE, instance.public_inputs(), instance, witness, Some(fault))
}

/// The closing head of the honest records with record `last`'s end shifted by
/// `end_shift`, record `seq_slot`'s seq shifted by `seq_shift`, and the chain tip
/// shifted by `tip_shift`.
fn head_with(witness: &MeterWitness, instance: &MeterInstance, end_shift: Fr, seq_shift: (usize, Fr), tip_shift: Fr) -> Fr {
    let mut head = instance.prev_head;
    let mut end = instance.prev_end_ms;
    let active: Vec<_> = witness.slots.iter().filter(|s| s.active == Fr::one()).collect();
    for (i, slot) in active.iter().enumerate() {
        let start = end + slot.gap_ms;
        end = start + slot.duration_ms + if i + 1 == active.len() { end_shift } else { Fr::zero() };
        let mut seq = instance.prev_seq + Fr::from(i as u64 + 1);
        if i == seq_shift.0 {
            seq += seq_shift.1;
        }
        head = chain_head(head, pack_record(seq, start, end, &slot.usage));
    }
    close_head(head + tip_shift, witness.salt)
}

fn pow2(k: u64) -> Fr {
    Fr::from(2u64).pow([k])
}

/// `value`'s canonical integer split into lanes of the given widths (None if it
/// does not fit them).
fn lanes(value: Fr, widths: &[usize]) -> Option<Vec<Fr>> {
    let bits = value.into_bigint().to_bits_le();
    if bits.iter().skip(widths.iter().sum()).any(|b| *b) {
        return None;
    }
    let mut at = 0;
    Some(
        widths
            .iter()
            .map(|w| {
                let lane = bits[at..at + w].iter().rev().fold(Fr::zero(), |acc, b| acc.double() + Fr::from(*b as u64));
                at += w;
                lane
            })
            .collect(),
    )
}

#[test]
fn honest_epoch_satisfies_and_matches_the_statement() {
    let (instance, witness) = honest();
    assert_eq!(evaluate(&prev_instance(&prev(), &caps()), &witness), instance);
    let cs = ConstraintSystem::<Fr>::new_ref();
    MeterCircuit::assigned(instance, witness).generate_constraints(cs.clone()).unwrap();
    assert!(cs.is_satisfied().unwrap());
    let inputs = cs.instance_assignment().unwrap();
    assert_eq!(&inputs[1..], &instance.public_inputs()[..], "the circuit's public inputs are the statement's");
}

#[test]
fn full_epoch_without_padding_satisfies() {
    let mut recs = records();
    recs.push(rec(14, 3_000, 3_001, [0; 5]));
    recs.push(rec(15, 5_000, 6_000, [0, 0, 12_345, 1 << 30, 0]));
    let (statement, witness) = build_epoch(stream(), prev(), &recs, caps(), Fr::zero(), SLOTS).unwrap();
    assert!(satisfied(statement.instance(), witness));
}

#[test]
fn widest_honest_values_satisfy() {
    // Every total at the top of its lane, the longest record, the longest gap.
    let max = (1 << 48) - 1;
    let top = USAGE_BITS.map(|b| if b == 64 { u64::MAX } else { (1 << b) - 1 });
    let start = 900 + (1 << 40) - 1;
    let recs = [rec(11, start, start + (1 << 32), top)];
    let (statement, witness) = build_epoch(stream(), prev(), &recs, PerClass([max; 5]), Fr::zero(), SLOTS).unwrap();
    assert!(satisfied(statement.instance(), witness));
}

// Rule 1: seq_i = prev_seq + i, so no record is skipped or repeated.

#[test]
fn rule1_chain_with_a_repeated_seq() {
    // The meter's chain numbered record 12 as 11 again: its head is not the one
    // the circuit computes with consecutive seqs.
    let (instance, witness) = honest();
    assert!(statement_tampered(NO_RANGE, |i| i.new_head = head_with(&witness, &instance, Fr::zero(), (1, -Fr::one()), Fr::zero())));
}

#[test]
fn rule1_chain_with_a_skipped_seq() {
    let (instance, witness) = honest();
    assert!(statement_tampered(NO_RANGE, |i| i.new_head = head_with(&witness, &instance, Fr::zero(), (2, Fr::one()), Fr::zero())));
}

#[test]
fn rule1_first_record_does_not_continue_the_stream() {
    assert!(statement_tampered(NO_RANGE, |i| i.prev_seq += Fr::one()));
}

#[test]
fn rule1_wrong_record_count() {
    assert!(statement_tampered(NO_RANGE, |i| i.record_count += Fr::one()));
}

#[test]
fn rule1_padding_between_records() {
    // Slot 2 switched off and slot 3 switched on: a record would be billed while
    // the one before it is skipped.
    assert!(witness_tampered(NO_RANGE, |w| {
        w.slots.swap(2, 3);
    }));
}

#[test]
fn rule1_epoch_without_records() {
    assert!(witness_tampered(NO_RANGE, |w| {
        for slot in &mut w.slots {
            *slot = SlotWitness::padding();
        }
    }));
}

#[test]
fn rule1_slot_flag_that_is_not_a_boolean() {
    // Slot 3 (padding) switched to −5, with a gap of 5 and a duration of −5: it adds
    // no time and no usage, but takes 5 off the record count.
    assert!(witness_tampered(NO_RANGE, |w| {
        w.slots[3].active = -Fr::from(5u64);
        w.slots[3].gap_ms = Fr::from(5u64);
        w.slots[3].duration_ms = -Fr::from(5u64);
    }));
}

// Rule 2: prev_end ≤ start_1, start_i < end_i ≤ start_{i+1}.

#[test]
fn rule2_overlapping_records() {
    assert!(witness_tampered(GAP, |w| w.slots[1].gap_ms = -Fr::one()));
}

#[test]
fn rule2_reordered_records() {
    // Record 3 placed before record 2 in time: it starts 600 ms before record 2 ends.
    assert!(witness_tampered(GAP, |w| {
        w.slots[1].gap_ms = Fr::from(600u64);
        w.slots[2].gap_ms = -Fr::from(1_000u64);
    }));
}

#[test]
fn rule2_record_starts_before_the_settled_end() {
    assert!(witness_tampered(GAP, |w| w.slots[0].gap_ms = -Fr::from(200u64)));
}

#[test]
fn rule2_empty_interval() {
    assert!(witness_tampered(DURATION, |w| w.slots[2].duration_ms = Fr::zero()));
}

#[test]
fn rule2_end_not_start_plus_duration() {
    // The last record's end, as hashed and reported, is 7 ms later than it lasted.
    let delta = Fr::from(7u64);
    assert!(faulted(Fault { site: FaultSite::End, slot: 2, delta }, |i, w| {
        i.new_end_ms += delta;
        i.new_head = head_with(w, i, delta, (0, Fr::zero()), Fr::zero());
    }));
}

#[test]
fn rule2_wrong_new_end() {
    assert!(statement_tampered(NO_RANGE, |i| i.new_end_ms += Fr::one()));
}

// Rule 3: every value an integer of its width.

#[test]
fn rule3_record_longer_than_2_pow_32_ms() {
    assert!(witness_tampered(DURATION, |w| w.slots[2].duration_ms = pow2(32) + Fr::one()));
}

#[test]
fn rule3_gap_of_2_pow_40_ms() {
    assert!(witness_tampered(GAP, |w| w.slots[2].gap_ms = pow2(40)));
}

#[test]
fn rule3_field_element_standing_in_for_a_time() {
    // A gap of 2^64 + 10 ms, taken back by a "negative" gap later: the end stays
    // in range, only the two gaps are not integers of their width.
    assert!(witness_tampered(GAP, |w| {
        w.slots[0].gap_ms += pow2(64);
        w.slots[1].gap_ms -= pow2(64);
    }));
}

#[test]
fn rule3_field_element_standing_in_for_a_duration() {
    assert!(witness_tampered(DURATION, |w| {
        w.slots[0].duration_ms += pow2(64);
        w.slots[1].gap_ms -= pow2(64);
    }));
}

#[test]
fn rule3_total_read_across_two_lanes() {
    // total_c + 2^(width c) and total_(c+1) − 1 pack like the honest pair: class c
    // would be billed 2^width more under the name of one unit less of the next.
    for (c, &bits) in USAGE_BITS.iter().enumerate().take(ENERGY) {
        assert!(
            statement_tampered_from(bits, wide(), |i| {
                i.totals[c] += pow2(bits as u64);
                i.totals[c + 1] -= Fr::one();
            }),
            "class {c}"
        );
    }
}

#[test]
fn rule3_top_total_read_as_a_number_beyond_its_lane() {
    // The energy total made m = ⌊r / 2^204⌋ larger (past its 48 bits) and the lower
    // lanes L = r − m·2^204 larger: m·2^204 + L = r, so x3 stays the same field element.
    let m = Fr::from_bigint(Fr::MODULUS >> 204).unwrap();
    let extra = lanes(-(m * pow2(204)), &USAGE_BITS[..ENERGY]).expect("r − m·2^204 is below 2^204");
    assert!(statement_tampered_from(USAGE_BITS[ENERGY], wide(), |i| {
        i.totals[ENERGY] += m;
        for (total, e) in i.totals.iter_mut().zip(&extra) {
            *total += *e;
        }
    }));
}

#[test]
fn rule3_packed_capacity_read_another_way() {
    // cap_c + 2^48 and cap_(c+1) − 1 pack to the same public input; class c could
    // then bill more than its real capacity.
    for c in 0..ENERGY {
        assert!(
            tampered(48, |i, _| {
                i.capacity[c] += pow2(48);
                i.capacity[c + 1] -= Fr::one();
            }),
            "class {c}"
        );
    }
}

#[test]
fn rule3_top_capacity_read_as_a_number_beyond_its_lane() {
    let m = Fr::from_bigint(Fr::MODULUS >> 192).unwrap();
    let extra = lanes(-(m * pow2(192)), &[48; 4]).expect("r − m·2^192 is below 2^192");
    assert!(tampered(48, |i, _| {
        i.capacity[ENERGY] += m;
        for (cap, e) in i.capacity.iter_mut().zip(&extra) {
            *cap += *e;
        }
    }));
}

#[test]
fn rule3_packed_seq_read_another_way() {
    assert!(tampered(U64, |i, w| {
        i.prev_seq += pow2(64);
        i.prev_end_ms -= Fr::one();
        w.slots[0].gap_ms += Fr::one();
    }));
}

#[test]
fn rule3_packed_prev_seq_read_as_a_negative_number() {
    // prev_seq = 2^64 − 2 and prev_end = E read as prev_seq = −2, prev_end = E + 1:
    // records numbered −1, 0, 1 would continue a stream that is at 2^64 − 2.
    assert!(tampered(U64, |i, w| {
        i.prev_seq = -Fr::from(2u64);
        i.prev_end_ms += Fr::one();
        w.slots[0].gap_ms -= Fr::one();
    }));
}

#[test]
fn rule3_prev_end_read_as_a_negative_number() {
    // The settled end claimed as −10 ms: the records and the new end stay where they
    // were relative to it, only the previous end is not a u64.
    assert!(tampered(U64, |i, _| i.prev_end_ms = -Fr::from(10u64)));
}

#[test]
fn rule3_new_end_past_u64() {
    // A stream settled at 2^64 − 1,000 ms cannot end 2,100 ms later.
    assert!(tampered(U64, |i, _| i.prev_end_ms = Fr::from(u64::MAX - 1_000)));
}

#[test]
fn rule3_seq_past_u64() {
    // A stream at seq 2^64 − 2 cannot take three more records.
    assert!(tampered(U64, |i, _| i.prev_seq = Fr::from(u64::MAX - 1)));
}

#[test]
fn rule3_new_seq_hides_an_overflow() {
    // The stream is at 2^64 − 2; three records take it past u64, and new_seq is
    // assigned as if they did not.
    let (mut instance, witness) = honest();
    instance.prev_seq = Fr::from(u64::MAX - 1);
    let instance = evaluate(&instance, &witness);
    let fault = Fault { site: FaultSite::NewSeq, slot: 0, delta: -Fr::from(2u64) };
    assert!(refused(NO_RANGE, instance.public_inputs(), instance, witness, Some(fault)));
}

// Rule 4: total_c ≤ capacity_c × (new_end − prev_end).

#[test]
fn rule4_total_above_capacity_times_elapsed_time() {
    // gpu capacity 8 per ms over 2,100 ms: 16,800 fits, 16,801 does not.
    assert!(!tampered(SLACK, |_, w| w.slots[0].usage[GPU] = Fr::from(16_800u64 - 3_000)));
    assert!(tampered(SLACK, |_, w| w.slots[0].usage[GPU] = Fr::from(16_801u64 - 3_000)));
}

#[test]
fn rule4_every_class_is_bounded() {
    for c in 0..5 {
        let bound = caps().0[c] * 2_100;
        let others: u64 = records().iter().skip(1).map(|r| r.usage.0[c]).sum();
        assert!(!tampered(SLACK, |_, w| w.slots[0].usage[c] = Fr::from(bound - others)), "class {c} at capacity");
        assert!(tampered(SLACK, |_, w| w.slots[0].usage[c] = Fr::from(bound - others + 1)), "class {c} over capacity");
    }
}

#[test]
fn rule4_capacity_of_the_claimed_statement_counts() {
    // The same records claimed against a gpu capacity of 3 per ms: 8,000 GPU-ms
    // is more than 3 × 2,100.
    assert!(tampered(SLACK, |i, _| i.capacity[GPU] = Fr::from(3u64)));
}

#[test]
fn rule4_capacity_is_checked_on_the_billed_totals() {
    // The records bill 16,801 GPU-ms (public input 3 is their sum), while the prover
    // checks capacity on totals one lower, which would fit: the totals it checks
    // must be the lanes of input 3.
    let (instance, mut witness) = honest();
    witness.slots[0].usage[GPU] = Fr::from(16_801u64 - 3_000);
    let billed = evaluate(&instance, &witness);
    let mut checked = billed;
    checked.totals[GPU] -= Fr::one();
    assert!(refused(NO_RANGE, billed.public_inputs(), checked, witness, None));
}

#[test]
fn rule4_slack_made_up() {
    // 5 GPU-ms over capacity, with a slack of 0 assigned instead of −5.
    let (instance, mut witness) = honest();
    witness.slots[0].usage[GPU] = Fr::from(16_805u64 - 3_000);
    let instance = evaluate(&instance, &witness);
    let fault = Fault { site: FaultSite::Slack(GPU), slot: 0, delta: Fr::from(5u64) };
    assert!(refused(NO_RANGE, instance.public_inputs(), instance, witness, Some(fault)));
}

#[test]
fn rule4_slack_of_each_class_is_tied_to_its_total() {
    let (instance, witness) = honest();
    for c in 0..5 {
        let fault = Fault { site: FaultSite::Slack(c), slot: 0, delta: Fr::one() };
        assert!(refused(NO_RANGE, instance.public_inputs(), instance, witness.clone(), Some(fault)), "class {c}");
    }
}

// Rule 5: the head chain and the salt.

#[test]
fn rule5_wrong_new_head() {
    assert!(statement_tampered(NO_RANGE, |i| i.new_head += Fr::one()));
}

#[test]
fn rule5_wrong_salt() {
    let (instance, mut witness) = honest();
    witness.salt += Fr::one();
    assert!(refused(NO_RANGE, instance.public_inputs(), instance, witness, None));
}

#[test]
fn rule5_wrong_previous_head() {
    assert!(statement_tampered(NO_RANGE, |i| i.prev_head += Fr::one()));
}

#[test]
fn rule5_records_edited_behind_the_meters_back() {
    // Usage moved between two records: totals, counts and times all match, only the
    // chain of heads the meter signed does not.
    let (instance, mut witness) = honest();
    witness.slots[0].usage[GPU] -= Fr::from(1_000u64);
    witness.slots[1].usage[GPU] += Fr::from(1_000u64);
    assert_eq!(evaluate(&instance, &witness).totals, instance.totals);
    assert!(refused(NO_RANGE, instance.public_inputs(), instance, witness, None));
}

#[test]
fn rule5_head_not_the_chained_hash() {
    for slot in [2, 4] {
        let delta = Fr::from(3u64);
        assert!(
            faulted(Fault { site: FaultSite::Head, slot, delta }, |i, w| i.new_head =
                head_with(w, i, Fr::zero(), (0, Fr::zero()), delta)),
            "slot {slot}"
        );
    }
}

// Rule 6: exact per-class totals.

#[test]
fn rule6_wrong_total() {
    for c in 0..5 {
        assert!(statement_tampered(NO_RANGE, |i| i.totals[c] += Fr::one()), "class {c}");
    }
}

#[test]
fn rule6_total_moved_to_another_class() {
    assert!(statement_tampered(NO_RANGE, |i| {
        i.totals[NETWORK] -= Fr::one();
        i.totals[CPU] += Fr::one();
    }));
}

#[test]
fn rule6_usage_moved_to_another_class_inside_a_record() {
    // The record keeps its head only if its packed usage stays the same: moving
    // 1 unit from cpu to gpu changes it.
    let (instance, mut witness) = honest();
    witness.slots[0].usage[CPU] -= Fr::one();
    witness.slots[0].usage[GPU] += Fr::one();
    let mut claim = evaluate(&instance, &witness);
    claim.new_head = instance.new_head;
    assert!(refused(NO_RANGE, claim.public_inputs(), claim, witness, None));
}

// Padding slots.

#[test]
fn padding_slot_carrying_time() {
    assert!(witness_tampered(NO_RANGE, |w| w.slots[4].duration_ms = Fr::from(5u64)));
}

#[test]
fn padding_slot_carrying_a_gap() {
    assert!(witness_tampered(NO_RANGE, |w| w.slots[3].gap_ms = Fr::from(5u64)));
}

#[test]
fn padding_slot_carrying_usage() {
    for c in 0..5 {
        assert!(witness_tampered(NO_RANGE, |w| w.slots[3].usage[c] = Fr::from(7u64)), "class {c}");
    }
}

// Packed public inputs: each part is range-checked and the packing enforced, so a
// packed input has one reading only.

#[test]
fn forged_public_inputs_are_refused() {
    for k in 0..PUBLIC_INPUTS {
        assert!(claimed(|x| x[k] += Fr::one()), "public input {k}");
    }
}

#[test]
fn lane_layout_is_the_documented_one() {
    let (instance, _) = honest();
    let x3 = instance.public_inputs()[3];
    let parts = lanes(x3, &USAGE_BITS).unwrap();
    assert_eq!(parts, instance.totals.to_vec());
    assert_eq!(USAGE_OFFSETS[ENERGY] + USAGE_BITS[ENERGY], 252);
}

// Size.

#[test]
fn constraints_per_record_are_pinned() {
    let count = |slots| {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_mode(ark_relations::gr1cs::SynthesisMode::Setup);
        MeterCircuit::shape(slots).generate_constraints(cs.clone()).unwrap();
        cs.num_constraints()
    };
    let (one, nine) = (count(1), count(9));
    let per_record = (nine - one) / 8;
    assert!(per_record <= 350, "the issue's budget: at most 350 constraints for a record of all five classes");
    assert_eq!(per_record, 342, "update the table in meter_circuit.rs and the crate docs");
    assert_eq!(per_record, CONSTRAINTS_PER_SLOT);
    assert_eq!(one - per_record, CONSTRAINTS_PER_EPOCH, "update meter_circuit.rs docs");
}
