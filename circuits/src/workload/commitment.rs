//! Packing int8 and int32 values into field elements, and the Poseidon commitments
//! over them: natively and as R1CS.
//!
//! Signed values are stored with an offset so that every stored value is a small
//! non-negative integer: an int8 `x` as `x + 128 ∈ [0, 2^8)`, an int32 `x` as
//! `x + 2^31 ∈ [0, 2^32)`. Values are packed little-endian, 31 int8 values
//! (248 bits) or 7 int32 values (224 bits) per element, the last element holding
//! what is left:
//!
//! ```text
//! element_j = Σ_i (x_{j·31+i} + 128) · 2^(8i)        int8
//! element_j = Σ_i (x_{j·7+i} + 2^31) · 2^(32i)       int32
//! ```
//!
//! Every element is below 2^248 < r, so as long as each stored value is in its range
//! the packing is injective. The circuit guarantees that for every packed value:
//! unpacked weights and inputs are bit-decomposed, int32 values are the sums of their
//! 32 bits, and requantised outputs are in `[lo, 127]` by the clamp's own checks.
//!
//! A commitment to a list of `N` elements under a domain tag is a Poseidon chain,
//! absorbing [`ABSORB`] elements per hash (the last chunk padded with zeros):
//!
//! ```text
//! h_0 = Poseidon(tag, N)
//! h_i = Poseidon(h_{i−1}, e_{11(i−1)}, …, e_{11i−1})
//! commitment = h_⌈N/11⌉
//! ```
//!
//! `N` in `h_0` makes the zero padding unambiguous; the tag keeps a model from
//! being read as an input or an output. The lists (element 0 is a header of
//! constants, so the commitment names the shape too):
//!
//! | commitment | elements |
//! |---|---|
//! | model | per layer: `inputs \| outputs << 32 \| kind << 64 \| shift << 72`, packed weights (int8, row-major `[inputs][outputs]`), packed biases (int32; requantising layers) |
//! | input | `rows \| cols << 32`, packed input (int8, row-major) |
//! | output | `rows \| cols << 32 \| kind << 64` (kind of the last layer), packed output (int32 for a matmul-only last layer, else int8) |
//! | accumulator (inside the circuit only) | packed `z = X·W + bias` of one requantising layer (int32) |
//! | challenge (inside the circuit only) | model, input and output commitments, then each accumulator commitment |
//!
//! The commitments are binding, not hiding: whoever can guess the data can check a
//! guess against its commitment.

use ark_bn254::Fr;
use ark_ff::{Field, PrimeField, Zero};
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};

use super::model::{LayerKind, LayerShape};
use crate::num::Num;
use crate::poseidon::{MAX_INPUTS, gadget_constraints, poseidon, poseidon_gadget};

/// int8 values per packed element.
pub const INT8_PER_ELEMENT: usize = 31;
/// int32 values per packed element.
pub const INT32_PER_ELEMENT: usize = 7;
/// Elements absorbed per Poseidon hash of a commitment chain.
pub const ABSORB: usize = MAX_INPUTS - 1;

/// Domain of a commitment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// The model's layers.
    Model,
    /// The input matrix.
    Input,
    /// The output matrix.
    Output,
    /// One layer's `z = X·W + bias`, before the challenge is drawn.
    Accumulator,
    /// The Freivalds challenge.
    Challenge,
}

impl Tag {
    /// The tag as a field element: its name's ASCII bytes, big-endian.
    pub fn value(self) -> Fr {
        let name: &[u8] = match self {
            Tag::Model => b"zkmeter.workload.model.v1",
            Tag::Input => b"zkmeter.workload.input.v1",
            Tag::Output => b"zkmeter.workload.output.v1",
            Tag::Accumulator => b"zkmeter.workload.acc.v1",
            Tag::Challenge => b"zkmeter.workload.challenge.v1",
        };
        Fr::from_be_bytes_mod_order(name)
    }
}

/// Offset of stored int8 values.
pub fn int8_offset() -> Fr {
    Fr::from(128u64)
}

/// Offset of stored int32 values.
pub fn int32_offset() -> Fr {
    Fr::from(1u64 << 31)
}

/// Packs signed int8 values (given as field elements; −1 is r − 1).
pub fn pack_int8(values: &[Fr]) -> Vec<Fr> {
    pack(values, int8_offset(), 8, INT8_PER_ELEMENT)
}

/// Packs signed int32 values (given as field elements).
pub fn pack_int32(values: &[Fr]) -> Vec<Fr> {
    pack(values, int32_offset(), 32, INT32_PER_ELEMENT)
}

fn pack(values: &[Fr], offset: Fr, bits: u64, per: usize) -> Vec<Fr> {
    values
        .chunks(per)
        .map(|chunk| chunk.iter().enumerate().map(|(i, v)| (*v + offset) * Fr::from(2u64).pow([bits * i as u64])).sum())
        .collect()
}

/// Packs values that the circuit already holds with their offset added (free: the
/// packed elements are linear combinations).
pub fn pack_gadget(stored: &[Num], bits: u64, per: usize) -> Vec<Num> {
    stored
        .chunks(per)
        .map(|chunk| {
            let terms: Vec<Num> =
                chunk.iter().enumerate().map(|(i, v)| v.scale(Fr::from(2u64).pow([bits * i as u64]))).collect();
            Num::sum(&terms)
        })
        .collect()
}

fn first(tag: Tag, len: usize) -> Fr {
    poseidon(&[tag.value(), Fr::from(len as u64)])
}

/// The commitment to `elements` under `tag` (the chain in the module doc).
pub fn commit(tag: Tag, elements: &[Fr]) -> Fr {
    elements.chunks(ABSORB).fold(first(tag, elements.len()), |h, chunk| {
        let mut inputs = vec![h];
        inputs.extend_from_slice(chunk);
        inputs.resize(MAX_INPUTS, Fr::zero());
        poseidon(&inputs)
    })
}

/// The same commitment inside the circuit. `h_0` depends only on the tag and the
/// length, which the shape fixes, so it is a constant.
pub fn commit_gadget(cs: &ConstraintSystemRef<Fr>, tag: Tag, elements: &[Num]) -> Result<Num, SynthesisError> {
    let mut h = Num::constant(first(tag, elements.len()));
    for chunk in elements.chunks(ABSORB) {
        let mut inputs = vec![h];
        inputs.extend_from_slice(chunk);
        inputs.resize(MAX_INPUTS, Num::zero());
        h = poseidon_gadget(cs, &inputs)?;
    }
    Ok(h)
}

/// Constraints [`commit_gadget`] makes for `elements` elements.
pub fn commit_constraints(elements: usize) -> usize {
    elements.div_ceil(ABSORB) * gadget_constraints(MAX_INPUTS)
}

/// Elements of `values` int8 values once packed.
pub fn int8_elements(values: usize) -> usize {
    values.div_ceil(INT8_PER_ELEMENT)
}

/// Elements of `values` int32 values once packed.
pub fn int32_elements(values: usize) -> usize {
    values.div_ceil(INT32_PER_ELEMENT)
}

/// Header element of a layer in the model commitment.
pub fn layer_header(shape: &LayerShape) -> Fr {
    Fr::from(
        shape.inputs as u128
            | (shape.outputs as u128) << 32
            | u128::from(shape.kind.code()) << 64
            | u128::from(shape.kind.shift()) << 72,
    )
}

/// Header element of the input commitment.
pub fn input_header(rows: usize, cols: usize) -> Fr {
    Fr::from(rows as u128 | (cols as u128) << 32)
}

/// Header element of the output commitment.
pub fn output_header(rows: usize, cols: usize, kind: LayerKind) -> Fr {
    Fr::from(rows as u128 | (cols as u128) << 32 | u128::from(kind.code()) << 64)
}

/// The model commitment's elements, from each layer's weights and biases as signed
/// field elements.
pub fn model_elements(shapes: &[LayerShape], weights: &[Vec<Fr>], bias: &[Vec<Fr>]) -> Vec<Fr> {
    let mut out = Vec::new();
    for ((shape, w), b) in shapes.iter().zip(weights).zip(bias) {
        out.push(layer_header(shape));
        out.extend(pack_int8(w));
        out.extend(pack_int32(b));
    }
    out
}

/// The input commitment's elements.
pub fn input_elements(rows: usize, cols: usize, values: &[Fr]) -> Vec<Fr> {
    let mut out = vec![input_header(rows, cols)];
    out.extend(pack_int8(values));
    out
}

/// The output commitment's elements: int32 values after a matmul-only layer, int8
/// after a requantising one.
pub fn output_elements(rows: usize, last: &LayerShape, values: &[Fr]) -> Vec<Fr> {
    let mut out = vec![output_header(rows, last.outputs, last.kind)];
    out.extend(match last.kind {
        LayerKind::MatMul => pack_int32(values),
        LayerKind::Requantise { .. } => pack_int8(values),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range_check::alloc_bits;
    use ark_relations::gr1cs::ConstraintSystem;

    #[test]
    fn packing_is_little_endian_with_offsets() {
        let p = pack_int8(&[-Fr::from(128u64), Fr::from(127u64), Fr::from(1u64)]);
        assert_eq!(p, vec![Fr::from(255u64 << 8 | 129 << 16)]);
        let values: Vec<Fr> = (0..8).map(|i| Fr::from(i as u64)).collect();
        let p = pack_int32(&values);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1], Fr::from(7u64 + (1 << 31)));
        assert_eq!(pack_int8(&vec![Fr::zero(); 62]).len(), 2);
    }

    #[test]
    fn gadget_commitment_matches_native_and_costs_what_it_says() {
        for n in [1usize, 11, 12, 23] {
            let values: Vec<Fr> = (0..n as u64 * 31).map(|i| Fr::from(i % 256) - Fr::from(128u64)).collect();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let stored: Vec<Num> =
                values.iter().map(|v| alloc_bits(&cs, Some(*v + int8_offset()), 8).unwrap()).collect();
            let before = cs.num_constraints();
            let h = commit_gadget(&cs, Tag::Input, &pack_gadget(&stored, 8, INT8_PER_ELEMENT)).unwrap();
            assert_eq!(h.value().unwrap(), commit(Tag::Input, &pack_int8(&values)));
            assert_eq!(cs.num_constraints() - before, commit_constraints(n));
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn tags_lengths_and_padding_change_the_commitment() {
        let e = [Fr::from(5u64)];
        assert_ne!(commit(Tag::Input, &e), commit(Tag::Output, &e));
        assert_ne!(commit(Tag::Input, &e), commit(Tag::Input, &[e[0], Fr::zero()]));
    }
}
