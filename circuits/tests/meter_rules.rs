//! Every rule of the meter circuit, broken one at a time.
//!
//! Each negative test tampers with the witness (or the claimed statement) and
//! recomputes everything else natively with [`evaluate`], so exactly the targeted
//! constraint is violated: deleting that constraint from the circuit makes its test
//! fail.

use ark_bn254::Fr;
use ark_ff::{Field, One, Zero};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use zkmeter_circuits::meter_circuit::{CONSTRAINTS_PER_EPOCH, CONSTRAINTS_PER_SLOT};
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
    assert_eq!(per_record, 591, "update the table in meter_circuit.rs and the crate docs");
    assert_eq!(per_record, CONSTRAINTS_PER_SLOT);
    assert_eq!(one - per_record, CONSTRAINTS_PER_EPOCH, "update meter_circuit.rs docs");
}
