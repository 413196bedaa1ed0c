#!/usr/bin/env bash
# A candidate for the embedded default model trained on the 2-core CPU (issue 10, no GPU lent): 128x128, conv_dim 16
# (0.53M parameters in G: about a quarter of the default's compute at inference), 12,000 SynthFaces v3 images, the
# official losses and n_critic 5, batch 8 at learning rate 2e-4 (cpu_tiny.sh's measured choice for short runs), a
# moving average of G (0.999), bf16 autocast + channels-last + data in memory + compile G (the same-objective levers
# of benchmarks/results/cpu-2core/train-128-conv16/: 2.2 it/s at batch 16, 1.61x the eager loop).
#
#     bash trainer/recipes/cpu_default.sh WORK      # env: ITERS (20000), PYTHON
#
# Measured on the 2-core AMD EPYC: rendering 3.4 min, training 20,000 iterations in 94.9 min (3.57 it/s), export,
# check and eval 2.5 min. Then it says whether the candidate beats today's default on every eval number
# (beats_default.py): only then may it replace it (trainer/recipes/cpu_default_eval/README.md has the run's result).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK=${1:-runs/cpu-default}
PY=${PYTHON:-python3}
ITERS=${ITERS:-20000}
ST=("$PY" -m stargan_rt)
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

[ -f "$WORK/data/list_attr_celeba.txt" ] || "${ST[@]}" synth celeba -n 12000 --seed 0 -o "$WORK/data" -q --overwrite
"${ST[@]}" train --data "$WORK/data" --celeba-test-count 0 --image-size 128 --g-conv-dim 16 --d-conv-dim 16 \
    --batch-size 8 --g-lr 2e-4 --d-lr 2e-4 --device cpu --amp bf16 --channels-last --data-on-device --compile g \
    --ema-decay 0.999 --seed 1234 --num-iters "$ITERS" --num-iters-decay $((ITERS / 2)) --lr-update-step 100 \
    --log-every 100 --sample-every 2500 --save-every 1000 --num-samples 8 --out "$WORK/run"
"${ST[@]}" export "$WORK/run/bundle" -o "$WORK/export"
"${ST[@]}" check "$WORK/run/bundle" "$WORK/export/generator_int8.onnx"
"${ST[@]}" eval "$WORK/export/generator_int8.onnx" --backend ov-cpu -n 100 -o "$WORK/eval-int8" -q
"${ST[@]}" eval "$WORK/run/bundle" --phases crops -n 100 -o "$WORK/eval-bundle" -q
"$PY" "$REPO/trainer/recipes/ship_default.py" "$WORK/run/bundle" "$WORK/export" "$WORK/ship"
"$PY" "$REPO/trainer/recipes/beats_default.py" "$WORK/eval-int8"  # exit 1: not better on every number
