//! [`WorkloadCircuit`]: the workload statement as R1CS, and the [`Plan`] that picks,
//! per layer, the direct product or Freivalds' check.
//!
//! Read [`WorkloadCircuit::generate_constraints`] top to bottom: public input 3 is
//! unpacked, the input, weights and biases are unpacked into range-checked values
//! and committed to, each layer's claimed `X·W` is range-checked and requantised,
//! the output is committed to, and last every layer's product is checked: directly,
//! or by Freivalds' check against a challenge hashed from all the commitments.
//!
//! Constraints, for a layer `rows × k · k × n` with shift `s` (pinned by the tests
//! against [`Plan::constraints`]):
//!
//! | what | constraints |
//! |---|---|
//! | unpack weights, biases | `8·k·n + 32·n` |
//! | direct product (the last product of each sum absorbs the equality) | `rows·k·n` |
//! | Freivalds: `W·v` (Horner), `X·(W·v)`, `acc·v` (Horner) | `k·(n−1) + rows·k + rows·(n−1)` |
//! | matmul-only layer under Freivalds: range check of each output to `±2^(15 + ⌊log2 k⌋)` (`|acc| ≤ k·2^14`) | `(16 + ⌊log2 k⌋)·rows·n` |
//! | requantising layer: `z` (32 bits), clamp (2 flags, 2 slacks of `32−s` bits, 3 products) | `rows·n·(32 + 2·(32−s) + 5)` |
//! | requantising layer under Freivalds: commitment to `z` | `⌈⌈rows·n/7⌉/11⌉ · 507` |
//!
//! and once: 65 for public input 3, `8` per input value, the model, input and output
//! commitments (507 per 11 packed elements, +1 each to tie them to the public
//! inputs), and with any Freivalds layer the challenge (507 per 11 commitments, +1).
//! A direct product costs one constraint per multiply-accumulate; Freivalds costs
//! `(k·n + rows·k + rows·n)/(rows·k·n)` per multiply-accumulate (3/64 at 64³), plus the
//! range checks and commitments it needs for the values it does not compute.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field, One};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use super::commitment::{self, INT8_PER_ELEMENT, INT32_PER_ELEMENT, Tag, commit_gadget, pack_gadget};
use super::executor::{Evaluation, Requant, WorkloadWitness, clamp_flags, fr};
use super::model::{LayerKind, LayerShape, MAX_DIM, WorkloadShape};
use super::statement::{JOB_ID_BITS, WORKLOAD_PUBLIC_INPUTS, WorkloadStatement, pack_job};
use crate::num::{Num, enforce_equal, enforce_product, product};
use crate::range_check::{alloc_bits, alloc_boolean};

/// Start of every workload circuit id (see [`Plan::circuit_id`]).
pub const WORKLOAD_CIRCUIT_PREFIX: &str = "zkmeter.workload.v1:";

/// How a layer's product `acc = X·W` is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Every product `X[i][l]·W[l][j]` in the circuit: `rows·k·n` constraints.
    Direct,
    /// `X·(W·v) = acc·v` for `v = (1, ρ, ρ², …)`, `ρ` hashed from the commitments.
    Freivalds,
}

/// A workload shape and the method of each layer: what a circuit (and its keys) is
/// made for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Plan {
    shape: WorkloadShape,
    methods: Vec<Method>,
}

impl Plan {
    /// The cheapest plan by constraint count: each layer takes the method that costs
    /// it less, and if the challenge that Freivalds layers share makes that dearer
    /// than all-direct, all layers are direct.
    pub fn auto(shape: WorkloadShape) -> Self {
        let methods = shape
            .layers()
            .iter()
            .map(|l| {
                let cost = |m| layer_constraints(shape.rows(), l, m);
                if cost(Method::Freivalds) < cost(Method::Direct) { Method::Freivalds } else { Method::Direct }
            })
            .collect();
        let mixed = Plan { methods, shape: shape.clone() };
        let direct = Self::with_methods(shape, vec![Method::Direct; mixed.methods.len()]);
        if mixed.constraints() < direct.constraints() { mixed } else { direct }
    }

    /// A plan with the given method for each layer.
    pub fn with_methods(shape: WorkloadShape, methods: Vec<Method>) -> Self {
        assert_eq!(shape.layers().len(), methods.len(), "one method per layer");
        Plan { shape, methods }
    }

    /// The workload shape.
    pub fn shape(&self) -> &WorkloadShape {
        &self.shape
    }

    /// Each layer's method.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// Whether any layer uses Freivalds' check (and so the circuit draws a challenge).
    pub fn draws_challenge(&self) -> bool {
        self.methods.contains(&Method::Freivalds)
    }

    /// A name for the circuit: `zkmeter.workload.v1:<rows>` then per layer
    /// `:<inputs>x<outputs><kind><method>`, kind `m` (matmul only), `q<shift>`
    /// (requantise) or `r<shift>` (requantise + ReLU), method `d` or `f`. Keys and
    /// registries tell circuits apart by it (the shape is fixed by the key, not a
    /// public input).
    pub fn circuit_id(&self) -> String {
        let mut id = format!("{WORKLOAD_CIRCUIT_PREFIX}{}", self.shape.rows());
        for (l, m) in self.shape.layers().iter().zip(&self.methods) {
            let kind = match l.kind {
                LayerKind::MatMul => "m".to_string(),
                LayerKind::Requantise { shift, relu: false } => format!("q{shift}"),
                LayerKind::Requantise { shift, relu: true } => format!("r{shift}"),
            };
            let method = if *m == Method::Direct { 'd' } else { 'f' };
            id.push_str(&format!(":{}x{}{kind}{method}", l.inputs, l.outputs));
        }
        id
    }

    /// R1CS constraints of the circuit (the table in the module doc).
    pub fn constraints(&self) -> usize {
        let shape = &self.shape;
        let rows = shape.rows();
        let inputs = rows * shape.input_cols();
        let model_elements: usize = shape
            .layers()
            .iter()
            .map(|l| {
                1 + commitment::int8_elements(l.inputs * l.outputs)
                    + requantises(l) * commitment::int32_elements(l.outputs)
            })
            .sum();
        let last = shape.last();
        let output_elements = 1 + match last.kind {
            LayerKind::MatMul => commitment::int32_elements(rows * last.outputs),
            LayerKind::Requantise { .. } => commitment::int8_elements(rows * last.outputs),
        };
        let layers: usize = shape.layers().iter().zip(&self.methods).map(|(l, m)| layer_constraints(rows, l, *m)).sum();
        let challenge = if self.draws_challenge() {
            let accumulators = self.freivalds_requantising().count();
            commitment::commit_constraints(3 + accumulators) + 1
        } else {
            0
        };
        JOB_ID_BITS
            + 1
            + 8 * inputs
            + commitment::commit_constraints(1 + commitment::int8_elements(inputs))
            + 1
            + commitment::commit_constraints(model_elements)
            + 1
            + layers
            + commitment::commit_constraints(output_elements)
            + 1
            + challenge
    }

    fn freivalds_requantising(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.methods.len())
            .filter(|&i| self.methods[i] == Method::Freivalds && self.shape.layers()[i].kind != LayerKind::MatMul)
    }

    /// The Freivalds challenge the circuit draws for these values (`None` if no
    /// layer uses Freivalds' check).
    pub fn challenge(&self, e: &Evaluation) -> Option<Fr> {
        self.draws_challenge().then(|| {
            let mut transcript = vec![e.model, e.input, e.output];
            transcript.extend(
                self.freivalds_requantising().map(|i| e.accumulators[i].expect("requantising layers have one")),
            );
            commitment::commit(Tag::Challenge, &transcript)
        })
    }
}

/// A circuit id that does not name a workload circuit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{id:?} is not a workload circuit id ({reason}): ids look like {WORKLOAD_CIRCUIT_PREFIX}2:4x3md, as `zkmeter workload setup` prints them")]
pub struct CircuitIdError {
    /// The id given.
    pub id: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Reads a [`Plan::circuit_id`] back: a verifier finds a proof's key by it, and a
/// key's header says with it which setup makes the key again.
impl std::str::FromStr for Plan {
    type Err = CircuitIdError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| CircuitIdError { id: id.to_owned(), reason };
        let rest = id.strip_prefix(WORKLOAD_CIRCUIT_PREFIX).ok_or_else(|| bad(format!("no {WORKLOAD_CIRCUIT_PREFIX} prefix")))?;
        let mut parts = rest.split(':');
        let rows = parts.next().and_then(|r| r.parse().ok()).ok_or_else(|| bad("no row count".into()))?;
        let mut layers = Vec::new();
        let mut methods = Vec::new();
        for part in parts {
            let layer = || bad(format!("layer {part:?} is not <inputs>x<outputs><m|q<shift>|r<shift>><d|f>"));
            let (body, method) = match part.strip_suffix('d') {
                Some(body) => (body, Method::Direct),
                None => (part.strip_suffix('f').ok_or_else(layer)?, Method::Freivalds),
            };
            let (inputs, rest) = body.split_once('x').ok_or_else(layer)?;
            let kind_at = rest.find(['m', 'q', 'r']).ok_or_else(layer)?;
            let (outputs, kind) = rest.split_at(kind_at);
            let kind = match (kind.as_bytes()[0], &kind[1..]) {
                (b'm', "") => LayerKind::MatMul,
                (b'q' | b'r', shift) => LayerKind::Requantise {
                    shift: shift.parse().map_err(|_| layer())?,
                    relu: kind.starts_with('r'),
                },
                _ => return Err(layer()),
            };
            let inputs = inputs.parse().map_err(|_| layer())?;
            let outputs = outputs.parse().map_err(|_| layer())?;
            layers.push(LayerShape { inputs, outputs, kind });
            methods.push(method);
        }
        let shape = WorkloadShape::new(rows, layers).map_err(|e| bad(e.to_string()))?;
        Ok(Plan::with_methods(shape, methods))
    }
}

fn requantises(l: &LayerShape) -> usize {
    usize::from(l.kind != LayerKind::MatMul)
}

/// Bits `b` of the range check `acc + 2^(b−1) ∈ [0, 2^b)` on a sum of `k` int8
/// products: `|acc| ≤ k·2^14 < 2^(15 + ⌊log2 k⌋) = 2^(b−1)`, so honest sums pass, and
/// `b ≤ 32` within the dimension limits, so whatever passes is an int32 and the
/// output's packing stays injective.
fn product_bits(k: usize) -> usize {
    16 + k.ilog2() as usize
}

// Freivalds' range check on a matmul-only output stays within int32.
const _: () = assert!(16 + MAX_DIM.ilog2() <= 32);

/// Constraints of one layer (unpacking its weights and biases included).
fn layer_constraints(rows: usize, l: &LayerShape, method: Method) -> usize {
    let (m, k, n) = (rows, l.inputs, l.outputs);
    let unpack = 8 * k * n + 32 * n * requantises(l);
    let check = match method {
        Method::Direct => m * k * n,
        Method::Freivalds => k * (n - 1) + m * k + m * (n - 1),
    };
    let claimed = match (l.kind, method) {
        (LayerKind::MatMul, Method::Direct) => 0,
        (LayerKind::MatMul, Method::Freivalds) => product_bits(k) * m * n,
        (LayerKind::Requantise { shift, .. }, _) => {
            let commit = if method == Method::Freivalds {
                commitment::commit_constraints(commitment::int32_elements(m * n))
            } else {
                0
            };
            m * n * (32 + 2 * (32 - usize::from(shift)) + 5) + commit
        }
    };
    unpack + check + claimed
}

/// The workload circuit for one [`Plan`]. Without an assignment (for key
/// generation) it only shapes the constraint system.
#[derive(Clone, Debug)]
pub struct WorkloadCircuit {
    plan: Plan,
    assignment: Option<Assignment>,
}

#[derive(Clone, Debug)]
struct Assignment {
    public: [Fr; WORKLOAD_PUBLIC_INPUTS],
    job_id: Fr,
    witness: WorkloadWitness,
    faults: Vec<Fault>,
}

/// A deliberate error in one internal value the prover assigns, for soundness
/// tests. The values computed from the faulty one follow it, so only the constraint
/// that defines that value can notice: a test that injects a fault and expects the
/// constraint system to be unsatisfied fails if that constraint is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Which value.
    pub site: FaultSite,
    /// Added to the honest value.
    pub delta: Fr,
}

/// The internal values a [`Fault`] can shift. `element` indexes a layer's output
/// row-major (`row·outputs + col`); `term` is `l` in `Σ_l X[row][l]·…` (not the last
/// one, which the sum's equality absorbs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultSite {
    /// The Freivalds challenge ρ (the prover picks its own).
    Challenge,
    /// Direct: the product `X[row][term]·W[term][col]` of output `element`.
    Product {
        /// Layer.
        layer: usize,
        /// Output element.
        element: usize,
        /// Term of the sum.
        term: usize,
    },
    /// Freivalds: the product `X[row][term]·(W·v)[term]`.
    FreivaldsProduct {
        /// Layer.
        layer: usize,
        /// Row of X.
        row: usize,
        /// Term of the sum.
        term: usize,
    },
    /// Freivalds: the last Horner product of `(W·v)[row]`.
    WeightsHorner {
        /// Layer.
        layer: usize,
        /// Row of W.
        row: usize,
    },
    /// Freivalds: the last Horner product of `(acc·v)[row]`.
    AccumulatorHorner {
        /// Layer.
        layer: usize,
        /// Row of acc.
        row: usize,
    },
    /// Requantisation: the quotient raised by `delta` by borrowing `delta·2^s` from
    /// the remainder (`z` unchanged).
    Remainder {
        /// Layer.
        layer: usize,
        /// Output element.
        element: usize,
    },
    /// Requantisation: the quotient raised by `delta` through the rounding bit
    /// (`round += 2·delta`, `high −= delta`; `z` unchanged).
    RoundBit {
        /// Layer.
        layer: usize,
        /// Output element.
        element: usize,
    },
    /// Clamp: the "below the floor" flag.
    Below {
        /// Layer.
        layer: usize,
        /// Output element.
        element: usize,
    },
    /// Clamp: the "above 127" flag.
    Above {
        /// Layer.
        layer: usize,
        /// Output element.
        element: usize,
    },
    /// Clamp: the slack that shows the floor side.
    LowSlack {
        /// Layer.
        layer: usize,
        /// Output element.
        element: usize,
    },
    /// Clamp: the slack that shows the 127 side.
    HighSlack {
        /// Layer.
        layer: usize,
        /// Output element.
        element: usize,
    },
    /// Clamp: `(below + above)·q`.
    Select {
        /// Layer.
        layer: usize,
        /// Output element.
        element: usize,
    },
}

impl WorkloadCircuit {
    /// The shape only, for setup and for the key digest.
    pub fn setup(plan: Plan) -> Self {
        WorkloadCircuit { plan, assignment: None }
    }

    /// A circuit assigned to prove `statement` with `witness`.
    pub fn assigned(plan: Plan, statement: &WorkloadStatement, witness: WorkloadWitness) -> Self {
        Self::claiming(plan, statement.public_inputs(), Fr::from(statement.job_id), witness)
    }

    /// A circuit whose public inputs are `public` while the prover reads the job id
    /// in public input 3 as `job_id` (honestly, the statement's). The soundness tests
    /// use it to claim what the witness does not prove.
    pub fn claiming(plan: Plan, public: [Fr; WORKLOAD_PUBLIC_INPUTS], job_id: Fr, witness: WorkloadWitness) -> Self {
        let shape = plan.shape();
        assert_eq!(witness.input.len(), shape.rows() * shape.input_cols(), "the witness's input has the shape's size");
        assert_eq!(witness.layers.len(), shape.layers().len(), "one witness layer per layer");
        for (w, l) in witness.layers.iter().zip(shape.layers()) {
            assert_eq!(w.weights.len(), l.inputs * l.outputs, "weights have the layer's size");
            assert_eq!(w.bias.len(), l.outputs * requantises(l), "biases have the layer's size");
            assert_eq!(w.acc.len(), shape.rows() * l.outputs, "accumulators have the layer's size");
        }
        WorkloadCircuit { plan, assignment: Some(Assignment { public, job_id, witness, faults: Vec::new() }) }
    }

    /// The same circuit with one more internal value shifted (see [`Fault`]).
    pub fn with_fault(mut self, fault: Fault) -> Self {
        if let Some(a) = &mut self.assignment {
            a.faults.push(fault);
        }
        self
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// A value of the assignment, if there is one.
fn val<T>(a: &Option<Assignment>, f: impl FnOnce(&Assignment) -> T) -> Option<T> {
    a.as_ref().map(f)
}

/// The sum of the faults that target `site` (0 without an assignment).
fn delta(a: &Option<Assignment>, site: FaultSite) -> Fr {
    a.as_ref().map_or(Fr::from(0u64), |a| a.faults.iter().filter(|f| f.site == site).map(|f| f.delta).sum())
}

/// A value computed from others, shifted by the faults that target it.
fn computed(a: &Option<Assignment>, site: FaultSite, value: Option<Fr>) -> Option<Fr> {
    Some(value? + delta(a, site))
}

fn pow2(bits: u64) -> Fr {
    Fr::from(2u64).pow([bits])
}

/// A layer's claimed product and what the checks need of it.
struct Claimed {
    layer: usize,
    /// The layer's input, `rows × k`, signed.
    x: Vec<Num>,
    /// Its weights, `k × n`, signed.
    w: Vec<Num>,
    /// `acc = X·W` as claimed, `rows × n`.
    acc: Vec<Num>,
}

impl ConstraintSynthesizer<Fr> for WorkloadCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let a = &self.assignment;
        let shape = &self.plan.shape;
        let rows = shape.rows();
        let x: Vec<Num> =
            (0..WORKLOAD_PUBLIC_INPUTS).map(|k| Num::input(&cs, val(a, |a| a.public[k]))).collect::<Result<_, _>>()?;

        // Public input 3 is `job_id | work_units << 64`. The work units are the
        // shape's, a constant; the job id's range check gives the input exactly one
        // reading, so no prover can bill more units under a job id past 2^64.
        let job_id = alloc_bits(&cs, val(a, |a| a.job_id), JOB_ID_BITS)?;
        enforce_equal(&cs, &x[3], &job_id.add_constant(pack_job(Fr::from(0u64), shape.work_units())))?;

        // The input, weights and biases: each value bit-decomposed (stored with its
        // offset: int8 + 128 in 8 bits, int32 + 2^31 in 32), packed and committed.
        let input_stored: Vec<Num> = (0..rows * shape.input_cols())
            .map(|i| alloc_bits(&cs, val(a, |a| a.witness.input[i] + commitment::int8_offset()), 8))
            .collect::<Result<_, _>>()?;
        let mut input_elements = vec![Num::constant(commitment::input_header(rows, shape.input_cols()))];
        input_elements.extend(pack_gadget(&input_stored, 8, INT8_PER_ELEMENT));
        let input_commitment = commit_gadget(&cs, Tag::Input, &input_elements)?;
        enforce_equal(&cs, &x[1], &input_commitment)?;

        let mut model_elements = Vec::new();
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for (index, layer) in shape.layers().iter().enumerate() {
            let w_stored: Vec<Num> = (0..layer.inputs * layer.outputs)
                .map(|i| alloc_bits(&cs, val(a, |a| a.witness.layers[index].weights[i] + commitment::int8_offset()), 8))
                .collect::<Result<_, _>>()?;
            let b_stored: Vec<Num> = (0..layer.outputs * requantises(layer))
                .map(|i| alloc_bits(&cs, val(a, |a| a.witness.layers[index].bias[i] + commitment::int32_offset()), 32))
                .collect::<Result<_, _>>()?;
            model_elements.push(Num::constant(commitment::layer_header(layer)));
            model_elements.extend(pack_gadget(&w_stored, 8, INT8_PER_ELEMENT));
            model_elements.extend(pack_gadget(&b_stored, 32, INT32_PER_ELEMENT));
            weights.push(w_stored.iter().map(|u| u.add_constant(-commitment::int8_offset())).collect::<Vec<_>>());
            biases.push(b_stored.iter().map(|u| u.add_constant(-commitment::int32_offset())).collect::<Vec<_>>());
        }
        let model_commitment = commit_gadget(&cs, Tag::Model, &model_elements)?;
        enforce_equal(&cs, &x[0], &model_commitment)?;

        // Each layer: the claimed product, then what follows it. Values that reach a
        // commitment or a check are bounded far below r/2 (|X·W| < 2^30, z and biases
        // int32, q below 2^32), so every field equality below is an integer equality.
        let mut layer_input: Vec<Num> =
            input_stored.iter().map(|u| u.add_constant(-commitment::int8_offset())).collect();
        let mut freivalds = Vec::new();
        let mut accumulator_commitments = Vec::new();
        let mut output_stored = Vec::new();
        for (index, layer) in shape.layers().iter().enumerate() {
            let method = self.plan.methods[index];
            let n = layer.outputs;
            let layer_x = std::mem::take(&mut layer_input);
            let claim = |e: usize| val(a, |a| a.witness.layers[index].acc[e]);
            let mut acc = Vec::with_capacity(rows * n);
            match layer.kind {
                LayerKind::MatMul => {
                    for e in 0..rows * n {
                        acc.push(match method {
                            // Bound by its product constraint: a sum of k products of int8s.
                            Method::Direct => Num::witness(&cs, claim(e))?,
                            // Freivalds bounds it only through this range check, to
                            // about what a sum of k int8 products can be.
                            Method::Freivalds => {
                                let bits = product_bits(layer.inputs);
                                let offset = pow2(bits as u64 - 1);
                                alloc_bits(&cs, claim(e).map(|v| v + offset), bits)?.add_constant(-offset)
                            }
                        });
                    }
                    output_stored = acc.iter().map(|v| v.add_constant(commitment::int32_offset())).collect();
                }
                LayerKind::Requantise { shift, .. } => {
                    let mut z_stored = Vec::with_capacity(rows * n);
                    let mut y = Vec::with_capacity(rows * n);
                    for e in 0..rows * n {
                        let bias = &biases[index][e % n];
                        let stored = claim(e).zip(bias.value()).map(|(c, b)| c + b + commitment::int32_offset());
                        let (z, out) = requantise(&cs, a, index, e, stored, shift, layer.kind.floor())?;
                        acc.push(z.add_constant(-commitment::int32_offset()).sub(bias));
                        z_stored.push(z);
                        y.push(out);
                    }
                    if method == Method::Freivalds {
                        let packed = pack_gadget(&z_stored, 32, INT32_PER_ELEMENT);
                        accumulator_commitments.push(commit_gadget(&cs, Tag::Accumulator, &packed)?);
                    }
                    output_stored = y.iter().map(|v| v.add_constant(commitment::int8_offset())).collect();
                    layer_input = y;
                }
            }
            let claimed = Claimed { layer: index, x: layer_x, w: weights[index].clone(), acc };
            match method {
                Method::Direct => check_direct(&cs, a, &claimed, rows, layer)?,
                Method::Freivalds => freivalds.push(claimed),
            }
        }
        let last = shape.last();
        let mut output_elements = vec![Num::constant(commitment::output_header(rows, last.outputs, last.kind))];
        let bits = if last.kind == LayerKind::MatMul { 32 } else { 8 };
        let per = if last.kind == LayerKind::MatMul { INT32_PER_ELEMENT } else { INT8_PER_ELEMENT };
        output_elements.extend(pack_gadget(&output_stored, bits, per));
        let output_commitment = commit_gadget(&cs, Tag::Output, &output_elements)?;
        enforce_equal(&cs, &x[2], &output_commitment)?;

        if freivalds.is_empty() {
            return Ok(());
        }
        // The challenge: a hash of everything the Freivalds checks are about (weights,
        // input, output, and each checked layer's z), so it is fixed only once they
        // are. It is a witness of its own, tied to the hash, so that the many
        // products with it stay one-variable products.
        let mut transcript = vec![x[0].clone(), x[1].clone(), x[2].clone()];
        transcript.extend(accumulator_commitments);
        let hashed = commit_gadget(&cs, Tag::Challenge, &transcript)?;
        let rho = Num::witness(&cs, computed(a, FaultSite::Challenge, hashed.value()))?;
        enforce_equal(&cs, &rho, &hashed)?;
        for claimed in &freivalds {
            check_freivalds(&cs, a, claimed, &rho, rows, &shape.layers()[claimed.layer])?;
        }
        Ok(())
    }
}

/// Requantises one element from `stored = acc + bias + 2^31` (see
/// [`super::model`]); returns `z + 2^31` (as the sum of its 32 bits) and `y`.
///
/// `z + 2^31 = rest + 2^(s−1)·round + 2^s·high` with `rest` (`s−1` bits), `round`
/// (a bit) and `high` (`32−s` bits): this range-checks `z` as an int32, so a sum
/// that overflowed int32 has no assignment, and gives `q = ⌊(z + 2^(s−1))/2^s⌋ =
/// high − 2^(31−s) + round` for free. The clamp then shows which side `q` is on:
/// `below = [q < lo]` because `q − lo` (below = 0) or `lo − 1 − q` (below = 1) is a
/// `(32−s)`-bit value, likewise `above = [q > 127]`; they cannot both be 1, and
/// `y = q + below·lo + above·127 − (below + above)·q`. Honest slacks are below
/// `2^(31−s) + 128 < 2^(32−s)` for `s ≤ 23`.
fn requantise(
    cs: &ConstraintSystemRef<Fr>,
    a: &Option<Assignment>,
    layer: usize,
    element: usize,
    stored: Option<Fr>,
    shift: u8,
    floor: i64,
) -> Result<(Num, Num), SynthesisError> {
    let s = u64::from(shift);
    let parts = stored.map(|u| Requant::of(u, shift, floor));
    let remainder = delta(a, FaultSite::Remainder { layer, element });
    let round_up = delta(a, FaultSite::RoundBit { layer, element });
    let rest_value = parts.map(|p| p.rest - remainder * pow2(s));
    let round_value = parts.map(|p| p.round + round_up.double());
    let high_value = parts.map(|p| p.high + remainder - round_up);

    let rest = if s > 1 { alloc_bits(cs, rest_value, s as usize - 1)? } else { Num::zero() };
    let round = if s > 0 { alloc_boolean(cs, round_value)? } else { Num::zero() };
    let high = alloc_bits(cs, high_value, 32 - s as usize)?;
    let z_stored = if s > 0 { rest.add(&round.scale(pow2(s - 1))).add(&high.scale(pow2(s))) } else { high.clone() };
    let q = high.add(&round).add_constant(-Fr::from(1u64 << (31 - s)));

    let lo = fr(i128::from(floor));
    let hi = Fr::from(127u64);
    let flags = q.value().map(|q| clamp_flags(q, floor));
    let below = alloc_boolean(cs, computed(a, FaultSite::Below { layer, element }, flags.map(|f| f.0)))?;
    let above = alloc_boolean(cs, computed(a, FaultSite::Above { layer, element }, flags.map(|f| f.1)))?;
    let slack_bits = 32 - s as usize;

    // below = 0: q − lo ≥ 0; below = 1: lo − 1 − q ≥ 0.
    let low_gap = q.add_constant(-lo);
    let low_turn = q.scale(-Fr::from(2u64)).add_constant(lo.double() - Fr::one());
    let low_value = low_gap.value().zip(below.value()).zip(low_turn.value()).map(|((g, b), t)| g + b * t);
    let low_slack = alloc_bits(cs, computed(a, FaultSite::LowSlack { layer, element }, low_value), slack_bits)?;
    enforce_product(cs, &below, &low_turn, &low_slack.sub(&low_gap))?;

    // above = 0: 127 − q ≥ 0; above = 1: q − 128 ≥ 0.
    let high_gap = q.scale(-Fr::one()).add_constant(hi);
    let high_turn = q.scale(Fr::from(2u64)).add_constant(-hi.double() - Fr::one());
    let high_value = high_gap.value().zip(above.value()).zip(high_turn.value()).map(|((g, b), t)| g + b * t);
    let high_slack = alloc_bits(cs, computed(a, FaultSite::HighSlack { layer, element }, high_value), slack_bits)?;
    enforce_product(cs, &above, &high_turn, &high_slack.sub(&high_gap))?;

    let either = below.add(&above);
    let select_value = either.value().zip(q.value()).map(|(e, q)| e * q);
    let select = product(cs, &either, &q, computed(a, FaultSite::Select { layer, element }, select_value))?;
    let y = q.add(&below.scale(lo)).add(&above.scale(hi)).sub(&select);
    Ok((z_stored, y))
}

/// `Σ_l xs[l]·ys[l] = target`: one product per term, the last one absorbing the
/// equality.
fn fold(
    cs: &ConstraintSystemRef<Fr>,
    a: &Option<Assignment>,
    xs: &[Num],
    ys: &[Num],
    target: &Num,
    site: impl Fn(usize) -> FaultSite,
) -> Result<(), SynthesisError> {
    let last = xs.len() - 1;
    let mut sum = Num::zero();
    for l in 0..last {
        let value = xs[l].value().zip(ys[l].value()).map(|(x, y)| x * y);
        sum = sum.add(&product(cs, &xs[l], &ys[l], computed(a, site(l), value))?);
    }
    enforce_product(cs, &xs[last], &ys[last], &target.sub(&sum))
}

/// `Σ_j values[j]·ρ^j` by Horner's rule (`len − 1` products); `site` names the last
/// product.
fn horner(
    cs: &ConstraintSystemRef<Fr>,
    a: &Option<Assignment>,
    rho: &Num,
    values: &[Num],
    site: FaultSite,
) -> Result<Num, SynthesisError> {
    let mut h = values[values.len() - 1].clone();
    for j in (0..values.len() - 1).rev() {
        let value = h.value().zip(rho.value()).map(|(h, r)| h * r);
        let value = if j == 0 { computed(a, site, value) } else { value };
        h = product(cs, &h, rho, value)?.add(&values[j]);
    }
    Ok(h)
}

/// `acc[i][j] = Σ_l X[i][l]·W[l][j]`, every product in the circuit.
fn check_direct(
    cs: &ConstraintSystemRef<Fr>,
    a: &Option<Assignment>,
    c: &Claimed,
    rows: usize,
    layer: &LayerShape,
) -> Result<(), SynthesisError> {
    let (k, n) = (layer.inputs, layer.outputs);
    for i in 0..rows {
        for j in 0..n {
            let column: Vec<Num> = (0..k).map(|l| c.w[l * n + j].clone()).collect();
            let element = i * n + j;
            let site = |term| FaultSite::Product { layer: c.layer, element, term };
            fold(cs, a, &c.x[i * k..(i + 1) * k], &column, &c.acc[element], site)?;
        }
    }
    Ok(())
}

/// Freivalds' check `X·(W·v) = acc·v` row by row, `v = (1, ρ, …, ρ^(n−1))`.
fn check_freivalds(
    cs: &ConstraintSystemRef<Fr>,
    a: &Option<Assignment>,
    c: &Claimed,
    rho: &Num,
    rows: usize,
    layer: &LayerShape,
) -> Result<(), SynthesisError> {
    let (k, n) = (layer.inputs, layer.outputs);
    let wv: Vec<Num> = (0..k)
        .map(|l| horner(cs, a, rho, &c.w[l * n..(l + 1) * n], FaultSite::WeightsHorner { layer: c.layer, row: l }))
        .collect::<Result<_, _>>()?;
    for i in 0..rows {
        let target =
            horner(cs, a, rho, &c.acc[i * n..(i + 1) * n], FaultSite::AccumulatorHorner { layer: c.layer, row: i })?;
        let site = |term| FaultSite::FreivaldsProduct { layer: c.layer, row: i, term };
        fold(cs, a, &c.x[i * k..(i + 1) * k], &wv, &target, site)?;
    }
    Ok(())
}
