use crate::fixture::{PUBLIC_INPUTS, fixture};
use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, One, PrimeField};
use zkmeter_verifier::{
    CodecError, PROOF_LEN, Word, decode_proof, decode_public_input, decode_public_inputs,
    encode_proof, encode_public_input, encode_public_inputs, encode_verifying_key,
};

const PROOF_WORDS: [&str; 8] = [
    "A.x", "A.y", "B.x.c1", "B.x.c0", "B.y.c1", "B.y.c0", "C.x", "C.y",
];

fn word_of<B: BigInteger>(n: B) -> Word {
    n.to_bytes_be()
        .try_into()
        .expect("a 256-bit integer is 32 bytes")
}

fn fq_word(x: Fq) -> Word {
    word_of(x.into_bigint())
}

fn plus_one<B: BigInteger>(mut n: B) -> B {
    n.add_with_carry(&B::from(1u64));
    n
}

fn set_word(bytes: &mut [u8], index: usize, word: Word) {
    bytes[32 * index..32 * (index + 1)].copy_from_slice(&word);
}

fn good_proof_bytes() -> [u8; PROOF_LEN] {
    encode_proof(&fixture().valid[0].0)
}

#[test]
fn proof_round_trips() {
    for (proof, _) in &fixture().valid {
        assert_eq!(&decode_proof(&encode_proof(proof)).unwrap(), proof);
    }
}

#[test]
fn proof_layout_is_the_precompile_order() {
    let proof = &fixture().valid[0].0;
    let bytes = encode_proof(proof);
    let (ax, ay) = proof.a.xy().unwrap();
    let (bx, by) = proof.b.xy().unwrap();
    let (cx, cy) = proof.c.xy().unwrap();
    let expected = [ax, ay, bx.c1, bx.c0, by.c1, by.c0, cx, cy].map(fq_word);
    for (i, word) in expected.iter().enumerate() {
        assert_eq!(
            &bytes[32 * i..32 * (i + 1)],
            word,
            "word {i} ({})",
            PROOF_WORDS[i]
        );
    }
}

#[test]
fn coordinates_not_below_q_are_refused() {
    for value in [Fq::MODULUS, plus_one(Fq::MODULUS)] {
        for (index, name) in PROOF_WORDS.iter().enumerate() {
            let mut bytes = good_proof_bytes();
            set_word(&mut bytes, index, word_of(value));
            let err = decode_proof(&bytes).unwrap_err();
            assert_eq!(err, CodecError::CoordinateOutOfRange { coordinate: name });
            assert!(err.to_string().contains(name));
        }
    }
}

#[test]
fn points_off_the_curve_are_refused() {
    let proof = &fixture().valid[0].0;
    let (_, ay) = proof.a.xy().unwrap();
    let (_, by) = proof.b.xy().unwrap();
    let (_, cy) = proof.c.xy().unwrap();
    for (point, index, word) in [
        ("A", 1, fq_word(ay + Fq::one())),
        ("B", 5, fq_word(by.c0 + Fq::one())),
        ("C", 7, fq_word(cy + Fq::one())),
    ] {
        let mut bytes = good_proof_bytes();
        set_word(&mut bytes, index, word);
        assert_eq!(
            decode_proof(&bytes).unwrap_err(),
            CodecError::NotOnCurve { point }
        );
    }
}

/// G2 coordinates in the wrong order (c0 before c1) land off the twist.
#[test]
fn g2_with_swapped_halves_is_refused() {
    let mut bytes = good_proof_bytes();
    let original = bytes;
    bytes[64..96].copy_from_slice(&original[96..128]);
    bytes[96..128].copy_from_slice(&original[64..96]);
    bytes[128..160].copy_from_slice(&original[160..192]);
    bytes[160..192].copy_from_slice(&original[128..160]);
    assert_eq!(
        decode_proof(&bytes).unwrap_err(),
        CodecError::NotOnCurve { point: "B" }
    );
}

#[test]
fn g2_point_outside_the_subgroup_is_refused() {
    let outside = (1u64..)
        .filter_map(|x| {
            G2Affine::get_point_from_x_unchecked(Fq2::new(Fq::from(x), Fq::one()), true)
        })
        .find(|p| !p.is_in_correct_subgroup_assuming_on_curve())
        .unwrap();
    assert!(outside.is_on_curve());
    let (x, y) = outside.xy().unwrap();
    let mut bytes = good_proof_bytes();
    for (index, c) in [(2, x.c1), (3, x.c0), (4, y.c1), (5, y.c0)] {
        set_word(&mut bytes, index, fq_word(c));
    }
    assert_eq!(
        decode_proof(&bytes).unwrap_err(),
        CodecError::NotInSubgroup { point: "B" }
    );
}

#[test]
fn points_at_infinity_are_refused() {
    for (point, words) in [("A", 0..2), ("B", 2..6), ("C", 6..8)] {
        let mut bytes = good_proof_bytes();
        for index in words {
            set_word(&mut bytes, index, [0; 32]);
        }
        assert_eq!(
            decode_proof(&bytes).unwrap_err(),
            CodecError::PointAtInfinity { point }
        );
    }
    assert_eq!(
        decode_proof(&[0; PROOF_LEN]).unwrap_err(),
        CodecError::PointAtInfinity { point: "A" }
    );
}

/// Infinity encodes as zero words (the precompile's convention) even though decoding
/// refuses it in a proof.
#[test]
fn infinity_encodes_as_zero_words() {
    let mut proof = fixture().valid[0].0.clone();
    proof.a = G1Affine::zero();
    assert_eq!(encode_proof(&proof)[..64], [0; 64]);
}

#[test]
fn wrong_proof_lengths_are_refused() {
    let bytes = good_proof_bytes();
    let mut long = bytes.to_vec();
    long.push(0);
    for (input, got) in [
        (&[][..], 0),
        (&bytes[..PROOF_LEN - 1], PROOF_LEN - 1),
        (&bytes[..PROOF_LEN - 32], PROOF_LEN - 32),
        (&long[..], PROOF_LEN + 1),
        (&[bytes, bytes].concat()[..], 2 * PROOF_LEN),
    ] {
        assert_eq!(
            decode_proof(input).unwrap_err(),
            CodecError::ProofLength { got }
        );
    }
}

#[test]
fn public_inputs_round_trip() {
    for (_, inputs) in &fixture().valid {
        let bytes = encode_public_inputs(inputs);
        assert_eq!(bytes.len(), 32 * PUBLIC_INPUTS);
        assert_eq!(&decode_public_inputs(&bytes).unwrap(), inputs);
        for input in inputs {
            assert_eq!(
                decode_public_input(&encode_public_input(input)).unwrap(),
                *input
            );
        }
    }
    assert_eq!(decode_public_inputs(&[]).unwrap(), Vec::<Fr>::new());
    assert_eq!(encode_public_input(&Fr::from(0x0102u64))[30..], [1, 2]);
}

#[test]
fn public_inputs_not_below_r_are_refused() {
    let r = word_of(Fr::MODULUS);
    let r_plus_one = word_of(plus_one(Fr::MODULUS));
    for word in [r, r_plus_one, [0xff; 32]] {
        assert_eq!(
            decode_public_input(&word).unwrap_err(),
            CodecError::PublicInputOutOfRange { index: 0 }
        );
        let mut bytes = encode_public_inputs(&fixture().valid[0].1);
        set_word(&mut bytes, 4, word);
        assert_eq!(
            decode_public_inputs(&bytes).unwrap_err(),
            CodecError::PublicInputOutOfRange { index: 4 }
        );
    }
}

#[test]
fn largest_public_input_is_accepted() {
    let mut r_minus_one = Fr::MODULUS;
    r_minus_one.sub_with_borrow(&1u64.into());
    let word = word_of(r_minus_one);
    assert_eq!(decode_public_input(&word).unwrap(), -Fr::one());
    assert_eq!(
        decode_public_inputs(&[word, word].concat()).unwrap(),
        vec![-Fr::one(); 2]
    );
}

#[test]
fn public_inputs_of_partial_words_are_refused() {
    for got in [1, 31, 33, 32 * PUBLIC_INPUTS - 1] {
        assert_eq!(
            decode_public_inputs(&vec![0; got]).unwrap_err(),
            CodecError::PublicInputsLength { got }
        );
    }
}

#[test]
fn verifying_key_words_are_in_constructor_order() {
    let vk = &fixture().vk;
    let evm = encode_verifying_key(vk);
    let g1 = |p: &G1Affine| {
        let (x, y) = p.xy().unwrap();
        [fq_word(x), fq_word(y)]
    };
    let g2 = |p: &G2Affine| {
        let (x, y) = p.xy().unwrap();
        [fq_word(x.c1), fq_word(x.c0), fq_word(y.c1), fq_word(y.c0)]
    };
    assert_eq!(evm.alpha, g1(&vk.alpha_g1));
    assert_eq!(evm.beta, g2(&vk.beta_g2));
    assert_eq!(evm.gamma, g2(&vk.gamma_g2));
    assert_eq!(evm.delta, g2(&vk.delta_g2));
    assert_eq!(evm.ic.len(), PUBLIC_INPUTS + 1);
    assert_eq!(evm.ic, vk.gamma_abc_g1.iter().map(g1).collect::<Vec<_>>());

    let words = evm.to_words();
    assert_eq!(words.len(), 2 + 3 * 4 + 2 * (PUBLIC_INPUTS + 1));
    assert_eq!(words[..2], evm.alpha);
    assert_eq!(words[2..6], evm.beta);
    assert_eq!(words[6..10], evm.gamma);
    assert_eq!(words[10..14], evm.delta);
    assert_eq!(words[14..16], evm.ic[0]);
    assert_eq!(words[words.len() - 2..], evm.ic[PUBLIC_INPUTS]);
}
