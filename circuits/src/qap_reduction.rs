//! The two R1CS → QAP reductions a zkmeter proving key can be made for.
//!
//! Groth16's H query lets the prover commit to `h(τ)·Z(τ)/δ` without knowing τ, and
//! how that query is laid out is a choice of the setup, which the prover must
//! follow:
//!
//! - [`QapReduction::Libsnark`], arkworks' `LibsnarkReduction`: the key holds
//!   `τⁱ·Z(τ)/δ` for `i < n − 1` (`n` the domain size) and the prover commits to the
//!   coefficients of the quotient `h = (A·B − C)/Z`. `zkmeter setup` makes these keys.
//! - [`QapReduction::Circom`], snarkjs's (and so every `.zkey` file's): the key holds
//!   `L'ⱼ(τ)/δ` for `j < n`, `L'ⱼ` the Lagrange polynomial of the point
//!   `ω₂ₙ·ωₙʲ` in the domain of size `2n`, and the prover commits to the values of
//!   `A·B − C` at those `n` points, the odd powers of `ω₂ₙ`. Since `A·B − C` has
//!   degree at most `2n − 2` and vanishes on the even powers (the domain itself),
//!   those values determine it: `Σⱼ p(ω₂ₙ^(2j+1))·L'ⱼ(τ) = p(τ) = h(τ)·Z(τ)`.
//!   Ceremony keys ([`crate::keys::KeyOrigin::Ceremony`]) use it.
//!
//! Both append a row `A = zᵢ` for each instance variable (the constant 1 included)
//! after the constraints, and both use BN254's standard roots of unity (arkworks'
//! and snarkjs's agree), so a circuit's A, B and C polynomials are the same under
//! either; only `h`'s representation differs. [`CircomReduction`] is the reference
//! implementation for ark-groth16 (the generator and `create_proof_with_reduction`);
//! zkmeter-engine has a faster one, checked against it.

use ark_ff::{FftField, PrimeField};
use ark_groth16::r1cs_to_qap::{R1CSToQAP, evaluate_constraint};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSystemRef, Matrix, Result as R1csResult, SynthesisError};
use rayon::prelude::*;

use crate::keys::KeyOrigin;

/// Which reduction a proving key was made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QapReduction {
    /// arkworks' `LibsnarkReduction` (development keys from `zkmeter setup`).
    Libsnark,
    /// snarkjs's reduction (ceremony keys, `.zkey` files): [`CircomReduction`].
    Circom,
}

impl QapReduction {
    /// The reduction a key of this origin uses.
    pub fn for_origin(origin: &KeyOrigin) -> Self {
        match origin {
            KeyOrigin::Development => QapReduction::Libsnark,
            KeyOrigin::Ceremony { .. } => QapReduction::Circom,
        }
    }

    /// The length of the H query of a key for a circuit with this domain size.
    pub fn h_query_len(self, domain_size: usize) -> usize {
        match self {
            QapReduction::Libsnark => domain_size - 1,
            QapReduction::Circom => domain_size,
        }
    }

    /// The reduction whose H query has `h_query_len` points for this domain size, if
    /// either has. The two lengths differ, so a proving key says by itself which
    /// reduction it was made for; [`crate::keys::load_proving_key`] checks that this
    /// agrees with the origin in the key's header.
    pub fn of_key(h_query_len: usize, domain_size: usize) -> Option<Self> {
        [QapReduction::Libsnark, QapReduction::Circom].into_iter().find(|r| r.h_query_len(domain_size) == h_query_len)
    }
}

/// `ω₂ₙ`, the primitive `2n`-th root of unity whose odd powers are the points the
/// circom reduction evaluates on (the same root snarkjs's `Fr.w[log n + 1]` is).
pub fn odd_coset_generator<F: FftField>(domain_size: usize) -> Option<F> {
    F::get_root_of_unity(2 * domain_size as u64)
}

/// snarkjs's R1CS → QAP reduction for ark-groth16, as ark-circom's
/// `CircomReduction` does it: `h` is `A·B − C` on the odd powers of `ω₂ₙ`.
pub struct CircomReduction;

impl R1CSToQAP for CircomReduction {
    /// The same QAP instance as `LibsnarkReduction`: only `h`'s form differs.
    #[allow(clippy::type_complexity)]
    fn instance_map_with_evaluation<F: PrimeField, D: EvaluationDomain<F>>(
        cs: ConstraintSystemRef<F>,
        t: &F,
    ) -> R1csResult<(Vec<F>, Vec<F>, Vec<F>, F, usize, usize)> {
        ark_groth16::r1cs_to_qap::LibsnarkReduction::instance_map_with_evaluation::<F, D>(cs, t)
    }

    fn witness_map_from_matrices<F: PrimeField, D: EvaluationDomain<F>>(
        matrices: &[Matrix<F>],
        num_inputs: usize,
        num_constraints: usize,
        full_assignment: &[F],
    ) -> R1csResult<Vec<F>> {
        let domain = D::new(num_constraints + num_inputs).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let n = domain.size();
        let root = odd_coset_generator::<F>(n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let mut abc = [vec![F::zero(); n], vec![F::zero(); n], vec![F::zero(); n]];
        for (values, matrix) in abc.iter_mut().zip(matrices) {
            values[..num_constraints]
                .par_iter_mut()
                .zip(matrix)
                .for_each(|(v, row)| *v = evaluate_constraint(row, full_assignment));
        }
        abc[0][num_constraints..num_constraints + num_inputs].copy_from_slice(&full_assignment[..num_inputs]);
        // To the odd powers of ω₂ₙ: coefficients, times ω₂ₙᵏ, evaluated on the domain.
        for values in &mut abc {
            domain.ifft_in_place(values);
            D::distribute_powers(values, root);
            domain.fft_in_place(values);
        }
        let [mut a, b, c] = abc;
        a.par_iter_mut().zip(&b).zip(&c).for_each(|((a, b), c)| *a = *a * b - c);
        Ok(a)
    }

    /// `L'ⱼ(τ)/δ` for `j ≤ max_power` (`max_power + 1` = the domain size `n`): the
    /// Lagrange basis of the domain of size `2n` at τ is the inverse FFT of
    /// `(τ⁰, …, τ²ⁿ⁻¹)`; the odd entries are the points `ω₂ₙ^(2j+1)`.
    fn h_query_scalars<F: PrimeField, D: EvaluationDomain<F>>(
        max_power: usize,
        t: F,
        _zt: F,
        delta_inverse: F,
    ) -> Result<Vec<F>, SynthesisError> {
        let n = max_power + 1;
        let double = D::new(2 * n).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
        let mut powers: Vec<F> = (0..2 * n as u64).into_par_iter().map(|i| delta_inverse * t.pow([i])).collect();
        double.ifft_in_place(&mut powers);
        Ok(powers.into_iter().skip(1).step_by(2).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;

    #[test]
    fn the_h_query_length_tells_the_reductions_apart() {
        for n in [2usize, 1 << 11, 1 << 20] {
            assert_eq!(QapReduction::of_key(n - 1, n), Some(QapReduction::Libsnark));
            assert_eq!(QapReduction::of_key(n, n), Some(QapReduction::Circom));
            assert_eq!(QapReduction::of_key(n + 1, n), None);
        }
    }

    /// snarkjs's `Fr.w[12]` for BN254 (ffjavascript, printed by node): the odd
    /// points must be snarkjs's, or a `.zkey`'s H query would not fit our `h`.
    #[test]
    fn the_odd_coset_generator_is_snarkjs_root_of_unity() {
        let w11: Fr = odd_coset_generator(1 << 10).unwrap();
        assert_eq!(
            w11.into_bigint().to_string(),
            "1120550406532664055539694724667294622065367841900378087843176726913374367458"
        );
    }
}
