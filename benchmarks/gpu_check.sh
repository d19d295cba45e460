#!/usr/bin/env bash
# The prepared CUDA check (DESIGN.md, "GPU checks"). Needs the repo and, on the GPU machine,
# CuPy, NumPy, pytest, array-api-compat and safetensors importable (PYTHONPATH may point at a
# folder holding the last two; matplotlib and tqdm are not needed: no plots, no terminal).
# Writes seven logs to $1, else $OUT, else ./gpu_check_logs, and prints a summary. Meant to
# finish in a few minutes on an H100 (bench_gpu.py is the longest part).
#
#   bash benchmarks/gpu_check.sh [LOGDIR]
set -u
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
    "$@" 2>&1 | tee "$logs/$name.txt"
    local code=${PIPESTATUS[0]}
    echo "== $name: exit $code"
    [ "$code" -eq 0 ] || status=1
}

step config python -c "import cupy, numpy, array_api_compat, xmlp; cupy.show_config(); \
d = cupy.cuda.runtime.getDeviceProperties(0); print('GPU:', d['name'].decode()); \
print('numpy', numpy.__version__, 'array_api_compat', array_api_compat.__version__, 'xmlp', xmlp.__version__)"
step nvidia_smi nvidia-smi
step cuda_tests env XMLP_REQUIRE_CUDA=1 python -m pytest -q -p no:cacheprovider -m cuda tests
step parity env XMLP_REQUIRE_CUDA=1 python -m pytest -q -p no:cacheprovider tests/test_parity.py -k "cupy or numpy"
step train_cuda python -m xmlp train --device cuda --out /tmp/xmlp_gpu_run --no-plots
# scikit-learn's array-API checks of MLPClassifier on CUDA inputs (torch cuda, CuPy); skipped
# where scikit-learn is not installed.
step sklearn_cuda python -m pytest -q -p no:cacheprovider tests/test_sklearn.py -k "cuda or cupy" -rs
[ -f benchmarks/bench_gpu.py ] && step bench_gpu python benchmarks/bench_gpu.py

echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ))"
grep -hE "passed|failed|error" "$logs"/cuda_tests.txt "$logs"/parity.txt | tail -n 2
tail -n 1 "$logs/train_cuda.txt"
echo "gpu_check: $([ $status -eq 0 ] && echo PASS || echo FAIL)"
exit $status
