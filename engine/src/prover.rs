//! The proving pipeline: key and matrices resident, then per proof
//! witness → QAP → five MSMs → `ark_groth16::Proof`.

use ark_bn254::{Bn254, Fr, G1Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{UniformRand, Zero};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey, prepare_verifying_key};
use ark_poly::EvaluationDomain;
use ark_relations::gr1cs::{ConstraintSynthesizer, Matrix};
use ark_std::rand::{CryptoRng, RngCore};
use std::time::{Duration, Instant};
use zkmeter_circuits::CircuitShape;
use zkmeter_circuits::assignment::{Assignment, synthesize};
use zkmeter_circuits::qap_reduction::QapReduction;

use crate::backend::{BackendKind, ProverBackend};
use crate::cpu::CpuBackend;
use crate::error::EngineError;
use crate::qap::Qap;

/// A circuit's constraint matrices and sizes, as setup saw them.
#[derive(Clone, Copy, Debug)]
pub struct R1cs<'a> {
    /// A, B, C: one row per constraint, `(coefficient, variable)` terms.
    pub matrices: &'a [Matrix<Fr>],
    /// Instance variables, the constant 1 included.
    pub num_instance_variables: usize,
    /// Witness variables.
    pub num_witness_variables: usize,
    /// Constraints.
    pub num_constraints: usize,
}

impl<'a> From<&'a CircuitShape> for R1cs<'a> {
    fn from(shape: &'a CircuitShape) -> Self {
        R1cs {
            matrices: &shape.matrices,
            num_instance_variables: shape.num_instance_variables,
            num_witness_variables: shape.num_witness_variables,
            num_constraints: shape.num_constraints,
        }
    }
}

/// Where the time of one proof went.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Running the circuit's witness code.
    pub witness: Duration,
    /// `A·z`, `B·z` and the six NTTs (while the A, B and L MSMs run beside them).
    pub qap: Duration,
    /// From the end of the QAP until the proof is put together: the H MSM and what
    /// remains of the others.
    pub msm: Duration,
}

/// A proving key loaded onto a backend, with everything that depends only on the
/// key prepared: the compact matrices, the domain, and the MSM bases.
pub struct Prover<B: ProverBackend> {
    backend: B,
    pk: ProvingKey<Bn254>,
    pvk: PreparedVerifyingKey<Bn254>,
    qap: Qap,
    num_instance_variables: usize,
    num_witness_variables: usize,
    a: B::G1Bases,
    b_g1: B::G1Bases,
    b_g2: B::G2Bases,
    l: B::G1Bases,
    h: B::G1Bases,
}

impl<B: ProverBackend> Prover<B> {
    /// Loads `pk`, made by setup for the circuit with matrices `r1cs`, onto `backend`.
    /// The key's H query says which R1CS → QAP reduction it was made for (a
    /// development key's or a ceremony key's, see
    /// `zkmeter_circuits::qap_reduction`), and the prover follows it.
    pub fn new(backend: B, pk: ProvingKey<Bn254>, r1cs: R1cs<'_>) -> Result<Self, EngineError> {
        let size = r1cs.num_constraints + r1cs.num_instance_variables;
        let domain_size = size.checked_next_power_of_two().ok_or(EngineError::DomainTooLarge(size))?;
        let reduction = QapReduction::of_key(pk.h_query.len(), domain_size).ok_or(EngineError::KeyMismatch {
            what: "H query",
            key: pk.h_query.len(),
            circuit: QapReduction::Libsnark.h_query_len(domain_size),
        })?;
        let qap = Qap::new(r1cs.matrices, r1cs.num_instance_variables, r1cs.num_constraints, reduction)?;
        let variables = r1cs.num_instance_variables + r1cs.num_witness_variables;
        let expect = |what, key: usize, circuit: usize| {
            if key == circuit { Ok(()) } else { Err(EngineError::KeyMismatch { what, key, circuit }) }
        };
        expect("A query", pk.a_query.len(), variables)?;
        expect("B query in G1", pk.b_g1_query.len(), variables)?;
        expect("B query in G2", pk.b_g2_query.len(), variables)?;
        expect("L query", pk.l_query.len(), r1cs.num_witness_variables)?;
        expect("H query", pk.h_query.len(), reduction.h_query_len(qap.domain().size()))?;
        expect("verifying key's input bases", pk.vk.gamma_abc_g1.len(), r1cs.num_instance_variables)?;
        let a = backend.load_g1(&pk.a_query)?;
        let b_g1 = backend.load_g1(&pk.b_g1_query)?;
        let b_g2 = backend.load_g2(&pk.b_g2_query)?;
        let l = backend.load_g1(&pk.l_query)?;
        let h = backend.load_g1(&pk.h_query)?;
        Ok(Prover {
            backend,
            pvk: prepare_verifying_key(&pk.vk),
            pk,
            qap,
            num_instance_variables: r1cs.num_instance_variables,
            num_witness_variables: r1cs.num_witness_variables,
            a,
            b_g1,
            b_g2,
            l,
            h,
        })
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// The R1CS → QAP reduction the key was made for.
    pub fn reduction(&self) -> QapReduction {
        self.qap.reduction()
    }

    /// The proving key.
    pub fn proving_key(&self) -> &ProvingKey<Bn254> {
        &self.pk
    }

    /// The verifying key that goes with it.
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        &self.pk.vk
    }

    /// Runs `circuit`'s witness code, checking it assigns as many variables as the
    /// matrices have.
    pub fn assign<C: ConstraintSynthesizer<Fr>>(&self, circuit: C) -> Result<Assignment, EngineError> {
        let assignment = synthesize(circuit)?;
        self.check_shape(&assignment)?;
        Ok(assignment)
    }

    fn check_shape(&self, assignment: &Assignment) -> Result<(), EngineError> {
        if assignment.num_instance_variables != self.num_instance_variables {
            return Err(EngineError::WitnessShape {
                what: "instance",
                expected: self.num_instance_variables,
                found: assignment.num_instance_variables,
            });
        }
        let found = assignment.z.len() - assignment.num_instance_variables;
        if found != self.num_witness_variables {
            return Err(EngineError::WitnessShape { what: "witness", expected: self.num_witness_variables, found });
        }
        Ok(())
    }

    /// A Groth16 proof for `circuit`, like `Groth16::<Bn254>::prove` (same
    /// randomness drawn in the same order, so the same rng gives the same proof). The
    /// proof is not checked: see [`Prover::prove_verified`].
    pub fn prove<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        circuit: C,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, EngineError> {
        self.prove_with_timings(circuit, rng).map(|(proof, _)| proof)
    }

    /// [`Prover::prove`], then checks the proof against the circuit's own public
    /// inputs, so a bad witness or a faulty backend never hands out a proof that
    /// will be refused later.
    pub fn prove_verified<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        circuit: C,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, EngineError> {
        let assignment = self.assign(circuit)?;
        let (r, s) = (Fr::rand(rng), Fr::rand(rng));
        let proof = self.prove_assignment(&assignment, r, s)?.0;
        match Groth16::<Bn254>::verify_proof(&self.pvk, &proof, assignment.public_inputs()) {
            Ok(true) => Ok(proof),
            _ => Err(EngineError::Unsatisfied),
        }
    }

    /// [`Prover::prove`], with where its time went.
    pub fn prove_with_timings<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        circuit: C,
        rng: &mut R,
    ) -> Result<(Proof<Bn254>, Timings), EngineError> {
        let start = Instant::now();
        let assignment = self.assign(circuit)?;
        let witness = start.elapsed();
        let (r, s) = (Fr::rand(rng), Fr::rand(rng));
        let (proof, mut timings) = self.prove_assignment(&assignment, r, s)?;
        timings.witness = witness;
        Ok((proof, timings))
    }

    /// The proof for an assignment with the blinding factors `r`, `s` given: the
    /// same as ark-groth16's `create_proof_with_reduction_and_matrices`.
    pub fn prove_assignment(
        &self,
        assignment: &Assignment,
        r: Fr,
        s: Fr,
    ) -> Result<(Proof<Bn254>, Timings), EngineError> {
        self.check_shape(assignment)?;
        let z = &assignment.z;
        let start = Instant::now();
        let witness = &z[self.num_instance_variables..];
        let be = &self.backend;
        // The four MSMs over z need only the assignment, so they run beside the QAP
        // and the H MSM that waits for it: on a few cores this fills the gaps the
        // NTTs leave (they are memory-bound and join between stages).
        let ((h_side, qap_time), (((a, b_g1), b_g2), l)) = rayon::join(
            || {
                let h = self.qap.h(be, z);
                let qap_time = start.elapsed();
                tracing::debug!(backend = be.name(), ms = qap_time.as_secs_f64() * 1e3, "QAP (h) done");
                // A development key has one H base fewer than the domain: h's top
                // coefficient is zero for a satisfying witness, and ark-groth16
                // leaves it out too. A ceremony key has one per domain point.
                let h_acc = h.and_then(|mut h| {
                    h.truncate(self.pk.h_query.len());
                    be.msm_g1(&self.h, &h)
                });
                (h_acc, qap_time)
            },
            || {
                rayon::join(
                    || {
                        rayon::join(
                            || rayon::join(|| be.msm_g1(&self.a, z), || be.msm_g1(&self.b_g1, z)),
                            || be.msm_g2(&self.b_g2, z),
                        )
                    },
                    || be.msm_g1(&self.l, witness),
                )
            },
        );
        let (a, b_g1, b_g2, l, h_acc) = (a?, b_g1?, b_g2?, l?, h_side?);

        // As ark-groth16: A = α + Σ zᵢAᵢ + rδ, B = β + Σ zᵢBᵢ + sδ,
        // C = sA + rB₁ − rsδ + Σ wᵢLᵢ + Σ hᵢHᵢ. The MSMs over z include z₀ = 1 times
        // the query's first point, which ark-groth16 adds separately.
        let pk = &self.pk;
        let delta_g1 = pk.delta_g1.into_group();
        let g_a = a + pk.vk.alpha_g1 + delta_g1 * r;
        let g1_b = if r.is_zero() { G1Projective::zero() } else { b_g1 + pk.beta_g1 + delta_g1 * s };
        let g2_b = b_g2 + pk.vk.beta_g2 + pk.vk.delta_g2.into_group() * s;
        let g_c = g_a * s + g1_b * r - delta_g1 * (r * s) + l + h_acc;
        let timings = Timings { witness: Duration::ZERO, qap: qap_time, msm: start.elapsed() - qap_time };
        tracing::debug!(backend = self.backend.name(), ms = timings.msm.as_secs_f64() * 1e3, "MSMs done");

        let mut points = G1Projective::normalize_batch(&[g_a, g_c]);
        let c = points.pop().expect("two points");
        let a = points.pop().expect("two points");
        Ok((Proof { a, b: g2_b.into_affine(), c }, timings))
    }
}

impl Prover<CpuBackend> {
    /// The meter circuit's prover on the CPU, for `shape` (its matrices) and `pk`.
    pub fn meter_cpu(pk: ProvingKey<Bn254>, shape: &CircuitShape) -> Result<Self, EngineError> {
        Prover::new(CpuBackend, pk, shape.into())
    }
}

/// The GPU backend, when this build has one.
#[cfg(feature = "cuda")]
type Gpu = crate::cuda::CudaBackend;
/// Without the `cuda` feature there is no GPU backend to hold.
#[cfg(not(feature = "cuda"))]
enum Gpu {}

/// Opens the GPU backend: the first CUDA call tells whether a GPU answers.
#[cfg(feature = "cuda")]
fn gpu() -> Result<Gpu, EngineError> {
    crate::cuda::CudaBackend::new()
}

#[cfg(not(feature = "cuda"))]
fn gpu() -> Result<Gpu, EngineError> {
    Err(EngineError::CudaNotBuilt)
}

/// A [`Prover`] on whichever backend [`AnyProver::new`] settled on.
pub enum AnyProver {
    /// On the CPU.
    Cpu(Prover<CpuBackend>),
    /// On the GPU.
    #[cfg(feature = "cuda")]
    Cuda(Prover<crate::cuda::CudaBackend>),
}

macro_rules! dispatch {
    ($self:expr, $p:ident => $body:expr) => {
        match $self {
            AnyProver::Cpu($p) => $body,
            #[cfg(feature = "cuda")]
            AnyProver::Cuda($p) => $body,
        }
    };
}

impl AnyProver {
    /// Loads `pk` onto the backend `kind` asks for. `auto` takes the GPU when this
    /// build has CUDA and a GPU answers, and otherwise the CPU, logging why.
    pub fn new(kind: BackendKind, pk: ProvingKey<Bn254>, r1cs: R1cs<'_>) -> Result<Self, EngineError> {
        match kind {
            BackendKind::Cpu => Ok(AnyProver::Cpu(Prover::new(CpuBackend, pk, r1cs)?)),
            BackendKind::Cuda => Self::on_gpu(gpu()?, pk, r1cs),
            BackendKind::Auto => match gpu() {
                Ok(gpu) => {
                    tracing::info!("proving on the GPU (CUDA)");
                    Self::on_gpu(gpu, pk, r1cs)
                }
                Err(why) => {
                    tracing::info!(reason = %why, "no usable GPU, proving on the CPU");
                    Ok(AnyProver::Cpu(Prover::new(CpuBackend, pk, r1cs)?))
                }
            },
        }
    }

    #[cfg(feature = "cuda")]
    fn on_gpu(gpu: Gpu, pk: ProvingKey<Bn254>, r1cs: R1cs<'_>) -> Result<Self, EngineError> {
        Ok(AnyProver::Cuda(Prover::new(gpu, pk, r1cs)?))
    }

    #[cfg(not(feature = "cuda"))]
    fn on_gpu(gpu: Gpu, _: ProvingKey<Bn254>, _: R1cs<'_>) -> Result<Self, EngineError> {
        match gpu {}
    }

    /// The backend's name (`cpu` or `cuda`).
    pub fn backend_name(&self) -> &'static str {
        dispatch!(self, p => p.backend_name())
    }

    /// The verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey<Bn254> {
        dispatch!(self, p => p.verifying_key())
    }

    /// See [`Prover::prove`].
    pub fn prove<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        circuit: C,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, EngineError> {
        dispatch!(self, p => p.prove(circuit, rng))
    }

    /// See [`Prover::prove_verified`].
    pub fn prove_verified<C: ConstraintSynthesizer<Fr>, R: RngCore + CryptoRng>(
        &self,
        circuit: C,
        rng: &mut R,
    ) -> Result<Proof<Bn254>, EngineError> {
        dispatch!(self, p => p.prove_verified(circuit, rng))
    }
}
