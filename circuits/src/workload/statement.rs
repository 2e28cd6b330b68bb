//! The workload statement and its four public inputs (layout in the
//! [module docs](super)).

use ark_bn254::Fr;
use ark_ff::Field;
use serde::{Deserialize, Serialize};

use crate::field_hex;

/// Number of public inputs of [`super::WorkloadCircuit`].
pub const WORKLOAD_PUBLIC_INPUTS: usize = 4;

/// Bits of the job id in public input 3 (the work units sit above them).
pub(crate) const JOB_ID_BITS: usize = 64;

/// What one workload proof says: for job `job_id`, the model committed to as `model`
/// applied to the input committed to as `input` gives the output committed to as
/// `output`, which took `work_units` multiply-accumulates. The workload's shape is
/// fixed by the verifying key (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadStatement {
    /// The job the work is billed to.
    pub job_id: u64,
    /// Model commitment.
    #[serde(with = "field_hex")]
    pub model: Fr,
    /// Input commitment.
    #[serde(with = "field_hex")]
    pub input: Fr,
    /// Output commitment.
    #[serde(with = "field_hex")]
    pub output: Fr,
    /// Multiply-accumulates of the whole workload.
    pub work_units: u64,
}

impl WorkloadStatement {
    /// The four public inputs.
    pub fn public_inputs(&self) -> [Fr; WORKLOAD_PUBLIC_INPUTS] {
        [self.model, self.input, self.output, pack_job(Fr::from(self.job_id), self.work_units)]
    }
}

/// Public input 3: `job_id | work_units << 64`. The job id is a field element so the
/// soundness tests can claim readings no u64 has.
pub fn pack_job(job_id: Fr, work_units: u64) -> Fr {
    job_id + Fr::from(work_units) * Fr::from(2u64).pow([JOB_ID_BITS as u64])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{BigInteger, PrimeField};

    #[test]
    fn public_inputs_follow_the_documented_layout() {
        let s = WorkloadStatement {
            job_id: u64::MAX,
            model: Fr::from(1u64),
            input: Fr::from(2u64),
            output: Fr::from(3u64),
            work_units: 123_456_789,
        };
        let x = s.public_inputs();
        assert_eq!(x[..3], [s.model, s.input, s.output]);
        let bytes = x[3].into_bigint().to_bytes_le();
        assert_eq!(u64::from_le_bytes(bytes[..8].try_into().unwrap()), u64::MAX);
        assert_eq!(u64::from_le_bytes(bytes[8..16].try_into().unwrap()), 123_456_789);
        assert!(bytes[16..].iter().all(|b| *b == 0));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<WorkloadStatement>(&json).unwrap(), s);
    }
}
