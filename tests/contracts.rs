//! The Solidity side, run from cargo so that one test command covers the project:
//! forge's own tests (unit, fuzz, invariant, the real-proof fixture) checked against
//! the committed gas snapshot, and the committed ABI/bytecode artifacts checked
//! against a fresh build of the sources.
//!
//! Needs `npm ci` in `contracts/` (forge, solc and OpenZeppelin come from npm).
//! Without it these tests say so and pass, except under CI (`CI` set), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

fn contracts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

/// The forge binary npm installed, or `None` (after saying why) when the test should skip.
fn forge() -> Option<PathBuf> {
    let forge = contracts().join("node_modules/.bin/forge");
    if forge.exists() {
        return Some(forge);
    }
    let help = format!("forge is not installed: run `npm ci` in {}", contracts().display());
    assert!(std::env::var_os("CI").is_none(), "{help}");
    eprintln!("skipping: {help}");
    None
}

fn run(program: &Path, args: &[&str]) {
    let out = Command::new(program).args(args).current_dir(contracts()).output().expect("the tool starts");
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn forge_tests_pass_within_the_committed_gas_snapshot() {
    if let Some(forge) = forge() {
        run(&forge, &["snapshot", "--check"]);
    }
}

#[test]
fn committed_artifacts_match_the_sources() {
    if forge().is_some() {
        run(Path::new("node"), &["tools/build-artifacts.mjs", "--check"]);
    }
}

/// `cargo test` builds the examples beside the test binaries: the fixture writer
/// run again must give the committed fixture byte for byte, so the fixture the
/// Solidity test settles is what this tree's circuit proves.
#[test]
fn the_committed_meter_fixture_is_what_the_example_writes() {
    let deps = std::env::current_exe().expect("the test binary's path");
    let example = deps.parent().and_then(Path::parent).expect("target/<profile>").join("examples/contract_fixture");
    assert!(example.exists(), "{} is not built: run `cargo test --workspace`", example.display());
    let out = tempfile::tempdir().expect("a temporary directory").path().join("meter_proof.json");
    let written = Command::new(&example).arg(&out).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("the example starts");
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let committed = contracts().join("test/fixtures/meter_proof.json");
    assert!(
        std::fs::read(&out).expect("written") == std::fs::read(&committed).expect("committed"),
        "{} differs from what examples/contract_fixture.rs writes: run `cargo run --release --example contract_fixture` and commit it",
        committed.display()
    );
}
