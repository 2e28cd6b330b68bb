//! `zkmeter verify`: verify proof files, batched when there are several.

use anyhow::{Result, bail};
use ark_bn254::Fr;
use rand::rngs::OsRng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zkmeter_circuits::{KeyHeader, ProofFile, PUBLIC_INPUTS};
use zkmeter_verifier::Verifier;

use crate::key_store::KeyStore;

/// Arguments of `zkmeter verify`.
#[derive(clap::Args)]
pub struct Args {
    /// Proof files.
    #[arg(required = true)]
    proofs: Vec<PathBuf>,
    /// Verifying key (default: the data directory's key for each proof's N).
    #[arg(long)]
    key: Option<PathBuf>,
}

pub fn run(data_dir: &Path, args: Args) -> Result<()> {
    let files = args.proofs.iter().map(|p| ProofFile::read(p)).collect::<Result<Vec<_>, _>>()?;
    let store = KeyStore::new(data_dir);
    let mut by_slots: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        by_slots.entry(f.key.slots).or_default().push(i);
    }
    let mut valid = vec![true; files.len()];
    for (slots, indices) in by_slots {
        let (vk_path, header, vk) = store.verifying_key(args.key.as_deref(), slots)?;
        for &i in &indices {
            check_same_key(&args.proofs[i], &files[i].key, &vk_path, &header)?;
        }
        let verifier = Verifier::new(&vk);
        let inputs: Vec<[Fr; PUBLIC_INPUTS]> = indices.iter().map(|&i| files[i].statement.public_inputs()).collect();
        let items: Vec<_> = indices.iter().zip(&inputs).map(|(&i, x)| (&files[i].proof, &x[..])).collect();
        for (k, _) in verifier.verify_batch(&items, &mut OsRng).invalid {
            valid[indices[k]] = false;
        }
    }
    for ((path, file), ok) in args.proofs.iter().zip(&files).zip(&valid) {
        println!("{}  {}  {}", if *ok { "valid  " } else { "INVALID" }, path.display(), super::describe(file));
    }
    let bad = valid.iter().filter(|ok| !**ok).count();
    if bad > 0 {
        bail!("{bad} of {} proofs do not verify", files.len());
    }
    Ok(())
}

/// Refuses a proof made with another key than the one it is checked against.
pub fn check_same_key(proof: &Path, proof_key: &KeyHeader, vk_path: &Path, vk: &KeyHeader) -> Result<()> {
    if proof_key != vk {
        bail!(
            "{} was made with a key for {} (digest {}) but {} is for {} (digest {}): verify it with the key it was made with",
            proof.display(),
            proof_key.describe(),
            proof_key.digest_hex(),
            vk_path.display(),
            vk.describe(),
            vk.digest_hex()
        );
    }
    Ok(())
}
