//! Finds snarkjs's browser build in the repository's npm packages (`npm ci` at
//! the root installs it), for the explorer to serve from the binary: the
//! in-browser proof check never loads code from elsewhere. Without it the
//! explorer still builds and serves its pages, and the check says how to get it.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("..");
    let snarkjs = root.join("node_modules/snarkjs/build/snarkjs.min.js");
    println!("cargo:rerun-if-changed={}", snarkjs.display());
    println!("cargo:rustc-check-cfg=cfg(snarkjs)");
    if snarkjs.exists() {
        println!("cargo:rustc-cfg=snarkjs");
        println!("cargo:rustc-env=ZKMETER_SNARKJS={}", snarkjs.display());
    }
}
