//! Workload proofs: a Groth16 proof that a quantised matrix multiplication or MLP
//! inference gave its output, billed by the multiply-accumulates it took.
//!
//! A *workload* is an int8 input matrix (`rows × k`) run through a chain of layers
//! ([`model`] has the file format and the exact arithmetic): each layer multiplies by
//! its int8 weights (exact int32 sums), then either stops there (a plain matmul
//! `C = A·B`, int32 output) or adds int32 biases, shifts right with rounding, clamps
//! to int8 and optionally applies ReLU. [`executor`] runs it on the CPU and keeps the
//! witness; [`WorkloadCircuit`] proves it. This module does not schedule, sign,
//! submit or bill anything: the prover daemon, the verifier service and the
//! settlement contract build on it.
//!
//! Where to start reading: [`model`] (what is computed), [`commitment`] (how the
//! model, input and output are named), [`statement`] (what a proof says),
//! [`executor`] (model + input → output + witness), [`circuit`] (the rules).
//!
//! ## What the circuit enforces
//!
//! 1. The input, every weight and every bias is bit-decomposed into its stored form
//!    (`int8 + 128` in 8 bits, `int32 + 2^31` in 32 bits), and their packings hash to
//!    the input and model commitments (public inputs 1 and 0).
//! 2. Each layer's product `acc = X·W` is exact. Every value in it is bounded far
//!    below `r/2` (|X·W| ≤ 65,536·2^14 = 2^30, z and biases are int32), so an
//!    equality mod r between such values is an equality of integers.
//! 3. Requantising layers: `z = acc + bias` is range-checked as an int32 (a sum that
//!    leaves int32 has no satisfying assignment: it does not wrap), and
//!    `y = clamp(⌊(z + 2^(s−1))/2^s⌋, lo, 127)` exactly, `lo = 0` under ReLU.
//! 4. The last layer's output hashes to the output commitment (public input 2).
//! 5. Public input 3 is `job_id | work_units << 64` with the job id range-checked to
//!    64 bits and the work units equal to the shape's multiply-accumulates.
//!
//! ## Freivalds' check
//!
//! Computing `X·W` in the circuit costs one constraint per multiply-accumulate. For
//! larger layers the circuit instead takes `acc` from the prover and checks, for each
//! row `i`, `Σ_l X[i][l]·(W·v)[l] = Σ_j acc[i][j]·ρ^j` with `v = (1, ρ, …, ρ^(n−1))`:
//! `k·n + rows·k + rows·n` products instead of `rows·k·n`. The challenge `ρ` is
//! drawn *in the circuit*: a Poseidon hash of the model, input and output commitments
//! and of a commitment to every Freivalds-checked layer's `z` (everything else the
//! checks touch is a function of those). The prover therefore fixes all of it
//! before `ρ` exists and cannot choose `ρ` afterwards; a witness with any other `ρ`
//! does not satisfy the circuit.
//!
//! Soundness error: if a layer's `acc ≠ X·W`, some row's difference `d = acc_i −
//! (X·W)_i` is a nonzero vector of integers below r in magnitude (point 2), hence
//! nonzero over the field, and `Σ_j d_j ρ^j` is a nonzero polynomial of degree at
//! most `n − 1`. By Schwartz–Zippel it vanishes at a uniform `ρ` with probability at
//! most `(n − 1)/r` per check. Modelling Poseidon as a random oracle, a prover who
//! evaluates it `Q` times succeeds with probability at most `Q·(n − 1)/r`:
//! with `n ≤ 2^16` and `r > 2^253`, below `2^−157` for `Q = 2^80`. Direct layers
//! have no soundness error beyond Groth16's.
//!
//! [`Plan::auto`] picks the method of each layer by exact constraint count
//! ([`Plan::constraints`]): direct for small layers, Freivalds once the range checks
//! and commitment that Freivalds needs for `acc` cost less than the products it
//! saves: for a square matmul from 24×24×24 on (pinned by a test).
//!
//! ## Public inputs
//!
//! Four BN254 scalars, in this order (`a | b << k` means `a + b·2^k`):
//!
//! | # | value |
//! |---|-------|
//! | 0 | model commitment |
//! | 1 | input commitment |
//! | 2 | output commitment |
//! | 3 | `job_id \| work_units << 64` (each `< 2^64`) |
//!
//! The workload's shape (rows, layer dimensions and kinds, shifts) and the method of
//! each layer are bound by the verifying key, not by a public input: a key is made
//! for one [`Plan`], named by [`Plan::circuit_id`], and a verifier picks the key by
//! that id. The shape is also inside each commitment's header element, so a
//! commitment names its shape. Work units are a constant of the shape; they are
//! still public so that the settlement contract reads what it bills from the
//! statement, and packed with the job id so they cost no extra public input (each
//! costs about 6k gas on-chain). The job id has no other role in the circuit: being
//! a public input tied into a constraint binds the proof to it, so a proof cannot be
//! replayed for another job.

pub mod circuit;
pub mod commitment;
pub mod executor;
pub mod model;
pub mod statement;

pub use circuit::{CircuitIdError, Fault, FaultSite, Method, Plan, WORKLOAD_CIRCUIT_PREFIX, WorkloadCircuit};
pub use executor::{Evaluation, ExecError, Execution, LayerWitness, Output, WorkloadWitness, evaluate, execute, infer};
pub use model::{Layer, LayerKind, LayerShape, Matrix, Model, ModelError, WorkloadShape};
pub use statement::{WORKLOAD_PUBLIC_INPUTS, WorkloadStatement};
