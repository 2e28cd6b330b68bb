use crate::fixture::{fixture, rng};
use ark_bn254::{Bn254, Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::One;
use ark_groth16::Proof;
use rand::seq::index::sample;
use zkmeter_verifier::{BatchItem, Verifier, VerifyError};

/// (proof, inputs) owned, so tests can tamper with copies of the fixture.
type Owned = (Proof<Bn254>, Vec<Fr>);

fn valid(n: usize) -> Vec<Owned> {
    fixture().valid.iter().cycle().take(n).cloned().collect()
}

fn items(owned: &[Owned]) -> Vec<BatchItem<'_>> {
    owned.iter().map(|(p, x)| (p, x.as_slice())).collect()
}

fn check(owned: &[Owned], seed: u64) -> Vec<(usize, VerifyError)> {
    Verifier::new(&fixture().vk)
        .verify_batch(&items(owned), &mut rng(seed))
        .invalid
}

#[test]
fn valid_batches_pass() {
    for n in [0, 1, 2, 16] {
        let report =
            Verifier::new(&fixture().vk).verify_batch(&items(&valid(n)), &mut rng(n as u64));
        assert!(report.all_valid(), "batch of {n}: {:?}", report.invalid);
    }
}

#[test]
fn one_bad_proof_is_named() {
    let mut owned = valid(16);
    owned[5].1[2] += Fr::one();
    assert_eq!(check(&owned, 1), vec![(5, VerifyError::InvalidProof)]);
}

#[test]
fn three_bad_proofs_are_named() {
    let mut owned = valid(16);
    owned[3].1[0] += Fr::one();
    owned[9].0 = fixture().valid[10].0.clone();
    owned[14].1.pop();
    assert_eq!(
        check(&owned, 2),
        vec![
            (3, VerifyError::InvalidProof),
            (9, VerifyError::InvalidProof),
            (
                14,
                VerifyError::WrongInputCount {
                    expected: 6,
                    got: 5
                }
            ),
        ]
    );
}

#[test]
fn swapped_proofs_are_both_named() {
    let mut owned = valid(8);
    let (left, right) = owned.split_at_mut(5);
    std::mem::swap(&mut left[4].0, &mut right[0].0);
    let report = Verifier::new(&fixture().vk).verify_batch(&items(&owned), &mut rng(3));
    assert_eq!(report.invalid_indices(), vec![4, 5]);
}

#[test]
fn an_all_bad_batch_names_every_item() {
    let mut owned = valid(5);
    for (_, inputs) in &mut owned {
        inputs[5] += Fr::one();
    }
    let report = Verifier::new(&fixture().vk).verify_batch(&items(&owned), &mut rng(4));
    assert_eq!(report.invalid_indices(), (0..5).collect::<Vec<_>>());
}

/// Errors that cancel when every ρ is equal (A + G in one proof, A − G in another with
/// the same B) are caught with random ρ.
#[test]
fn cancelling_errors_are_caught() {
    let (proof, inputs) = &fixture().valid[0];
    let g = G1Affine::generator();
    let mut plus = proof.clone();
    plus.a = (proof.a + g).into_affine();
    let mut minus = proof.clone();
    minus.a = (proof.a - g).into_affine();
    let owned = vec![(plus, inputs.clone()), (minus, inputs.clone())];
    assert_eq!(
        check(&owned, 5),
        vec![
            (0, VerifyError::InvalidProof),
            (1, VerifyError::InvalidProof)
        ]
    );
}

#[test]
fn any_set_of_bad_positions_is_named_exactly() {
    let mut positions = rng(6);
    for n in [2, 3, 7, 16] {
        for bad in 0..=n.min(5) {
            for trial in 0..3 {
                let mut owned = valid(n);
                let mut expected = sample(&mut positions, n, bad).into_vec();
                expected.sort_unstable();
                for &i in &expected {
                    owned[i].1[0] += Fr::one();
                }
                let report =
                    Verifier::new(&fixture().vk).verify_batch(&items(&owned), &mut rng(trial));
                assert_eq!(report.invalid_indices(), expected, "n = {n}, bad = {bad}");
            }
        }
    }
}
