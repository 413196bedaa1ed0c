#!/usr/bin/env bash
# A small StarGAN that visibly learns on a 2-core CPU in under ten minutes: for demos and for testing what comes
# after training (export, eval, the whole-frame path) on a CPU machine. Not the default model (that one trains on
# a GPU: default_model.sh); hair colour is what it learns first, gender and age barely start.
#
#     bash trainer/recipes/cpu_tiny.sh OUT    # env: MINUTES (7), N_IMAGES (2000), RATE, BATCH (8), LR (2e-4), PYTHON
#
# 64x64, conv_dim 16, official losses and n_critic 5, bf16 autocast + channels-last, the data kept in memory and
# batches cut there, fused Adam (same-objective levers of the 2-core CPU table, benchmarks/results/cpu-2core/train/;
# compile G would add 1.26x after a minute of compiling), a moving average with decay 0.99 (few G updates).
# Unlike the official recipe: batch 8 and learning rate 2e-4, because a short run needs updates more than large
# batches (measured on the 2-core machine, 7 minutes each: batch 16 at 1e-4 gave 2,100 iterations and mostly blur;
# batch 8 at 2e-4 gave 3,200 iterations, 7.4 it/s, with the hair colours clearly apart: cpu_tiny_samples.png).
# The iterations are fitted to MINUTES from RATE (it/s measured there), half of them at constant learning rate,
# half decaying to zero; --max-minutes stops it in time on a slower machine.
# Writes OUT/data (SynthFaces), OUT/run (bundle, samples/, metrics.jsonl, checkpoint for --resume).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT=${1:-runs/cpu-tiny}
PY=${PYTHON:-python3}
MINUTES=${MINUTES:-7}
N_IMAGES=${N_IMAGES:-2000}
RATE=${RATE:-7.4}
BATCH=${BATCH:-8}
LR=${LR:-2e-4}
ST=("$PY" -m stargan_rt)
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

"${ST[@]}" synth celeba -n "$N_IMAGES" --seed 0 -o "$OUT/data" -q --overwrite
ITERS=$("$PY" -c "import sys; print(max(500, int(float(sys.argv[1]) * 60 * float(sys.argv[2]) * 0.92) // 100 * 100))" "$RATE" "$MINUTES")
echo "training $ITERS iterations (${RATE} it/s x ${MINUTES} min)" >&2
"${ST[@]}" train --data "$OUT/data" --celeba-test-count 0 --image-size 64 --g-conv-dim 16 --d-conv-dim 16 \
    --batch-size "$BATCH" --g-lr "$LR" --d-lr "$LR" --device cpu --amp bf16 --channels-last --data-on-device --adam fused --ema-decay 0.99 \
    --seed 1234 --num-iters "$ITERS" --num-iters-decay $((ITERS / 2)) --lr-update-step $((ITERS / 100)) \
    --log-every 50 --sample-every $((ITERS / 4)) --save-every 0 --num-samples 6 \
    --max-minutes "$("$PY" -c "import sys; print(float(sys.argv[1]) + 1)" "$MINUTES")" --out "$OUT/run"
