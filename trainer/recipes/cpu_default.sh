#!/usr/bin/env bash
# The embedded default model, trained on the 2-core CPU (issue 10, no GPU lent): 128x128, conv_dim 16 (0.53M
# parameters in G: about a quarter of the previous default's compute at inference), 12,000 SynthFaces v3 images,
# the official losses and n_critic 5, batch 8, a moving average of G (0.999), bf16 autocast + channels-last + data
# in memory + compile G (the same-objective levers of benchmarks/results/cpu-2core/train-128-conv16/: 2.2 it/s at
# batch 16, 1.61x the eager loop). Three stages of one run, each resuming the last (--resume keeps D, both Adams,
# the moving average and the data order):
#   1. iterations 0-20,000: learning rate 2e-4 (cpu_tiny.sh's measured choice for short runs), falling linearly
#      to 0 over the second half;
#   2. 20,000-36,000: back to 2e-4 (a warm restart) until 26,000, then linearly to 0 at 36,000;
#   3. 36,000-42,000: 5e-5 falling linearly to 0.
#
#     bash trainer/recipes/cpu_default.sh WORK      # env: PYTHON
#
# Measured on the 2-core AMD EPYC: rendering 3.4 min, the stages 94.9 + 65.6 + 23.1 min (3.6-4.5 it/s), export,
# check and eval 2.5 min. Then it says whether the model beats the default it would replace on every eval number
# (beats_default.py; trainer/recipes/cpu_default_eval/README.md has each stage's result).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK=${1:-runs/cpu-default}
PY=${PYTHON:-python3}
ST=("$PY" -m stargan_rt)
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

[ -f "$WORK/data/list_attr_celeba.txt" ] || "${ST[@]}" synth celeba -n 12000 --seed 0 -o "$WORK/data" -q --overwrite
"${ST[@]}" train --data "$WORK/data" --celeba-test-count 0 --image-size 128 --g-conv-dim 16 --d-conv-dim 16 \
    --batch-size 8 --g-lr 2e-4 --d-lr 2e-4 --device cpu --amp bf16 --channels-last --data-on-device --compile g \
    --ema-decay 0.999 --seed 1234 --num-iters 20000 --num-iters-decay 10000 --lr-update-step 100 \
    --log-every 100 --sample-every 2500 --save-every 1000 --num-samples 8 --out "$WORK/run"
"${ST[@]}" train --resume --out "$WORK/run" --num-iters 36000 --num-iters-decay 10000
"${ST[@]}" train --resume --out "$WORK/run" --num-iters 42000 --num-iters-decay 6000 --g-lr 5e-5 --d-lr 5e-5
"${ST[@]}" export "$WORK/run/bundle" -o "$WORK/export"
"${ST[@]}" check "$WORK/run/bundle" "$WORK/export/generator_int8.onnx"
"${ST[@]}" eval "$WORK/export/generator_int8.onnx" --backend ov-cpu -n 100 -o "$WORK/eval-int8" -q
"${ST[@]}" eval "$WORK/run/bundle" --phases crops -n 100 -o "$WORK/eval-bundle" -q
"$PY" "$REPO/trainer/recipes/ship_default.py" "$WORK/run/bundle" "$WORK/export" "$WORK/ship"
"$PY" "$REPO/trainer/recipes/beats_default.py" "$WORK/eval-int8"  # exit 1: not better on every number
