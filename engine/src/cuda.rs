//! The CUDA backend: sppark's Pippenger MSM (G1 and G2) and NTT for BN254, through
//! the small C++ glue in `cuda/` that build.rs compiles with nvcc.
//!
//! A proving key's bases are uploaded once, in [`ProverBackend::load_g1`] /
//! `load_g2`, and stay in device memory until the [`GpuBases`] is dropped; a proof
//! only sends scalars. sppark shares its CUDA streams between all work on a GPU,
//! so calls are serialised by a lock (the prover still overlaps them with CPU
//! work). Field elements cross the boundary in Montgomery form, which arkworks and
//! sppark share (R = 2^256), as plain `u64` limbs: arkworks' types have no C layout.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, Zero};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Mutex;

use crate::backend::{Ntt, ProverBackend};
use crate::error::EngineError;

// sppark's host code calls blst's field arithmetic (add_mod_256, …); nothing in Rust
// does, so without this the linker would never see libblst.
extern crate blst;

unsafe extern "C" {
    fn zkm_gpu_probe(msg: *mut c_char, len: usize) -> c_int;
    fn zkm_g1_load(out: *mut *mut c_void, points: *const [u64; 8], n: usize) -> sppark::Error;
    fn zkm_g1_msm(msm: *mut c_void, out: *mut [u64; 12], scalars: *const [u64; 4], n: usize) -> sppark::Error;
    fn zkm_g1_free(msm: *mut c_void);
    fn zkm_g2_load(out: *mut *mut c_void, points: *const [u64; 16], n: usize) -> sppark::Error;
    fn zkm_g2_msm(msm: *mut c_void, out: *mut [u64; 24], scalars: *const [u64; 4], n: usize) -> sppark::Error;
    fn zkm_g2_free(msm: *mut c_void);
    fn zkm_ntt(inout: *mut [u64; 4], lg_domain_size: u32, inverse: bool, coset: bool) -> sppark::Error;
}

fn check(what: &str, status: sppark::Error) -> Result<(), EngineError> {
    match status.code {
        0 => Ok(()),
        code => Err(EngineError::Cuda(format!("{what} failed with CUDA error {code}: {status}"))),
    }
}

/// The first usable GPU.
pub struct CudaBackend {
    device: String,
    lock: Mutex<()>,
}

impl CudaBackend {
    /// Opens the GPU, or says why there is none to use (no device, no driver, a
    /// driver older than CUDA 13.0, …).
    pub fn new() -> Result<Self, EngineError> {
        let mut msg = [0 as c_char; 256];
        // SAFETY: the probe writes a NUL-terminated string of at most `len` bytes.
        let usable = unsafe { zkm_gpu_probe(msg.as_mut_ptr(), msg.len()) };
        // SAFETY: snprintf always terminates within the buffer.
        let text = unsafe { CStr::from_ptr(msg.as_ptr()) }.to_string_lossy().into_owned();
        if usable <= 0 {
            return Err(EngineError::Cuda(format!("no usable GPU: {text}")));
        }
        tracing::info!(device = %text, "CUDA backend ready");
        Ok(CudaBackend { device: text, lock: Mutex::new(()) })
    }

    /// The GPU's name, memory and compute capability.
    pub fn device(&self) -> &str {
        &self.device
    }

    fn serialised<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f()
    }
}

/// Bases in GPU memory (an sppark `msm_t` that owns them).
pub struct GpuBases {
    handle: *mut c_void,
    len: usize,
    free: unsafe extern "C" fn(*mut c_void),
}

// SAFETY: the handle is only used under `CudaBackend`'s lock, and sppark's msm_t
// does not depend on the thread that created it.
unsafe impl Send for GpuBases {}
unsafe impl Sync for GpuBases {}

impl Drop for GpuBases {
    fn drop(&mut self) {
        if !self.handle.is_null() {
            // SAFETY: the handle came from the matching load and is freed once.
            unsafe { (self.free)(self.handle) }
        }
    }
}

fn limbs(x: &Fq) -> [u64; 4] {
    x.0.0
}

fn fq(limbs: &[u64]) -> Fq {
    Fq::new_unchecked(BigInt(limbs.try_into().expect("four limbs")))
}

fn scalar_limbs(scalars: &[Fr]) -> Vec<[u64; 4]> {
    scalars.iter().map(|s| s.0.0).collect()
}

fn g1_limbs(p: &G1Affine) -> [u64; 8] {
    let mut out = [0u64; 8];
    if let Some((x, y)) = p.xy() {
        out[..4].copy_from_slice(&limbs(&x));
        out[4..].copy_from_slice(&limbs(&y));
    }
    out
}

fn g2_limbs(p: &G2Affine) -> [u64; 16] {
    let mut out = [0u64; 16];
    if let Some((x, y)) = p.xy() {
        for (k, c) in [x.c0, x.c1, y.c0, y.c1].iter().enumerate() {
            out[4 * k..4 * k + 4].copy_from_slice(&limbs(c));
        }
    }
    out
}

impl ProverBackend for CudaBackend {
    type G1Bases = GpuBases;
    type G2Bases = GpuBases;

    fn name(&self) -> &'static str {
        "cuda"
    }

    fn load_g1(&self, bases: &[G1Affine]) -> Result<GpuBases, EngineError> {
        let points: Vec<[u64; 8]> = bases.iter().map(g1_limbs).collect();
        let mut handle = std::ptr::null_mut();
        if !points.is_empty() {
            // SAFETY: `points` outlives the call, which copies them to the GPU.
            self.serialised(|| {
                check("uploading G1 bases", unsafe { zkm_g1_load(&mut handle, points.as_ptr(), points.len()) })
            })?;
        }
        Ok(GpuBases { handle, len: bases.len(), free: zkm_g1_free })
    }

    fn load_g2(&self, bases: &[G2Affine]) -> Result<GpuBases, EngineError> {
        let points: Vec<[u64; 16]> = bases.iter().map(g2_limbs).collect();
        let mut handle = std::ptr::null_mut();
        if !points.is_empty() {
            // SAFETY: as in load_g1.
            self.serialised(|| {
                check("uploading G2 bases", unsafe { zkm_g2_load(&mut handle, points.as_ptr(), points.len()) })
            })?;
        }
        Ok(GpuBases { handle, len: bases.len(), free: zkm_g2_free })
    }

    fn msm_g1(&self, bases: &GpuBases, scalars: &[Fr]) -> Result<G1Projective, EngineError> {
        assert_eq!(scalars.len(), bases.len, "one scalar per base");
        if bases.handle.is_null() {
            return Ok(G1Projective::zero());
        }
        let scalars = scalar_limbs(scalars);
        let mut out = [0u64; 12];
        // SAFETY: the handle holds `bases.len` points and `scalars` as many scalars.
        self.serialised(|| {
            check("G1 MSM", unsafe { zkm_g1_msm(bases.handle, &mut out, scalars.as_ptr(), scalars.len()) })
        })?;
        Ok(G1Projective::new_unchecked(fq(&out[..4]), fq(&out[4..8]), fq(&out[8..])))
    }

    fn msm_g2(&self, bases: &GpuBases, scalars: &[Fr]) -> Result<G2Projective, EngineError> {
        assert_eq!(scalars.len(), bases.len, "one scalar per base");
        if bases.handle.is_null() {
            return Ok(G2Projective::zero());
        }
        let scalars = scalar_limbs(scalars);
        let mut out = [0u64; 24];
        // SAFETY: as in msm_g1.
        self.serialised(|| {
            check("G2 MSM", unsafe { zkm_g2_msm(bases.handle, &mut out, scalars.as_ptr(), scalars.len()) })
        })?;
        let fq2 = |k: usize| Fq2::new(fq(&out[8 * k..8 * k + 4]), fq(&out[8 * k + 4..8 * k + 8]));
        Ok(G2Projective::new_unchecked(fq2(0), fq2(1), fq2(2)))
    }

    fn ntt(&self, domain: &Radix2EvaluationDomain<Fr>, values: &mut Vec<Fr>, op: Ntt) -> Result<(), EngineError> {
        assert_eq!(values.len(), domain.size(), "an NTT takes exactly one value per domain point");
        let (inverse, coset) = match op {
            Ntt::Forward => (false, false),
            Ntt::Inverse => (true, false),
            Ntt::CosetForward => (false, true),
            Ntt::CosetInverse => (true, true),
        };
        let mut data = scalar_limbs(values);
        // SAFETY: `data` holds exactly 2^log_size_of_group elements.
        self.serialised(|| {
            check("NTT", unsafe { zkm_ntt(data.as_mut_ptr(), domain.log_size_of_group, inverse, coset) })
        })?;
        for (v, limbs) in values.iter_mut().zip(&data) {
            *v = Fr::new_unchecked(BigInt(*limbs));
        }
        Ok(())
    }
}
