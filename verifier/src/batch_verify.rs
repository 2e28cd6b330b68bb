//! Batch verification by random linear combination, with bisection to name the bad
//! proofs.
//!
//! For items `i` with independent random 128-bit scalars `ρ_i`, the batch holds when
//!
//! ```text
//! Π e(ρ_i·A_i, B_i) · e(Σρ_i·vk_x_i, −γ) · e(Σρ_i·C_i, −δ) · e((Σρ_i)·α, −β) = 1
//! ```
//!
//! which costs one multi-Miller loop over `n + 3` pairs and one final exponentiation,
//! against `3n` Miller loops and `n` final exponentiations for `n` single checks. The
//! G1 sums are MSMs; `Σρ_i·vk_x_i` is one MSM over the key's `IC` with scalars
//! `Σ_i ρ_i·x_ij`, so its cost does not grow with `n`.
//!
//! ## Soundness
//!
//! Write `T_i = e(A_i, B_i) · e(vk_x_i, −γ) · e(C_i, −δ) · e(α, −β)`; item `i` verifies
//! singly exactly when `T_i = 1`. All `T_i` lie in `G_T`, cyclic of prime order `r`;
//! fix a generator `g` and write `T_i = g^{t_i}`. The batch holds exactly when
//! `Σ ρ_i·t_i ≡ 0 (mod r)`. If some `t_j ≠ 0`, then for every choice of the other
//! `ρ_i` at most one residue of `ρ_j` satisfies the equation, and the `2^128` possible
//! values of `ρ_j` are distinct residues (`2^128 < r`). So a batch containing an
//! invalid item passes with probability at most `2^-128`, and a batch of valid items
//! always passes. Bisection runs at most `2k·log2(n)` batch checks for `k` bad items
//! (a union bound keeps the total error negligible) and verifies every item it
//! reports singly, so an item reported invalid is always invalid.
//!
//! The argument needs two things:
//! - **`ρ` is unpredictable to whoever made the proofs.** With a predictable `ρ` a
//!   prover can craft invalid proofs whose errors cancel in the combination, and the
//!   batch accepts them. Production must pass a CSPRNG (`rand::rngs::OsRng`,
//!   `rand::thread_rng()`); the `CryptoRng` bound is there to make that hard to miss.
//! - **Points are in their prime-order groups**, where the pairing is bilinear.
//!   [`decode_proof`](crate::decode_proof) guarantees it for proofs from the wire.

use crate::verify::{Verifier, VerifyError};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective};
use ark_ec::{CurveGroup, VariableBaseMSM, pairing::Pairing};
use ark_ff::{One, Zero};
use ark_groth16::Proof;
use rand::{CryptoRng, RngCore};
use rayon::prelude::*;

/// One statement to check: a proof and its public inputs.
pub type BatchItem<'a> = (&'a Proof<Bn254>, &'a [Fr]);

/// The outcome of [`Verifier::verify_batch`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchReport {
    /// The items that failed, as (index into the batch, reason), by ascending index.
    /// The reason is what [`Verifier::verify`] says about that item alone.
    pub invalid: Vec<(usize, VerifyError)>,
}

impl BatchReport {
    /// Whether every item verified.
    pub fn all_valid(&self) -> bool {
        self.invalid.is_empty()
    }

    /// Indices of the items that failed, ascending.
    pub fn invalid_indices(&self) -> Vec<usize> {
        self.invalid.iter().map(|(index, _)| *index).collect()
    }
}

impl Verifier {
    /// Verifies many proofs at once and names exactly the ones that fail.
    ///
    /// Items with the wrong number of public inputs are reported without entering the
    /// batch. The rest are checked together; when that check fails the batch is split
    /// in halves recursively, and single items are verified singly. All valid: one
    /// pairing check for the whole batch. See the [module docs](self) for why this is
    /// sound and why `rng` must be a CSPRNG.
    pub fn verify_batch<R: RngCore + CryptoRng>(
        &self,
        items: &[BatchItem<'_>],
        rng: &mut R,
    ) -> BatchReport {
        let mut invalid = Vec::new();
        let mut candidates = Vec::with_capacity(items.len());
        for (index, (_, inputs)) in items.iter().enumerate() {
            match self.check_input_count(inputs) {
                Ok(()) => candidates.push(index),
                Err(err) => invalid.push((index, err)),
            }
        }
        if !candidates.is_empty() {
            self.bisect(items, &candidates, false, rng, &mut invalid);
        }
        invalid.sort_unstable_by_key(|(index, _)| *index);
        BatchReport { invalid }
    }

    /// Appends the invalid items among `indices` to `invalid` and says whether there
    /// were any. `known_bad` skips the batch check when the caller already knows one
    /// of `indices` is bad.
    fn bisect<R: RngCore + CryptoRng>(
        &self,
        items: &[BatchItem<'_>],
        indices: &[usize],
        known_bad: bool,
        rng: &mut R,
        invalid: &mut Vec<(usize, VerifyError)>,
    ) -> bool {
        if let [index] = indices {
            let (proof, inputs) = items[*index];
            return match self.verify(proof, inputs) {
                Ok(()) => false,
                Err(err) => {
                    invalid.push((*index, err));
                    true
                }
            };
        }
        if !known_bad && self.batch_equation_holds(items, indices, rng) {
            return false;
        }
        let (left, right) = indices.split_at(indices.len() / 2);
        let left_bad = self.bisect(items, left, false, rng, invalid);
        // A batch of valid items always passes, so this one holds a bad item: if the
        // left half has none, the right half's batch check would only confirm it.
        let right_bad = self.bisect(items, right, !left_bad, rng, invalid);
        left_bad || right_bad
    }

    /// The batch equation of the module docs over `items[indices]`, with fresh `ρ`.
    /// Every item must have the right number of public inputs.
    fn batch_equation_holds<R: RngCore + CryptoRng>(
        &self,
        items: &[BatchItem<'_>],
        indices: &[usize],
        rng: &mut R,
    ) -> bool {
        let vk = &self.pvk.vk;
        let rho: Vec<Fr> = indices.iter().map(|_| random_128_bit_scalar(rng)).collect();
        let rho_sum: Fr = rho.iter().sum();

        // Σρ_i·vk_x_i = (Σρ_i)·IC_0 + Σ_j (Σ_i ρ_i·x_ij)·IC_j
        let mut ic_scalars = vec![Fr::zero(); vk.gamma_abc_g1.len()];
        ic_scalars[0] = rho_sum;
        for (r, &i) in rho.iter().zip(indices) {
            for (scalar, x) in ic_scalars[1..].iter_mut().zip(items[i].1) {
                *scalar += *r * x;
            }
        }
        let vk_x = G1Projective::msm_unchecked(&vk.gamma_abc_g1, &ic_scalars);
        let c_points: Vec<G1Affine> = indices.iter().map(|&i| items[i].0.c).collect();
        let c = G1Projective::msm_unchecked(&c_points, &rho);

        let mut g1: Vec<G1Projective> = indices
            .par_iter()
            .zip(&rho)
            .map(|(&i, r)| items[i].0.a * r)
            .collect();
        g1.extend([vk_x, c, vk.alpha_g1 * rho_sum]);
        let g1 = G1Projective::normalize_batch(&g1);

        let mut g2: Vec<<Bn254 as Pairing>::G2Prepared> =
            indices.par_iter().map(|&i| items[i].0.b.into()).collect();
        g2.extend([
            self.pvk.gamma_g2_neg_pc.clone(),
            self.pvk.delta_g2_neg_pc.clone(),
            self.neg_beta_g2.clone(),
        ]);

        Bn254::final_exponentiation(Bn254::multi_miller_loop(g1, g2))
            .is_some_and(|out| out.0.is_one())
    }
}

fn random_128_bit_scalar(rng: &mut impl RngCore) -> Fr {
    Fr::from((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()))
}
