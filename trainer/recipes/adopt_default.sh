#!/usr/bin/env bash
# After default_model.sh ran on a GPU machine: put what came back where the repository keeps it.
#
#     bash trainer/recipes/adopt_default.sh DIR     # DIR: the returned default_model.tar.gz (and samples.tar)
#
# stargan_rt/assets/default/      the FP16-weight bundle (the moving average) and its INT8 ONNX
# trainer/recipes/                default_model_metrics.jsonl, default_model_samples.jpg (the last sample grid),
#                                 default_model_eval/ (eval of the shipped INT8 ONNX; bundle/: EMA against raw)
# benchmarks/results/h200/train/  the training benchmark of that run
# Then the whole-frame eval of what ships (CPU work, not done on the GPU machine):
#     stargan-rt eval stargan_rt/assets/default/generator_int8.onnx --phases frames -o trainer/recipes/default_model_eval
# look at the grids, update README's eval table, and run the tests.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR=${1:?usage: adopt_default.sh DIR}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
tar -xzf "$DIR/default_model.tar.gz" -C "$TMP"
cp "$TMP"/ship/model.json "$TMP"/ship/generator.safetensors "$TMP"/ship/generator_int8.onnx "$REPO/stargan_rt/assets/default/"
cp "$TMP/metrics.jsonl" "$REPO/trainer/recipes/default_model_metrics.jsonl"
python3 -c "import cv2, sys; cv2.imwrite(sys.argv[2], cv2.imread(sys.argv[1]), [cv2.IMWRITE_JPEG_QUALITY, 90])" \
    "$(find "$TMP/latest" -name '*.png' | sort | tail -n 1)" "$REPO/trainer/recipes/default_model_samples.jpg"
rm -rf "$REPO/trainer/recipes/default_model_eval"
cp -r "$TMP/eval-int8" "$REPO/trainer/recipes/default_model_eval"
cp -r "$TMP/eval-bundle" "$REPO/trainer/recipes/default_model_eval/bundle"
mkdir -p "$REPO/benchmarks/results/h200/train"
cp "$TMP/bench/bench.json" "$TMP/bench/bench.md" "$REPO/benchmarks/results/h200/train/"
cp "$TMP/check.txt" "$REPO/trainer/recipes/default_model_eval/check.txt"
echo "adopted: $(sed -n '/^| \*\*mean/p' "$REPO/trainer/recipes/default_model_eval/report.md")"
