//! The heavy arithmetic of phase-2 initialisation: for each wire, the sum of its
//! constraint coefficients times the Lagrange basis points of their rows,
//! `Σ_c coef_c·Lc(τ)·G`, which is the wire's QAP polynomial at τ in the group.
//!
//! A zkmeter circuit has a few million terms, most with full-size coefficients
//! (Poseidon's constants), spread over a few hundred thousand wires with a handful
//! to a few dozen terms each. Per wire this uses Straus' method with width-4 wNAF:
//! one chain of doublings shared by all the wire's terms and about one addition
//! per 5 scalar bits per term, instead of a separate scalar multiplication per
//! term; a coefficient is replaced by its negation when that is shorter (−1 costs
//! one addition, not 254). Wires with many terms (the constant 1's) use arkworks'
//! Pippenger MSM. Results are exact: these are the very points snarkjs writes.

use ark_bn254::Fr;
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{AdditiveGroup, BigInteger, PrimeField, Zero};
use rayon::prelude::*;

/// Terms grouped by wire (compressed-column form): wire `w`'s terms are
/// `rows[start[w]..start[w + 1]]` with the same range of `coefficients`.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    start: Vec<usize>,
    rows: Vec<u32>,
    coefficients: Vec<Fr>,
}

impl Columns {
    /// Groups the terms `each` yields (`(wire, row, coefficient)`; called twice: to
    /// count, then to fill) into `wires` columns, keeping their order within a wire.
    pub fn build(wires: usize, each: impl Fn(&mut dyn FnMut(u32, u32, Fr))) -> Self {
        let mut count = vec![0usize; wires + 1];
        each(&mut |wire, _, _| count[wire as usize + 1] += 1);
        for i in 1..=wires {
            count[i] += count[i - 1];
        }
        let total = count[wires];
        let mut next = count.clone();
        let mut rows = vec![0u32; total];
        let mut coefficients = vec![Fr::zero(); total];
        each(&mut |wire, row, coefficient| {
            let at = &mut next[wire as usize];
            rows[*at] = row;
            coefficients[*at] = coefficient;
            *at += 1;
        });
        Columns { start: count, rows, coefficients }
    }

    /// Wires.
    pub fn len(&self) -> usize {
        self.start.len() - 1
    }

    /// Whether there are no wires.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Terms in all.
    pub fn terms(&self) -> usize {
        self.rows.len()
    }

    fn column(&self, wire: usize) -> (&[u32], &[Fr]) {
        let range = self.start[wire]..self.start[wire + 1];
        (&self.rows[range.clone()], &self.coefficients[range])
    }

    /// `Σ coef·bases[row]` for each wire in `wires`, in projective form.
    pub fn sums<C: SWCurveConfig<ScalarField = Fr>>(
        &self,
        wires: std::ops::Range<usize>,
        bases: &[Affine<C>],
    ) -> Vec<Projective<C>> {
        wires
            .into_par_iter()
            .with_min_len(64)
            .map(|wire| {
                let (rows, coefficients) = self.column(wire);
                column_sum(rows, coefficients, bases)
            })
            .collect()
    }
}

/// Above this many terms a wire's sum goes to Pippenger's method.
const PIPPENGER_FROM: usize = 512;
/// wNAF width: digits are odd, |d| < 2^(W−1), so a table of 4 odd multiples.
const W: usize = 4;

fn column_sum<C: SWCurveConfig<ScalarField = Fr>>(rows: &[u32], coefficients: &[Fr], bases: &[Affine<C>]) -> Projective<C> {
    if rows.len() >= PIPPENGER_FROM {
        let points: Vec<Affine<C>> = rows.iter().map(|&r| bases[r as usize]).collect();
        return Projective::<C>::msm(&points, coefficients).expect("one coefficient per point");
    }
    let mut terms: Vec<([Projective<C>; 1 << (W - 2)], Vec<i64>)> = Vec::with_capacity(rows.len());
    let mut longest = 0;
    for (&row, coefficient) in rows.iter().zip(coefficients) {
        let base = bases[row as usize];
        if base.is_zero() || coefficient.is_zero() {
            continue;
        }
        let (point, scalar) = {
            let negated = -*coefficient;
            if negated.into_bigint().num_bits() < coefficient.into_bigint().num_bits() {
                (-base, negated)
            } else {
                (base, *coefficient)
            }
        };
        let digits = scalar.into_bigint().find_wnaf(W).expect("a valid width");
        let p = point.into_group();
        let twice = p.double();
        let mut table = [p; 1 << (W - 2)];
        for i in 1..table.len() {
            table[i] = table[i - 1] + twice;
        }
        longest = longest.max(digits.len());
        terms.push((table, digits));
    }
    let mut acc = Projective::<C>::zero();
    for i in (0..longest).rev() {
        acc.double_in_place();
        for (table, digits) in &terms {
            match digits.get(i) {
                Some(&d) if d > 0 => acc += table[(d / 2) as usize],
                Some(&d) if d < 0 => acc -= table[(-d / 2) as usize],
                _ => {}
            }
        }
    }
    acc
}

/// Affine forms of `points`, normalised in parallel batches (one inversion each).
pub fn normalize<C: SWCurveConfig>(points: &[Projective<C>]) -> Vec<Affine<C>> {
    points.par_chunks(1 << 12).flat_map_iter(Projective::<C>::normalize_batch).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{G1Affine, G1Projective, G2Affine};
    use ark_ff::UniformRand;
    use ark_std::test_rng;

    #[test]
    fn sums_equal_naive_scalar_multiplication() {
        let mut rng = test_rng();
        let bases: Vec<G1Affine> = (0..40).map(|_| G1Affine::rand(&mut rng)).collect();
        // Wire 0: many terms (Pippenger); 1: small, negative and full coefficients; 2: none.
        let mut entries = vec![];
        for row in 0..40u32 {
            for _ in 0..14 {
                entries.push((0u32, row, Fr::rand(&mut rng)));
            }
        }
        for (row, c) in [(1u32, Fr::from(1u64)), (2, -Fr::from(1u64)), (3, Fr::rand(&mut rng)), (1, -Fr::from(7u64))] {
            entries.push((1, row, c));
        }
        let columns = Columns::build(3, |f| entries.iter().for_each(|&(w, r, c)| f(w, r, c)));
        let sums = columns.sums(0..3, &bases);
        for wire in 0..3u32 {
            let expected: G1Projective =
                entries.iter().filter(|e| e.0 == wire).map(|&(_, r, c)| bases[r as usize] * c).sum();
            assert_eq!(sums[wire as usize], expected, "wire {wire}");
        }
        let g2: Vec<G2Affine> = (0..4).map(|_| G2Affine::rand(&mut rng)).collect();
        let sums = columns.sums(1..2, &g2);
        let expected = g2[1] * Fr::from(1u64) - g2[2] + g2[3] * entries[entries.len() - 2].2 - g2[1] * Fr::from(7u64);
        assert_eq!(sums[0], expected);
    }
}
