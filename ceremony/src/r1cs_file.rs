//! A zkmeter circuit as circom's `.r1cs` binary file (iden3/r1csfile, version 1):
//! what `snarkjs r1cs info`, `snarkjs groth16 setup` and `snarkjs zkey new` read.
//!
//! ```text
//! section 1 (header)       n8 = 32, the prime r (32 bytes LE), wires, public outputs,
//!                          public inputs, private inputs, labels (u64), constraints
//! section 2 (constraints)  per constraint, A then B then C: term count, then per
//!                          term the wire (u32) and its coefficient (32 bytes LE)
//! section 3 (wire → label) a u64 label per wire; here wire i has label i
//! ```
//!
//! Wires are numbered as snarkjs expects, which is arkworks' own order: 0 is the
//! constant 1, then the public inputs in the order the circuit allocates them
//! (declared as circom *public inputs*; zkmeter circuits have no outputs), then the
//! witness. A row's terms keep arkworks' order, with any repeated wire merged and
//! zero coefficients dropped (snarkjs's readers keep one coefficient per wire).

use std::path::Path;

use ark_bn254::Fr;
use ark_ff::{PrimeField, Zero};
use zkmeter_circuits::CircuitShape;

use crate::bin_file::{BinFile, BinWriter};
use crate::error::CeremonyError;
use crate::point_encoding::{FIELD_LEN, fr_from_le, fr_to_le};

/// A linear combination: `(wire, coefficient)` terms.
pub type LinearCombination = Vec<(u32, Fr)>;

/// One constraint `A·z × B·z = C·z`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    /// A, B, C.
    pub lcs: [LinearCombination; 3],
}

/// A circuit in circom's R1CS form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircomR1cs {
    /// Wires, the constant 1 included.
    pub n_wires: u32,
    /// Public outputs (wires 1..=n_outputs). zkmeter circuits have none.
    pub n_outputs: u32,
    /// Public inputs (the wires after the outputs).
    pub n_public_inputs: u32,
    /// Private inputs (informational: the witness wires a circom circuit takes as input).
    pub n_private_inputs: u32,
    /// The constraints.
    pub constraints: Vec<Constraint>,
}

const HEADER: u32 = 1;
const CONSTRAINTS: u32 = 2;
const WIRE_TO_LABEL: u32 = 3;

fn section_name(id: u32) -> &'static str {
    match id {
        HEADER => "header",
        CONSTRAINTS => "constraints",
        WIRE_TO_LABEL => "wire-to-label map",
        _ => "unknown section",
    }
}

impl CircomR1cs {
    /// The circuit of `shape`, wire for variable.
    pub fn from_shape(shape: &CircuitShape) -> Self {
        let row = |terms: &[(Fr, usize)]| -> LinearCombination {
            let mut lc: LinearCombination = Vec::with_capacity(terms.len());
            for &(coefficient, column) in terms {
                let wire = u32::try_from(column).expect("fewer than 2^32 variables");
                match lc.iter_mut().find(|(w, _)| *w == wire) {
                    Some((_, c)) => *c += coefficient,
                    None => lc.push((wire, coefficient)),
                }
            }
            lc.retain(|(_, c)| !c.is_zero());
            lc
        };
        let [a, b, c] = [0, 1, 2].map(|k| &shape.matrices[k]);
        let constraints = (0..shape.num_constraints)
            .map(|i| Constraint { lcs: [row(&a[i]), row(&b[i]), row(&c[i])] })
            .collect();
        CircomR1cs {
            n_wires: u32::try_from(shape.num_instance_variables + shape.num_witness_variables)
                .expect("fewer than 2^32 variables"),
            n_outputs: 0,
            n_public_inputs: u32::try_from(shape.num_instance_variables - 1).expect("few public inputs"),
            n_private_inputs: 0,
            constraints,
        }
    }

    /// Public signals: outputs and public inputs (snarkjs's `nPublic`).
    pub fn n_public(&self) -> u32 {
        self.n_outputs + self.n_public_inputs
    }

    /// The QAP domain size snarkjs uses for this circuit: the smallest power of two
    /// above `constraints + nPublic` (a row per constraint and per public signal,
    /// the constant 1 included), the same as arkworks' for the same circuit.
    pub fn domain_size(&self) -> usize {
        (self.constraints.len() + self.n_public() as usize + 1).next_power_of_two()
    }

    /// Writes the `.r1cs` file (atomically).
    pub fn write(&self, path: &Path) -> Result<(), CeremonyError> {
        let mut out = BinWriter::create(path, b"r1cs", 1, 3)?;
        let mut header = Vec::with_capacity(64);
        header.extend_from_slice(&(FIELD_LEN as u32).to_le_bytes());
        header.extend_from_slice(&modulus_le());
        for n in [self.n_wires, self.n_outputs, self.n_public_inputs, self.n_private_inputs] {
            header.extend_from_slice(&n.to_le_bytes());
        }
        header.extend_from_slice(&u64::from(self.n_wires).to_le_bytes());
        header.extend_from_slice(&u32::try_from(self.constraints.len()).expect("fewer than 2^32").to_le_bytes());
        out.section(HEADER, &header)?;

        let size: usize = self
            .constraints
            .iter()
            .flat_map(|c| &c.lcs)
            .map(|lc| 4 + lc.len() * (4 + FIELD_LEN))
            .sum();
        out.begin_section(CONSTRAINTS, size as u64)?;
        let mut buf = Vec::with_capacity(1 << 16);
        for constraint in &self.constraints {
            for lc in &constraint.lcs {
                buf.extend_from_slice(&(lc.len() as u32).to_le_bytes());
                for (wire, coefficient) in lc {
                    buf.extend_from_slice(&wire.to_le_bytes());
                    buf.extend_from_slice(&fr_to_le(coefficient));
                }
            }
            if buf.len() > 1 << 15 {
                out.write(&buf)?;
                buf.clear();
            }
        }
        out.write(&buf)?;

        let labels: Vec<u8> = (0..u64::from(self.n_wires)).flat_map(u64::to_le_bytes).collect();
        out.section(WIRE_TO_LABEL, &labels)?;
        out.finish()
    }

    /// Reads a `.r1cs` file over BN254's scalar field (circom's, or one of ours).
    pub fn read(path: &Path) -> Result<Self, CeremonyError> {
        let file = BinFile::open(path, b"r1cs", 1, section_name)?;
        let header = file.read_section(HEADER)?;
        let bad = |what: &str| file.malformed(what.to_owned());
        if header.len() != 4 + FIELD_LEN + 4 * 4 + 8 + 4 {
            return Err(bad("its header section has the wrong size for a BN254 circuit"));
        }
        if u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) != FIELD_LEN as u32
            || header[4..4 + FIELD_LEN] != modulus_le()
        {
            return Err(bad("it is not over BN254's scalar field (compile the circuit with circom's default prime, bn128)"));
        }
        let word = |i: usize| u32::from_le_bytes(header[36 + 4 * i..40 + 4 * i].try_into().expect("4 bytes"));
        let (n_wires, n_outputs, n_public_inputs, n_private_inputs) = (word(0), word(1), word(2), word(3));
        let n_constraints = u32::from_le_bytes(header[60..64].try_into().expect("4 bytes")) as usize;

        let body = file.read_section(CONSTRAINTS)?;
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], CeremonyError> {
            let slice = body.get(at..at + n).ok_or_else(|| bad("its constraint section ends inside a constraint"))?;
            at += n;
            Ok(slice)
        };
        let mut constraints = Vec::with_capacity(n_constraints);
        for _ in 0..n_constraints {
            let mut lcs: [LinearCombination; 3] = Default::default();
            for lc in &mut lcs {
                let terms = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
                for _ in 0..terms {
                    let wire = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
                    let coefficient = fr_from_le(take(FIELD_LEN)?).ok_or_else(|| bad("a coefficient is not below r"))?;
                    if wire >= n_wires {
                        return Err(bad("a constraint names a wire beyond the header's wire count"));
                    }
                    lc.push((wire, coefficient));
                }
            }
            constraints.push(Constraint { lcs });
        }
        if at != body.len() {
            return Err(bad("its constraint section holds more than the header's constraints"));
        }
        Ok(CircomR1cs { n_wires, n_outputs, n_public_inputs, n_private_inputs, constraints })
    }
}

/// BN254's scalar field modulus r, 32 bytes little-endian.
fn modulus_le() -> [u8; FIELD_LEN] {
    let mut b = [0u8; FIELD_LEN];
    for (chunk, limb) in b.chunks_exact_mut(8).zip(Fr::MODULUS.0) {
        chunk.copy_from_slice(&limb.to_le_bytes());
    }
    b
}
