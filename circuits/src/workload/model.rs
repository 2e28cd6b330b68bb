//! The model file and the input file: layer shapes, int8 weights, int32 biases and
//! shifts; an int8 matrix.
//!
//! Both are little-endian binary files with an 8-byte magic. A model file:
//!
//! ```text
//! magic     8 bytes   "ZKMMODL\x01"
//! layers    4 bytes   u32, 1..=64
//! then per layer:
//!   inputs  4 bytes   u32, 1..=65536 (the previous layer's outputs)
//!   outputs 4 bytes   u32, 1..=65536
//!   kind    1 byte    0 = matmul only (int32 output; last layer only),
//!                     1 = requantise, 2 = requantise + ReLU
//!   shift   1 byte    0..=23 (0 for kind 0)
//!   weights inputs·outputs bytes, int8, row-major [inputs][outputs]
//!   biases  outputs·4 bytes, int32 (kinds 1 and 2 only)
//! ```
//!
//! An input file: magic `"ZKMINPT\x01"`, rows (u32), columns (u32), then
//! rows·columns int8 values, row-major.
//!
//! A layer maps a `rows × inputs` int8 matrix `X` to `X·W` (int32, exactly); a
//! requantising layer then computes, per element, `z = X·W + bias` (an int32: a sum
//! outside int32 is an error, not a wrap) and
//! `y = clamp(⌊(z + 2^(shift−1)) / 2^shift⌋, lo, 127)` (for `shift = 0`: `y =
//! clamp(z, lo, 127)`), with `lo = 0` under ReLU and `−128` otherwise: round half up
//! (the arithmetic shift of `z + 2^(shift−1)`), then saturate to int8. ReLU before
//! or after the shift gives the same `y`. The limits keep every accumulator below
//! 2^30 in magnitude (65,536 products of at most 2^14), so `X·W` itself never
//! overflows int32; only adding the bias can.

use ark_bn254::Fr;

use super::commitment::{self, Tag};

/// Magic of a model file (version 1).
pub const MODEL_MAGIC: &[u8; 8] = b"ZKMMODL\x01";
/// Magic of an input file (version 1).
pub const INPUT_MAGIC: &[u8; 8] = b"ZKMINPT\x01";
/// Largest dimension (rows, inputs, outputs).
pub const MAX_DIM: usize = 1 << 16;
/// Largest number of layers.
pub const MAX_LAYERS: usize = 64;
/// Largest requantisation shift (the circuit's clamp range checks are sized for it).
pub const MAX_SHIFT: u8 = 23;

// |X·W| ≤ MAX_DIM · 2^14 must stay below 2^31 (see the module doc).
const _: () = assert!(MAX_DIM * (1 << 14) < 1 << 31);

/// Why a model or input cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// The file does not start with the expected magic.
    #[error(
        "not a zkmeter {what} file: it starts with {found:?}, expected {expected:?}; check the path, or convert the file to the format in the workload::model docs"
    )]
    BadMagic {
        /// "model" or "input".
        what: &'static str,
        /// The first bytes found.
        found: Vec<u8>,
        /// The magic expected.
        expected: &'static [u8],
    },
    /// The file ends early.
    #[error(
        "the file is truncated in {what}: {needed} more bytes needed, {available} left; the file was cut short or its header's dimensions are wrong"
    )]
    Truncated {
        /// Which part was being read.
        what: String,
        /// Bytes that part needs.
        needed: usize,
        /// Bytes left in the file.
        available: usize,
    },
    /// Bytes after the last layer (or the last value).
    #[error("{extra} bytes after the end of the data: the header's dimensions do not match the file")]
    TrailingBytes {
        /// Number of extra bytes.
        extra: usize,
    },
    /// A model needs at least one layer, and at most [`MAX_LAYERS`].
    #[error("the model has {layers} layers: a model has 1 to {MAX_LAYERS}")]
    LayerCount {
        /// Layers found.
        layers: usize,
    },
    /// A dimension out of range.
    #[error("{what} is {value}: dimensions must be 1 to {MAX_DIM}")]
    BadDimension {
        /// Which dimension (e.g. "layer 2 outputs").
        what: String,
        /// Its value.
        value: usize,
    },
    /// A layer does not take what the one before it gives.
    #[error(
        "layer {layer} takes {inputs} inputs but the layer before it gives {previous_outputs}: the layers do not chain"
    )]
    ShapeMismatch {
        /// Layer index, from 0.
        layer: usize,
        /// Its inputs.
        inputs: usize,
        /// The previous layer's outputs (or the input's columns, for layer 0).
        previous_outputs: usize,
    },
    /// A matmul-only layer gives int32 values, which no layer takes.
    #[error(
        "layer {layer} is a matmul-only layer (int32 output) but is not the last: only the last layer may skip requantisation"
    )]
    MatMulNotLast {
        /// Layer index.
        layer: usize,
    },
    /// An unknown layer kind byte.
    #[error("layer {layer} has kind {code}: use 0 (matmul only), 1 (requantise) or 2 (requantise + ReLU)")]
    UnknownKind {
        /// Layer index.
        layer: usize,
        /// The byte found.
        code: u8,
    },
    /// A shift beyond [`MAX_SHIFT`], or a shift on a matmul-only layer.
    #[error("layer {layer} has shift {shift}: requantising layers take 0 to {MAX_SHIFT}, matmul-only layers 0")]
    BadShift {
        /// Layer index.
        layer: usize,
        /// The shift found.
        shift: u8,
    },
    /// A weight or bias vector of the wrong length.
    #[error("layer {layer} has {found} {what}, expected {expected} for its shape")]
    WrongLength {
        /// Layer index.
        layer: usize,
        /// "weights" or "biases".
        what: &'static str,
        /// Length for the shape.
        expected: usize,
        /// Length given.
        found: usize,
    },
}

/// What a layer does after the matrix product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerKind {
    /// Nothing: the output is the int32 product (last layer only).
    MatMul,
    /// Add the bias, shift right with rounding, saturate to int8 (and ReLU).
    Requantise {
        /// Right shift, 0..=[`MAX_SHIFT`].
        shift: u8,
        /// Clamp at 0 instead of −128.
        relu: bool,
    },
}

impl LayerKind {
    /// The kind byte of the file format.
    pub fn code(self) -> u8 {
        match self {
            LayerKind::MatMul => 0,
            LayerKind::Requantise { relu: false, .. } => 1,
            LayerKind::Requantise { relu: true, .. } => 2,
        }
    }

    /// The shift (0 for matmul-only layers).
    pub fn shift(self) -> u8 {
        match self {
            LayerKind::MatMul => 0,
            LayerKind::Requantise { shift, .. } => shift,
        }
    }

    /// The lowest output value: 0 under ReLU, −128 otherwise (requantising layers).
    pub fn floor(self) -> i64 {
        match self {
            LayerKind::Requantise { relu: true, .. } => 0,
            _ => -128,
        }
    }
}

/// A layer's dimensions and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LayerShape {
    /// Columns of its input (rows of its weight matrix).
    pub inputs: usize,
    /// Columns of its output.
    pub outputs: usize,
    /// What follows the product.
    pub kind: LayerKind,
}

/// The shape of a whole workload: rows of the input and the layers, within the
/// limits (the circuit's soundness arguments rely on them). The circuit and its keys
/// are made for one shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkloadShape {
    rows: usize,
    layers: Vec<LayerShape>,
}

impl WorkloadShape {
    /// Checks the limits and that the layers chain.
    pub fn new(rows: usize, layers: Vec<LayerShape>) -> Result<Self, ModelError> {
        check_dim("rows".into(), rows)?;
        check_layers(&layers)?;
        Ok(WorkloadShape { rows, layers })
    }

    /// The plain matmul `rows×inner · inner×cols` with an int32 output.
    pub fn matmul(rows: usize, inner: usize, cols: usize) -> Result<Self, ModelError> {
        Self::new(rows, vec![LayerShape { inputs: inner, outputs: cols, kind: LayerKind::MatMul }])
    }

    /// Rows of the input (the batch, or `m` of an `m×k · k×n` matmul).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[LayerShape] {
        &self.layers
    }

    /// Multiply-accumulates of the whole workload: `Σ rows · inputs · outputs`.
    pub fn work_units(&self) -> u64 {
        self.layers.iter().map(|l| (self.rows * l.inputs * l.outputs) as u64).sum()
    }

    /// Columns of the input.
    pub fn input_cols(&self) -> usize {
        self.layers[0].inputs
    }

    /// The last layer.
    pub fn last(&self) -> &LayerShape {
        self.layers.last().expect("a shape has at least one layer")
    }
}

/// For messages: `2 rows through 6→5 (requantise >> 8, ReLU), 5→3 (matmul)`.
impl std::fmt::Display for WorkloadShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rows through ", self.rows)?;
        for (i, l) in self.layers.iter().enumerate() {
            let kind = match l.kind {
                LayerKind::MatMul => "matmul".to_owned(),
                LayerKind::Requantise { shift, relu: false } => format!("requantise >> {shift}"),
                LayerKind::Requantise { shift, relu: true } => format!("requantise >> {shift}, ReLU"),
            };
            write!(f, "{}{}→{} ({kind})", if i > 0 { ", " } else { "" }, l.inputs, l.outputs)?;
        }
        Ok(())
    }
}

fn check_dim(what: String, value: usize) -> Result<(), ModelError> {
    if (1..=MAX_DIM).contains(&value) { Ok(()) } else { Err(ModelError::BadDimension { what, value }) }
}

fn check_layers(layers: &[LayerShape]) -> Result<(), ModelError> {
    if !(1..=MAX_LAYERS).contains(&layers.len()) {
        return Err(ModelError::LayerCount { layers: layers.len() });
    }
    for (i, l) in layers.iter().enumerate() {
        check_dim(format!("layer {i} inputs"), l.inputs)?;
        check_dim(format!("layer {i} outputs"), l.outputs)?;
        if i > 0 && l.inputs != layers[i - 1].outputs {
            return Err(ModelError::ShapeMismatch {
                layer: i,
                inputs: l.inputs,
                previous_outputs: layers[i - 1].outputs,
            });
        }
        if l.kind == LayerKind::MatMul && i + 1 != layers.len() {
            return Err(ModelError::MatMulNotLast { layer: i });
        }
        if l.kind.shift() > MAX_SHIFT {
            return Err(ModelError::BadShift { layer: i, shift: l.kind.shift() });
        }
    }
    Ok(())
}

/// One layer: its shape, weights (`inputs × outputs`, row-major) and biases
/// (`outputs` of them; none for a matmul-only layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Dimensions and kind.
    pub shape: LayerShape,
    /// `W[i][o]` at `i·outputs + o`.
    pub weights: Vec<i8>,
    /// One per output (empty for [`LayerKind::MatMul`]).
    pub bias: Vec<i32>,
}

/// A validated model: layers that chain, within the limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    layers: Vec<Layer>,
}

impl Model {
    /// Checks the layers (limits, chaining, lengths) and makes a model of them.
    pub fn new(layers: Vec<Layer>) -> Result<Self, ModelError> {
        check_layers(&layers.iter().map(|l| l.shape).collect::<Vec<_>>())?;
        for (i, l) in layers.iter().enumerate() {
            let weights = l.shape.inputs * l.shape.outputs;
            if l.weights.len() != weights {
                return Err(ModelError::WrongLength {
                    layer: i,
                    what: "weights",
                    expected: weights,
                    found: l.weights.len(),
                });
            }
            let biases = if l.shape.kind == LayerKind::MatMul { 0 } else { l.shape.outputs };
            if l.bias.len() != biases {
                return Err(ModelError::WrongLength {
                    layer: i,
                    what: "biases",
                    expected: biases,
                    found: l.bias.len(),
                });
            }
        }
        Ok(Model { layers })
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The workload shape of this model applied to `rows` input rows.
    pub fn shape(&self, rows: usize) -> Result<WorkloadShape, ModelError> {
        WorkloadShape::new(rows, self.layers.iter().map(|l| l.shape).collect())
    }

    /// The model commitment (see [`commitment`](super::commitment)): what a
    /// workload statement names the model by.
    pub fn commitment(&self) -> Fr {
        let weights: Vec<Vec<Fr>> =
            self.layers.iter().map(|l| l.weights.iter().map(|&w| Fr::from(w)).collect()).collect();
        let bias: Vec<Vec<Fr>> = self.layers.iter().map(|l| l.bias.iter().map(|&b| Fr::from(b)).collect()).collect();
        let shapes: Vec<LayerShape> = self.layers.iter().map(|l| l.shape).collect();
        commitment::commit(Tag::Model, &commitment::model_elements(&shapes, &weights, &bias))
    }

    /// Parses a model file.
    pub fn parse(bytes: &[u8]) -> Result<Self, ModelError> {
        let mut r = Reader { bytes, at: 0 };
        r.magic("model", MODEL_MAGIC)?;
        let count = r.u32("the layer count")? as usize;
        if !(1..=MAX_LAYERS).contains(&count) {
            return Err(ModelError::LayerCount { layers: count });
        }
        let mut layers = Vec::with_capacity(count);
        for i in 0..count {
            let inputs = r.u32(&format!("layer {i}'s header"))? as usize;
            let outputs = r.u32(&format!("layer {i}'s header"))? as usize;
            check_dim(format!("layer {i} inputs"), inputs)?;
            check_dim(format!("layer {i} outputs"), outputs)?;
            let code = r.take(1, &format!("layer {i}'s header"))?[0];
            let shift = r.take(1, &format!("layer {i}'s header"))?[0];
            let kind = match code {
                0 if shift == 0 => LayerKind::MatMul,
                0 => return Err(ModelError::BadShift { layer: i, shift }),
                1 | 2 => LayerKind::Requantise { shift, relu: code == 2 },
                _ => return Err(ModelError::UnknownKind { layer: i, code }),
            };
            let weights = r.take(inputs * outputs, &format!("layer {i}'s weights"))?.iter().map(|&b| b as i8).collect();
            let bias = if kind == LayerKind::MatMul {
                Vec::new()
            } else {
                r.take(outputs * 4, &format!("layer {i}'s biases"))?
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().expect("chunks of 4")))
                    .collect()
            };
            layers.push(Layer { shape: LayerShape { inputs, outputs, kind }, weights, bias });
        }
        r.end()?;
        Model::new(layers)
    }

    /// The model file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MODEL_MAGIC.to_vec();
        out.extend((self.layers.len() as u32).to_le_bytes());
        for l in &self.layers {
            out.extend((l.shape.inputs as u32).to_le_bytes());
            out.extend((l.shape.outputs as u32).to_le_bytes());
            out.push(l.shape.kind.code());
            out.push(l.shape.kind.shift());
            out.extend(l.weights.iter().map(|&w| w as u8));
            out.extend(l.bias.iter().flat_map(|b| b.to_le_bytes()));
        }
        out
    }
}

/// A row-major matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matrix<T> {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows · cols` values, row-major.
    pub values: Vec<T>,
}

impl Matrix<i8> {
    /// An int8 matrix; dimensions must be 1..=[`MAX_DIM`] and match the values.
    pub fn new(rows: usize, cols: usize, values: Vec<i8>) -> Result<Self, ModelError> {
        check_dim("input rows".into(), rows)?;
        check_dim("input columns".into(), cols)?;
        if values.len() != rows * cols {
            return Err(ModelError::Truncated {
                what: "the input values".into(),
                needed: rows * cols,
                available: values.len(),
            });
        }
        Ok(Matrix { rows, cols, values })
    }

    /// Parses an input file.
    pub fn parse(bytes: &[u8]) -> Result<Self, ModelError> {
        let mut r = Reader { bytes, at: 0 };
        r.magic("input", INPUT_MAGIC)?;
        let rows = r.u32("the input header")? as usize;
        let cols = r.u32("the input header")? as usize;
        check_dim("input rows".into(), rows)?;
        check_dim("input columns".into(), cols)?;
        let values = r.take(rows * cols, "the input values")?.iter().map(|&b| b as i8).collect();
        r.end()?;
        Matrix::new(rows, cols, values)
    }

    /// The input file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = INPUT_MAGIC.to_vec();
        out.extend((self.rows as u32).to_le_bytes());
        out.extend((self.cols as u32).to_le_bytes());
        out.extend(self.values.iter().map(|&v| v as u8));
        out
    }

    /// The input commitment: what a workload statement names the input by.
    pub fn commitment(&self) -> Fr {
        let values: Vec<Fr> = self.values.iter().map(|&v| Fr::from(v)).collect();
        commitment::commit(Tag::Input, &commitment::input_elements(self.rows, self.cols, &values))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ModelError> {
        let available = self.bytes.len() - self.at;
        if n > available {
            return Err(ModelError::Truncated { what: what.into(), needed: n, available });
        }
        self.at += n;
        Ok(&self.bytes[self.at - n..self.at])
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")))
    }

    fn magic(&mut self, what: &'static str, expected: &'static [u8; 8]) -> Result<(), ModelError> {
        let found = &self.bytes[..self.bytes.len().min(8)];
        if found != expected {
            return Err(ModelError::BadMagic { what, found: found.to_vec(), expected });
        }
        self.at = 8;
        Ok(())
    }

    fn end(&self) -> Result<(), ModelError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            extra => Err(ModelError::TrailingBytes { extra }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::new(vec![
            Layer {
                shape: LayerShape { inputs: 3, outputs: 2, kind: LayerKind::Requantise { shift: 4, relu: true } },
                weights: vec![1, -2, 3, -128, 127, 0],
                bias: vec![-70_000, i32::MAX],
            },
            Layer {
                shape: LayerShape { inputs: 2, outputs: 1, kind: LayerKind::MatMul },
                weights: vec![5, -6],
                bias: vec![],
            },
        ])
        .unwrap()
    }

    #[test]
    fn files_round_trip() {
        let m = model();
        assert_eq!(Model::parse(&m.to_bytes()).unwrap(), m);
        let x = Matrix::new(2, 3, vec![-128, 0, 127, 1, 2, 3]).unwrap();
        assert_eq!(Matrix::parse(&x.to_bytes()).unwrap(), x);
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let bytes = model().to_bytes();
        assert!(matches!(Model::parse(b"ZKMINPT\x01"), Err(ModelError::BadMagic { what: "model", .. })));
        let cut = Model::parse(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(cut, ModelError::Truncated { what: "layer 1's weights".into(), needed: 2, available: 1 });
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Model::parse(&long).unwrap_err(), ModelError::TrailingBytes { extra: 1 });
        let mut kind = bytes.clone();
        kind[12 + 8] = 7;
        assert_eq!(Model::parse(&kind).unwrap_err(), ModelError::UnknownKind { layer: 0, code: 7 });
        let mut shift = bytes.clone();
        shift[12 + 9] = MAX_SHIFT + 1;
        assert_eq!(Model::parse(&shift).unwrap_err(), ModelError::BadShift { layer: 0, shift: MAX_SHIFT + 1 });
        let mut zero = bytes.clone();
        zero[12..16].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(Model::parse(&zero), Err(ModelError::BadDimension { .. })));
    }

    #[test]
    fn shapes_must_chain_and_matmul_comes_last() {
        let mut layers = model().layers().to_vec();
        layers.swap(0, 1);
        assert_eq!(Model::new(layers).unwrap_err(), ModelError::MatMulNotLast { layer: 0 });
        let mut layers = model().layers().to_vec();
        layers[0].bias.pop();
        assert_eq!(
            Model::new(layers).unwrap_err(),
            ModelError::WrongLength { layer: 0, what: "biases", expected: 2, found: 1 }
        );
        let shape = LayerShape { inputs: 2, outputs: 2, kind: LayerKind::MatMul };
        assert_eq!(WorkloadShape::new(1, vec![shape, shape]).unwrap_err(), ModelError::MatMulNotLast { layer: 0 });
        assert_eq!(WorkloadShape::matmul(4, 5, 6).unwrap().work_units(), 120);
    }
}
