//! The CPU backend: batch-affine MSMs over bases prepared once ([`crate::msm`]),
//! and ark-poly's radix-2 NTTs (already parallel; exact by construction).

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective, g1, g2};
use ark_ff::FftField;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};

use crate::backend::{Ntt, ProverBackend};
use crate::error::EngineError;
use crate::msm::{PreparedBases, msm};

/// Proves on all CPU cores (rayon's global pool).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

impl ProverBackend for CpuBackend {
    type G1Bases = PreparedBases<g1::Config>;
    type G2Bases = PreparedBases<g2::Config>;

    fn name(&self) -> &'static str {
        "cpu"
    }

    fn load_g1(&self, bases: &[G1Affine]) -> Result<Self::G1Bases, EngineError> {
        Ok(PreparedBases::new(bases))
    }

    fn load_g2(&self, bases: &[G2Affine]) -> Result<Self::G2Bases, EngineError> {
        Ok(PreparedBases::new(bases))
    }

    fn msm_g1(&self, bases: &Self::G1Bases, scalars: &[Fr]) -> Result<G1Projective, EngineError> {
        Ok(msm(bases, scalars))
    }

    fn msm_g2(&self, bases: &Self::G2Bases, scalars: &[Fr]) -> Result<G2Projective, EngineError> {
        Ok(msm(bases, scalars))
    }

    fn ntt(&self, domain: &Radix2EvaluationDomain<Fr>, values: &mut Vec<Fr>, op: Ntt) -> Result<(), EngineError> {
        assert_eq!(values.len(), domain.size(), "an NTT takes exactly one value per domain point");
        let coset = || domain.get_coset(Fr::GENERATOR).expect("the generator is a valid coset offset");
        match op {
            Ntt::Forward => domain.fft_in_place(values),
            Ntt::Inverse => domain.ifft_in_place(values),
            Ntt::CosetForward => coset().fft_in_place(values),
            Ntt::CosetInverse => coset().ifft_in_place(values),
        }
        Ok(())
    }
}
