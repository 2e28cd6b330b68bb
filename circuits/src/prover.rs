//! Proving meter epochs and workloads.
//!
//! [`MeterProver`] and [`WorkloadProver`] keep the proving key and the circuit's
//! constraint matrices in memory: each proof only computes the witness (no
//! matrices, no linear-combination inlining) and reuses the matrices for the QAP,
//! where stock `ark_groth16::Groth16::prove` rebuilds the whole constraint system
//! every time. That saving is small next to the MSMs and NTTs (see
//! `benches/RESULTS.md`); the proof is the same Groth16 proof either way. Every
//! proof is checked against the verifying key before it is returned, so a bug can
//! never hand out a proof that will be refused later.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey, prepare_verifying_key};
use ark_relations::gr1cs::ConstraintSynthesizer;
use ark_std::UniformRand;
use rand::{CryptoRng, RngCore};
use std::path::Path;

use crate::assignment::synthesize;
use crate::keys::{CircuitShape, KeyError, load_proving_key};
use crate::meter_circuit::MeterCircuit;
use crate::qap_reduction::{CircomReduction, QapReduction};
use crate::statement::MeterInstance;
use crate::witness::MeterWitness;
use crate::workload::{Execution, Plan, WorkloadCircuit, WorkloadStatement};

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The witness has a different number of slots than the key.
    #[error("the epoch was built for {found} record slots but the proving key has {expected}: build it with the key's N")]
    WrongSlots {
        /// The key's N.
        expected: usize,
        /// The witness's N.
        found: usize,
    },
    /// The workload ran with another shape than the key's circuit.
    #[error("the workload ran as {found}, but the proving key is for circuit {expected}: run the key's model on input of its rows, or set up keys for this workload")]
    WrongShape {
        /// The key's circuit id.
        expected: String,
        /// The execution's shape.
        found: String,
    },
    /// Groth16 failed (synthesis error, domain too large).
    #[error("proving failed: {0}")]
    Groth16(String),
    /// The proof does not verify: the witness breaks a rule of the circuit.
    /// Witnesses from [`crate::build_epoch`] and [`crate::workload::execute`] never
    /// do, so this is a bug to report.
    #[error("the witness does not satisfy circuit {circuit}, so no valid proof exists for it; witnesses from build_epoch and workload::execute never cause this, please report it")]
    Unsatisfied {
        /// The circuit id.
        circuit: String,
    },
}

/// A proving key and its circuit's matrices, resident: what both provers share.
struct Resident {
    shape: CircuitShape,
    pk: ProvingKey<Bn254>,
    pvk: PreparedVerifyingKey<Bn254>,
    reduction: QapReduction,
}

impl Resident {
    fn new(shape: CircuitShape, pk: ProvingKey<Bn254>) -> Self {
        let pvk = prepare_verifying_key(&pk.vk);
        // The H query's length says which reduction the key was made for (a
        // development or a ceremony key); a key of neither length cannot prove, and
        // its proofs are refused by the check below.
        let reduction = QapReduction::of_key(pk.h_query.len(), shape.domain_size()).unwrap_or(QapReduction::Libsnark);
        Resident { shape, pk, pvk, reduction }
    }

    /// Proves `circuit` (assigned to prove `public`) from its witness alone and
    /// checks the proof against `public`.
    fn prove<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        circuit: C,
        public: &[Fr],
        rng: &mut R,
    ) -> Result<Proof<Bn254>, ProveError> {
        let assignment = synthesize(circuit).map_err(|e| ProveError::Groth16(e.to_string()))?;

        let (r, s) = (Fr::rand(rng), Fr::rand(rng));
        let shape = &self.shape;
        let (matrices, inputs, constraints) = (&shape.matrices, shape.num_instance_variables, shape.num_constraints);
        let proof = match self.reduction {
            QapReduction::Libsnark => Groth16::<Bn254>::create_proof_with_reduction_and_matrices(
                &self.pk, r, s, matrices, inputs, constraints, &assignment.z,
            ),
            QapReduction::Circom => Groth16::<Bn254, CircomReduction>::create_proof_with_reduction_and_matrices(
                &self.pk, r, s, matrices, inputs, constraints, &assignment.z,
            ),
        }
        .map_err(|e| ProveError::Groth16(e.to_string()))?;

        match Groth16::<Bn254>::verify_proof(&self.pvk, &proof, public) {
            Ok(true) => Ok(proof),
            _ => Err(ProveError::Unsatisfied { circuit: self.shape.header.circuit.clone() }),
        }
    }
}

/// The meter circuit's proving key with everything a proof needs, kept resident.
pub struct MeterProver {
    inner: Resident,
}

impl MeterProver {
    /// Wraps a proving key made for `shape`.
    pub fn new(shape: CircuitShape, pk: ProvingKey<Bn254>) -> Self {
        MeterProver { inner: Resident::new(shape, pk) }
    }

    /// Loads `path`, refusing a key made for any circuit but the meter circuit with
    /// `slots` record slots.
    pub fn load(path: &Path, slots: u32) -> Result<Self, KeyError> {
        let shape = CircuitShape::meter(slots);
        let pk = load_proving_key(path, &shape)?;
        Ok(Self::new(shape, pk))
    }

    /// The circuit's shape (header, sizes).
    pub fn shape(&self) -> &CircuitShape {
        &self.inner.shape
    }

    /// The verifying key that goes with this proving key.
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        &self.inner.pk.vk
    }

    /// The proving key itself (for benchmarks against stock ark-groth16).
    pub fn proving_key(&self) -> &ProvingKey<Bn254> {
        &self.inner.pk
    }

    /// Proves that `witness` moves the stream as `instance` says.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        instance: &MeterInstance,
        witness: &MeterWitness,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, ProveError> {
        let expected = self.inner.shape.header.slots as usize;
        if witness.slots.len() != expected {
            return Err(ProveError::WrongSlots { expected, found: witness.slots.len() });
        }
        let circuit = MeterCircuit::assigned(*instance, witness.clone());
        self.inner.prove(circuit, &instance.public_inputs(), rng)
    }
}

/// A workload circuit's proving key (one [`Plan`]) with everything a proof needs,
/// kept resident.
pub struct WorkloadProver {
    plan: Plan,
    inner: Resident,
}

impl WorkloadProver {
    /// Wraps a proving key made for `plan`, whose shape `shape` is
    /// ([`CircuitShape::workload`]).
    pub fn new(plan: Plan, shape: CircuitShape, pk: ProvingKey<Bn254>) -> Self {
        assert_eq!(shape.header.circuit, plan.circuit_id(), "the shape is the plan's");
        WorkloadProver { plan, inner: Resident::new(shape, pk) }
    }

    /// Loads `path`, refusing a key made for any circuit but `plan`'s.
    pub fn load(path: &Path, plan: Plan) -> Result<Self, KeyError> {
        let shape = CircuitShape::workload(&plan);
        let pk = load_proving_key(path, &shape)?;
        Ok(Self::new(plan, shape, pk))
    }

    /// The plan the key is for.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The circuit's shape (header, sizes).
    pub fn shape(&self) -> &CircuitShape {
        &self.inner.shape
    }

    /// The verifying key that goes with this proving key.
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        &self.inner.pk.vk
    }

    /// Proves that `execution` (from [`crate::workload::execute`]) gave its output,
    /// billed to job `job_id`; returns the proof and the statement it proves.
    pub fn prove<R: RngCore + CryptoRng>(
        &self,
        job_id: u64,
        execution: &Execution,
        rng: &mut R,
    ) -> Result<(Proof<Bn254>, WorkloadStatement), ProveError> {
        if execution.shape != *self.plan.shape() {
            return Err(ProveError::WrongShape { expected: self.plan.circuit_id(), found: execution.shape.to_string() });
        }
        let statement = execution.statement(job_id);
        let circuit = WorkloadCircuit::assigned(self.plan.clone(), &statement, execution.witness.clone());
        let proof = self.inner.prove(circuit, &statement.public_inputs(), rng)?;
        Ok((proof, statement))
    }
}
