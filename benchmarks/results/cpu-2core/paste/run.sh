#!/usr/bin/env bash
# Pipeline before/after in one sitting, alternated: the old square paste (commit 4e1d249) and the new paste
# (model and input references); ort-cpu INT8 only, the embedded model.
set -u
cd /work/main
PY=/work/main/.venv/bin/python
COMMON=(--device cpu --phases pipeline --model stargan_rt/assets/default --faces 1,3 --modes max,live --frames 150 --backends "ort-cpu int8")
for round in 1 2; do
  PYTHONPATH=/work/wt/before $PY -m stargan_rt bench "${COMMON[@]}" -o /tmp/pipe-before-$round > /tmp/pipe-before-$round.log 2>&1
  $PY -m stargan_rt bench "${COMMON[@]}" --paste-reference model -o /tmp/pipe-model-$round > /tmp/pipe-model-$round.log 2>&1
  $PY -m stargan_rt bench "${COMMON[@]}" --paste-reference input -o /tmp/pipe-input-$round > /tmp/pipe-input-$round.log 2>&1
done
echo done
