//! snarkjs, an independent Groth16 implementation, checks our exported proofs.
//!
//! Needs `npm ci` at the repository root (it installs the pinned snarkjs into
//! `node_modules/`). Without it these tests print why they are skipped and pass,
//! except under CI (the `CI` environment variable set), where they fail.
//!
//! [`circuit_instance`] (the meter circuit) and [`workload_instance`] (workload
//! circuits) know which circuit is proved; everything else works for any circuit.

use std::env;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ark_bn254::{Bn254, Fr, G1Affine};
use ark_ec::AffineRepr;
use ark_ff::Field;
use ark_groth16::{Groth16, Proof, VerifyingKey};
use ark_snark::SNARK;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use zkmeter_circuits::snarkjs::{self, SnarkjsError, write_snarkjs_files};
use zkmeter_circuits::workload::{Layer, LayerKind, LayerShape, Matrix, Model, Plan, WorkloadStatement, execute};
use zkmeter_circuits::{
    CircuitShape, MeterCircuit, PerClass, StreamId, UsageRecord, WorkloadProver, build_epoch, keys,
};

/// The meter circuit with two record slots, proving a real epoch.
fn circuit_instance() -> (MeterCircuit, Vec<Fr>) {
    let stream = StreamId { meter: [0x5a; 20], job_id: 9 };
    let records = [
        UsageRecord { seq: 1, start_ms: 1_000, end_ms: 4_000, usage: PerClass([20_000, 0, 0, 4_096, 7_000]) },
        UsageRecord { seq: 2, start_ms: 4_000, end_ms: 5_000, usage: PerClass([0, 0, 0, 0, 7_000]) },
    ];
    let caps = PerClass([8, 64, 1 << 40, 1 << 24, 10_000]);
    let (statement, witness) = build_epoch(stream, stream.genesis(1_000), &records, caps, Fr::from(17u64), 2).expect("valid records");
    (MeterCircuit::assigned(statement.instance(), witness), statement.public_inputs().to_vec())
}

/// A real workload proof from [`WorkloadProver`] (the auto plan) and its statement.
fn workload_instance(model: &Model, input: &Matrix<i8>, seed: u64) -> (VerifyingKey<Bn254>, Proof<Bn254>, WorkloadStatement) {
    let execution = execute(model, input).expect("the workload runs");
    let plan = Plan::auto(execution.shape.clone());
    let shape = CircuitShape::workload(&plan);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let pk = keys::setup(&shape, &mut rng).expect("setup");
    let prover = WorkloadProver::new(plan, shape, pk);
    let (proof, statement) = prover.prove(5, &execution, &mut rng).expect("prove");
    (prover.verifying_key().clone(), proof, statement)
}

/// A 2×4 · 4×3 matmul (int32 output).
fn matmul() -> (Model, Matrix<i8>) {
    let shape = LayerShape { inputs: 4, outputs: 3, kind: LayerKind::MatMul };
    let weights = vec![3, -2, 5, 1, -4, 7, 0, 2, 1, 1, -3, 6];
    let model = Model::new(vec![Layer { shape, weights, bias: vec![] }]).expect("valid layer");
    (model, Matrix::new(2, 4, vec![12, -7, 30, 5, -100, 64, 3, -9]).expect("valid input"))
}

/// 2 rows through 4 → 3 (ReLU, shift 4) → 2 (shift 2; int8 output).
fn tiny_mlp() -> (Model, Matrix<i8>) {
    let (matmul, input) = matmul();
    let first = Layer {
        shape: LayerShape { inputs: 4, outputs: 3, kind: LayerKind::Requantise { shift: 4, relu: true } },
        weights: matmul.layers()[0].weights.clone(),
        bias: vec![10, -20, 30],
    };
    let second = Layer {
        shape: LayerShape { inputs: 3, outputs: 2, kind: LayerKind::Requantise { shift: 2, relu: false } },
        weights: vec![2, -1, -3, 4, 5, 1],
        bias: vec![-5, 7],
    };
    (Model::new(vec![first, second]).expect("valid layers"), input)
}

struct Fixture {
    vk: VerifyingKey<Bn254>,
    proof: Proof<Bn254>,
    public: Vec<Fr>,
}

/// One setup and proof, shared by all tests (a real circuit's setup is slow).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (circuit, public) = circuit_instance();
        // A fixed seed, so a failure reproduces with the same key and proof.
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (pk, vk) =
            Groth16::<Bn254>::circuit_specific_setup(circuit.clone(), &mut rng).expect("setup");
        let proof = Groth16::<Bn254>::prove(&pk, circuit, &mut rng).expect("prove");
        assert!(
            Groth16::<Bn254>::verify(&vk, &public, &proof).expect("verify"),
            "arkworks must accept the untampered proof"
        );
        Fixture { vk, proof, public }
    })
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("circuits/ lies inside the repository")
        .to_path_buf()
}

/// The installed snarkjs CLI, or `None` (after saying so) when the test should
/// be skipped.
fn snarkjs_bin() -> Option<PathBuf> {
    let root = repo_root();
    let bin = root.join("node_modules/.bin/snarkjs");
    if bin.exists() {
        return Some(bin);
    }
    let hint = format!(
        "snarkjs is not installed ({} is missing): run `npm ci` in {}",
        bin.display(),
        root.display()
    );
    assert!(env::var_os("CI").is_none(), "{hint}");
    // Straight to stderr: libtest captures `eprintln!`, and a skip must be seen.
    let _ = writeln!(io::stderr(), "skipping snarkjs interop test: {hint}");
    None
}

/// What `snarkjs groth16 verify` said about one exported proof.
struct Verdict {
    status: std::process::ExitStatus,
    output: String,
}

fn snarkjs_verify(
    bin: &Path,
    vk: &VerifyingKey<Bn254>,
    proof: &Proof<Bn254>,
    public: &[Fr],
) -> Verdict {
    let dir = tempfile::tempdir().expect("temporary folder");
    write_snarkjs_files(dir.path(), vk, proof, public).expect("export");
    let out = Command::new(bin)
        .current_dir(repo_root())
        .args(["groth16", "verify"])
        .arg(dir.path().join(snarkjs::VERIFICATION_KEY_FILE))
        .arg(dir.path().join(snarkjs::PUBLIC_FILE))
        .arg(dir.path().join(snarkjs::PROOF_FILE))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (is node on PATH?): {e}", bin.display()));
    Verdict {
        status: out.status,
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn assert_accepted(v: &Verdict) {
    assert!(
        v.status.success() && v.output.contains("OK!"),
        "snarkjs refused a valid proof ({}):\n{}",
        v.status,
        v.output
    );
}

/// Refused by the pairing check itself: exit status 1 and "Invalid proof". A
/// file snarkjs cannot parse also exits 1, so the message is what tells a real
/// refusal from a broken export.
fn assert_refused(v: &Verdict, what: &str) {
    assert!(
        v.status.code() == Some(1)
            && v.output.contains("Invalid proof")
            && !v.output.contains("OK!"),
        "snarkjs should refuse {what} as an invalid proof, but said ({}):\n{}",
        v.status,
        v.output
    );
}

#[test]
fn snarkjs_accepts_exported_proof() {
    let Some(bin) = snarkjs_bin() else { return };
    let f = fixture();
    assert_accepted(&snarkjs_verify(&bin, &f.vk, &f.proof, &f.public));
}

#[test]
fn snarkjs_refuses_each_public_input_changed() {
    let Some(bin) = snarkjs_bin() else { return };
    let f = fixture();
    for i in 0..f.public.len() {
        let mut public = f.public.clone();
        public[i] += Fr::ONE;
        assert!(!Groth16::<Bn254>::verify(&f.vk, &public, &f.proof).unwrap());
        assert_refused(
            &snarkjs_verify(&bin, &f.vk, &f.proof, &public),
            &format!("public input {i} + 1"),
        );
    }
}

#[test]
fn snarkjs_refuses_tampered_proofs() {
    let Some(bin) = snarkjs_bin() else { return };
    let f = fixture();
    let g1 = G1Affine::generator();
    // Each tampered proof still consists of valid curve points, so only the
    // pairing check can refuse it.
    let tampered = [
        (
            "A replaced by A + G",
            Proof {
                a: (f.proof.a + g1).into(),
                ..f.proof.clone()
            },
        ),
        (
            "B negated",
            Proof {
                b: -f.proof.b,
                ..f.proof.clone()
            },
        ),
        (
            "C negated",
            Proof {
                c: -f.proof.c,
                ..f.proof.clone()
            },
        ),
        (
            "A and C swapped",
            Proof {
                a: f.proof.c,
                c: f.proof.a,
                ..f.proof.clone()
            },
        ),
    ];
    for (what, proof) in tampered {
        assert!(!Groth16::<Bn254>::verify(&f.vk, &f.public, &proof).unwrap());
        assert_refused(&snarkjs_verify(&bin, &f.vk, &proof, &f.public), what);
    }
}

/// `groth16 verify` ignores `vk_alphabeta_12`, so compare it with the value
/// snarkjs's own curve code computes from the exported α and β.
#[test]
fn alphabeta_matches_snarkjs_pairing() {
    let Some(_) = snarkjs_bin() else { return };
    let f = fixture();
    let dir = tempfile::tempdir().expect("temporary folder");
    write_snarkjs_files(dir.path(), &f.vk, &f.proof, &f.public).expect("export");
    let vk_path = dir.path().join(snarkjs::VERIFICATION_KEY_FILE);
    let script = r#"
        import { readFileSync } from "node:fs";
        import { curves } from "snarkjs";
        const vk = JSON.parse(readFileSync(process.argv[1], "utf8"));
        const curve = await curves.getCurveFromName(vk.curve);
        const alpha = curve.G1.fromObject(vk.vk_alpha_1.map(BigInt));
        const beta = curve.G2.fromObject(vk.vk_beta_2.map((c) => c.map(BigInt)));
        const ab = curve.Gt.toObject(await curve.pairing(alpha, beta));
        console.log(JSON.stringify(ab, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
        await curve.terminate();
    "#;
    let out = Command::new("node")
        .current_dir(repo_root())
        .args(["--input-type=module", "-e", script])
        .arg(&vk_path)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("pairing JSON");
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&vk_path).unwrap()).unwrap();
    assert_eq!(exported["vk_alphabeta_12"], theirs);
}

#[test]
fn export_refuses_wrong_public_input_count() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("temporary folder");
    let err = write_snarkjs_files(dir.path(), &f.vk, &f.proof, &f.public[1..]).unwrap_err();
    assert!(matches!(
        err,
        SnarkjsError::PublicInputCount {
            expected: 5,
            actual: 4
        }
    ));
}

#[test]
fn snarkjs_accepts_workload_proofs_and_refuses_a_forged_output() {
    let Some(bin) = snarkjs_bin() else { return };
    for (what, (model, input)) in [("the matmul", matmul()), ("the MLP", tiny_mlp())] {
        let (vk, proof, statement) = workload_instance(&model, &input, 2);
        let public = statement.public_inputs();
        let dir = tempfile::tempdir().expect("temporary folder");
        write_snarkjs_files(dir.path(), &vk, &proof, &public).expect("export");
        let exported: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(snarkjs::VERIFICATION_KEY_FILE)).unwrap()).unwrap();
        assert_eq!(exported["nPublic"], 4, "{what}");
        assert_accepted(&snarkjs_verify(&bin, &vk, &proof, &public));

        let mut forged = statement;
        forged.output += Fr::ONE;
        assert!(!Groth16::<Bn254>::verify(&vk, &forged.public_inputs(), &proof).unwrap());
        assert_refused(&snarkjs_verify(&bin, &vk, &proof, &forged.public_inputs()), &format!("{what} with output commitment + 1"));
    }
}
