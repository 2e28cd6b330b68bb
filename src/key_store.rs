//! The keys in a data directory: `keys/meter-N.pk` and `keys/meter-N.vk`, and the
//! workload circuits' `keys/workload-<id>.pk` and `.vk`.

use anyhow::{Context, Result};
use ark_bn254::Bn254;
use ark_groth16::VerifyingKey;
use rand::rngs::OsRng;
use std::path::{Path, PathBuf};
use zkmeter_circuits::keys::{self, KeyKind};
use zkmeter_circuits::workload::Plan;
use zkmeter_circuits::{CircuitShape, KeyError, KeyHeader, MeterProver};

use crate::progress::spinner;

/// Key files under `<data dir>/keys`.
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    /// The key store of a data directory.
    pub fn new(data_dir: &Path) -> Self {
        KeyStore { dir: data_dir.join("keys") }
    }

    /// The key directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Proving and verifying key paths of a workload circuit.
    pub fn workload_paths(&self, plan: &Plan) -> (PathBuf, PathBuf) {
        keys::workload_key_paths(&self.dir, plan)
    }

    /// Proving and verifying key paths for N record slots.
    pub fn paths(&self, slots: u32) -> (PathBuf, PathBuf) {
        keys::key_paths(&self.dir, slots)
    }

    /// Runs a fresh single-party setup for N slots and writes both keys.
    pub fn setup(&self, slots: u32) -> Result<MeterProver> {
        let progress = spinner(format!("synthesizing the meter circuit with {slots} record slots"));
        let shape = CircuitShape::meter(slots);
        progress.set_message(format!("generating Groth16 keys for {} constraints", shape.num_constraints));
        let pk = keys::setup(&shape, &mut OsRng)?;
        progress.set_message("writing keys");
        let (pk_path, vk_path) = self.paths(slots);
        keys::write_key(&pk_path, KeyKind::Proving, &shape.header, &pk)?;
        keys::write_key(&vk_path, KeyKind::Verifying, &shape.header, &pk.vk)?;
        progress.finish_and_clear();
        Ok(MeterProver::new(shape, pk))
    }

    /// Loads the proving key for N slots.
    pub fn prover(&self, slots: u32) -> Result<MeterProver> {
        let progress = spinner(format!("loading the proving key for {slots} record slots"));
        let prover = MeterProver::load(&self.paths(slots).0, slots)?;
        progress.finish_and_clear();
        Ok(prover)
    }

    /// Loads the proving key for N slots, or makes the keys if there are none yet.
    /// A key that is there but unusable (corrupt, for another circuit) is an error:
    /// making new keys would replace the verifier on chain, and the old key may
    /// be the only copy of a ceremony's result.
    pub fn prover_or_setup(&self, slots: u32) -> Result<MeterProver> {
        match self.prover(slots) {
            Ok(prover) => Ok(prover),
            Err(e) if matches!(e.downcast_ref::<KeyError>(), Some(KeyError::Missing { .. })) => self.setup(slots),
            Err(e) => Err(e),
        }
    }

    /// Loads a verifying key: `path` if given, else the store's key for N slots.
    pub fn verifying_key(&self, path: Option<&Path>, slots: u32) -> Result<(PathBuf, KeyHeader, VerifyingKey<Bn254>)> {
        let path = path.map_or_else(|| self.paths(slots).1, Path::to_path_buf);
        let (header, vk) = keys::load_verifying_key(&path)
            .with_context(|| format!("cannot use verifying key {}", path.display()))?;
        Ok((path, header, vk))
    }
}
