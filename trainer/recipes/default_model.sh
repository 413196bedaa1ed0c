#!/usr/bin/env bash
# How the embedded default model (stargan_rt/assets/default/) is trained: SynthFaces in the CelebA format,
# the official losses and schedule shape, a 128x128 generator at conv_dim 32 (2.1M parameters, so it ships
# in a few MB), on one CUDA GPU in a fixed time budget.
#
#     bash trainer/recipes/default_model.sh OUT_DIR        # env: MINUTES (default 4), N_IMAGES (12000)
#
# (SIZE, CONV, DEVICE, AMP, PROBE override the defaults for dry runs on a CPU; ITERS skips the probe.)
# The bundle is written when training ends or --max-minutes (MINUTES + 1.5) runs out: an outer `timeout` must
# allow more than that, plus ~1 min of rendering and a cold GPU's first minute at half speed, or nothing is saved.
# The iteration count is fitted to the budget: a 300-iteration probe measures iterations per second, then the
# real run takes that many iterations, half at constant learning rate and half decaying linearly to zero,
# as the official schedule does (100k + 100k at full size).
set -euo pipefail
OUT=${1:-runs/default-model}
WORK=${WORK:-/tmp/stargan-default}
N_IMAGES=${N_IMAGES:-12000}
MINUTES=${MINUTES:-4}
ST=${STARGAN_RT:-stargan-rt}
PY=${PYTHON:-python3}
AMP=${AMP:-bf16}
DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-128}
CONV=${CONV:-32}
PROBE=${PROBE:-300}

$ST synth celeba -n "$N_IMAGES" --seed 0 -o "$WORK/data" -q --overwrite
common() {
    $ST train --data "$WORK/data" --celeba-test-count 0 --image-size "$SIZE" --g-conv-dim "$CONV" --d-conv-dim "$CONV" \
        --batch-size 32 --device "$DEVICE" --amp "$AMP" --channels-last --cache-in-memory --workers 0 --seed 1234 "$@"
}
if [ -n "${ITERS:-}" ]; then
    echo "training $ITERS iterations (given)" >&2
elif ! common --num-iters "$PROBE" --num-iters-decay 0 --log-every 50 --sample-every 0 --save-every 0 \
        --no-tensorboard --out "$WORK/probe"; then
    echo "probe with --amp $AMP failed; falling back to FP32" >&2
    AMP=none
    common --num-iters "$PROBE" --num-iters-decay 0 --log-every 50 --sample-every 0 --save-every 0 \
        --no-tensorboard --out "$WORK/probe"
fi
if [ -z "${ITERS:-}" ]; then
ITERS=$("$PY" - "$WORK/probe/metrics.jsonl" "$MINUTES" <<'PYEOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
a, b = rows[1], rows[-1]  # from iteration 100: past cudnn's autotuning
rate = (b["iteration"] - a["iteration"]) / (b["seconds"] - a["seconds"])
print(f"probe: {rate:.1f} it/s", file=sys.stderr)
print(max(1000, int(rate * 60 * float(sys.argv[2]) * 0.92) // 100 * 100))
PYEOF
)
echo "training $ITERS iterations (amp $AMP)" >&2
fi
common --num-iters "$ITERS" --num-iters-decay $((ITERS / 2)) --lr-update-step $((ITERS / 200 > 0 ? ITERS / 200 : 1)) \
    --log-every 100 --sample-every $((ITERS / 4)) --save-every 0 --num-samples 8 \
    --max-minutes "$("$PY" -c "print($MINUTES + 1.5)")" --out "$OUT"
