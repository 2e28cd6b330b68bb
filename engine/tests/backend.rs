//! Every backend operation equals arkworks' reference result exactly.

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{FftField, UniformRand, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkmeter_engine::{CpuBackend, Ntt, ProverBackend};

/// Scalars of every size class the MSM treats differently: zero, ±1, small (< 2^64)
/// and their negations, full-size.
fn scalars(n: usize, rng: &mut ChaCha20Rng) -> Vec<Fr> {
    (0..n)
        .map(|i| match i % 7 {
            0 => Fr::zero(),
            1 => Fr::from(1u64),
            2 => -Fr::from(1u64),
            3 => Fr::from(rng.gen_range(2..1u64 << 20)),
            4 => -Fr::from(rng.r#gen::<u64>()),
            5 => Fr::from(rng.r#gen::<u64>()),
            _ => Fr::rand(rng),
        })
        .collect()
}

/// Random bases, with the cases batch-affine addition must route around: the point
/// at infinity, repeated points and a point next to its negation.
fn bases<P: SWCurveConfig>(n: usize, rng: &mut ChaCha20Rng) -> Vec<Affine<P>> {
    let g = Projective::<P>::generator();
    let mut points: Vec<Projective<P>> = (0..n).map(|_| g * P::ScalarField::rand(rng)).collect();
    for i in (0..n).step_by(11) {
        points[i] = Projective::zero();
    }
    for i in (5..n).step_by(13) {
        points[i] = points[i - 3];
    }
    for i in (7..n).step_by(17) {
        points[i] = -points[i - 1];
    }
    Projective::normalize_batch(&points)
}

#[test]
fn g1_msm_equals_arkworks() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    for n in [0, 1, 2, 7, 64, 300, 2_000, 9_000] {
        let bases: Vec<G1Affine> = bases(n, &mut rng);
        let scalars = scalars(n, &mut rng);
        let loaded = CpuBackend.load_g1(&bases).unwrap();
        let ours = CpuBackend.msm_g1(&loaded, &scalars).unwrap();
        assert_eq!(ours, G1Projective::msm(&bases, &scalars).unwrap(), "n = {n}");
    }
}

#[test]
fn g1_msm_with_one_repeated_base_and_scalar() {
    // Every addition lands in the same bucket: the overflow path does all the work.
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let p = (G1Projective::generator() * Fr::rand(&mut rng)).into_affine();
    let bases = vec![p; 5_000];
    for s in [Fr::from(1u64), Fr::from(3u64), -Fr::from(2u64), Fr::rand(&mut rng)] {
        let scalars = vec![s; bases.len()];
        let loaded = CpuBackend.load_g1(&bases).unwrap();
        assert_eq!(CpuBackend.msm_g1(&loaded, &scalars).unwrap(), G1Projective::msm(&bases, &scalars).unwrap());
    }
}

#[test]
fn g2_msm_equals_arkworks() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for n in [0, 1, 5, 100, 1_500] {
        let bases: Vec<G2Affine> = bases(n, &mut rng);
        let scalars = scalars(n, &mut rng);
        let loaded = CpuBackend.load_g2(&bases).unwrap();
        assert_eq!(
            CpuBackend.msm_g2(&loaded, &scalars).unwrap(),
            G2Projective::msm(&bases, &scalars).unwrap(),
            "n = {n}"
        );
    }
}

#[test]
fn ntts_equal_ark_poly() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    for log in [1, 4, 10] {
        let domain = Radix2EvaluationDomain::<Fr>::new(1 << log).unwrap();
        let coset = domain.get_coset(Fr::GENERATOR).unwrap();
        let values: Vec<Fr> = (0..1 << log).map(|_| Fr::rand(&mut rng)).collect();
        for (op, reference) in [
            (Ntt::Forward, domain.fft(&values)),
            (Ntt::Inverse, domain.ifft(&values)),
            (Ntt::CosetForward, coset.fft(&values)),
            (Ntt::CosetInverse, coset.ifft(&values)),
        ] {
            let mut ours = values.clone();
            CpuBackend.ntt(&domain, &mut ours, op).unwrap();
            assert_eq!(ours, reference, "{op:?} on 2^{log}");
        }
    }
}
