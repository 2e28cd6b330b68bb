//! [`Num`]: a value inside the circuit, as a linear combination of variables plus
//! (when proving) its assignment.
//!
//! Additions and multiplications by constants are free (they only grow the linear
//! combination); every constraint the circuit pays for is made by one of the few
//! functions here or in [`crate::range_check`], so constraint counts can be read
//! off the code.
//!
//! When the constraint system only collects the assignment (`SynthesisMode::Prove`
//! without matrices, as the provers run it for every proof), arkworks never reads a
//! constraint's linear combinations, so a `Num` made there carries its value alone:
//! building the combinations was most of the witness code's time (Poseidon's MDS
//! mixing grows them term by term). Every system that builds matrices (setup, stock
//! proving, the satisfaction tests) gets the combinations as before.

use ark_bn254::Fr;
use ark_ff::{One, Zero};
use ark_relations::gr1cs::{ConstraintSystemRef, LinearCombination, SynthesisError, Variable};

/// A linear combination of circuit variables and its value (absent in setup mode).
#[derive(Clone, Debug)]
pub struct Num {
    /// `None` for a value derived from a variable of a system that builds no
    /// matrices; constants always have theirs, so setup is never short of one.
    lc: Option<LinearCombination<Fr>>,
    value: Option<Fr>,
}

impl Num {
    /// The constant `c`.
    pub fn constant(c: Fr) -> Self {
        Num { lc: Some(LinearCombination(vec![(c, Variable::One)])), value: Some(c) }
    }

    /// The constant 0.
    pub fn zero() -> Self {
        Num { lc: Some(LinearCombination::zero()), value: Some(Fr::zero()) }
    }

    /// A new private witness variable.
    pub fn witness(cs: &ConstraintSystemRef<Fr>, value: Option<Fr>) -> Result<Self, SynthesisError> {
        let var = cs.new_witness_variable(|| value.ok_or(SynthesisError::AssignmentMissing))?;
        Ok(Num { lc: lc_of(cs, var), value })
    }

    /// A new public input variable.
    pub fn input(cs: &ConstraintSystemRef<Fr>, value: Option<Fr>) -> Result<Self, SynthesisError> {
        let var = cs.new_input_variable(|| value.ok_or(SynthesisError::AssignmentMissing))?;
        Ok(Num { lc: lc_of(cs, var), value })
    }

    /// The assigned value, if there is one.
    pub fn value(&self) -> Option<Fr> {
        self.value
    }

    /// The linear combination standing for this value.
    ///
    /// # Panics
    /// For a value from a system that builds no matrices, which never asks for one:
    /// reaching this means `Num`s of two different systems were mixed.
    pub fn lc(&self) -> LinearCombination<Fr> {
        self.lc.clone().expect("a Num from a witness-only constraint system was used in one that builds matrices")
    }

    /// `self + other` (free).
    pub fn add(&self, other: &Num) -> Num {
        Num {
            lc: zip(self.lc.as_ref(), other.lc.as_ref(), |a, b| a + b),
            value: zip(self.value, other.value, |a, b| a + b),
        }
    }

    /// `self − other` (free).
    pub fn sub(&self, other: &Num) -> Num {
        Num {
            lc: zip(self.lc.as_ref(), other.lc.as_ref(), |a, b| a - b),
            value: zip(self.value, other.value, |a, b| a - b),
        }
    }

    /// `self · c` for a constant `c` (free).
    pub fn scale(&self, c: Fr) -> Num {
        Num { lc: self.lc.as_ref().map(|lc| lc * c), value: self.value.map(|v| v * c) }
    }

    /// `self + c` for a constant `c` (free).
    pub fn add_constant(&self, c: Fr) -> Num {
        self.add(&Num::constant(c))
    }

    /// The sum of many values (free).
    pub fn sum<'a>(items: impl IntoIterator<Item = &'a Num>) -> Num {
        items.into_iter().fold(Num::zero(), |acc, x| acc.add(x))
    }
}

fn zip<T, U>(a: Option<T>, b: Option<T>, f: impl FnOnce(T, T) -> U) -> Option<U> {
    Some(f(a?, b?))
}

/// `var` as a linear combination, or nothing where `cs` will never read one.
fn lc_of(cs: &ConstraintSystemRef<Fr>, var: Variable) -> Option<LinearCombination<Fr>> {
    cs.should_construct_matrices().then(|| var.into())
}

/// A new witness constrained to equal `a · b` (one constraint). `value` is what the
/// prover assigns: `a · b` when honest; the soundness tests pass something else.
pub fn product(cs: &ConstraintSystemRef<Fr>, a: &Num, b: &Num, value: Option<Fr>) -> Result<Num, SynthesisError> {
    let p = Num::witness(cs, value)?;
    enforce_product(cs, a, b, &p)?;
    Ok(p)
}

/// Enforces `a · b = c` (one constraint).
pub fn enforce_product(cs: &ConstraintSystemRef<Fr>, a: &Num, b: &Num, c: &Num) -> Result<(), SynthesisError> {
    cs.enforce_r1cs_constraint(|| a.lc(), || b.lc(), || c.lc())
}

/// Enforces `a = b` (one constraint).
pub fn enforce_equal(cs: &ConstraintSystemRef<Fr>, a: &Num, b: &Num) -> Result<(), SynthesisError> {
    enforce_product(cs, &a.sub(b), &Num::constant(Fr::one()), &Num::zero())
}

/// Enforces `a · b = 0` (one constraint).
pub fn enforce_zero_product(cs: &ConstraintSystemRef<Fr>, a: &Num, b: &Num) -> Result<(), SynthesisError> {
    enforce_product(cs, a, b, &Num::zero())
}
