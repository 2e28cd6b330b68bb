//! R1CS → QAP: the coefficients of `h(x) = (A(x)·B(x) − C(x)) / Z(x)`.
//!
//! The same seven NTTs as ark-groth16's `LibsnarkReduction` (three inverse NTTs,
//! three coset NTTs, one inverse coset NTT) on the same domain and coset, so `h` is
//! the same vector, bit for bit, and proofs verify with the unchanged verifier. What
//! differs: the matrices are kept in a compact form made once per key (a `u32`
//! column and a `u32` coefficient id per term, 8 bytes instead of 40), `A·z`, `B·z`
//! and `C·z` are evaluated in one parallel pass, and the three columns go through
//! their NTTs concurrently.

use ark_bn254::Fr;
use ark_ff::{FftField, Field, One, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_relations::gr1cs::Matrix;
use rayon::prelude::*;
use std::collections::HashMap;

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

/// The constraint matrices and evaluation domain of one circuit, ready to turn an
/// assignment into `h`.
pub struct Qap {
    domain: Radix2EvaluationDomain<Fr>,
    a: Sparse,
    b: Sparse,
    c: Sparse,
    coefficients: Vec<Fr>,
    num_constraints: usize,
    num_instance_variables: usize,
    /// `1 / Z(g)`: Z vanishes on the domain, so on the coset it is the constant
    /// `g^n − 1`.
    z_on_coset_inverse: Fr,
}

impl Qap {
    /// Compacts `matrices` (A, B, C, each one row per constraint).
    pub fn new(
        matrices: &[Matrix<Fr>],
        num_instance_variables: usize,
        num_constraints: usize,
    ) -> Result<Self, EngineError> {
        let size = num_constraints + num_instance_variables;
        let domain = Radix2EvaluationDomain::<Fr>::new(size).ok_or(EngineError::DomainTooLarge(size))?;
        let mut coefficients = vec![Fr::one()];
        let mut ids = HashMap::from([(Fr::one(), 0u32)]);
        let [a, b, c] = [0, 1, 2].map(|k| Sparse::new(&matrices[k], &mut coefficients, &mut ids));
        let z_on_coset_inverse = domain
            .evaluate_vanishing_polynomial(Fr::GENERATOR)
            .inverse()
            .expect("the generator lies outside the domain");
        Ok(Qap { domain, a, b, c, coefficients, num_constraints, num_instance_variables, z_on_coset_inverse })
    }

    /// The evaluation domain (its size is the number of `h` coefficients).
    pub fn domain(&self) -> &Radix2EvaluationDomain<Fr> {
        &self.domain
    }

    /// `h`'s coefficients for the full assignment `z` (constant 1, public inputs,
    /// witness), exactly as `LibsnarkReduction::witness_map_from_matrices`.
    pub fn h<B: ProverBackend>(&self, backend: &B, z: &[Fr]) -> Result<Vec<Fr>, EngineError> {
        let n = self.domain.size();
        let (mut a, mut b, mut c) = (vec![Fr::zero(); n], vec![Fr::zero(); n], vec![Fr::zero(); n]);
        let m = self.num_constraints;
        let coefficients = &self.coefficients;
        a[..m].par_iter_mut().zip(&mut b[..m]).zip(&mut c[..m]).enumerate().with_min_len(1 << 10).for_each(
            |(i, ((a, b), c))| {
                *a = self.a.row(i, z, coefficients);
                *b = self.b.row(i, z, coefficients);
                *c = self.c.row(i, z, coefficients);
            },
        );
        // LibsnarkReduction appends the instance to A so that the public inputs'
        // polynomials are linearly independent.
        a[m..m + self.num_instance_variables].copy_from_slice(&z[..self.num_instance_variables]);

        let to_coset = |v: &mut Vec<Fr>| -> Result<(), EngineError> {
            backend.ntt(&self.domain, v, Ntt::Inverse)?;
            backend.ntt(&self.domain, v, Ntt::CosetForward)
        };
        let (ra, (rb, rc)) = rayon::join(|| to_coset(&mut a), || rayon::join(|| to_coset(&mut b), || to_coset(&mut c)));
        ra.and(rb).and(rc)?;

        let k = self.z_on_coset_inverse;
        a.par_iter_mut().zip(&b).zip(&c).for_each(|((a, b), c)| {
            *a *= b;
            *a -= c;
            *a *= k;
        });
        drop((b, c));
        backend.ntt(&self.domain, &mut a, Ntt::CosetInverse)?;
        Ok(a)
    }
}
