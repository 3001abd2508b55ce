#!/usr/bin/env bash
# One short check for a GPU machine (H200 class): under 8 minutes, figures in OUT_DIR, a table printed.
# Needs the project installed with [hf,ray] (vllm optional); nothing is downloaded. See bench/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-gpu_check_out}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
timeout 470 python bench/gpu_check.py --out "$OUT_DIR" "${@:2}"
