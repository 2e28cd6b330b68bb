//! [`MeterCircuit`]: the rules of the meter statement as R1CS.
//!
//! Read [`MeterCircuit::generate_constraints`] top to bottom: first the public
//! inputs are unpacked into range-checked parts, then each slot is constrained
//! (one block per rule), then the epoch's results are tied to the public inputs.
//!
//! Constraints per record slot (pinned by a test), every record carrying all five
//! classes:
//!
//! | what | constraints |
//! |---|---|
//! | slot flag: boolean, prefix of ones | 2 |
//! | rule 2: gap (40 bits), duration − 1 (32 bits) | 72 |
//! | rule 2: end = start + duration | 1 |
//! | padding carries no time and no usage | 2 |
//! | rule 5: Poseidon(head, pack_a, pack_b) | 264 |
//! | rule 5: the head moves only for real records | 1 |
//! | **total** | **342** |
//!
//! Rule 1 (seq) costs nothing per record: the i-th slot's seq is `prev_seq + i`, a
//! linear combination. Rules 3, 4 and 6 cost nothing per record either: quantities
//! are not range-checked one by one. The epoch's packed totals equal the sum of the
//! records' packed usage (one linear constraint), and each total's lane is
//! range-checked once; since every record's packed usage is fixed by the head chain
//! and a 252-bit value has one reading in range-checked lanes, the totals are the
//! exact sums (see the crate docs for the argument). Rule 4 is checked once per
//! epoch on the totals: `total_c ≤ capacity_c × (new_end − prev_end)`.
//!
//! Each epoch adds 1,563 constraints once: unpacking and range-checking the public
//! inputs (684 + 3), the new seq (65), the end and the totals' sum (2), the five
//! capacity checks (5 × 113), the closing Poseidon (243) and its equality (1).

use ark_bn254::Fr;
use ark_ff::{Field, One};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use crate::num::{Num, enforce_equal, enforce_product, enforce_zero_product};
use crate::poseidon::poseidon_gadget;
use crate::range_check::alloc_bits;
use crate::record::{ResourceClass, USAGE_BITS};
use crate::statement::{CAPACITY_BITS, COUNT_BITS, DURATION_BITS, GAP_BITS, MeterInstance, PUBLIC_INPUTS, SEQ_BITS, TIME_BITS};
use crate::stream::pack_usage;
use crate::witness::{MeterWitness, SlotWitness};

/// R1CS constraints per record slot (the table above).
pub const CONSTRAINTS_PER_SLOT: usize = 342;

/// R1CS constraints each epoch adds once, whatever N.
pub const CONSTRAINTS_PER_EPOCH: usize = 1_563;

/// Bits of `capacity × elapsed − total`: capacity < 2^48, elapsed < 2^64.
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
    /// `capacity[k] × elapsed − total[k]`, before its range check (per epoch).
    Slack(usize),
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
            Some(f) if f.site == site && (f.slot == slot || matches!(site, FaultSite::NewSeq | FaultSite::Slack(_))) => {
                value + f.delta
            }
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
            .map(|k| alloc_bits(&cs, val(a, |a| a.instance.totals[k]), USAGE_BITS[k]))
            .collect::<Result<_, _>>()?;
        enforce_packed(&cs, &x[3], &totals.iter().zip(USAGE_BITS).collect::<Vec<_>>())?;
        let caps: Vec<Num> = (0..ResourceClass::COUNT)
            .map(|k| alloc_bits(&cs, val(a, |a| a.instance.capacity[k]), CAPACITY_BITS))
            .collect::<Result<_, _>>()?;
        enforce_packed(&cs, &x[4], &caps.iter().map(|c| (c, CAPACITY_BITS)).collect::<Vec<_>>())?;

        let two64 = Fr::from(u64::MAX) + Fr::one();
        let mut head = x[0].clone();
        let mut end = prev_end.clone();
        let mut prev_active = Num::constant(Fr::one());
        let mut count = Num::zero();
        let mut usage_sum = Num::zero();
        for index in 0..self.slots {
            let slot = val(a, |a| a.witness.slots[index]);
            let s = |f: fn(&SlotWitness) -> Fr| slot.as_ref().map(f);

            // Real records form a prefix: a slot is active only if the one before is,
            // and the first slot is active (an epoch has at least one record).
            let active = Num::witness(&cs, s(|w| w.active))?;
            enforce_zero_product(&cs, &active, &active.add_constant(-Fr::one()))?;
            if index == 0 {
                enforce_equal(&cs, &active, &Num::constant(Fr::one()))?;
            } else {
                enforce_zero_product(&cs, &active, &Num::constant(Fr::one()).sub(&prev_active))?;
            }
            count = count.add(&active);

            // Rule 1: the i-th record has seq prev_seq + i (hashed below), so no record
            // is skipped or repeated.
            let seq = prev_seq.add_constant(Fr::from(index as u64 + 1));

            // Rule 2: starts no earlier than the previous end, lasts at least 1 ms
            // (padding: 0 ms); gap and duration are range-checked (rule 3), and new_end,
            // itself 64 bits, bounds every end.
            let gap = alloc_bits(&cs, s(|w| w.gap_ms), GAP_BITS)?;
            let duration = alloc_bits(&cs, s(|w| w.duration_ms - w.active), DURATION_BITS)?.add(&active);
            let start = end.add(&gap);
            let next_end = Num::witness(&cs, computed(a, FaultSite::End, index, start.add(&duration).value()))?;
            enforce_equal(&cs, &next_end, &start.add(&duration))?;

            // The record's usage, all five classes in one packed value; what it adds to
            // the totals is checked once per epoch (rules 3, 4, 6).
            let usage = Num::witness(&cs, s(|w| pack_usage(&w.usage)))?;

            // Padding carries nothing: gap and duration are non-negative integers, so
            // their sum is 0 only if each is; and no usage.
            let padding = Num::constant(Fr::one()).sub(&active);
            enforce_zero_product(&cs, &padding, &gap.add(&duration))?;
            enforce_zero_product(&cs, &padding, &usage)?;
            usage_sum = usage_sum.add(&usage);

            // Rule 5: head ← Poseidon(head, pack_a, pack_b) for real records.
            let pack_a = seq.add(&start.scale(two64)).add(&next_end.scale(two64 * two64));
            let chained = poseidon_gadget(&cs, &[head.clone(), pack_a, usage])?;
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

        // Rule 6: the packed totals are the sum of the records' packed usage. Their
        // lanes are range-checked above, so they are the exact per-class sums.
        enforce_equal(&cs, &x[3], &usage_sum)?;

        // Rule 4: per class, total ≤ capacity × (new_end − prev_end), i.e. the slack is
        // a non-negative integer below 2^112. The elapsed time is non-negative: new_end
        // is prev_end plus non-negative gaps and durations.
        let elapsed = new_end.sub(&prev_end);
        for (k, (total, cap)) in totals.iter().zip(&caps).enumerate() {
            let slack_value = cap.value().zip(elapsed.value()).zip(total.value()).map(|((c, e), t)| c * e - t);
            let slack = alloc_bits(&cs, computed(a, FaultSite::Slack(k), 0, slack_value), SLACK_BITS)?;
            enforce_product(&cs, cap, &elapsed, &total.add(&slack))?;
        }

        // Rule 5: the new head closes the chain with the salt.
        let salt = Num::witness(&cs, val(a, |a| a.witness.salt))?;
        let closed = poseidon_gadget(&cs, &[head, salt])?;
        enforce_equal(&cs, &x[1], &closed)
    }
}

/// Enforces `packed = Σ part_i · 2^(offset_i)` (one constraint), each part taking
/// its width's worth of bits.
fn enforce_packed(cs: &ConstraintSystemRef<Fr>, packed: &Num, parts: &[(&Num, usize)]) -> Result<(), SynthesisError> {
    let mut sum = Num::zero();
    let mut shift = 0;
    for (part, bits) in parts {
        sum = sum.add(&part.scale(Fr::from(2u64).pow([shift as u64])));
        shift += bits;
    }
    enforce_equal(cs, packed, &sum)
}
