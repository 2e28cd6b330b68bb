//! Every rule of the meter circuit, broken one at a time.
//!
//! Each negative test tampers with the witness (or the claimed statement) and
//! recomputes everything else natively with [`evaluate`], so exactly the targeted
//! constraint is violated: deleting that constraint from the circuit makes its test
//! fail.

use ark_bn254::Fr;
use ark_ff::{Field, One, Zero};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use zkmeter_circuits::meter_circuit::{CONSTRAINTS_PER_EPOCH, CONSTRAINTS_PER_SLOT, Fault, FaultSite};
use zkmeter_circuits::stream::{chain_head, close_head, pack_record};
use zkmeter_circuits::witness::{evaluate, prev_instance};
use zkmeter_circuits::{
    Capacity, MeterCircuit, MeterInstance, MeterWitness, PerClass, ResourceClass, SlotWitness, StreamId, UsageRecord,
    build_epoch,
};

const SLOTS: usize = 5;
const GPU: usize = 0;
const CPU: usize = 1;

fn caps() -> Capacity {
    PerClass([8, 64, 1 << 40, 1 << 24, 1 << 20])
}

fn stream() -> StreamId {
    StreamId { meter: [0x11; 20], job_id: 7 }
}

/// Three records (gpu, gpu, cpu) in a 5-slot circuit: two padding slots.
fn records() -> Vec<UsageRecord> {
    let r = |seq, start_ms, end_ms, class, quantity| UsageRecord { seq, start_ms, end_ms, class, quantity };
    vec![
        r(11, 1_000, 2_000, ResourceClass::Gpu, 5_000),
        r(12, 2_000, 2_500, ResourceClass::Gpu, 3_000),
        r(13, 2_600, 3_000, ResourceClass::Cpu, 20_000),
    ]
}

fn prev() -> zkmeter_circuits::StreamState {
    zkmeter_circuits::StreamState { head: stream().genesis_head(), seq: 10, end_ms: 900 }
}

fn honest() -> (MeterInstance, MeterWitness) {
    let (statement, witness) = build_epoch(stream(), prev(), &records(), caps(), Fr::from(99u64), SLOTS).unwrap();
    (statement.instance(), witness)
}

fn satisfied(instance: MeterInstance, witness: MeterWitness) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    MeterCircuit::assigned(instance, witness).generate_constraints(cs.clone()).unwrap();
    cs.is_satisfied().unwrap()
}

/// Tampers with the witness, then recomputes the instance from it: only the rule
/// the tampering breaks can fail.
fn witness_tampered(f: impl FnOnce(&mut MeterWitness)) -> bool {
    let (instance, mut witness) = honest();
    f(&mut witness);
    satisfied(evaluate(&instance, &witness), witness)
}

/// Tampers with the witness and with the capacities, then recomputes.
fn tampered(f: impl FnOnce(&mut MeterInstance, &mut MeterWitness)) -> bool {
    let (mut instance, mut witness) = honest();
    f(&mut instance, &mut witness);
    satisfied(evaluate(&instance, &witness), witness)
}

/// Tampers with the claimed statement only.
fn statement_tampered(f: impl FnOnce(&mut MeterInstance)) -> bool {
    let (mut instance, witness) = honest();
    f(&mut instance);
    satisfied(instance, witness)
}

/// Proves the honest witness while claiming `f`'s change to the public inputs.
fn claimed(f: impl FnOnce(&mut [Fr; 6])) -> bool {
    let (instance, witness) = honest();
    let mut public = instance.public_inputs();
    f(&mut public);
    let cs = ConstraintSystem::<Fr>::new_ref();
    MeterCircuit::claiming(public, instance, witness).generate_constraints(cs.clone()).unwrap();
    cs.is_satisfied().unwrap()
}

/// Injects a fault into one internal value; `adjust` fixes up the claimed statement
/// so that only the constraint defining that value can notice.
fn faulted(fault: Fault, adjust: impl FnOnce(&mut MeterInstance, &MeterWitness)) -> bool {
    let (mut instance, witness) = honest();
    adjust(&mut instance, &witness);
    let cs = ConstraintSystem::<Fr>::new_ref();
    MeterCircuit::assigned(instance, witness).with_fault(fault).generate_constraints(cs.clone()).unwrap();
    cs.is_satisfied().unwrap()
}

/// The closing head of the honest records with record `last`'s end shifted by `end_shift`
/// and the chain tip shifted by `tip_shift`.
fn head_with(witness: &MeterWitness, instance: &MeterInstance, end_shift: Fr, tip_shift: Fr) -> Fr {
    let mut head = instance.prev_head;
    let mut end = instance.prev_end_ms;
    let active: Vec<_> = witness.slots.iter().filter(|s| s.active == Fr::one()).collect();
    for (i, slot) in active.iter().enumerate() {
        let start = end + slot.gap_ms;
        end = start + slot.duration_ms + if i + 1 == active.len() { end_shift } else { Fr::zero() };
        head = chain_head(head, pack_record(slot.seq, start, end, slot.class_index(), slot.quantity));
    }
    close_head(head + tip_shift, witness.salt)
}

fn two64() -> Fr {
    Fr::from(2u64).pow([64])
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
    recs.push(UsageRecord { seq: 14, start_ms: 3_000, end_ms: 3_001, class: ResourceClass::Energy, quantity: 0 });
    recs.push(UsageRecord { seq: 15, start_ms: 5_000, end_ms: 6_000, class: ResourceClass::Network, quantity: 1 << 30 });
    let (statement, witness) = build_epoch(stream(), prev(), &recs, caps(), Fr::zero(), SLOTS).unwrap();
    assert!(satisfied(statement.instance(), witness));
}

// Rule 1: seq_i = prev_seq + i.

#[test]
fn rule1_gap_in_seq() {
    assert!(!witness_tampered(|w| w.slots[1].seq += Fr::one()));
}

#[test]
fn rule1_repeated_seq() {
    assert!(!witness_tampered(|w| w.slots[2].seq = w.slots[1].seq));
}

#[test]
fn rule1_first_record_does_not_continue_the_stream() {
    assert!(!statement_tampered(|i| i.prev_seq += Fr::one()));
}

// Rule 2: prev_end ≤ start_1, start_i < end_i ≤ start_{i+1}.

#[test]
fn rule2_overlapping_records() {
    assert!(!witness_tampered(|w| w.slots[1].gap_ms = -Fr::one()));
}

#[test]
fn rule2_reordered_records() {
    // Record 3 placed before record 2 in time: it starts 600 ms before record 2 ends.
    assert!(!witness_tampered(|w| {
        w.slots[1].gap_ms = Fr::from(600u64);
        w.slots[2].gap_ms = -Fr::from(1_000u64);
    }));
}

#[test]
fn rule2_record_starts_before_the_settled_end() {
    assert!(!witness_tampered(|w| w.slots[0].gap_ms = -Fr::from(200u64)));
}

#[test]
fn rule2_empty_interval() {
    assert!(!witness_tampered(|w| {
        w.slots[2].duration_ms = Fr::zero();
        w.slots[2].quantity = Fr::zero();
    }));
}

// Rule 3: every field is range-checked.

#[test]
fn rule3_field_element_standing_in_for_a_time() {
    // A gap of 2^64 + 10 ms, taken back by a "negative" gap later: the end stays
    // in range, only the two gaps are not u64s.
    assert!(!witness_tampered(|w| {
        w.slots[0].gap_ms += two64();
        w.slots[1].gap_ms -= two64();
    }));
}

#[test]
fn rule3_field_element_standing_in_for_a_duration() {
    assert!(!witness_tampered(|w| {
        w.slots[0].duration_ms += two64();
        w.slots[1].gap_ms -= two64();
    }));
}

#[test]
fn rule3_quantity_that_only_fits_by_wrapping_mod_r() {
    // r − 5 in one record and 5,005 more in the next (which lasts long enough for
    // it): the gpu total is unchanged.
    assert!(!witness_tampered(|w| {
        w.slots[0].quantity = -Fr::from(5u64);
        w.slots[1].quantity += Fr::from(5_005u64);
        w.slots[1].duration_ms = Fr::from(2_000u64);
    }));
}

#[test]
fn rule3_record_in_two_classes() {
    // One record billed as gpu and cpu at once (the class it hashes as is still cpu).
    assert!(!witness_tampered(|w| w.slots[0].class[CPU] = Fr::one()));
}

#[test]
fn rule3_record_in_no_class() {
    assert!(!witness_tampered(|w| {
        w.slots[0].class[GPU] = Fr::zero();
        w.slots[0].quantity = Fr::zero();
    }));
}

#[test]
fn rule3_packed_capacity_read_another_way() {
    // cap_gpu + 2^48 and cap_cpu − 1 pack to the same public input; the gpu record
    // then claims more than the real gpu capacity allows.
    assert!(!tampered(|i, w| {
        i.capacity[GPU] += Fr::from(1u64 << 48);
        i.capacity[CPU] -= Fr::one();
        w.slots[2].class = [Fr::zero(), Fr::zero(), Fr::zero(), Fr::zero(), Fr::one()];
        w.slots[2].quantity = Fr::zero();
        w.slots[0].quantity = Fr::from(1u64 << 50);
    }));
}

#[test]
fn rule3_packed_seq_read_another_way() {
    assert!(!tampered(|i, w| {
        i.prev_seq += two64();
        i.prev_end_ms -= Fr::one();
        for (k, slot) in w.slots.iter_mut().take(3).enumerate() {
            slot.seq = i.prev_seq + Fr::from(k as u64 + 1);
        }
        w.slots[0].gap_ms += Fr::one();
    }));
}

// Rule 4: quantity ≤ capacity[class] × duration.

#[test]
fn rule4_quantity_above_capacity() {
    // gpu capacity 8 per ms, record 1 lasts 1,000 ms: 8,001 is one too many.
    assert!(!witness_tampered(|w| w.slots[0].quantity = Fr::from(8_001u64)));
}

#[test]
fn rule4_quantity_at_capacity_is_fine() {
    assert!(witness_tampered(|w| w.slots[0].quantity = Fr::from(8_000u64)));
}

// Rule 5: the head chain and the salt.

#[test]
fn rule5_wrong_new_head() {
    assert!(!statement_tampered(|i| i.new_head += Fr::one()));
}

#[test]
fn rule5_wrong_salt() {
    let (instance, mut witness) = honest();
    witness.salt += Fr::one();
    assert!(!satisfied(instance, witness));
}

#[test]
fn rule5_wrong_previous_head() {
    assert!(!statement_tampered(|i| i.prev_head += Fr::one()));
}

#[test]
fn rule5_records_edited_behind_the_meters_back() {
    // Quantities moved between two gpu records: totals, counts and times all match,
    // only the chain of heads the meter signed does not.
    let (instance, mut witness) = honest();
    witness.slots[0].quantity -= Fr::from(1_000u64);
    witness.slots[1].quantity += Fr::from(1_000u64);
    assert_eq!(evaluate(&instance, &witness).totals, instance.totals);
    assert!(!satisfied(instance, witness));
}

// Rule 6: exact per-class totals.

#[test]
fn rule6_wrong_total() {
    assert!(!statement_tampered(|i| i.totals[GPU] += Fr::one()));
}

#[test]
fn rule6_total_moved_to_another_class() {
    assert!(!statement_tampered(|i| {
        i.totals[GPU] -= Fr::one();
        i.totals[CPU] += Fr::one();
    }));
}

#[test]
fn rule6_total_that_does_not_fit_u64() {
    // A total ≥ 2^64 packed into the 64-bit slot spills into the next class.
    assert!(!statement_tampered(|i| {
        i.totals[GPU] += two64();
        i.totals[CPU] -= Fr::one();
    }));
}

#[test]
fn rule6_wrong_record_count() {
    assert!(!statement_tampered(|i| i.record_count += Fr::one()));
}

#[test]
fn rule6_wrong_new_end() {
    assert!(!statement_tampered(|i| i.new_end_ms += Fr::one()));
}

// Padding slots.

#[test]
fn padding_slot_carrying_time() {
    assert!(!witness_tampered(|w| w.slots[4].duration_ms = Fr::from(5u64)));
}

#[test]
fn padding_slot_carrying_a_quantity() {
    assert!(!witness_tampered(|w| {
        w.slots[3].quantity = Fr::from(7u64);
        w.slots[3].duration_ms = Fr::from(1u64);
    }));
}

#[test]
fn padding_slot_carrying_a_class() {
    assert!(!witness_tampered(|w| w.slots[3].class[GPU] = Fr::one()));
}

#[test]
fn padding_between_records() {
    // Slot 2 switched off and slot 3 switched on: record seq 13 would be billed
    // while seq 12 is skipped.
    assert!(!witness_tampered(|w| {
        let third = w.slots[2];
        w.slots[1] = SlotWitness::padding();
        w.slots[2] = SlotWitness::padding();
        w.slots[3] = SlotWitness { gap_ms: third.gap_ms + Fr::from(500u64), ..third };
        w.slots[3].seq = Fr::from(14u64);
    }));
}

#[test]
fn epoch_without_records() {
    assert!(!witness_tampered(|w| {
        for slot in &mut w.slots {
            *slot = SlotWitness::padding();
        }
    }));
}

// Packed public inputs: each part is range-checked and the packing enforced, so a
// packed input has one reading only.

#[test]
fn forged_packed_inputs_are_refused() {
    for k in 2..6 {
        assert!(!claimed(|x| x[k] += Fr::one()), "public input {k}");
    }
}

#[test]
fn packed_prev_seq_read_as_a_negative_number() {
    // prev_seq = 2^64 − 2 and prev_end = E read as prev_seq = −2, prev_end = E + 1:
    // records numbered −1, 0, 1 would continue a stream that is at 2^64 − 2.
    assert!(!tampered(|i, w| {
        i.prev_seq = -Fr::from(2u64);
        i.prev_end_ms += Fr::one();
        for (k, slot) in w.slots.iter_mut().take(3).enumerate() {
            slot.seq = i.prev_seq + Fr::from(k as u64 + 1);
        }
        w.slots[0].gap_ms -= Fr::one();
    }));
}

#[test]
fn packed_prev_end_read_as_a_negative_number() {
    // prev_end − 2^64 and new_end + 1 pack like the honest pair: the first record
    // would start 500 ms before the settled end.
    assert!(!tampered(|i, w| {
        i.prev_end_ms -= two64();
        w.slots[0].gap_ms = two64() - Fr::from(500u64);
        w.slots[2].duration_ms += Fr::one();
    }));
}

#[test]
fn packed_new_end_beyond_u64() {
    // new_end + 2^64 with one record fewer packs like the honest statement.
    assert!(!tampered(|_, w| {
        w.slots[2] = SlotWitness::padding();
        w.slots[0].gap_ms += Fr::from(2u64).pow([63]);
        w.slots[1].gap_ms += Fr::from(2u64).pow([63]) + Fr::from(500u64);
    }));
}

#[test]
fn packed_total_read_another_way() {
    // gpu total + 2^64 and cpu total − 1 pack like the honest pair: 2^64 more GPU time
    // billed under the name of one core-ms less.
    assert!(!tampered(|i, w| {
        i.capacity[GPU] = Fr::from(1u64 << 40);
        w.slots[0].duration_ms = Fr::from(1u64 << 25);
        w.slots[1].duration_ms = Fr::from(1u64 << 25);
        w.slots[0].quantity += Fr::from(1u64 << 63);
        w.slots[1].quantity += Fr::from(1u64 << 63);
        w.slots[2].quantity -= Fr::one();
    }));
}

#[test]
fn seq_past_u64() {
    // A stream at seq 2^64 − 2 cannot take three more records.
    assert!(!tampered(|i, w| {
        i.prev_seq = Fr::from(u64::MAX - 1);
        for (k, slot) in w.slots.iter_mut().take(3).enumerate() {
            slot.seq = i.prev_seq + Fr::from(k as u64 + 1);
        }
    }));
}

#[test]
fn one_hot_with_a_negative_entry() {
    // A cpu record's class written as (−1, 2, 0, 0, 0): sums to 1, hashes as class 2,
    // takes its quantity off the gpu total and bills it twice as cpu.
    assert!(!witness_tampered(|w| {
        w.slots[2].quantity = Fr::from(100u64);
        w.slots[2].class = [-Fr::one(), Fr::from(2u64), Fr::zero(), Fr::zero(), Fr::zero()];
    }));
}

// Internal values, each shifted by a fault injection (see `Fault`).

#[test]
fn fault_new_seq_hides_an_overflow() {
    // The stream is at 2^64 − 2; three records take it past u64, and new_seq is
    // assigned as if they did not.
    let (mut instance, mut witness) = honest();
    instance.prev_seq = Fr::from(u64::MAX - 1);
    for (k, slot) in witness.slots.iter_mut().take(3).enumerate() {
        slot.seq = instance.prev_seq + Fr::from(k as u64 + 1);
    }
    let instance = evaluate(&instance, &witness);
    let cs = ConstraintSystem::<Fr>::new_ref();
    let fault = Fault { site: FaultSite::NewSeq, slot: 0, delta: -Fr::from(2u64) };
    MeterCircuit::assigned(instance, witness).with_fault(fault).generate_constraints(cs.clone()).unwrap();
    assert!(!cs.is_satisfied().unwrap());
}

#[test]
fn fault_end_not_start_plus_duration() {
    // The last record's end, as hashed and reported, is 7 ms later than it lasted.
    let delta = Fr::from(7u64);
    assert!(!faulted(Fault { site: FaultSite::End, slot: 2, delta }, |i, w| {
        i.new_end_ms += delta;
        i.new_head = head_with(w, i, delta, Fr::zero());
    }));
}

#[test]
fn fault_capacity_of_another_class() {
    // The gpu record's capacity share made 1 larger than gpu's capacity.
    assert!(!faulted(Fault { site: FaultSite::CapacityShare(GPU), slot: 0, delta: Fr::one() }, |_, _| {}));
}

#[test]
fn fault_quantity_billed_to_a_class_it_is_not() {
    // The cpu record also bills 5 units as gpu.
    let delta = Fr::from(5u64);
    assert!(!faulted(Fault { site: FaultSite::ClassShare(GPU), slot: 2, delta }, |i, _| i.totals[GPU] += delta));
}

#[test]
fn fault_slack_made_up_for_a_record_over_capacity() {
    // 5 GPU-ms over capacity, with a slack of 0 assigned instead of −5.
    let (instance, mut witness) = honest();
    witness.slots[0].quantity = Fr::from(8_005u64);
    let instance = evaluate(&instance, &witness);
    let cs = ConstraintSystem::<Fr>::new_ref();
    let fault = Fault { site: FaultSite::Slack, slot: 0, delta: Fr::from(5u64) };
    MeterCircuit::assigned(instance, witness).with_fault(fault).generate_constraints(cs.clone()).unwrap();
    assert!(!cs.is_satisfied().unwrap());
}

#[test]
fn fault_head_not_the_chained_hash() {
    for slot in [2, 4] {
        let delta = Fr::from(3u64);
        assert!(
            !faulted(Fault { site: FaultSite::Head, slot, delta }, |i, w| i.new_head = head_with(w, i, Fr::zero(), delta)),
            "slot {slot}"
        );
    }
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
    assert_eq!(per_record, 590, "update the table in meter_circuit.rs and the crate docs");
    assert_eq!(per_record, CONSTRAINTS_PER_SLOT);
    assert_eq!(one - per_record, CONSTRAINTS_PER_EPOCH, "update meter_circuit.rs docs");
}
