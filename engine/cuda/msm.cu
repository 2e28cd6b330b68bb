// G1 and G2 MSMs for BN254 (alt_bn128) with sppark's Pippenger, bases resident on
// the GPU. One translation unit for both groups: sppark's sort kernel is not a
// template, so two units would define it twice at device-link time.
//
// zkm_g{1,2}_load uploads a key's bases once and returns a handle (an sppark msm_t
// that owns the device copy); zkm_g{1,2}_msm runs one MSM against it with scalars
// in Montgomery form, as arkworks stores them. Coordinates are in Montgomery form
// (Fp2 as c0, c1), with (0, 0) for infinity: arkworks' encoding for BN254 too.

#include <cuda.h>
#include <ff/alt_bn128-fp2.hpp>
#include <ec/jacobian_t.hpp>
#include <ec/xyzz_t.hpp>

// pippenger.cuh instantiates its kernels for these names.
typedef jacobian_t<fp_t> point_t;
typedef xyzz_t<fp_t> bucket_t;
typedef bucket_t::affine_t affine_t;
typedef fr_t scalar_t;

#include <msm/pippenger.cuh>

typedef jacobian_t<fp2_t> point_fp2_t;
typedef xyzz_t<fp2_t> bucket_fp2_t;
typedef bucket_fp2_t::affine_t affine_fp2_t;

#ifndef __CUDA_ARCH__
typedef msm_t<bucket_t, point_t, affine_t, scalar_t> g1_msm_t;
typedef msm_t<bucket_fp2_t, point_fp2_t, affine_fp2_t, scalar_t> g2_msm_t;

template<class msm_type, class affine_type>
static RustError load(msm_type** out, const affine_type points[], size_t npoints)
{
    try {
        *out = new msm_type(points, npoints);
        return RustError{cudaSuccess};
    } catch (const cuda_error& e) {
        *out = nullptr;
        return RustError{e.code(), e.what()};
    }
}

template<class msm_type, class point_type, class affine_type>
static RustError run(msm_type* msm, point_type* out, const scalar_t scalars[], size_t nscalars)
{
    try {
        // A null point array means "the points uploaded by the constructor".
        return msm->invoke(*out, static_cast<const affine_type*>(nullptr), nscalars, scalars, true);
    } catch (const cuda_error& e) {
        return RustError{e.code(), e.what()};
    }
}

extern "C" RustError zkm_g1_load(g1_msm_t** out, const affine_t points[], size_t npoints)
{   return load(out, points, npoints);   }

extern "C" RustError zkm_g1_msm(g1_msm_t* msm, point_t* out, const scalar_t scalars[], size_t nscalars)
{   return run<g1_msm_t, point_t, affine_t>(msm, out, scalars, nscalars);   }

extern "C" void zkm_g1_free(g1_msm_t* msm)
{   delete msm;   }

extern "C" RustError zkm_g2_load(g2_msm_t** out, const affine_fp2_t points[], size_t npoints)
{   return load(out, points, npoints);   }

extern "C" RustError zkm_g2_msm(g2_msm_t* msm, point_fp2_t* out, const scalar_t scalars[], size_t nscalars)
{   return run<g2_msm_t, point_fp2_t, affine_fp2_t>(msm, out, scalars, nscalars);   }

extern "C" void zkm_g2_free(g2_msm_t* msm)
{   delete msm;   }
#endif
