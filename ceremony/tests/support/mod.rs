//! What the ceremony tests (this crate's and the command line's) share: snarkjs (skipped with a message when
//! `node_modules` is missing, except under CI, where that fails), powers-of-tau
//! files made offline with snarkjs once and kept in cargo's target tmp folder, and
//! the small circuits the tests run ceremonies for.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use zkmeter_ceremony::CircomR1cs;
use zkmeter_circuits::CircuitShape;
use zkmeter_circuits::workload::{LayerKind, LayerShape, Plan, WorkloadShape};

/// The repository root, where `npm ci` installs snarkjs: the nearest folder above
/// the crate holding package.json (this module serves the ceremony crate's tests
/// and the command line's).
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().find(|dir| dir.join("package.json").is_file()).expect("the repository root has package.json").to_path_buf()
}

/// The snarkjs CLI `npm ci` installed, or `None` after saying why the test skips.
pub fn snarkjs() -> Option<PathBuf> {
    let bin = repo_root().join("node_modules/.bin/snarkjs");
    if bin.exists() {
        return Some(bin);
    }
    let hint = format!("snarkjs is not installed ({} is missing): run `npm ci` in {}", bin.display(), repo_root().display());
    assert!(std::env::var_os("CI").is_none(), "{hint}");
    let _ = writeln!(std::io::stderr(), "skipping: {hint}");
    None
}

/// Runs snarkjs with `args` in `dir`, returning its output; panics with it on failure.
pub fn run_snarkjs(bin: &Path, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (is node on PATH?): {e}", bin.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "snarkjs {args:?} failed ({}):\n{text}", out.status);
    text
}

/// Whether snarkjs's `zkey verify` accepts a transcript (it prints "ZKey Ok!" and
/// exits 0 only then).
pub fn snarkjs_accepts(bin: &Path, r1cs: &Path, ptau: &Path, zkey: &Path) -> (bool, String) {
    let out = Command::new(bin).args(["zkey", "verify"]).args([r1cs, ptau, zkey]).output().expect("snarkjs runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && text.contains("ZKey Ok!"), text)
}

/// A prepared powers-of-tau file of `power`, made with snarkjs (new, one
/// contribution, a beacon, prepare phase 2) the first time any test asks, and kept
/// in cargo's target tmp folder for later runs and other test binaries.
pub fn ptau(bin: &Path, power: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zkmeter-ceremony-ptau");
    let path = dir.join(format!("pot{power}_final.ptau"));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let work = tempfile::tempdir_in(&dir).unwrap();
    let w = work.path();
    run_snarkjs(bin, w, &["powersoftau", "new", "bn128", &power.to_string(), "0.ptau"]);
    run_snarkjs(bin, w, &["powersoftau", "contribute", "0.ptau", "1.ptau", "--name=test", "-e=zkmeter ceremony test"]);
    let beacon = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    run_snarkjs(bin, w, &["powersoftau", "beacon", "1.ptau", "2.ptau", beacon, "10"]);
    run_snarkjs(bin, w, &["powersoftau", "prepare", "phase2", "2.ptau", "final.ptau"]);
    // Atomic: a test binary running beside this one sees the whole file or none.
    std::fs::rename(w.join("final.ptau"), &path).unwrap();
    path
}

/// The meter circuit with one record slot (2^11 domain).
pub fn meter() -> &'static (CircuitShape, CircomR1cs) {
    static METER: OnceLock<(CircuitShape, CircomR1cs)> = OnceLock::new();
    METER.get_or_init(|| {
        let shape = CircuitShape::meter(1);
        let r1cs = CircomR1cs::from_shape(&shape);
        (shape, r1cs)
    })
}

/// A tiny workload circuit: one 2×3 · 3×2 matmul.
pub fn workload_plan() -> Plan {
    let layer = LayerShape { inputs: 3, outputs: 2, kind: LayerKind::MatMul };
    Plan::auto(WorkloadShape::new(2, vec![layer]).expect("a valid shape"))
}

pub fn workload() -> &'static (CircuitShape, CircomR1cs) {
    static WORKLOAD: OnceLock<(CircuitShape, CircomR1cs)> = OnceLock::new();
    WORKLOAD.get_or_init(|| {
        let shape = CircuitShape::workload(&workload_plan());
        let r1cs = CircomR1cs::from_shape(&shape);
        (shape, r1cs)
    })
}
