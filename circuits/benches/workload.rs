//! Workload proofs: constraints and proving time of matmul and MLP workloads, direct
//! against Freivalds, next to the CPU time of the workload itself.
//!
//! Each case runs the workload natively ([`infer`]: the int8 arithmetic alone, one
//! core; [`execute`]: with the witness and commitments), sets up Groth16 keys for its
//! plan, and proves with stock `ark_groth16::Groth16::prove` (the anchor of every
//! proving figure in this repository), each proof verified. The ratio reported is
//! proving time over the workload's own CPU time.
//!
//! `cargo bench -p zkmeter-circuits --bench workload` runs `matmul64,mlp`;
//! `ZKMETER_BENCH_WORKLOADS=matmul32,matmul64,matmul128,mlp,mlp784` picks cases
//! (`matmulN`: N×N·N×N; `mlp`: 16 rows of 64-32-10; `mlp784`: 16 rows of 784-128-10),
//! `ZKMETER_BENCH_ROUNDS` the proofs per plan (median reported; default 3).

use ark_bn254::{Bn254, Fr};
use ark_groth16::Groth16;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
use ark_snark::SNARK;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::time::{Duration, Instant};
use zkmeter_circuits::workload::{
    Layer, LayerKind, LayerShape, Matrix, Method, Model, Plan, WorkloadCircuit, execute, infer,
};

fn random_i8(rng: &mut ChaCha20Rng, n: usize) -> Vec<i8> {
    (0..n).map(|_| rng.r#gen::<i8>()).collect()
}

/// `rows` random inputs through layers of the given widths: ReLU layers with shift
/// `shift`, the last one without ReLU. Biases are small enough never to overflow.
fn mlp(rows: usize, widths: &[usize], shift: u8, rng: &mut ChaCha20Rng) -> (Model, Matrix<i8>) {
    let layers = widths
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let relu = i + 2 < widths.len();
            let shape = LayerShape { inputs: w[0], outputs: w[1], kind: LayerKind::Requantise { shift, relu } };
            let bias = (0..w[1]).map(|_| rng.gen_range(-4_096..4_096)).collect();
            Layer { shape, weights: random_i8(rng, w[0] * w[1]), bias }
        })
        .collect();
    (
        Model::new(layers).expect("valid layers"),
        Matrix::new(rows, widths[0], random_i8(rng, rows * widths[0])).expect("valid input"),
    )
}

fn matmul(n: usize, rng: &mut ChaCha20Rng) -> (Model, Matrix<i8>) {
    let shape = LayerShape { inputs: n, outputs: n, kind: LayerKind::MatMul };
    let model = Model::new(vec![Layer { shape, weights: random_i8(rng, n * n), bias: vec![] }]).expect("valid layer");
    (model, Matrix::new(n, n, random_i8(rng, n * n)).expect("valid input"))
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Median time of `f` over enough runs to fill about half a second.
fn cpu_time<T>(mut f: impl FnMut() -> T) -> Duration {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < Duration::from_millis(500) && times.len() < 1_000) {
        let t = Instant::now();
        std::hint::black_box(f());
        times.push(t.elapsed());
    }
    median(times)
}

struct Row {
    case: String,
    plan: String,
    macs: u64,
    constraints: usize,
    infer: Duration,
    execute: Duration,
    setup: Duration,
    prove: Duration,
}

fn bench_plan(case: &str, model: &Model, input: &Matrix<i8>, plan: Plan, rounds: usize, rng: &mut ChaCha20Rng) -> Row {
    let exec = execute(model, input).expect("the workload runs");
    let statement = exec.statement(1);
    let constraints = plan.constraints();
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    WorkloadCircuit::setup(plan.clone()).generate_constraints(cs.clone()).expect("synthesis");
    assert_eq!(cs.num_constraints(), constraints, "Plan::constraints is exact");
    drop(cs);
    eprintln!("{case} {}: {constraints} constraints; setting up keys…", plan.circuit_id());
    let t = Instant::now();
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(WorkloadCircuit::setup(plan.clone()), rng).expect("setup");
    let setup = t.elapsed();
    let mut times = Vec::new();
    for _ in 0..rounds {
        let circuit = WorkloadCircuit::assigned(plan.clone(), &statement, exec.witness.clone());
        let t = Instant::now();
        let proof = Groth16::<Bn254>::prove(&pk, circuit, rng).expect("proof");
        times.push(t.elapsed());
        assert!(
            Groth16::<Bn254>::verify(&vk, &statement.public_inputs(), &proof).expect("verification"),
            "the proof verifies"
        );
    }
    let methods: Vec<&str> =
        plan.methods().iter().map(|m| if *m == Method::Direct { "direct" } else { "Freivalds" }).collect();
    Row {
        case: case.into(),
        plan: methods.join(" + "),
        macs: exec.shape.work_units(),
        constraints,
        infer: cpu_time(|| infer(model, input).expect("runs")),
        execute: cpu_time(|| execute(model, input).expect("runs")),
        setup,
        prove: median(times),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this binary has no options of its own.
    let cases = std::env::var("ZKMETER_BENCH_WORKLOADS").unwrap_or_else(|_| "matmul64,mlp".into());
    let rounds: usize =
        std::env::var("ZKMETER_BENCH_ROUNDS").map_or(3, |r| r.parse().expect("ZKMETER_BENCH_ROUNDS is a number"));
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let mut rows = Vec::new();
    for case in cases.split(',').map(str::trim) {
        let (model, input) = match case {
            "mlp" => mlp(16, &[64, 32, 10], 8, &mut rng),
            "mlp784" => mlp(16, &[784, 128, 10], 10, &mut rng),
            c if c.starts_with("matmul") => {
                matmul(c["matmul".len()..].parse().expect("matmulN with a number N"), &mut rng)
            }
            c => panic!("unknown case {c:?}: use matmulN, mlp or mlp784"),
        };
        let shape = model.shape(input.rows).expect("valid shape");
        let direct = Plan::with_methods(shape.clone(), vec![Method::Direct; shape.layers().len()]);
        let freivalds = Plan::with_methods(shape.clone(), vec![Method::Freivalds; shape.layers().len()]);
        let auto = Plan::auto(shape);
        let mut plans = vec![direct, freivalds];
        if !plans.contains(&auto) {
            plans.push(auto);
        }
        for plan in plans {
            rows.push(bench_plan(case, &model, &input, plan, rounds, &mut rng));
        }
    }
    println!(
        "| case | plan | MACs | constraints | per MAC | CPU: infer | CPU: execute | setup | prove (stock Groth16, median) | prove / infer |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {:.3} | {:.1} µs | {:.1} µs | {:.1} s | {:.2} s | {:.0}× |",
            r.case,
            r.plan,
            r.macs,
            r.constraints,
            r.constraints as f64 / r.macs as f64,
            r.infer.as_secs_f64() * 1e6,
            r.execute.as_secs_f64() * 1e6,
            r.setup.as_secs_f64(),
            r.prove.as_secs_f64(),
            r.prove.as_secs_f64() / r.infer.as_secs_f64(),
        );
    }
}
