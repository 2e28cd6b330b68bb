//! [`MeterCircuit`]: the six rules of the meter statement as R1CS.
//!
//! Read [`MeterCircuit::generate_constraints`] top to bottom: first the public
//! inputs are unpacked into range-checked parts, then each slot is constrained
//! (one block per rule), then the epoch's results are tied to the public inputs.
//!
//! Constraints per record slot (pinned by a test):
//!
//! | what | constraints |
//! |---|---|
//! | slot flag: prefix of ones (its booleanity follows from other rules) | 1 |
//! | rule 1: `seq = active·(prev_seq + i)` | 1 |
//! | rules 2–3: gap (64 bits), duration − 1 (64 bits), end | 129 |
//! | rule 3: quantity (64 bits), class one-hot (5 booleans + sum) | 70 |
//! | padding carries nothing | 1 |
//! | rule 4: capacity select (5), slack (112 bits) + product (1) | 118 |
//! | rule 6: per-class share of the quantity | 5 |
//! | rule 5: Poseidon(head, pack_a, pack_b), select | 265 |
//! | **total** | **590** |
//!
//! Half of it is range checks (every value is a genuine u64, so nothing can wrap
//! mod r), the other half the per-record Poseidon that lets meters, circom and
//! Solidity compute the same heads. Each epoch adds 1,072 constraints once
//! (unpacking the public inputs, the closing Poseidon).

use ark_bn254::Fr;
use ark_ff::{Field, One};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use crate::num::{Num, enforce_equal, enforce_product, enforce_zero_product, product};
use crate::poseidon::poseidon_gadget;
use crate::range_check::{alloc_bits, alloc_boolean};
use crate::record::ResourceClass;
use crate::statement::{CAPACITY_BITS, COUNT_BITS, MeterInstance, PUBLIC_INPUTS, SEQ_BITS, TIME_BITS, TOTAL_BITS};
use crate::witness::{MeterWitness, SlotWitness};

/// R1CS constraints per record slot (the table above).
pub const CONSTRAINTS_PER_SLOT: usize = 590;

/// R1CS constraints each epoch adds once, whatever N.
pub const CONSTRAINTS_PER_EPOCH: usize = 1_072;

/// Bits of `capacity × duration − quantity`: capacity < 2^48, duration < 2^64.
const SLACK_BITS: usize = CAPACITY_BITS + TIME_BITS;

/// The meter circuit with a fixed number of record slots. Without an assignment
/// (for key generation) it only shapes the constraint system.
#[derive(Clone, Debug)]
pub struct MeterCircuit {
    slots: usize,
    assignment: Option<Assignment>,
}

#[derive(Clone, Debug)]
struct Assignment {
    public: [Fr; PUBLIC_INPUTS],
    instance: MeterInstance,
    witness: MeterWitness,
    fault: Option<Fault>,
}

/// A deliberate error in one internal value the prover assigns, for soundness
/// tests. The values computed from the faulty one follow it, so only the constraint
/// that defines that value can notice: a test that injects a fault and expects the
/// constraint system to be unsatisfied fails if that constraint is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Which value.
    pub site: FaultSite,
    /// In which record slot (ignored for per-epoch values).
    pub slot: usize,
    /// Added to the honest value.
    pub delta: Fr,
}

/// The internal values a [`Fault`] can shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultSite {
    /// `new_seq = prev_seq + n`, before its range check.
    NewSeq,
    /// A record's end (`start + duration`).
    End,
    /// `capacity[k]` if the record is of class `k`, else 0.
    CapacityShare(usize),
    /// `quantity` if the record is of class `k`, else 0.
    ClassShare(usize),
    /// `capacity × duration − quantity`, before its range check.
    Slack,
    /// The head after a slot.
    Head,
}

impl MeterCircuit {
    /// The shape only, for setup and for the key digest.
    pub fn shape(slots: usize) -> Self {
        assert!(slots > 0, "a meter circuit needs at least one record slot");
        MeterCircuit { slots, assignment: None }
    }

    /// A circuit assigned to prove `instance` with `witness`; the number of slots is
    /// the witness's.
    pub fn assigned(instance: MeterInstance, witness: MeterWitness) -> Self {
        Self::claiming(instance.public_inputs(), instance, witness)
    }

    /// A circuit whose public inputs are `public` while the prover works with
    /// `instance` and `witness` (honestly, `public = instance.public_inputs()`). The
    /// soundness tests use it to claim one statement with the witness of another.
    pub fn claiming(public: [Fr; PUBLIC_INPUTS], instance: MeterInstance, witness: MeterWitness) -> Self {
        assert!(!witness.slots.is_empty(), "a meter circuit needs at least one record slot");
        MeterCircuit { slots: witness.slots.len(), assignment: Some(Assignment { public, instance, witness, fault: None }) }
    }

    /// The same circuit with one internal value shifted (see [`Fault`]).
    pub fn with_fault(mut self, fault: Fault) -> Self {
        if let Some(a) = &mut self.assignment {
            a.fault = Some(fault);
        }
        self
    }

    /// Number of record slots (N).
    pub fn slots(&self) -> usize {
        self.slots
    }
}

impl Assignment {
    fn tweak(&self, site: FaultSite, slot: usize, value: Fr) -> Fr {
        match self.fault {
            Some(f) if f.site == site && (f.slot == slot || site == FaultSite::NewSeq) => value + f.delta,
            _ => value,
        }
    }
}

/// A value of the assignment, if there is one.
fn val<T>(a: &Option<Assignment>, f: impl FnOnce(&Assignment) -> T) -> Option<T> {
    a.as_ref().map(f)
}

/// A value computed from others, shifted if a fault targets it.
fn computed(a: &Option<Assignment>, site: FaultSite, slot: usize, value: Option<Fr>) -> Option<Fr> {
    let v = value?;
    Some(a.as_ref().map_or(v, |a| a.tweak(site, slot, v)))
}

impl ConstraintSynthesizer<Fr> for MeterCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let a = &self.assignment;
        let x: Vec<Num> = (0..PUBLIC_INPUTS)
            .map(|k| Num::input(&cs, val(a, |a| a.public[k])))
            .collect::<Result<_, _>>()?;

        // Unpack the public inputs into range-checked parts, so each packed input has
        // exactly one reading. (The record count, the top part of input 2, is the
        // number of active slots: at most N, so it needs no range check.)
        let prev_seq = alloc_bits(&cs, val(a, |a| a.instance.prev_seq), SEQ_BITS)?;
        let prev_end = alloc_bits(&cs, val(a, |a| a.instance.prev_end_ms), TIME_BITS)?;
        let new_end = alloc_bits(&cs, val(a, |a| a.instance.new_end_ms), TIME_BITS)?;
        let totals: Vec<Num> = (0..ResourceClass::COUNT)
            .map(|k| alloc_bits(&cs, val(a, |a| a.instance.totals[k]), TOTAL_BITS))
            .collect::<Result<_, _>>()?;
        enforce_packed(&cs, &x[3], &[(&totals[0], TOTAL_BITS), (&totals[1], TOTAL_BITS), (&totals[2], TOTAL_BITS)])?;
        enforce_packed(&cs, &x[4], &[(&totals[3], TOTAL_BITS), (&totals[4], TOTAL_BITS)])?;
        let caps: Vec<Num> = (0..ResourceClass::COUNT)
            .map(|k| alloc_bits(&cs, val(a, |a| a.instance.capacity[k]), CAPACITY_BITS))
            .collect::<Result<_, _>>()?;
        enforce_packed(&cs, &x[5], &caps.iter().map(|c| (c, CAPACITY_BITS)).collect::<Vec<_>>())?;

        let mut head = x[0].clone();
        let mut end = prev_end.clone();
        let mut prev_active = Num::constant(Fr::one());
        let mut count = Num::zero();
        let mut class_sums = vec![Num::zero(); ResourceClass::COUNT];
        for index in 0..self.slots {
            let slot = val(a, |a| a.witness.slots[index]);
            let s = |f: fn(&SlotWitness) -> Fr| slot.as_ref().map(f);

            // Real records form a prefix: a slot is active only if the one before is,
            // and the first slot is active (an epoch has at least one record).
            // `active` needs no booleanity constraint of its own: the class one-hot
            // below makes it an integer in 0..=5, and any value but 0 or 1 forces the
            // slot's duration to 0 (padding rule) while requiring it to be ≥ active
            // (duration rule) — impossible.
            let active = Num::witness(&cs, s(|w| w.active))?;
            enforce_zero_product(&cs, &active, &Num::constant(Fr::one()).sub(&prev_active))?;
            if index == 0 {
                enforce_equal(&cs, &active, &Num::constant(Fr::one()))?;
            }
            count = count.add(&active);

            // Rule 1: the i-th record has seq prev_seq + i; padding has seq 0.
            let seq = Num::witness(&cs, s(|w| w.seq))?;
            enforce_product(&cs, &active, &prev_seq.add_constant(Fr::from(index as u64 + 1)), &seq)?;

            // Rules 2 and 3: starts no earlier than the previous end, lasts at least
            // 1 ms (padding: 0 ms); both are u64, and new_end bounds the last end.
            let gap = alloc_bits(&cs, s(|w| w.gap_ms), TIME_BITS)?;
            let duration = alloc_bits(&cs, s(|w| w.duration_ms - w.active), TIME_BITS)?.add(&active);
            let start = end.add(&gap);
            let next_end = Num::witness(&cs, computed(a, FaultSite::End, index, start.add(&duration).value()))?;
            enforce_equal(&cs, &next_end, &start.add(&duration))?;

            // Rule 3: quantity is a u64; class is one-hot over the five classes
            // (exactly one for a real record, none for padding).
            let quantity = alloc_bits(&cs, s(|w| w.quantity), TOTAL_BITS)?;
            let one_hot: Vec<Num> = (0..ResourceClass::COUNT)
                .map(|k| alloc_boolean(&cs, slot.map(|w| w.class[k])))
                .collect::<Result<_, _>>()?;
            enforce_equal(&cs, &Num::sum(&one_hot), &active)?;
            let class = Num::sum(&one_hot.iter().enumerate().map(|(k, h)| h.scale(Fr::from(k as u64))).collect::<Vec<_>>());

            // Padding carries nothing: gap, duration and quantity are non-negative
            // u64s, so their sum is 0 only if each is.
            enforce_zero_product(&cs, &Num::constant(Fr::one()).sub(&active), &gap.add(&duration).add(&quantity))?;

            // Rule 4: quantity ≤ capacity[class] × duration, i.e. the slack is a
            // non-negative integer below 2^112.
            let mut capacity = Num::zero();
            for (k, (h, cap)) in one_hot.iter().zip(&caps).enumerate() {
                let share = computed(a, FaultSite::CapacityShare(k), index, h.value().zip(cap.value()).map(|(h, c)| h * c));
                capacity = capacity.add(&product(&cs, h, cap, share)?);
            }
            let slack_value = capacity.value().zip(duration.value()).zip(quantity.value()).map(|((c, d), q)| c * d - q);
            let slack = alloc_bits(&cs, computed(a, FaultSite::Slack, index, slack_value), SLACK_BITS)?;
            enforce_product(&cs, &capacity, &duration, &quantity.add(&slack))?;

            // Rule 6: this record's quantity goes to its class's total only.
            for (k, (sum, h)) in class_sums.iter_mut().zip(&one_hot).enumerate() {
                let share = computed(a, FaultSite::ClassShare(k), index, h.value().zip(quantity.value()).map(|(h, q)| h * q));
                *sum = sum.add(&product(&cs, h, &quantity, share)?);
            }

            // Rule 5: head ← Poseidon(head, pack_a, pack_b) for real records.
            let two64 = Fr::from(u64::MAX) + Fr::one();
            let pack_a = seq.add(&start.scale(two64)).add(&next_end.scale(two64 * two64));
            let pack_b = quantity.add(&class.scale(two64));
            let chained = poseidon_gadget(&cs, &[head.clone(), pack_a, pack_b])?;
            let selected = head.value().zip(chained.value()).zip(active.value()).map(|((h, c), on)| h + on * (c - h));
            let next_head = Num::witness(&cs, computed(a, FaultSite::Head, index, selected))?;
            enforce_product(&cs, &active, &chained.sub(&head), &next_head.sub(&head))?;

            head = next_head;
            end = next_end;
            prev_active = active;
        }

        enforce_packed(&cs, &x[2], &[(&prev_seq, SEQ_BITS), (&prev_end, TIME_BITS), (&new_end, TIME_BITS), (&count, COUNT_BITS)])?;
        // new seq = prev seq + n must itself be a u64, so every record's seq is.
        let new_seq_value = computed(a, FaultSite::NewSeq, 0, prev_seq.add(&count).value());
        let new_seq = alloc_bits(&cs, new_seq_value, SEQ_BITS)?;
        enforce_equal(&cs, &new_seq, &prev_seq.add(&count))?;
        enforce_equal(&cs, &new_end, &end)?;
        for (total, sum) in totals.iter().zip(&class_sums) {
            enforce_equal(&cs, total, sum)?;
        }
        let salt = Num::witness(&cs, val(a, |a| a.witness.salt))?;
        let closed = poseidon_gadget(&cs, &[head, salt])?;
        enforce_equal(&cs, &x[1], &closed)
    }
}

/// Enforces `packed = Σ part_i · 2^(offset_i)` (one constraint).
fn enforce_packed(cs: &ConstraintSystemRef<Fr>, packed: &Num, parts: &[(&Num, usize)]) -> Result<(), SynthesisError> {
    let mut sum = Num::zero();
    let mut shift = 0;
    for (part, bits) in parts {
        sum = sum.add(&part.scale(Fr::from(2u64).pow([shift as u64])));
        shift += bits;
    }
    enforce_equal(cs, packed, &sum)
}
