#!/usr/bin/env bash
# Installs the CUDA 13.0 compiler, runtime (static cudart) and headers from PyPI into a
# virtual environment, so the engine's `cuda` feature compiles on a machine without a
# GPU or a system CUDA (CI, development VMs). Idempotent: a second run only prints
# the path. The GPU machines run driver 580 (CUDA 13.0), which cannot load code from
# a newer toolkit, hence the 13.0 pins.
#
#   engine/scripts/install-cuda-toolchain.sh            # venv in target/cuda-venv
#   export NVCC=$(engine/scripts/install-cuda-toolchain.sh | tail -n1)
#   cargo build -p zkmeter-engine --features cuda
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CUDA_VENV:-$root/target/cuda-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
nvcc="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nvidia/cu13/bin/nvcc"
if [ ! -x "$nvcc" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        'nvidia-cuda-nvcc==13.0.*' 'nvidia-cuda-runtime==13.0.*' 'nvidia-cuda-crt==13.0.*' \
        'nvidia-cuda-cccl==13.0.*' 'nvidia-nvvm==13.0.*' >&2
fi
# nvcc.profile links against $TOP/lib64, but the wheels ship $TOP/lib: without this
# link nvcc cannot find libcudart_static.a / libcudadevrt.a when it links a program
# (sppark's build script links one to probe for a GPU).
cu13="$(dirname "$(dirname "$nvcc")")"
[ -e "$cu13/lib64" ] || ln -s lib "$cu13/lib64"
"$nvcc" --version >&2
echo "$nvcc"
