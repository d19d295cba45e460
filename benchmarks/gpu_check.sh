#!/usr/bin/env bash
# The prepared CUDA check (DESIGN.md, "GPU checks"). Needs the repo and, on the GPU machine,
# CuPy, NumPy, pytest, array-api-compat and safetensors importable (PYTHONPATH may point at a
# folder holding the last two; matplotlib and tqdm are not needed: no plots, no terminal).
# Writes a log per step to $1, else $OUT, else ./gpu_check_logs, and prints a summary. Meant to
# finish in a few minutes on an H100 (bench_gpu.py is the longest part).
#
#   PYTHON=python3 STEP_TIMEOUT=150 bash benchmarks/gpu_check.sh [LOGDIR]
#
# The interpreter is $PYTHON (default python3): call the image's own python3 by name, never
# through a symlink elsewhere (a symlinked venv interpreter loses its venv: 2026-11-27). Every
# step runs under `timeout` (STEP_TIMEOUT seconds, default 150) and the first one only starts the
# interpreter, so a hang shows up as one step's "exit 124" with the other logs intact instead
# of eating the whole device lease (which happened on 2026-11-27: see benchmarks/README.md).
set -u
PY=${PYTHON:-python3}
limit=${STEP_TIMEOUT:-150}
cd "$(dirname "$0")/.."
logs="${1:-${OUT:-gpu_check_logs}}"
mkdir -p "$logs"
export PYTHONUNBUFFERED=1
unset CUPY_TF32  # parity runs must not use TF32
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0

step() {  # step NAME COMMAND...: run, log to $logs/NAME.txt, remember failure
    local name=$1; shift
    echo "== $name: $*"
    timeout -k 5 "$limit" "$@" 2>&1 | tee "$logs/$name.txt"
    local code=${PIPESTATUS[0]}
    echo "== $name: exit $code"
    [ "$code" -eq 0 ] || status=1
}

step startup timeout -k 5 60 "$PY" -X importtime -c "import sys; print(sys.executable, sys.version)"
step config "$PY" -c "import cupy, numpy, array_api_compat, xmlp; cupy.show_config(); \
d = cupy.cuda.runtime.getDeviceProperties(0); print('GPU:', d['name'].decode()); \
print('numpy', numpy.__version__, 'array_api_compat', array_api_compat.__version__, 'xmlp', xmlp.__version__)"
step nvidia_smi nvidia-smi
step cuda_tests env XMLP_REQUIRE_CUDA=1 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests
step parity env XMLP_REQUIRE_CUDA=1 "$PY" -m pytest -q -p no:cacheprovider tests/test_parity.py -k "cupy or numpy"
step train_cuda "$PY" -m xmlp train --device cuda --out /tmp/xmlp_gpu_run --no-plots
# scikit-learn's array-API checks of MLPClassifier on CUDA inputs (torch cuda, CuPy); skipped
# where scikit-learn is not installed.
step sklearn_cuda "$PY" -m pytest -q -p no:cacheprovider tests/test_sklearn.py -k "cuda or cupy" -rs
[ -f benchmarks/bench_gpu.py ] && step bench_gpu "$PY" benchmarks/bench_gpu.py

echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ))"
grep -hE "passed|failed|error" "$logs"/cuda_tests.txt "$logs"/parity.txt | tail -n 2
tail -n 1 "$logs/train_cuda.txt"
echo "gpu_check: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
