//! Writes the real workload-proof fixture the Solidity tests settle on-chain:
//! `contracts/test/fixtures/workload_proof.json`.
//!
//! ```sh
//! cargo run --release --example workload_fixture [-- OUT]
//! ```
//!
//! The workload is a 2×4 · 4×3 int8 matrix multiplication (24 multiply-accumulates)
//! proven with [`WorkloadCircuit`] under a stock single-party Groth16 setup. Everything
//! is deterministic (seeded matrices, setup and proof), so running it again after a
//! circuit change gives a reviewable diff. Words are decimal strings in the EVM order
//! of `zkmeter_verifier::proof_codec`; the work is billed to job 1.

use anyhow::{Context, Result, ensure};
use ark_bn254::Bn254;
use ark_groth16::Groth16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::json;
use std::path::PathBuf;
use zkmeter_circuits::workload::{
    Layer, LayerKind, LayerShape, Matrix, Model, Plan, WORKLOAD_PUBLIC_INPUTS, WorkloadCircuit, execute,
};
use zkmeter_verifier::proof_codec::{encode_proof, encode_verifying_key};


#[path = "support/fixture_words.rs"]
mod fixture_words;
use fixture_words::{dec, fr, words};
const JOB_ID: u64 = 1;
const ROWS: usize = 2;
const INNER: usize = 4;
const COLS: usize = 3;

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("contracts/test/fixtures/workload_proof.json"), PathBuf::from);

    let mut rng = ChaCha20Rng::seed_from_u64(20260707);
    let mut int8s = |n: usize| (0..n).map(|_| rng.r#gen::<i8>()).collect::<Vec<_>>();
    let shape = LayerShape { inputs: INNER, outputs: COLS, kind: LayerKind::MatMul };
    let model = Model::new(vec![Layer { shape, weights: int8s(INNER * COLS), bias: vec![] }])?;
    let input = Matrix::new(ROWS, INNER, int8s(ROWS * INNER))?;
    let exec = execute(&model, &input).context("running the workload")?;
    let statement = exec.statement(JOB_ID);
    let plan = Plan::auto(exec.shape.clone());

    let mut rng = ChaCha20Rng::seed_from_u64(20261123);
    let pk = Groth16::<Bn254>::generate_random_parameters_with_reduction(WorkloadCircuit::setup(plan.clone()), &mut rng)
        .context("Groth16 setup of the workload circuit")?;
    let proof = Groth16::<Bn254>::create_random_proof_with_reduction(
        WorkloadCircuit::assigned(plan.clone(), &statement, exec.witness.clone()),
        &pk,
        &mut rng,
    )
    .context("proving the workload")?;
    let public_inputs = statement.public_inputs();
    let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
    ensure!(
        Groth16::<Bn254>::verify_proof(&pvk, &proof, &public_inputs)?,
        "the fixture proof does not verify natively"
    );

    let vk = encode_verifying_key(&pk.vk);
    ensure!(vk.ic.len() == WORKLOAD_PUBLIC_INPUTS + 1, "a workload key has {} IC points", WORKLOAD_PUBLIC_INPUTS + 1);
    let proof_words: Vec<String> = encode_proof(&proof).chunks(32).map(dec).collect();
    let fixture = json!({
        "circuit": plan.circuit_id(),
        "vk": {
            "alpha": words(&vk.alpha),
            "beta": words(&vk.beta),
            "gamma": words(&vk.gamma),
            "delta": words(&vk.delta),
            "ic": vk.ic.iter().map(|p| words(p)).collect::<Vec<_>>(),
        },
        "proof": proof_words,
        "public_inputs": public_inputs.iter().map(fr).collect::<Vec<_>>(),
        "statement": {
            "job_id": statement.job_id,
            "model": fr(&statement.model),
            "input": fr(&statement.input),
            "output": fr(&statement.output),
            "work_units": statement.work_units,
        },
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&fixture)? + "\n")?;
    println!("wrote {}", out.display());
    Ok(())
}
