//! Multi-scalar multiplication on the CPU, for bases that stay the same across proofs.
//!
//! ark-ec 0.6's `msm_bigint` already skips zero scalars, sums ±1 scalars with one
//! addition each and runs small scalars through shorter Pippenger passes, all with
//! extended-Jacobian (XYZZ) buckets: a mixed addition costs 8 multiplications and 2
//! squarings. What it leaves on the table, and what this module does instead:
//!
//! - **Batch-affine bucket accumulation.** Each Pippenger window keeps its buckets in
//!   affine form and adds points to them in batches, sharing one field inversion per
//!   batch (Montgomery's trick): 5 multiplications and 1 squaring per addition. A
//!   point whose bucket is already waiting in the current batch is retried after
//!   the next flush; one whose addition would be a doubling or give infinity (equal
//!   x), or that still conflicts, goes into a second, XYZZ bucket instead, so the
//!   rare cases cost what they cost in arkworks and never stall.
//! - **Batch-affine bucket reduction.** The running sums that weigh each bucket by
//!   its digit run in lanes of consecutive buckets advanced together, so their
//!   additions share inversions too (two affine additions per bucket instead of a
//!   mixed and an XYZZ one).
//! - **Ones** (scalars ±1: 8 % of the meter circuit's witness) are summed by a pairwise
//!   batch-affine tree rather than one mixed addition each.
//! - **Window size** chosen from a cost model of batch-affine additions against the
//!   bucket reduction, rather than from `ln(n)`.
//! - **Inlined base-field multiplication** in the G1 loops ([`crate::montgomery`]).
//! - **Bucket prefetch**: a window's buckets are asked for a few points ahead, so the
//!   bucket's cache miss overlaps the additions in between.
//! - **Zero bases are dropped once** when the bases are prepared (variables that
//!   never appear in a column of the QAP have the point at infinity in the key).
//!
//! Results are exact: the tests compare every size class with `VariableBaseMSM`.

use ark_bn254::Fr;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
use ark_ec::short_weierstrass::{Affine, Bucket, Projective, SWCurveConfig};
use ark_ff::{AdditiveGroup, BigInt, BigInteger, Field, PrimeField, Zero};
use rayon::prelude::*;

use crate::montgomery::HotField;

/// Bases prepared once (per proving key): the points at infinity are dropped, and
/// `index` maps each remaining point to the position of its scalar.
pub struct PreparedBases<P: SWCurveConfig> {
    points: Vec<Affine<P>>,
    index: Vec<u32>,
    len: usize,
}

impl<P: SWCurveConfig> PreparedBases<P> {
    /// Prepares `bases`.
    pub fn new(bases: &[Affine<P>]) -> Self {
        assert!(bases.len() <= u32::MAX as usize, "more than 2^32 bases");
        let (index, points) =
            bases.iter().enumerate().filter(|(_, p)| !p.is_zero()).map(|(i, p)| (i as u32, *p)).unzip();
        PreparedBases { points, index, len: bases.len() }
    }

    /// How many scalars an MSM over these bases takes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bases at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Scalars below 2^64 (or above r − 2^64, negated) need only the low windows.
const SMALL_BITS: usize = 64;

/// Σ scalars[i]·bases[i]; `scalars.len()` must equal the number of bases prepared.
pub fn msm<P: SWCurveConfig<ScalarField = Fr>>(bases: &PreparedBases<P>, scalars: &[Fr]) -> Projective<P>
where
    P::BaseField: HotField,
{
    assert_eq!(scalars.len(), bases.len, "one scalar per base");
    let split = classify(&bases.index, scalars);
    let points = &bases.points;
    let ((ones, small), full) = rayon::join(
        || {
            rayon::join(
                || sum_ones(points, &split.ones),
                || {
                    let mags: Vec<BigInt<4>> = split.small.iter().map(|&(_, m, _)| BigInt::new([m, 0, 0, 0])).collect();
                    let signs: Vec<bool> = split.small.iter().map(|&(_, _, neg)| neg).collect();
                    let idx: Vec<u32> = split.small.iter().map(|&(k, _, _)| k).collect();
                    pippenger(points, &idx, &mags, &signs, SMALL_BITS)
                },
            )
        },
        || {
            let idx: Vec<u32> = split.full.iter().map(|&(k, _)| k).collect();
            let mags: Vec<BigInt<4>> = split.full.iter().map(|&(_, s)| s).collect();
            pippenger(points, &idx, &mags, &[], Fr::MODULUS_BIT_SIZE as usize)
        },
    );
    ones + small + full
}

/// The non-zero scalars by size: (point position, negated?) for ±1; (position,
/// magnitude, negated?) for small ones; (position, value) for the rest.
struct Split {
    ones: Vec<(u32, bool)>,
    small: Vec<(u32, u64, bool)>,
    full: Vec<(u32, BigInt<4>)>,
}

fn classify(index: &[u32], scalars: &[Fr]) -> Split {
    let parts: Vec<Split> = index
        .par_chunks(1 << 14)
        .enumerate()
        .map(|(chunk, index)| {
            let mut part = Split { ones: Vec::new(), small: Vec::new(), full: Vec::new() };
            let base = (chunk << 14) as u32;
            for (j, &i) in index.iter().enumerate() {
                let k = base + j as u32;
                let s = scalars[i as usize].into_bigint();
                if s.is_zero() {
                    continue;
                }
                if s.num_bits() as usize <= SMALL_BITS {
                    push_small(&mut part, k, s.0[0], false);
                    continue;
                }
                let mut neg = Fr::MODULUS;
                neg.sub_with_borrow(&s);
                if neg.num_bits() as usize <= SMALL_BITS {
                    push_small(&mut part, k, neg.0[0], true);
                } else {
                    part.full.push((k, s));
                }
            }
            part
        })
        .collect();
    let mut split = Split {
        ones: Vec::with_capacity(parts.iter().map(|p| p.ones.len()).sum()),
        small: Vec::with_capacity(parts.iter().map(|p| p.small.len()).sum()),
        full: Vec::with_capacity(parts.iter().map(|p| p.full.len()).sum()),
    };
    for part in parts {
        split.ones.extend(part.ones);
        split.small.extend(part.small);
        split.full.extend(part.full);
    }
    split
}

fn push_small(part: &mut Split, k: u32, magnitude: u64, neg: bool) {
    if magnitude == 1 {
        part.ones.push((k, neg));
    } else {
        part.small.push((k, magnitude, neg));
    }
}

/// Σ ±points[k] by pairwise batch-affine additions, in parallel chunks.
fn sum_ones<P: SWCurveConfig>(points: &[Affine<P>], ones: &[(u32, bool)]) -> Projective<P>
where
    P::BaseField: HotField,
{
    ones.par_chunks(1 << 13)
        .map(|chunk| {
            let level: Vec<Affine<P>> =
                chunk.iter().map(|&(k, neg)| if neg { -points[k as usize] } else { points[k as usize] }).collect();
            sum_affine(level)
        })
        .sum()
}

/// Below this many points a tree level's shared inversion costs more than it saves.
const TREE_MIN: usize = 16;

fn sum_affine<P: SWCurveConfig>(mut level: Vec<Affine<P>>) -> Projective<P>
where
    P::BaseField: HotField,
{
    let mut prefix = Vec::with_capacity(level.len() / 2);
    while level.len() >= TREE_MIN {
        let upper = level.split_off(level.len().div_ceil(2));
        // An odd level's middle point moves up unchanged.
        let middle = level.get(upper.len()).copied();
        level.truncate(upper.len());
        add_assign_batch(&mut level, &upper, &mut prefix);
        level.extend(middle);
    }
    level.iter().fold(Projective::zero(), |acc, p| acc + p)
}

/// `lhs[k] += rhs[k]` for every k, the general pairs sharing one inversion
/// (Montgomery's trick). Pairs with the identity or with equal x (a doubling, or a
/// sum to infinity) take [`add_one`] instead.
fn add_assign_batch<P: SWCurveConfig>(lhs: &mut [Affine<P>], rhs: &[Affine<P>], prefix: &mut Vec<P::BaseField>)
where
    P::BaseField: HotField,
{
    debug_assert_eq!(lhs.len(), rhs.len());
    let general = |p: &Affine<P>, q: &Affine<P>| !p.is_zero() && !q.is_zero() && p.x != q.x;
    prefix.clear();
    let mut acc = P::BaseField::ONE;
    for (p, q) in lhs.iter().zip(rhs) {
        prefix.push(acc);
        if general(p, q) {
            acc = HotField::mul_hot(&acc, &(q.x - p.x));
        }
    }
    let mut inv = acc.inverse().expect("a product of non-zero differences");
    for (k, (p, q)) in lhs.iter_mut().zip(rhs).enumerate().rev() {
        if general(p, q) {
            let dx = q.x - p.x;
            let inv_dx = HotField::mul_hot(&inv, &prefix[k]);
            inv = HotField::mul_hot(&inv, &dx);
            *p = affine_add(p, q, inv_dx);
        } else {
            *p = add_one(p, q);
        }
    }
}

/// `p + q` for the pairs [`add_assign_batch`] leaves out. Only a doubling or a sum
/// to infinity pays an inversion of its own; they are rare outside crafted inputs.
fn add_one<P: SWCurveConfig>(p: &Affine<P>, q: &Affine<P>) -> Affine<P> {
    if p.is_zero() {
        *q
    } else if q.is_zero() {
        *p
    } else {
        (p.into_group() + q).into_affine()
    }
}

/// p + q given 1/(q.x − p.x) (so p ≠ ±q).
#[inline(always)]
fn affine_add<P: SWCurveConfig>(p: &Affine<P>, q: &Affine<P>, inv_dx: P::BaseField) -> Affine<P>
where
    P::BaseField: HotField,
{
    let lambda = HotField::mul_hot(&(q.y - p.y), &inv_dx);
    let x = HotField::square_hot(&lambda) - p.x - q.x;
    let y = HotField::mul_hot(&lambda, &(p.x - x)) - p.y;
    Affine::new_unchecked(x, y)
}

/// Widest window: signed digits must fit an i16.
const MAX_WINDOW: usize = 15;

/// Relative costs in field multiplications, for choosing the window: a batch-affine
/// addition (5M + 1S + a share of the inversion) and a bucket-reduction step (two
/// of them, with a larger share of inversions and of the lanes' final sums).
const ADD_COST: usize = 7;
const REDUCE_COST: usize = 16;

/// The window that minimises windows × (additions + bucket reduction).
fn window_bits(n: usize, bits: usize) -> usize {
    (2..=MAX_WINDOW)
        .min_by_key(|&c| windows(bits, c) * (n * ADD_COST + (1usize << (c - 1)) * REDUCE_COST))
        .expect("non-empty range")
}

/// Windows of `c` signed bits for scalars of `bits` bits: one more bit for the
/// final carry.
fn windows(bits: usize, c: usize) -> usize {
    (bits + 1).div_ceil(c)
}

/// Σ ±mags[k]·points[idx[k]] (negated where `signs[k]`; `signs` may be empty for
/// all positive) with signed-digit windows and batch-affine buckets.
fn pippenger<P: SWCurveConfig>(
    points: &[Affine<P>],
    idx: &[u32],
    mags: &[BigInt<4>],
    signs: &[bool],
    bits: usize,
) -> Projective<P>
where
    P::BaseField: HotField,
{
    let n = idx.len();
    if n == 0 {
        return Projective::zero();
    }
    let c = window_bits(n, bits);
    let w_count = windows(bits, c);
    let mut digits = vec![0i16; n * w_count];
    digits.par_chunks_mut(w_count).enumerate().for_each(|(k, out)| {
        signed_digits(&mags[k], c, out);
        if signs.get(k).copied().unwrap_or(false) {
            out.iter_mut().for_each(|d| *d = -*d);
        }
    });
    // Enough independent tasks for every thread even when there are few windows.
    let chunks = (2 * rayon::current_num_threads()).div_ceil(w_count).max(1).min(n.div_ceil(1 << 10));
    let chunk_len = n.div_ceil(chunks);
    let sums: Vec<Projective<P>> = (0..w_count * chunks)
        .into_par_iter()
        .map(|task| {
            let (w, j) = (task / chunks, task % chunks);
            let range = j * chunk_len..((j + 1) * chunk_len).min(n);
            window_sum(points, &idx[range.clone()], &digits[range.start * w_count..range.end * w_count], w, w_count, c)
        })
        .collect();
    let mut acc = Projective::<P>::zero();
    for window in sums.chunks(chunks).rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        for sum in window {
            acc += sum;
        }
    }
    acc
}

/// Digits d_w in [−2^(c−1), 2^(c−1)] with Σ d_w·2^(cw) = s.
fn signed_digits(s: &BigInt<4>, c: usize, out: &mut [i16]) {
    let half = 1u32 << (c - 1);
    let mut carry = 0u32;
    for (w, d) in out.iter_mut().enumerate() {
        let raw = bits_at(s, w * c, c) + carry;
        if raw > half {
            *d = (raw as i32 - (1i32 << c)) as i16;
            carry = 1;
        } else {
            *d = raw as i16;
            carry = 0;
        }
    }
    debug_assert_eq!(carry, 0, "the top window absorbs the last carry");
}

/// `len` (≤ 16) bits of `s` from bit `at`; zero past the top.
#[inline(always)]
fn bits_at(s: &BigInt<4>, at: usize, len: usize) -> u32 {
    let (limb, off) = (at / 64, at % 64);
    if limb >= 4 {
        return 0;
    }
    let mut v = s.0[limb] >> off;
    if off + len > 64 && limb + 1 < 4 {
        v |= s.0[limb + 1] << (64 - off);
    }
    (v & ((1u64 << len) - 1)) as u32
}

/// One window of one chunk: Σ_k d_{k,w}·points[idx[k]], bucketed.
fn window_sum<P: SWCurveConfig>(
    points: &[Affine<P>],
    idx: &[u32],
    digits: &[i16],
    w: usize,
    w_count: usize,
    c: usize,
) -> Projective<P>
where
    P::BaseField: HotField,
{
    let mut acc = Accumulator::<P>::new(1 << (c - 1));
    for (k, &i) in idx.iter().enumerate() {
        if let Some(&ahead) = digits.get((k + PREFETCH_AHEAD) * w_count + w) {
            acc.prefetch(ahead);
        }
        let d = digits[k * w_count + w];
        if d != 0 {
            let p = if d < 0 { -points[i as usize] } else { points[i as usize] };
            acc.add((d.unsigned_abs() - 1) as usize, p);
        }
    }
    acc.finish();
    acc.merge_overflow();
    bucket_sum(&acc.buckets, &mut acc.prefix)
}

/// Σ (b+1)·buckets[b]: running sums from the top bucket down (`running` collects
/// the buckets, `total` adds `running` once per step), in lanes of consecutive
/// buckets that advance together so that each step's additions share one
/// inversion. Two batch-affine additions per bucket instead of a mixed and an
/// XYZZ one.
///
/// Lane s holds buckets `[s·len, (s+1)·len)`; its running sums give
/// `Σ (b − s·len + 1)·B_b` and `R_s = Σ B_b`, so the whole is
/// `Σ_s total_s + len·Σ_s s·R_s`, the last sum again by running sums, over lanes.
fn bucket_sum<P: SWCurveConfig>(buckets: &[Affine<P>], prefix: &mut Vec<P::BaseField>) -> Projective<P>
where
    P::BaseField: HotField,
{
    let m = buckets.len();
    if m == 0 {
        return Projective::zero();
    }
    // Each step costs two inversions and each lane three projective additions at
    // the end: about √m / 2 steps balances them.
    let len = (1usize << (m.ilog2() / 2)).div_ceil(2).max(1);
    let lanes = m.div_ceil(len);
    let mut running = vec![Affine::<P>::identity(); lanes];
    let mut total = vec![Affine::<P>::identity(); lanes];
    let mut next = vec![Affine::<P>::identity(); lanes];
    for step in (0..len).rev() {
        for (s, slot) in next.iter_mut().enumerate() {
            *slot = buckets.get(s * len + step).copied().unwrap_or_else(Affine::identity);
        }
        add_assign_batch(&mut running, &next, prefix);
        add_assign_batch(&mut total, &running, prefix);
    }
    let mut lane_running = Projective::<P>::zero();
    let mut by_lane = Projective::<P>::zero();
    for r in running.iter().skip(1).rev() {
        lane_running += r;
        by_lane += lane_running;
    }
    total.iter().fold(by_lane.mul_bigint([len as u64]), |acc, t| acc + t)
}

/// How many points ahead of the one being added `window_sum` asks the cache for
/// its bucket. The buckets of a wide window do not fit in L2 and the bucket is
/// read at once (is it empty? same x?), so without this most of the time of
/// `Accumulator::add` was that one load waiting on memory (perf annotate).
const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to bring `item`'s cache lines in, without waiting for them.
#[inline(always)]
fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = (item as *const T).cast::<i8>();
        // SAFETY: a prefetch is only a hint: it reads nothing into the program and
        // cannot fault; both addresses lie within `item`.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(start);
            _mm_prefetch::<_MM_HINT_T0>(start.add(size_of::<T>() - 1));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Affine buckets filled in batches that share one inversion.
struct Accumulator<P: SWCurveConfig> {
    buckets: Vec<Affine<P>>,
    /// What could not be added in affine form: doublings, sums to infinity, and
    /// conflicts beyond what `deferred` holds.
    overflow: Vec<Bucket<P>>,
    /// Buckets with an addition waiting in `batch` (one per bucket per batch).
    pending: Vec<bool>,
    batch: Vec<(u32, Affine<P>)>,
    /// Points whose bucket was pending, retried after the next flush.
    deferred: Vec<(u32, Affine<P>)>,
    prefix: Vec<P::BaseField>,
    batch_max: usize,
}

impl<P: SWCurveConfig> Accumulator<P>
where
    P::BaseField: HotField,
{
    fn new(n_buckets: usize) -> Self {
        // Large batches spread the inversion thin; conflicts grow with batch /
        // buckets but are retried rather than lost to slower XYZZ additions.
        let batch_max = (n_buckets / 4).clamp(64, 1024);
        Accumulator {
            buckets: vec![Affine::identity(); n_buckets],
            overflow: vec![Bucket::ZERO; n_buckets],
            pending: vec![false; n_buckets],
            batch: Vec::with_capacity(batch_max),
            deferred: Vec::with_capacity(batch_max),
            prefix: Vec::with_capacity(batch_max),
            batch_max,
        }
    }

    /// Warms the cache for the bucket a later digit `d` will add to.
    #[inline(always)]
    fn prefetch(&self, d: i16) {
        if d != 0 {
            prefetch(&self.buckets[(d.unsigned_abs() - 1) as usize]);
        }
    }

    #[inline]
    fn add(&mut self, b: usize, p: Affine<P>) {
        if self.pending[b] {
            if self.deferred.len() < self.batch_max {
                self.deferred.push((b as u32, p));
            } else {
                self.overflow[b] += p;
            }
        } else if self.buckets[b].is_zero() {
            self.buckets[b] = p;
        } else if self.buckets[b].x == p.x {
            self.overflow[b] += p;
        } else {
            self.pending[b] = true;
            self.batch.push((b as u32, p));
            if self.batch.len() == self.batch_max {
                self.flush();
            }
        }
    }

    /// Adds every batched point to its bucket, then retries the deferred ones.
    fn flush(&mut self) {
        self.flush_batch();
        let deferred = std::mem::take(&mut self.deferred);
        for &(b, p) in &deferred {
            self.add(b as usize, p);
        }
        // Keep the allocation for the next round.
        if self.deferred.is_empty() {
            self.deferred = deferred;
            self.deferred.clear();
        }
    }

    /// Empties the batch and the deferred points; what still conflicts after one
    /// retry goes to the overflow buckets.
    fn finish(&mut self) {
        self.flush();
        for (b, p) in std::mem::take(&mut self.deferred) {
            self.overflow[b as usize] += p;
        }
        self.flush_batch();
    }

    /// Adds the overflow buckets into the affine ones, so that the reduction sees
    /// one bucket per digit.
    fn merge_overflow(&mut self) {
        let (at, extra): (Vec<usize>, Vec<Projective<P>>) = self
            .overflow
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.is_zero())
            .map(|(b, o)| (b, Projective::from(*o)))
            .unzip();
        if at.is_empty() {
            return;
        }
        let extra = Projective::normalize_batch(&extra);
        let mut sums: Vec<Affine<P>> = at.iter().map(|&b| self.buckets[b]).collect();
        add_assign_batch(&mut sums, &extra, &mut self.prefix);
        for (&b, sum) in at.iter().zip(sums) {
            self.buckets[b] = sum;
        }
    }

    fn flush_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.prefix.clear();
        let mut acc = P::BaseField::ONE;
        for (b, p) in &self.batch {
            self.prefix.push(acc);
            acc = HotField::mul_hot(&acc, &(p.x - self.buckets[*b as usize].x));
        }
        let mut inv = acc.inverse().expect("batched points never share x with their bucket");
        for (k, (b, p)) in self.batch.iter().enumerate().rev() {
            let b = *b as usize;
            let q = self.buckets[b];
            let dx = p.x - q.x;
            let inv_dx = HotField::mul_hot(&inv, &self.prefix[k]);
            inv = HotField::mul_hot(&inv, &dx);
            self.buckets[b] = affine_add(&q, p, inv_dx);
            self.pending[b] = false;
        }
        self.batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_sum_weighs_each_bucket_by_its_digit() {
        use ark_bn254::{G1Affine, G1Projective};
        use ark_ff::UniformRand;
        let mut rng = ark_std::test_rng();
        let p = G1Affine::rand(&mut rng);
        for m in [1usize, 2, 4, 8, 64, 512, 1 << 14] {
            // Random buckets with empty ones, repeats (doublings) and negations
            // (sums to infinity) mixed in, as crafted inputs give.
            let buckets: Vec<G1Affine> = (0..m)
                .map(|b| match b % 5 {
                    0 => G1Affine::identity(),
                    1 => p,
                    2 => -p,
                    _ => G1Affine::rand(&mut rng),
                })
                .collect();
            let expected: G1Projective =
                buckets.iter().enumerate().map(|(b, q)| q.into_group() * Fr::from(b as u64 + 1)).sum();
            assert_eq!(bucket_sum(&buckets, &mut Vec::new()), expected, "{m} buckets");
        }
    }

    #[test]
    fn signed_digits_recompose() {
        let s = (-Fr::from(7u64)).into_bigint();
        for c in 2..=MAX_WINDOW {
            let bits = Fr::MODULUS_BIT_SIZE as usize;
            let mut out = vec![0i16; windows(bits, c)];
            signed_digits(&s, c, &mut out);
            let back = out.iter().rev().fold(Fr::zero(), |acc, &d| {
                acc * Fr::from(1u64 << c) + if d < 0 { -Fr::from(d.unsigned_abs() as u64) } else { Fr::from(d as u64) }
            });
            assert_eq!(back, -Fr::from(7u64), "window {c}");
            assert!(out.iter().all(|d| d.unsigned_abs() as u32 <= 1 << (c - 1)));
        }
    }
}
