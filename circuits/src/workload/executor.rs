//! Running a workload natively: [`infer`] computes the output on the CPU,
//! [`execute`] also keeps every layer's accumulators (the circuit's witness) and the
//! statement's commitments.
//!
//! [`evaluate`] is the circuit's arithmetic done natively over field elements, from
//! whatever witness it is given: honest witnesses give what [`execute`] gives (the
//! tests check it), tampered ones give the statement the tampered witness would
//! prove, which is what the soundness tests claim.

use ark_bn254::Fr;
use ark_ff::{BigInteger, Field, PrimeField, Zero};

use super::commitment::{self, Tag};
use super::model::{LayerKind, Matrix, Model, ModelError, WorkloadShape};
use super::statement::WorkloadStatement;

/// Why a workload cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecError {
    /// The input does not fit the model.
    #[error(
        "the input has {found} columns but the model's first layer takes {expected}: give it an input of that width"
    )]
    InputWidth {
        /// The first layer's inputs.
        expected: usize,
        /// The input's columns.
        found: usize,
    },
    /// The input and the model together exceed the limits.
    #[error(transparent)]
    Shape(#[from] ModelError),
    /// `X·W + bias` left int32.
    #[error(
        "layer {layer}, row {row}, column {col}: X·W + bias = {value} does not fit in int32; the workload overflows (no proof can claim it): use smaller biases or weights"
    )]
    Int32Overflow {
        /// Layer index.
        layer: usize,
        /// Row of the output.
        row: usize,
        /// Column of the output.
        col: usize,
        /// The exact sum.
        value: i64,
    },
}

/// A workload's output: int32 after a matmul-only last layer, int8 otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// After a requantising last layer.
    Int8(Matrix<i8>),
    /// After a matmul-only last layer.
    Int32(Matrix<i32>),
}

impl Output {
    /// The values as signed field elements, row-major.
    pub fn field_values(&self) -> Vec<Fr> {
        match self {
            Output::Int8(m) => m.values.iter().map(|&v| Fr::from(v)).collect(),
            Output::Int32(m) => m.values.iter().map(|&v| Fr::from(v)).collect(),
        }
    }

    /// The output commitment of these values as the output of a workload of `shape`
    /// (what a statement names the output by).
    pub fn commitment(&self, shape: &WorkloadShape) -> Fr {
        commitment::commit(Tag::Output, &commitment::output_elements(shape.rows(), shape.last(), &self.field_values()))
    }
}

/// The private witness of [`super::WorkloadCircuit`]: signed values as field
/// elements (−1 is r − 1), so the tests can assign what no int8 or int32 holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadWitness {
    /// The input, `rows × inputs` of layer 0, row-major.
    pub input: Vec<Fr>,
    /// One per layer.
    pub layers: Vec<LayerWitness>,
}

/// One layer's witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerWitness {
    /// `inputs × outputs`, row-major.
    pub weights: Vec<Fr>,
    /// `outputs` biases (none for a matmul-only layer).
    pub bias: Vec<Fr>,
    /// `X·W`, `rows × outputs`, row-major: what the prover claims the product is.
    pub acc: Vec<Fr>,
}

/// A workload run: its output, the witness, and the statement's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The output.
    pub output: Output,
    /// Everything the circuit needs besides the statement.
    pub witness: WorkloadWitness,
    /// The workload's shape (the circuit's).
    pub shape: WorkloadShape,
    /// Model commitment.
    pub model_commitment: Fr,
    /// Input commitment.
    pub input_commitment: Fr,
    /// Output commitment.
    pub output_commitment: Fr,
}

impl Execution {
    /// The statement a proof of this run makes for job `job_id`.
    pub fn statement(&self, job_id: u64) -> WorkloadStatement {
        WorkloadStatement {
            job_id,
            model: self.model_commitment,
            input: self.input_commitment,
            output: self.output_commitment,
            work_units: self.shape.work_units(),
        }
    }
}

/// `X·W` of a `rows × inner` and an `inner × cols` int8 matrix, exactly (|each sum| ≤
/// 2^30 within the dimension limits). Single-threaded.
pub fn matmul(x: &[i8], w: &[i8], rows: usize, inner: usize, cols: usize) -> Vec<i32> {
    let mut out = vec![0i32; rows * cols];
    for (x_row, out_row) in x.chunks_exact(inner).zip(out.chunks_exact_mut(cols)) {
        for (&a, w_row) in x_row.iter().zip(w.chunks_exact(cols)) {
            let a = i32::from(a);
            for (o, &b) in out_row.iter_mut().zip(w_row) {
                *o += a * i32::from(b);
            }
        }
    }
    out
}

/// The requantisation rule of [`super::model`]: `clamp(⌊(z + 2^(shift−1)) / 2^shift⌋,
/// floor, 127)` (no rounding term for shift 0).
pub fn requantise(z: i64, shift: u8, floor: i64) -> i8 {
    let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
    ((z + half) >> shift).clamp(floor, 127) as i8
}

/// Runs `model` on `input` and returns the output and each layer's `X·W`.
fn forward(model: &Model, input: &Matrix<i8>) -> Result<(Output, Vec<Vec<i32>>), ExecError> {
    let first = &model.layers()[0].shape;
    if input.cols != first.inputs {
        return Err(ExecError::InputWidth { expected: first.inputs, found: input.cols });
    }
    model.shape(input.rows)?;
    let rows = input.rows;
    let mut x = input.values.clone();
    let mut accs = Vec::with_capacity(model.layers().len());
    for (index, layer) in model.layers().iter().enumerate() {
        let (k, n) = (layer.shape.inputs, layer.shape.outputs);
        let acc = matmul(&x, &layer.weights, rows, k, n);
        if let LayerKind::Requantise { shift, .. } = layer.shape.kind {
            let floor = layer.shape.kind.floor();
            x = Vec::with_capacity(rows * n);
            for (e, &a) in acc.iter().enumerate() {
                let z = i64::from(a) + i64::from(layer.bias[e % n]);
                if i32::try_from(z).is_err() {
                    return Err(ExecError::Int32Overflow { layer: index, row: e / n, col: e % n, value: z });
                }
                x.push(requantise(z, shift, floor));
            }
        }
        accs.push(acc);
    }
    let cols = model.layers().last().expect("a model has layers").shape.outputs;
    let output = match model.layers().last().expect("a model has layers").shape.kind {
        LayerKind::MatMul => Output::Int32(Matrix { rows, cols, values: accs.last().expect("one per layer").clone() }),
        LayerKind::Requantise { .. } => Output::Int8(Matrix { rows, cols, values: x }),
    };
    Ok((output, accs))
}

/// The workload itself: `model` applied to `input`, on one CPU core.
pub fn infer(model: &Model, input: &Matrix<i8>) -> Result<Output, ExecError> {
    Ok(forward(model, input)?.0)
}

/// Runs the workload and keeps what a proof needs: the witness and the commitments.
pub fn execute(model: &Model, input: &Matrix<i8>) -> Result<Execution, ExecError> {
    let (output, accs) = forward(model, input)?;
    let shape = model.shape(input.rows)?;
    let fr8 = |v: &[i8]| v.iter().map(|&x| Fr::from(x)).collect::<Vec<_>>();
    let witness = WorkloadWitness {
        input: fr8(&input.values),
        layers: model
            .layers()
            .iter()
            .zip(&accs)
            .map(|(l, acc)| LayerWitness {
                weights: fr8(&l.weights),
                bias: l.bias.iter().map(|&b| Fr::from(b)).collect(),
                acc: acc.iter().map(|&a| Fr::from(a)).collect(),
            })
            .collect(),
    };
    let output_commitment = output.commitment(&shape);
    Ok(Execution {
        output,
        witness,
        shape,
        model_commitment: model.commitment(),
        input_commitment: input.commitment(),
        output_commitment,
    })
}

/// The circuit's values, computed natively from a witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// Model commitment of the witness's weights and biases.
    pub model: Fr,
    /// Input commitment of the witness's input.
    pub input: Fr,
    /// Output commitment of what the circuit computes as the output.
    pub output: Fr,
    /// Each layer's output: `y` of a requantising layer, `acc` of a matmul-only one.
    pub outputs: Vec<Vec<Fr>>,
    /// Each layer's accumulator commitment (over `z = acc + bias`; requantising
    /// layers only).
    pub accumulators: Vec<Option<Fr>>,
}

impl Evaluation {
    /// The statement these values prove for `job_id`.
    pub fn statement(&self, shape: &WorkloadShape, job_id: u64) -> WorkloadStatement {
        WorkloadStatement {
            job_id,
            model: self.model,
            input: self.input,
            output: self.output,
            work_units: shape.work_units(),
        }
    }
}

/// Computes, over the field and as the circuit does, the commitments and outputs a
/// witness proves (the accumulators are taken as the witness claims them).
pub fn evaluate(shape: &WorkloadShape, witness: &WorkloadWitness) -> Evaluation {
    let layers: Vec<_> = shape.layers().to_vec();
    let weights: Vec<Vec<Fr>> = witness.layers.iter().map(|l| l.weights.clone()).collect();
    let bias: Vec<Vec<Fr>> = witness.layers.iter().map(|l| l.bias.clone()).collect();
    let mut outputs = Vec::new();
    let mut accumulators = Vec::new();
    for (layer, w) in layers.iter().zip(&witness.layers) {
        match layer.kind {
            LayerKind::MatMul => {
                outputs.push(w.acc.clone());
                accumulators.push(None);
            }
            LayerKind::Requantise { shift, .. } => {
                let stored: Vec<Fr> = w
                    .acc
                    .iter()
                    .enumerate()
                    .map(|(e, a)| *a + w.bias[e % layer.outputs] + commitment::int32_offset())
                    .collect();
                outputs.push(stored.iter().map(|u| Requant::of(*u, shift, layer.kind.floor()).y).collect());
                let z: Vec<Fr> = stored.iter().map(|u| *u - commitment::int32_offset()).collect();
                accumulators.push(Some(commitment::commit(Tag::Accumulator, &commitment::pack_int32(&z))));
            }
        }
    }
    let last = shape.last();
    Evaluation {
        model: commitment::commit(Tag::Model, &commitment::model_elements(&layers, &weights, &bias)),
        input: commitment::commit(
            Tag::Input,
            &commitment::input_elements(shape.rows(), shape.input_cols(), &witness.input),
        ),
        output: commitment::commit(
            Tag::Output,
            &commitment::output_elements(shape.rows(), last, outputs.last().expect("one per layer")),
        ),
        outputs,
        accumulators,
    }
}

/// The signed integer a field element stands for, if it is within ±2^126.
pub(crate) fn signed(v: Fr) -> Option<i128> {
    let bound = Fr::from(2u64).pow([126]);
    let bits = |x: Fr| x.into_bigint().to_bits_le();
    let small = |x: Fr| -> i128 { bits(x).iter().take(127).rev().fold(0i128, |acc, b| (acc << 1) | i128::from(*b)) };
    if v.into_bigint() < bound.into_bigint() {
        Some(small(v))
    } else if (-v).into_bigint() < bound.into_bigint() {
        Some(-small(-v))
    } else {
        None
    }
}

/// The field element of a small signed integer.
pub(crate) fn fr(v: i128) -> Fr {
    if v < 0 { -Fr::from(v.unsigned_abs()) } else { Fr::from(v as u128) }
}

/// One requantised element, every value the circuit assigns for it, from
/// `stored = X·W + bias + 2^31`. Out-of-range values are split so the circuit's
/// linear relations still hold and only its range checks can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Requant {
    /// `stored mod 2^(shift−1)`.
    pub rest: Fr,
    /// Bit `shift − 1` of `stored` (the rounding bit).
    pub round: Fr,
    /// `⌊stored / 2^shift⌋`.
    pub high: Fr,
    /// `y`.
    pub y: Fr,
}

impl Requant {
    pub(crate) fn of(stored: Fr, shift: u8, floor: i64) -> Self {
        let s = u32::from(shift);
        let (rest, round, high) = match signed(stored) {
            Some(u) if s > 0 => {
                let low = u.rem_euclid(1 << s);
                (fr(low & ((1 << (s - 1)) - 1)), fr(low >> (s - 1)), fr((u - low) >> s))
            }
            _ if s == 0 => (Fr::zero(), Fr::zero(), stored),
            _ => (Fr::zero(), Fr::zero(), stored * Fr::from(2u64).pow([u64::from(s)]).inverse().expect("2^s ≠ 0")),
        };
        let q = quotient(high, round, shift);
        let (below, above) = clamp_flags(q, floor);
        Requant { rest, round, high, y: clamped(q, below, above, floor) }
    }
}

/// `q = high − 2^(31−shift) + round`: `⌊(z + 2^(shift−1)) / 2^shift⌋`.
pub(crate) fn quotient(high: Fr, round: Fr, shift: u8) -> Fr {
    high - Fr::from(1u64 << (31 - shift)) + round
}

/// Whether `q` is below `floor` and whether it is above 127 (both 0 for a value
/// that is no small integer; the range checks then fail).
pub(crate) fn clamp_flags(q: Fr, floor: i64) -> (Fr, Fr) {
    match signed(q) {
        Some(q) => (Fr::from(q < i128::from(floor)), Fr::from(q > 127)),
        None => (Fr::zero(), Fr::zero()),
    }
}

/// `y = q + below·floor + above·127 − (below + above)·q`.
pub(crate) fn clamped(q: Fr, below: Fr, above: Fr, floor: i64) -> Fr {
    q + below * fr(i128::from(floor)) + above * Fr::from(127u64) - (below + above) * q
}
