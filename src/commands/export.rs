//! `zkmeter export`: write a proof in snarkjs's JSON format, so snarkjs (or any
//! Groth16 verifier that reads it) can check it independently.

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use zkmeter_circuits::{ProofFile, snarkjs};
use zkmeter_verifier::Verifier;

use crate::key_store::KeyStore;

/// Arguments of `zkmeter export`.
#[derive(clap::Args)]
pub struct Args {
    /// Proof file to export.
    proof: PathBuf,
    /// Verifying key (default: the data directory's key for the proof's N).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Directory for verification_key.json, proof.json and public.json.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let file = ProofFile::read(&args.proof)?;
    let (vk_path, header, vk) = KeyStore::new(data_dir).verifying_key(args.key.as_deref(), file.key.slots)?;
    super::verify::check_same_key(&args.proof, &file.key, &vk_path, &header)?;
    let inputs = file.statement.public_inputs();
    if let Err(e) = Verifier::new(&vk).verify(&file.proof, &inputs) {
        bail!("{} does not verify ({e}); not exporting it", args.proof.display());
    }
    snarkjs::write_snarkjs_files(&args.out, &vk, &file.proof, &inputs)?;
    println!("wrote verification_key.json, proof.json and public.json to {}", args.out.display());
    println!("check them with: snarkjs groth16 verify {0}/verification_key.json {0}/public.json {0}/proof.json", args.out.display());
    Ok(())
}
