//! Every rule of the workload circuit, broken one at a time, and the circuit against
//! the native executor.
//!
//! Each negative test tampers with the witness (or the claimed statement, or one
//! internal value through a [`Fault`]) and recomputes everything else natively
//! with [`evaluate`], so exactly the targeted constraint is violated: deleting that
//! constraint from the circuit makes its test fail (`circuits/scripts/mutate.py`
//! checks this). A test whose tampering puts a value out of a range check's range
//! runs inside [`at_every_bit`]: each check is repeated once per bit position of that
//! range check, with the excess of every out-of-range value in that bit
//! ([`excess_at`]), so a range check that leaves any one bit unconstrained (deleted,
//! or replaced by a trivially true constraint) makes some test fail.

use ark_bn254::{Bn254, Fr};
use ark_ff::{Field, One, Zero};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
use ark_snark::SNARK;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zkmeter_circuits::range_check::excess_at;
use zkmeter_circuits::workload::commitment::{self, Tag};
use zkmeter_circuits::workload::statement::pack_job;
use zkmeter_circuits::workload::{
    ExecError, Execution, Fault, FaultSite, Layer, LayerKind, LayerShape, Matrix, Method, Model, Output, Plan,
    WorkloadCircuit, WorkloadShape, WorkloadWitness, evaluate, execute,
};

const JOB: u64 = 42;

fn random_i8(rng: &mut ChaCha20Rng, n: usize) -> Vec<i8> {
    (0..n).map(|_| rng.r#gen::<i8>()).collect()
}

/// `rows×inner · inner×cols` with random int8 values.
fn matmul(rows: usize, inner: usize, cols: usize, seed: u64) -> (Model, Matrix<i8>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let shape = LayerShape { inputs: inner, outputs: cols, kind: LayerKind::MatMul };
    let model = Model::new(vec![Layer { shape, weights: random_i8(&mut rng, inner * cols), bias: vec![] }]).unwrap();
    (model, Matrix::new(rows, inner, random_i8(&mut rng, rows * inner)).unwrap())
}

const SHIFT: u8 = 8;

/// Row 0's quotients `⌊(z + 2^(s−1))/2^s⌋` in the ReLU layer, one per clamp case.
const BELOW: usize = 0; // q = −50: ReLU gives 0
const MIDDLE: usize = 1; // q = 10: passes through
const HIGH_MIDDLE: usize = 2; // q = 100: passes through
const ABOVE: usize = 3; // q = 300: saturates at 127
const TARGETS: [i64; 5] = [-50, 10, 100, 300, 0];

/// One ReLU layer, 2×6 → 5, shift 8, whose biases put row 0's quotients at
/// [`TARGETS`].
fn relu_layer() -> (Model, Matrix<i8>) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let input = Matrix::new(2, 6, random_i8(&mut rng, 12)).unwrap();
    let weights = random_i8(&mut rng, 30);
    let acc = zkmeter_circuits::workload::executor::matmul(&input.values, &weights, 2, 6, 5);
    let bias = (0..5).map(|j| (TARGETS[j] * 256 + 37) as i32 - acc[j]).collect();
    let shape = LayerShape { inputs: 6, outputs: 5, kind: LayerKind::Requantise { shift: SHIFT, relu: true } };
    (Model::new(vec![Layer { shape, weights, bias }]).unwrap(), input)
}

/// Two layers: 2×6 → 5 (ReLU, shift 8) → 3 (shift 4, no ReLU).
fn mlp() -> (Model, Matrix<i8>) {
    let (first, input) = relu_layer();
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    let shape = LayerShape { inputs: 5, outputs: 3, kind: LayerKind::Requantise { shift: 4, relu: false } };
    let second = Layer { shape, weights: random_i8(&mut rng, 15), bias: vec![-300, 0, 1_000] };
    (Model::new(vec![first.layers()[0].clone(), second]).unwrap(), input)
}

fn plan(exec: &Execution, methods: &[Method]) -> Plan {
    Plan::with_methods(exec.shape.clone(), methods.to_vec())
}

fn run(model: &Model, input: &Matrix<i8>) -> Execution {
    execute(model, input).unwrap()
}

thread_local! {
    /// How many bit positions [`satisfied`] tries (see [`at_every_bit`]).
    static POSITIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(1) };
}

/// Runs a test body with every satisfaction check repeated for the excess in each
/// of the low `bits` bit positions.
fn at_every_bit(bits: usize, body: impl FnOnce()) {
    POSITIONS.set(bits);
    body();
    POSITIONS.set(1);
}

/// Whether the circuit is satisfied with the excess of out-of-range values in some
/// of the positions [`at_every_bit`] asked for: a negative test passes only if every
/// position is refused.
fn satisfied(plan: &Plan, public: [Fr; 4], job_id: Fr, witness: WorkloadWitness, faults: &[Fault]) -> bool {
    (0..POSITIONS.get()).any(|bit| satisfied_at(bit, plan, public, job_id, witness.clone(), faults))
}

/// One synthesis with the excess in bit `bit`, on one thread (arkworks' parallel
/// satisfaction check costs more in synchronisation than a circuit this small).
fn satisfied_at(bit: usize, plan: &Plan, public: [Fr; 4], job_id: Fr, witness: WorkloadWitness, faults: &[Fault]) -> bool {
    thread_local! {
        static ONE_THREAD: rayon::ThreadPool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a thread pool");
    }
    ONE_THREAD.with(|pool| {
        pool.install(|| {
            excess_at(bit, || {
                let cs = ConstraintSystem::<Fr>::new_ref();
                let circuit = faults
                    .iter()
                    .fold(WorkloadCircuit::claiming(plan.clone(), public, job_id, witness), |c, f| c.with_fault(*f));
                circuit.generate_constraints(cs.clone()).unwrap();
                cs.is_satisfied().unwrap()
            })
        })
    })
}

/// Tampers with the witness, then claims the statement evaluated from it: only the
/// rule the tampering breaks can fail.
fn witness_tampered(plan: &Plan, exec: &Execution, f: impl FnOnce(&mut WorkloadWitness)) -> bool {
    let mut witness = exec.witness.clone();
    f(&mut witness);
    let statement = evaluate(plan.shape(), &witness).statement(plan.shape(), JOB);
    satisfied(plan, statement.public_inputs(), Fr::from(JOB), witness, &[])
}

/// Claims the honest statement with `f`'s change to the public inputs.
fn claimed(plan: &Plan, exec: &Execution, job_id: Fr, f: impl FnOnce(&mut [Fr; 4])) -> bool {
    let mut public = exec.statement(JOB).public_inputs();
    f(&mut public);
    satisfied(plan, public, job_id, exec.witness.clone(), &[])
}

/// The output commitment of `values` as the last layer's output.
fn output_commitment(shape: &WorkloadShape, values: &[Fr]) -> Fr {
    commitment::commit(Tag::Output, &commitment::output_elements(shape.rows(), shape.last(), values))
}

/// Injects `faults` into the honest run of a one-layer model and claims the
/// output `adjust` makes of the honest one.
fn faulted(plan: &Plan, exec: &Execution, faults: &[Fault], adjust: impl FnOnce(&mut Vec<Fr>)) -> bool {
    let eval = evaluate(plan.shape(), &exec.witness);
    let mut out = eval.outputs.last().unwrap().clone();
    adjust(&mut out);
    let mut statement = eval.statement(plan.shape(), JOB);
    statement.output = output_commitment(plan.shape(), &out);
    satisfied(plan, statement.public_inputs(), Fr::from(JOB), exec.witness.clone(), faults)
}

/// `X·W` over the field, `rows × n`.
fn field_matmul(x: &[Fr], w: &[Fr], rows: usize, k: usize, n: usize) -> Vec<Fr> {
    (0..rows * n).map(|e| (0..k).map(|l| x[(e / n) * k + l] * w[l * n + e % n]).sum()).collect()
}

/// Makes every layer from `from` on claim the true product of its (possibly
/// tampered) input, so that only the tampering upstream is wrong.
fn recompute_from(shape: &WorkloadShape, witness: &mut WorkloadWitness, from: usize) {
    for index in from..shape.layers().len() {
        let x = if index == 0 { witness.input.clone() } else { evaluate(shape, witness).outputs[index - 1].clone() };
        let l = &shape.layers()[index];
        witness.layers[index].acc = field_matmul(&x, &witness.layers[index].weights, shape.rows(), l.inputs, l.outputs);
    }
}

const BOTH: [Method; 2] = [Method::Direct, Method::Freivalds];

fn int(v: i64) -> Fr {
    if v < 0 { -Fr::from(v.unsigned_abs()) } else { Fr::from(v as u64) }
}

// The circuit against the executor.

#[test]
fn matmul_matches_the_executor_direct_and_freivalds() {
    let (model, input) = matmul(3, 4, 5, 1);
    let exec = run(&model, &input);
    let Output::Int32(c) = &exec.output else { panic!("a matmul gives int32") };
    for (e, value) in c.values.iter().enumerate() {
        let (i, j) = (e / 5, e % 5);
        let expected: i32 =
            (0..4).map(|l| i32::from(input.values[i * 4 + l]) * i32::from(model.layers()[0].weights[l * 5 + j])).sum();
        assert_eq!(*value, expected);
    }
    let statement = exec.statement(JOB);
    assert_eq!(statement.work_units, 60);
    for method in BOTH {
        let plan = plan(&exec, &[method]);
        assert_eq!(evaluate(plan.shape(), &exec.witness).statement(plan.shape(), JOB), statement);
        let cs = ConstraintSystem::<Fr>::new_ref();
        WorkloadCircuit::assigned(plan.clone(), &statement, exec.witness.clone())
            .generate_constraints(cs.clone())
            .unwrap();
        assert!(cs.is_satisfied().unwrap(), "{method:?}");
        assert_eq!(&cs.instance_assignment().unwrap()[1..], &statement.public_inputs()[..]);
    }
}

#[test]
fn mlp_matches_the_executor_with_every_method() {
    let (model, input) = mlp();
    let exec = run(&model, &input);
    let Output::Int8(y) = &exec.output else { panic!("a requantising last layer gives int8") };
    let eval = evaluate(&exec.shape, &exec.witness);
    assert_eq!(eval.outputs[1], y.values.iter().map(|&v| Fr::from(v)).collect::<Vec<_>>());
    assert_eq!(
        eval.outputs[0][..5],
        [0, 10, 100, 127, 0].map(|v| Fr::from(v as u64)),
        "layer 0's row 0 hits every clamp case"
    );
    let statement = exec.statement(JOB);
    assert_eq!(eval.statement(&exec.shape, JOB), statement);
    assert_eq!(statement.work_units, 2 * 6 * 5 + 2 * 5 * 3);
    for first in BOTH {
        for second in BOTH {
            let plan = plan(&exec, &[first, second]);
            let cs = ConstraintSystem::<Fr>::new_ref();
            WorkloadCircuit::assigned(plan.clone(), &statement, exec.witness.clone())
                .generate_constraints(cs.clone())
                .unwrap();
            assert!(cs.is_satisfied().unwrap(), "{first:?}, {second:?}");
        }
    }
}

#[test]
fn shift_zero_and_extreme_values_match_the_executor() {
    // z at the ends of int32 and shift 0 and 23: the clamp's slacks at their widest.
    for shift in [0u8, 1, 23] {
        for relu in [false, true] {
            let shape = LayerShape { inputs: 1, outputs: 4, kind: LayerKind::Requantise { shift, relu } };
            let layer = Layer {
                shape,
                weights: vec![-128, 127, 1, -1],
                bias: vec![i32::MAX - 16_384, i32::MIN + 16_256, -3, 3],
            };
            let model = Model::new(vec![layer]).unwrap();
            let input = Matrix::new(1, 1, vec![-128]).unwrap();
            let exec = run(&model, &input);
            for method in BOTH {
                let plan = plan(&exec, &[method]);
                let cs = ConstraintSystem::<Fr>::new_ref();
                WorkloadCircuit::assigned(plan, &exec.statement(JOB), exec.witness.clone())
                    .generate_constraints(cs.clone())
                    .unwrap();
                assert!(cs.is_satisfied().unwrap(), "shift {shift}, relu {relu}, {method:?}");
            }
        }
    }
}

// Public input 3: the job id and the work units.

#[test]
fn forged_packed_input_is_refused() {
    let (model, input) = matmul(2, 3, 2, 2);
    let exec = run(&model, &input);
    for method in BOTH {
        let plan = plan(&exec, &[method]);
        assert!(!claimed(&plan, &exec, Fr::from(JOB), |x| x[3] += Fr::one()), "{method:?}");
        assert!(!claimed(&plan, &exec, Fr::from(JOB), |x| x[3] = pack_job(Fr::from(JOB + 1), 12)), "another job id");
    }
}

#[test]
fn work_units_read_another_way() {
    at_every_bit(64, || {
        // `JOB + 2^64 | (W) << 64` packs like `JOB | (W + 1) << 64`: the contract would
        // bill one unit more than the shape's. Only the job id's range check refuses it.
        let (model, input) = matmul(2, 3, 2, 2);
        let exec = run(&model, &input);
        let units = exec.statement(JOB).work_units;
        let reading = Fr::from(JOB) + Fr::from(2u64).pow([64]);
        for method in BOTH {
            let plan = plan(&exec, &[method]);
            assert!(!claimed(&plan, &exec, reading, |x| x[3] = pack_job(Fr::from(JOB), units + 1)), "{method:?}");
        }
    });
}

// Commitments: the model, input and output the proof names are the ones computed with.

#[test]
fn commitment_to_different_data() {
    let (model, input) = mlp();
    let exec = run(&model, &input);
    let (other_model, other_input) = matmul(2, 6, 3, 9);
    let other = run(&other_model, &other_input);
    for method in BOTH {
        let plan = plan(&exec, &[method, Method::Direct]);
        assert!(claimed(&plan, &exec, Fr::from(JOB), |_| {}));
        assert!(!claimed(&plan, &exec, Fr::from(JOB), |x| x[0] = other.model_commitment), "model, {method:?}");
        assert!(!claimed(&plan, &exec, Fr::from(JOB), |x| x[1] = other_input.commitment()), "input, {method:?}");
        assert!(!claimed(&plan, &exec, Fr::from(JOB), |x| x[2] = other.output_commitment), "output, {method:?}");
    }
}

#[test]
fn wrong_weight() {
    // The prover computes with another weight and claims the committed model.
    let (model, input) = matmul(2, 3, 4, 3);
    let exec = run(&model, &input);
    for method in BOTH {
        let plan = plan(&exec, &[method]);
        let mut witness = exec.witness.clone();
        witness.layers[0].weights[5] += Fr::one();
        recompute_from(plan.shape(), &mut witness, 0);
        let mut statement = evaluate(plan.shape(), &witness).statement(plan.shape(), JOB);
        statement.model = exec.model_commitment;
        assert!(!satisfied(&plan, statement.public_inputs(), Fr::from(JOB), witness, &[]), "{method:?}");
    }
}

// Packed values out of range: each pair below packs exactly like the honest pair, so
// the commitment matches and only the range check of the unpacked value can notice.

#[test]
fn weight_out_of_int8_range() {
    at_every_bit(8, || {
        let (model, input) = matmul(2, 3, 4, 3);
        let exec = run(&model, &input);
        for method in BOTH {
            let plan = plan(&exec, &[method]);
            let mut witness = exec.witness.clone();
            witness.layers[0].weights[0] += Fr::from(256u64);
            witness.layers[0].weights[1] -= Fr::one();
            recompute_from(plan.shape(), &mut witness, 0);
            assert_eq!(evaluate(plan.shape(), &witness).model, exec.model_commitment, "packs like the committed model");
            assert!(!witness_tampered(&plan, &exec, |w| *w = witness.clone()), "{method:?}");
        }
    });
}

#[test]
fn input_out_of_int8_range() {
    at_every_bit(8, || {
        let (model, input) = matmul(2, 3, 4, 3);
        let exec = run(&model, &input);
        for method in BOTH {
            let plan = plan(&exec, &[method]);
            let mut witness = exec.witness.clone();
            witness.input[0] -= Fr::from(256u64);
            witness.input[1] += Fr::one();
            recompute_from(plan.shape(), &mut witness, 0);
            assert_eq!(evaluate(plan.shape(), &witness).input, exec.input_commitment, "packs like the committed input");
            assert!(!witness_tampered(&plan, &exec, |w| *w = witness.clone()), "{method:?}");
        }
    });
}

#[test]
fn bias_read_another_way_hides_an_overflow() {
    at_every_bit(32, || {
        // The model commits to biases (i32::MAX, 0, 0), with which X·W + bias overflows
        // in column 0. The prover reads them as (i32::MAX − 2^32, 1, 0), which pack alike:
        // column 0 would wrap around instead of overflowing. Only the biases' range
        // checks refuse it.
        let shape = LayerShape { inputs: 2, outputs: 3, kind: LayerKind::Requantise { shift: 4, relu: false } };
        let layer = |bias| Layer { shape, weights: vec![5, 1, 1, 5, 1, 1], bias };
        let committed = Model::new(vec![layer(vec![i32::MAX, 0, 0])]).unwrap();
        let input = Matrix::new(1, 2, vec![1, 1]).unwrap();
        assert!(matches!(execute(&committed, &input), Err(ExecError::Int32Overflow { col: 0, .. })));
        let exec = run(&Model::new(vec![layer(vec![0, 0, 0])]).unwrap(), &input);
        for method in BOTH {
            let plan = plan(&exec, &[method]);
            let mut witness = exec.witness.clone();
            witness.layers[0].bias = vec![int(i64::from(i32::MAX) - (1 << 32)), Fr::one(), Fr::zero()];
            assert_eq!(evaluate(plan.shape(), &witness).model, committed.commitment(), "packs like the committed model");
            assert!(!witness_tampered(&plan, &exec, |w| *w = witness.clone()), "{method:?}");
        }
    });
}

#[test]
fn freivalds_output_read_another_way() {
    at_every_bit(32, || {
        // Under Freivalds the output is the prover's claim, bounded only by its range
        // check. Without it, a prover could claim any output: it picks out-of-range
        // values that pack like the claimed output and pass the check for the challenge.
        let (model, input) = matmul(1, 3, 2, 4);
        let exec = run(&model, &input);
        let plan = plan(&exec, &[Method::Freivalds]);
        let fake = [Fr::from(1_000u64), Fr::from(2_000u64)];
        let eval = evaluate(plan.shape(), &exec.witness);
        let mut statement = eval.statement(plan.shape(), JOB);
        statement.output = output_commitment(plan.shape(), &fake);
        let mut e = eval.clone();
        e.output = statement.output;
        let rho = plan.challenge(&e).unwrap();
        // acc' = X·W + d with d_0 + d_1·2^32 = (fake − X·W) packed, and d_0 + d_1·ρ = 0.
        let acc = &exec.witness.layers[0].acc;
        let two32 = Fr::from(1u64 << 32);
        let packed_gap = (fake[0] - acc[0]) + (fake[1] - acc[1]) * two32;
        let d1 = packed_gap / (two32 - rho);
        let d0 = -d1 * rho;
        let mut witness = exec.witness.clone();
        witness.layers[0].acc = vec![acc[0] + d0, acc[1] + d1];
        assert_eq!(evaluate(plan.shape(), &witness).output, statement.output, "packs like the fake output");
        assert!(!satisfied(&plan, statement.public_inputs(), Fr::from(JOB), witness, &[]));
    });
}

// The product.

#[test]
fn wrong_output_element() {
    let (model, input) = matmul(3, 4, 5, 5);
    let exec = run(&model, &input);
    for method in BOTH {
        let plan = plan(&exec, &[method]);
        assert!(!witness_tampered(&plan, &exec, |w| w.layers[0].acc[7] += Fr::one()), "{method:?}");
    }
}

#[test]
fn wrong_accumulator_inside_an_mlp() {
    let (model, input) = mlp();
    let exec = run(&model, &input);
    for first in BOTH {
        for second in BOTH {
            let plan = plan(&exec, &[first, second]);
            for layer in 0..2 {
                let wrong = witness_tampered(&plan, &exec, |w| {
                    w.layers[layer].acc[1] += Fr::from(256u64);
                    recompute_from(plan.shape(), w, layer + 1);
                });
                assert!(!wrong, "layer {layer}, {first:?}, {second:?}");
            }
        }
    }
}

#[test]
fn direct_product_made_up() {
    // Output 7's first product shifted by 9, and the output with it.
    let (model, input) = matmul(3, 4, 5, 5);
    let exec = run(&model, &input);
    let plan = plan(&exec, &[Method::Direct]);
    let mut witness = exec.witness.clone();
    let delta = Fr::from(9u64);
    witness.layers[0].acc[7] += delta;
    let statement = evaluate(plan.shape(), &witness).statement(plan.shape(), JOB);
    let fault = Fault { site: FaultSite::Product { layer: 0, element: 7, term: 0 }, delta };
    assert!(!satisfied(&plan, statement.public_inputs(), Fr::from(JOB), witness, &[fault]));
}

/// A wrong output element `(row, col)` under Freivalds, and the honest challenge for
/// it: what the Freivalds faults below try to hide.
fn freivalds_wrong(exec: &Execution, plan: &Plan, row: usize, col: usize, error: Fr) -> (WorkloadWitness, [Fr; 4], Fr) {
    let n = plan.shape().last().outputs;
    let mut witness = exec.witness.clone();
    witness.layers[0].acc[row * n + col] += error;
    let eval = evaluate(plan.shape(), &witness);
    let rho = plan.challenge(&eval).unwrap();
    (witness, eval.statement(plan.shape(), JOB).public_inputs(), error * rho.pow([col as u64]))
}

#[test]
fn freivalds_row_sum_made_up() {
    let (model, input) = matmul(3, 4, 5, 6);
    let exec = run(&model, &input);
    let plan = plan(&exec, &[Method::Freivalds]);
    let (witness, public, shift) = freivalds_wrong(&exec, &plan, 1, 3, Fr::from(5u64));
    assert!(!satisfied(&plan, public, Fr::from(JOB), witness.clone(), &[]));
    let fault = Fault { site: FaultSite::FreivaldsProduct { layer: 0, row: 1, term: 0 }, delta: shift };
    assert!(!satisfied(&plan, public, Fr::from(JOB), witness, &[fault]));
}

#[test]
fn freivalds_accumulator_evaluation_made_up() {
    let (model, input) = matmul(3, 4, 5, 6);
    let exec = run(&model, &input);
    let plan = plan(&exec, &[Method::Freivalds]);
    let (witness, public, shift) = freivalds_wrong(&exec, &plan, 2, 4, Fr::from(3u64));
    let fault = Fault { site: FaultSite::AccumulatorHorner { layer: 0, row: 2 }, delta: -shift };
    assert!(!satisfied(&plan, public, Fr::from(JOB), witness, &[fault]));
}

#[test]
fn freivalds_weights_evaluation_made_up() {
    // One row, so (W·v)[0] feeds only the row that is wrong.
    let (model, input) = matmul(1, 4, 5, 6);
    let exec = run(&model, &input);
    let plan = plan(&exec, &[Method::Freivalds]);
    let (witness, public, shift) = freivalds_wrong(&exec, &plan, 0, 2, Fr::from(3u64));
    let x0 = exec.witness.input[0];
    assert_ne!(x0, Fr::zero());
    let fault = Fault { site: FaultSite::WeightsHorner { layer: 0, row: 0 }, delta: shift / x0 };
    assert!(!satisfied(&plan, public, Fr::from(JOB), witness, &[fault]));
}

#[test]
fn challenge_the_prover_picks() {
    // With ρ = 2 of its own choosing, the prover makes row 0 wrong by (−2, +1, 0, …),
    // which vanishes at 2. Only the challenge's tie to the hash refuses it.
    let (model, input) = matmul(2, 3, 4, 7);
    let exec = run(&model, &input);
    let plan = plan(&exec, &[Method::Freivalds]);
    let mut witness = exec.witness.clone();
    witness.layers[0].acc[0] -= Fr::from(2u64);
    witness.layers[0].acc[1] += Fr::one();
    let eval = evaluate(plan.shape(), &witness);
    let public = eval.statement(plan.shape(), JOB).public_inputs();
    let honest = plan.challenge(&eval).unwrap();
    assert!(!satisfied(&plan, public, Fr::from(JOB), witness.clone(), &[]), "the honest challenge catches it");
    let fault = Fault { site: FaultSite::Challenge, delta: Fr::from(2u64) - honest };
    assert!(!satisfied(&plan, public, Fr::from(JOB), witness, &[fault]));
}

// Requantisation.

#[test]
fn int32_overflow_does_not_wrap() {
    at_every_bit(32, || {
        let (model, input) = relu_layer();
        let exec = run(&model, &input);
        let column = (0..5).find(|&j| {
            exec.witness.layers[0].acc[j] != Fr::zero() && {
                let acc = zkmeter_circuits::workload::executor::matmul(&input.values, &model.layers()[0].weights, 2, 6, 5);
                acc[j] > 0
            }
        });
        let column = column.expect("some accumulator of row 0 is positive");
        let mut layers = model.layers().to_vec();
        layers[0].bias[column] = i32::MAX;
        let overflowing = Model::new(layers).unwrap();
        assert!(matches!(execute(&overflowing, &input), Err(ExecError::Int32Overflow { layer: 0, row: 0, .. })));
        for method in BOTH {
            let plan = plan(&exec, &[method]);
            assert!(
                !witness_tampered(&plan, &exec, |w| w.layers[0].bias[column] = Fr::from(i32::MAX as u64)),
                "{method:?}"
            );
        }
    });
}

#[test]
fn int32_underflow_does_not_wrap() {
    at_every_bit(32, || {
        let (model, input) = relu_layer();
        let exec = run(&model, &input);
        let acc = zkmeter_circuits::workload::executor::matmul(&input.values, &model.layers()[0].weights, 2, 6, 5);
        let column = (0..5).find(|&j| acc[j] < 0).expect("some accumulator of row 0 is negative");
        for method in BOTH {
            let plan = plan(&exec, &[method]);
            assert!(!witness_tampered(&plan, &exec, |w| w.layers[0].bias[column] = int(i64::from(i32::MIN))), "{method:?}");
        }
    });
}

fn relu_fault(site: FaultSite, delta: i64, adjust: impl Fn(&mut Vec<Fr>)) {
    let (model, input) = relu_layer();
    let exec = run(&model, &input);
    for method in BOTH {
        let plan = plan(&exec, &[method]);
        let fault = Fault { site, delta: int(delta) };
        assert!(!faulted(&plan, &exec, &[fault], |y| adjust(y)), "{site:?}, {method:?}");
    }
}

fn relu_faults(faults: &[(FaultSite, i64)], element: usize, y: i64) {
    let (model, input) = relu_layer();
    let exec = run(&model, &input);
    for method in BOTH {
        let plan = plan(&exec, &[method]);
        let faults: Vec<Fault> = faults.iter().map(|(site, d)| Fault { site: *site, delta: int(*d) }).collect();
        assert!(!faulted(&plan, &exec, &faults, |out| out[element] = int(y)), "{faults:?}, {method:?}");
    }
}

#[test]
fn relu_skipped() {
    // q = −50 with the "below" flag cleared: y = −50.
    relu_fault(FaultSite::Below { layer: 0, element: BELOW }, -1, |y| y[BELOW] = int(TARGETS[BELOW]));
}

#[test]
fn saturation_skipped() {
    // q = 300 with the "above" flag cleared: y = 300, no int8.
    relu_fault(FaultSite::Above { layer: 0, element: ABOVE }, -1, |y| y[ABOVE] = int(TARGETS[ABOVE]));
}

#[test]
fn below_flag_not_boolean() {
    // below = −1 at q = 10: y = 2q = 20, and both slacks are still small.
    relu_fault(FaultSite::Below { layer: 0, element: MIDDLE }, -1, |y| y[MIDDLE] = int(2 * TARGETS[MIDDLE]));
}

#[test]
fn above_flag_not_boolean() {
    // above = −1 at q = 100: y = 2q − 127 = 73.
    relu_fault(FaultSite::Above { layer: 0, element: HIGH_MIDDLE }, -1, |y| {
        y[HIGH_MIDDLE] = int(2 * TARGETS[HIGH_MIDDLE] - 127)
    });
}

#[test]
fn floor_flag_set_without_reason() {
    at_every_bit(32, || {
        // below = 1 at q = 10 (y = 0), with the slack assigned as if below were 0.
        let q = TARGETS[MIDDLE];
        // (q − y) − (y − 1 − q) at y = 0.
        let slack_shift = q - (-1 - q);
        relu_faults(
            &[
                (FaultSite::Below { layer: 0, element: MIDDLE }, 1),
                (FaultSite::LowSlack { layer: 0, element: MIDDLE }, slack_shift),
            ],
            MIDDLE,
            0,
        );
    });
}

#[test]
fn ceiling_flag_set_without_reason() {
    at_every_bit(32, || {
        // above = 1 at q = 10 (y = 127), with the slack assigned as if above were 0.
        let q = TARGETS[MIDDLE];
        let slack_shift = (127 - q) - (q - 128);
        relu_faults(
            &[
                (FaultSite::Above { layer: 0, element: MIDDLE }, 1),
                (FaultSite::HighSlack { layer: 0, element: MIDDLE }, slack_shift),
            ],
            MIDDLE,
            127,
        );
    });
}

#[test]
fn clamp_selection_made_up() {
    relu_fault(FaultSite::Select { layer: 0, element: ABOVE }, 27, |y| y[ABOVE] = Fr::from(100u64));
}

#[test]
fn rounding_through_the_remainder() {
    at_every_bit(32, || {
        // q one higher, paid for by a remainder of −256 + r: rounds 10.1 up to 11.
        relu_fault(FaultSite::Remainder { layer: 0, element: MIDDLE }, 1, |y| y[MIDDLE] = int(TARGETS[MIDDLE] + 1));
    });
}

#[test]
fn rounding_through_the_rounding_bit() {
    at_every_bit(32, || {
        relu_fault(FaultSite::RoundBit { layer: 0, element: MIDDLE }, 1, |y| y[MIDDLE] = int(TARGETS[MIDDLE] + 1));
    });
}

// Groth16 and size. (The mutation script skips the size test: every deleted
// constraint changes the count.)

#[test]
fn groth16_proves_a_small_mlp_and_refuses_forged_statements() {
    let (model, input) = mlp();
    let exec = run(&model, &input);
    let plan = plan(&exec, &[Method::Freivalds, Method::Direct]);
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(WorkloadCircuit::setup(plan.clone()), &mut rng).unwrap();
    let statement = exec.statement(JOB);
    let proof =
        Groth16::<Bn254>::prove(&pk, WorkloadCircuit::assigned(plan, &statement, exec.witness.clone()), &mut rng)
            .unwrap();
    let inputs = statement.public_inputs();
    assert!(Groth16::<Bn254>::verify(&vk, &inputs, &proof).unwrap());
    for k in 0..inputs.len() {
        let mut forged = inputs;
        forged[k] += Fr::one();
        assert!(!Groth16::<Bn254>::verify(&vk, &forged, &proof).unwrap(), "public input {k} forged");
    }
    let mut more = statement;
    more.work_units += 1;
    assert!(!Groth16::<Bn254>::verify(&vk, &more.public_inputs(), &proof).unwrap());
}

fn synthesized(plan: &Plan) -> usize {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    WorkloadCircuit::setup(plan.clone()).generate_constraints(cs.clone()).unwrap();
    cs.num_constraints()
}

#[test]
fn constraint_counts_are_exact_and_pinned() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    for _ in 0..6 {
        let rows = rng.gen_range(1..5);
        let dims: Vec<usize> = (0..3).map(|_| rng.gen_range(1..9)).collect();
        let shift = rng.gen_range(0..=23);
        let layers = vec![
            LayerShape { inputs: dims[0], outputs: dims[1], kind: LayerKind::Requantise { shift, relu: rng.r#gen() } },
            LayerShape { inputs: dims[1], outputs: dims[2], kind: LayerKind::MatMul },
        ];
        let shape = WorkloadShape::new(rows, layers).unwrap();
        for methods in
            [[Method::Direct, Method::Direct], [Method::Freivalds, Method::Direct], [Method::Direct, Method::Freivalds]]
        {
            let plan = Plan::with_methods(shape.clone(), methods.to_vec());
            assert_eq!(synthesized(&plan), plan.constraints(), "{}", plan.circuit_id());
        }
    }
    // Matmul 64×64×64 (262,144 multiply-accumulates): the figures in benches/RESULTS.md.
    let shape = WorkloadShape::matmul(64, 64, 64).unwrap();
    let direct = Plan::with_methods(shape.clone(), vec![Method::Direct]);
    let freivalds = Plan::with_methods(shape.clone(), vec![Method::Freivalds]);
    assert_eq!(direct.constraints(), 368_308, "update benches/RESULTS.md");
    assert_eq!(freivalds.constraints(), 208_944, "update benches/RESULTS.md");
    assert_eq!(Plan::auto(shape).methods(), [Method::Freivalds]);
    assert_eq!(freivalds.circuit_id(), "zkmeter.workload.v1:64:64x64mf");
    assert_eq!(Plan::auto(WorkloadShape::matmul(23, 23, 23).unwrap()).methods(), [Method::Direct]);
    assert_eq!(
        Plan::auto(WorkloadShape::matmul(24, 24, 24).unwrap()).methods(),
        [Method::Freivalds],
        "the crossover in the docs"
    );
}
