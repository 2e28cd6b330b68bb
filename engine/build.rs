//! With the `cuda` feature, compiles the CUDA glue in `cuda/` (sppark's MSM and NTT
//! for BN254) with nvcc into a static library linked with static cudart, so the
//! binary starts on machines without a GPU. Without the feature it does nothing.

use std::env;
use std::path::PathBuf;

const SOURCES: [&str; 2] = ["cuda/msm.cu", "cuda/ntt.cu"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_CUDA").is_some() {
        compile_cuda();
    }
}

fn compile_cuda() {
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
    println!("cargo:rerun-if-env-changed=NVCC");
    // sppark's own build script looks for nvcc the same way ($NVCC, else PATH), so
    // both agree on the toolkit.
    let nvcc = match env::var_os("NVCC") {
        Some(path) => PathBuf::from(path),
        None => find_in_path("nvcc").unwrap_or_else(|| {
            panic!(
                "the `cuda` feature needs nvcc: run engine/scripts/install-cuda-toolchain.sh and \
                 export NVCC=<the path it prints>, or put a CUDA 13.0 nvcc on PATH"
            )
        }),
    };
    let sppark = env::var("DEP_SPPARK_ROOT").expect("the sppark crate exports its header directory");
    let blst = env::var("DEP_BLST_C_SRC")
        .expect("the blst crate exports its C sources (sppark's host code includes blst_t.hpp)");

    let mut build = cc::Build::new();
    build
        .cuda(true)
        .cudart("static")
        .flag("-std=c++17")
        // SASS for H100/H200: the GPU machines' driver (CUDA 13.0) cannot JIT PTX
        // from a newer toolkit, so do not rely on PTX.
        .flag("-gencode")
        .flag("arch=compute_90,code=sm_90")
        .define("FEATURE_BN254", None)
        .define("TAKE_RESPONSIBILITY_FOR_ERROR_MESSAGE", None)
        .include(&sppark)
        .include(&blst)
        .files(SOURCES)
        // cc passes nvcc -G in debug builds, which turns off device optimisation:
        // the kernels would be unusably slow, in tests too.
        .debug(false)
        .opt_level(3)
        .warnings(false);
    build.compile("zkmeter_engine_cuda");

    // The PyPI wheels put libcudart_static.a next to bin/, not under
    // targets/<arch>/lib where cc looks.
    if let Some(lib) = nvcc.parent().and_then(|bin| bin.parent()).map(|root| root.join("lib"))
        && lib.join("libcudart_static.a").exists()
    {
        println!("cargo:rustc-link-search=native={}", lib.display());
    }
    for lib in ["dl", "rt", "pthread"] {
        println!("cargo:rustc-link-lib={lib}");
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}
