#!/usr/bin/env bash
# The sao-vision pipeline benchmark (benches/pipeline.rs), with its Python baseline.
# Creates target/bench-venv (opencv-python-headless, onnxruntime, numpy from PyPI) when
# missing, then runs `cargo bench -p sao-vision --bench pipeline`. Extra arguments go to
# cargo. SAO_BENCH_PYTHON picks another interpreter; SAO_BENCH_ROUNDS the rounds (5).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="$root/target/bench-venv"
if [ -z "${SAO_BENCH_PYTHON:-}" ] \
    && ! "$venv/bin/python" -c "import cv2, onnxruntime, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet opencv-python-headless==4.10.0.84 onnxruntime==1.31.1 numpy
fi
cd "$root"
exec cargo bench -p sao-vision --bench pipeline "$@"
