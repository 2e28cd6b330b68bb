use crate::fixture::{PUBLIC_INPUTS, fixture, rng};
use ark_bn254::{Bn254, Fr, G1Affine, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::One;
use ark_groth16::Groth16;
use zkmeter_verifier::{
    Verifier, VerifyError, decode_proof, decode_public_inputs, encode_proof, encode_public_inputs,
};

fn verifier() -> Verifier {
    Verifier::new(&fixture().vk)
}

#[test]
fn valid_proofs_verify() {
    let verifier = verifier();
    assert_eq!(verifier.num_public_inputs(), PUBLIC_INPUTS);
    for (proof, inputs) in &fixture().valid {
        assert_eq!(verifier.verify(proof, inputs), Ok(()));
    }
}

#[test]
fn proofs_decoded_from_the_wire_verify() {
    let verifier = verifier();
    for (proof, inputs) in &fixture().valid {
        let proof = decode_proof(&encode_proof(proof)).unwrap();
        let inputs = decode_public_inputs(&encode_public_inputs(inputs)).unwrap();
        assert_eq!(verifier.verify(&proof, &inputs), Ok(()));
    }
}

#[test]
fn tampered_public_inputs_are_refused() {
    let verifier = verifier();
    let (proof, inputs) = &fixture().valid[0];
    for i in 0..PUBLIC_INPUTS {
        let mut tampered = inputs.clone();
        tampered[i] += Fr::one();
        assert_eq!(
            verifier.verify(proof, &tampered),
            Err(VerifyError::InvalidProof)
        );
    }
    let mut swapped = inputs.clone();
    swapped.swap(0, 1);
    assert_eq!(
        verifier.verify(proof, &swapped),
        Err(VerifyError::InvalidProof)
    );
}

#[test]
fn tampered_proofs_are_refused() {
    let verifier = verifier();
    let (proof, inputs) = &fixture().valid[0];
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();

    let mut bad_a = proof.clone();
    bad_a.a = (proof.a + g1).into_affine();
    let mut bad_b = proof.clone();
    bad_b.b = (proof.b + g2).into_affine();
    let mut bad_c = proof.clone();
    bad_c.c = (proof.c + g1).into_affine();
    let other_statement = fixture().valid[1].0.clone();

    for bad in [bad_a, bad_b, bad_c, other_statement] {
        assert_eq!(
            verifier.verify(&bad, inputs),
            Err(VerifyError::InvalidProof)
        );
    }
}

#[test]
fn wrong_input_counts_are_refused() {
    let verifier = verifier();
    let (proof, inputs) = &fixture().valid[0];
    let mut long = inputs.clone();
    long.push(Fr::one());
    for (given, got) in [(&inputs[..5], 5), (&long[..], 7), (&[][..], 0)] {
        assert_eq!(
            verifier.verify(proof, given),
            Err(VerifyError::WrongInputCount {
                expected: PUBLIC_INPUTS,
                got
            })
        );
    }
}

/// Anyone can re-randomise a proof into new bytes that still verify for the same
/// statement, so replay protection must key on the statement, never on proof bytes.
#[test]
fn rerandomised_proofs_still_verify() {
    let verifier = verifier();
    let mut rng = rng(7);
    let (proof, inputs) = &fixture().valid[0];
    let rerandomised = Groth16::<Bn254>::rerandomize_proof(&fixture().vk, proof, &mut rng);
    assert_ne!(encode_proof(&rerandomised), encode_proof(proof));
    assert_eq!(verifier.verify(&rerandomised, inputs), Ok(()));
}
