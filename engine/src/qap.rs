//! R1CS → QAP: the vector `h` the H query is multiplied by, in the form the
//! proving key's reduction calls for (`zkmeter_circuits::qap_reduction`):
//!
//! - [`QapReduction::Libsnark`] (development keys): the coefficients of
//!   `h(x) = (A(x)·B(x) − C(x)) / Z(x)`;
//! - [`QapReduction::Circom`] (ceremony keys, snarkjs's `.zkey`): the values of
//!   `A·B − C` at the odd powers of `ω₂ₙ`, as snarkjs's prover computes them
//!   (`c = a ∘ b` on the domain, each of `a`, `b`, `c` taken to coefficients, times
//!   `ω₂ₙᵏ`, and back: six NTTs), bit for bit what `CircomReduction` gives for a
//!   satisfying assignment.
//!
//! The Libsnark form is the same `h` as ark-groth16's `LibsnarkReduction`, bit for bit (`h` is the
//! quotient of `A·B` by `Z`, so every correct method gives the same vector), on the
//! same domain and coset, with six NTTs instead of its seven:
//!
//! For a satisfying assignment `c = a ∘ b` on the whole domain `D` (on the
//! constraint rows by the constraints; on the instance and padding rows all of them
//! are zero), so `C` is `A·B mod Z`. Write `A·B = P + xⁿ·H` with `deg P, deg H < n`;
//! since `Z = xⁿ − 1`, `C = P + H` (the inverse NTT of `a ∘ b` on `D`), while on the
//! coset `g·D`, where `xⁿ = gⁿ`, the product agrees with `P + gⁿ·H`, which the
//! inverse coset NTT of the pointwise product recovers. Their difference is
//! `(gⁿ − 1)·H`. That costs the inverse NTTs of `a`, `b` and `c`, the coset NTTs of
//! `A` and `B`, and one inverse coset NTT: `C` on the coset is never needed, and
//! neither is the `C` matrix (`c` is `a ∘ b`).
//!
//! The matrices are kept in a compact form made once per key (a `u32` column and a
//! `u32` coefficient id per term, 8 bytes instead of 40), `A·z` and `B·z` are
//! evaluated in one parallel pass, and the columns go through their NTTs
//! concurrently. An unsatisfying assignment gives a wrong `h`, as it does in
//! ark-groth16, and so a proof that does not verify.

use ark_bn254::Fr;
use ark_ff::{FftField, Field, One, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_relations::gr1cs::Matrix;
use rayon::prelude::*;
use std::collections::HashMap;

use zkmeter_circuits::qap_reduction::{QapReduction, odd_coset_generator};

use crate::backend::{Ntt, ProverBackend};
use crate::error::EngineError;

/// One constraint matrix in compressed-row form. Coefficient id 0 is 1.
struct Sparse {
    row_start: Vec<u32>,
    terms: Vec<(u32, u32)>,
}

impl Sparse {
    fn new(matrix: &Matrix<Fr>, coefficients: &mut Vec<Fr>, ids: &mut HashMap<Fr, u32>) -> Self {
        let mut row_start = Vec::with_capacity(matrix.len() + 1);
        let mut terms = Vec::with_capacity(matrix.iter().map(Vec::len).sum());
        for row in matrix {
            row_start.push(u32::try_from(terms.len()).expect("fewer than 2^32 terms"));
            for (coeff, column) in row {
                let id = *ids.entry(*coeff).or_insert_with(|| {
                    coefficients.push(*coeff);
                    (coefficients.len() - 1) as u32
                });
                terms.push((u32::try_from(*column).expect("fewer than 2^32 variables"), id));
            }
        }
        row_start.push(u32::try_from(terms.len()).expect("fewer than 2^32 terms"));
        Sparse { row_start, terms }
    }

    #[inline]
    fn row(&self, i: usize, z: &[Fr], coefficients: &[Fr]) -> Fr {
        let terms = &self.terms[self.row_start[i] as usize..self.row_start[i + 1] as usize];
        terms.iter().fold(Fr::zero(), |acc, &(column, id)| {
            let v = z[column as usize];
            acc + if id == 0 { v } else { v * coefficients[id as usize] }
        })
    }
}

/// The constraint matrices (A and B: `c` follows from them) and evaluation domain
/// of one circuit, ready to turn an assignment into `h`.
pub struct Qap {
    domain: Radix2EvaluationDomain<Fr>,
    a: Sparse,
    b: Sparse,
    coefficients: Vec<Fr>,
    num_constraints: usize,
    num_instance_variables: usize,
    /// `1 / (gⁿ − 1)`: `Z` on the coset, where it is constant.
    z_on_coset_inverse: Fr,
    reduction: QapReduction,
    /// `ω₂ₙ`: the circom reduction's coset generator.
    odd_coset: Fr,
}

impl Qap {
    /// Compacts `matrices` (A, B, C, each one row per constraint; C is not kept),
    /// for keys made with `reduction`.
    pub fn new(
        matrices: &[Matrix<Fr>],
        num_instance_variables: usize,
        num_constraints: usize,
        reduction: QapReduction,
    ) -> Result<Self, EngineError> {
        let size = num_constraints + num_instance_variables;
        let domain = Radix2EvaluationDomain::<Fr>::new(size).ok_or(EngineError::DomainTooLarge(size))?;
        let mut coefficients = vec![Fr::one()];
        let mut ids = HashMap::from([(Fr::one(), 0u32)]);
        let [a, b] = [0, 1].map(|k| Sparse::new(&matrices[k], &mut coefficients, &mut ids));
        let z_on_coset_inverse = domain
            .evaluate_vanishing_polynomial(Fr::GENERATOR)
            .inverse()
            .expect("the generator lies outside the domain");
        let odd_coset = odd_coset_generator(domain.size()).ok_or(EngineError::DomainTooLarge(size))?;
        Ok(Qap {
            domain,
            a,
            b,
            coefficients,
            num_constraints,
            num_instance_variables,
            z_on_coset_inverse,
            reduction,
            odd_coset,
        })
    }

    /// The reduction this QAP computes `h` for.
    pub fn reduction(&self) -> QapReduction {
        self.reduction
    }

    /// The evaluation domain (its size is the number of `h` coefficients).
    pub fn domain(&self) -> &Radix2EvaluationDomain<Fr> {
        &self.domain
    }

    /// `h` for the full assignment `z` (constant 1, public inputs, witness): for a
    /// satisfying `z`, what the reduction's `witness_map_from_matrices` gives.
    pub fn h<B: ProverBackend>(&self, backend: &B, z: &[Fr]) -> Result<Vec<Fr>, EngineError> {
        let (a, b, c) = self.abc(z);
        match self.reduction {
            QapReduction::Libsnark => self.libsnark_h(backend, a, b, c),
            QapReduction::Circom => self.circom_h(backend, a, b, c),
        }
    }

    /// `A·z`, `B·z` and their product on the domain, the instance rows appended
    /// to A (both reductions do this, so that the public inputs' polynomials are
    /// linearly independent).
    fn abc(&self, z: &[Fr]) -> (Vec<Fr>, Vec<Fr>, Vec<Fr>) {
        let n = self.domain.size();
        let (mut a, mut b) = (vec![Fr::zero(); n], vec![Fr::zero(); n]);
        let m = self.num_constraints;
        let coefficients = &self.coefficients;
        a[..m].par_iter_mut().zip(&mut b[..m]).enumerate().with_min_len(1 << 10).for_each(|(i, (a, b))| {
            *a = self.a.row(i, z, coefficients);
            *b = self.b.row(i, z, coefficients);
        });
        a[m..m + self.num_instance_variables].copy_from_slice(&z[..self.num_instance_variables]);
        let c: Vec<Fr> = a.par_iter().zip(&b).map(|(a, b)| *a * b).collect();
        (a, b, c)
    }

    /// The circom form: `a`, `b` and `c` each to coefficients, times `ω₂ₙᵏ`, back to
    /// evaluations (now at the odd powers of `ω₂ₙ`), then `a·b − c`.
    fn circom_h<B: ProverBackend>(
        &self,
        backend: &B,
        mut a: Vec<Fr>,
        mut b: Vec<Fr>,
        mut c: Vec<Fr>,
    ) -> Result<Vec<Fr>, EngineError> {
        let to_odd_points = |v: &mut Vec<Fr>| -> Result<(), EngineError> {
            backend.ntt(&self.domain, v, Ntt::Inverse)?;
            distribute_powers(v, self.odd_coset);
            backend.ntt(&self.domain, v, Ntt::Forward)
        };
        let (ra, (rb, rc)) =
            rayon::join(|| to_odd_points(&mut a), || rayon::join(|| to_odd_points(&mut b), || to_odd_points(&mut c)));
        ra.and(rb).and(rc)?;
        a.par_iter_mut().zip(&b).zip(&c).for_each(|((a, b), c)| *a = *a * b - c);
        Ok(a)
    }

    /// The Libsnark form, with six NTTs (see the module notes).
    fn libsnark_h<B: ProverBackend>(
        &self,
        backend: &B,
        mut a: Vec<Fr>,
        mut b: Vec<Fr>,
        mut c: Vec<Fr>,
    ) -> Result<Vec<Fr>, EngineError> {
        let to_coset = |v: &mut Vec<Fr>| -> Result<(), EngineError> {
            backend.ntt(&self.domain, v, Ntt::Inverse)?;
            backend.ntt(&self.domain, v, Ntt::CosetForward)
        };
        let (ra, (rb, rc)) = rayon::join(
            || to_coset(&mut a),
            || rayon::join(|| to_coset(&mut b), || backend.ntt(&self.domain, &mut c, Ntt::Inverse)),
        );
        ra.and(rb).and(rc)?;

        a.par_iter_mut().zip(&b).for_each(|(a, b)| *a *= b);
        drop(b);
        backend.ntt(&self.domain, &mut a, Ntt::CosetInverse)?;
        let k = self.z_on_coset_inverse;
        a.par_iter_mut().zip(&c).for_each(|(a, c)| {
            *a -= c;
            *a *= k;
        });
        Ok(a)
    }
}

/// `v[k] *= gᵏ`, in parallel chunks that each start from `g^(first index)`.
fn distribute_powers(v: &mut [Fr], g: Fr) {
    const CHUNK: usize = 1 << 12;
    v.par_chunks_mut(CHUNK).enumerate().for_each(|(i, chunk)| {
        let mut power = g.pow([(i * CHUNK) as u64]);
        for x in chunk {
            *x *= power;
            power *= g;
        }
    });
}
