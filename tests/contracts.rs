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
