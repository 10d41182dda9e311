#!/usr/bin/env bash
# The GPU checks and figures of docs/benchmarks.md, in one run of a few minutes on one GPU:
#   1. the CUDA-only tests (fused kernels really run, blockwise path accurate, no host syncs);
#   2. the wide-head attention kernels at the stride-16/32 shapes of 800x1333, batch 8, bf16;
#   3. Mask R-CNN training img/s, 800x1333, batch 8, bf16: torchvision against our builder on
#      resnet50 and each wNLB configuration, in 3 interleaved rounds, with the speed ratios to plain resnet50;
#   4. the same with every model in channels_last.
# Every step runs even if an earlier one fails; the exit status is 1 if any failed.
# Usage: scripts/gpu_benchmarks.sh OUTPUT_DIR   (JSON files and logs go there; $PYTHON picks the interpreter)
set -uo pipefail
out=${1:?usage: scripts/gpu_benchmarks.sh OUTPUT_DIR}
python=${PYTHON:-python3}
mkdir -p "$out"
"$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible')" || exit 1
failed=0

"$python" -m pytest -q -rs -p no:cacheprovider -k "cuda or gpu or synchronises" \
    tests/layers tests/benchmark/test_sdpa_backends.py tests/benchmark/test_fast_paths.py \
    2>&1 | tee "$out/gpu_tests.log" || failed=1

"$python" scripts/benchmark.py --parts kernels --sizes 800x1333 --stages 3 4 --dtypes bf16 --passes fwd fwd+bwd \
    --layer-batch 8 --kernel-backends efficient blockwise --warmup 2 --repeats 5 \
    --output "$out/kernels.json" --markdown 2>&1 | tee "$out/kernels.log" || failed=1

"$python" scripts/benchmark.py --parts detection --no-inference --rounds 3 --warmup 2 --repeats 5 \
    --output "$out/detection.json" --markdown 2>&1 | tee "$out/detection.log" || failed=1

"$python" scripts/benchmark.py --parts detection --no-inference --rounds 3 --warmup 2 --repeats 5 --channels-last \
    --output "$out/detection-channels-last.json" --markdown 2>&1 | tee "$out/detection-channels-last.log" || failed=1

exit "$failed"
