#!/usr/bin/env bash
# One prepared GPU benchmark: nqs and NetKet on the same card, same process, table printed last.
# On a machine without NetKet, carry its wheels in .whl/ (see the GPU section of the README):
#   bash benchmarks/gpu.sh            # 10x10 and 16x16, a few minutes on an H100/H200
#   bash benchmarks/gpu.sh --dry-run  # tiny sizes on a CPU, to check the script
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import netket" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import jax, netket; print('jax', jax.__version__, 'netket', netket.__version__, jax.devices())"
exec timeout 470 python3 benchmarks/gpu_bench.py "$@"
