# Sourced by the recipes: make a plain copy of the repository runnable on a machine with no network.
#   - wheels carried in REPO/.whl/ are installed with --no-index into WORK/site (the machine's own numpy, torch,
#     triton and OpenCV are kept: carried copies would shadow what torch was built with);
#   - the `stargan-rt` subcommands are found through entry points: a copy that was never pip-installed gets them
#     described to importlib.metadata from pyproject.toml (WORK/site/stargan_rt-*.dist-info);
#   - every module the recipe needs must import, or it stops here with one line naming what is missing.
# Needs REPO, WORK and PY set; exports PYTHONPATH (then `$PY -m stargan_rt` is the stargan-rt command).
# Wheels for the GPU machine (Python 3.12), fetched on a machine with a package index:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl safetensors tqdm onnxscript onnx-ir ml_dtypes onnxconverter-common packaging
# shellcheck shell=bash

mkdir -p "$WORK/site"
export PYTHONPATH="$WORK/site:$REPO${PYTHONPATH:+:$PYTHONPATH}"
shopt -s nullglob
wheels=()
for w in "$REPO"/.whl/*.whl; do
    case "$(basename "$w")" in
        numpy-* | torch-* | nvidia_* | triton-* | opencv*) ;;
        *) wheels+=("$w") ;;
    esac
done
shopt -u nullglob
if [ ${#wheels[@]} -gt 0 ] && [ ! -f "$WORK/site/.wheels-done" ]; then
    "$PY" -m pip install -q --no-index --no-deps --target "$WORK/site" "${wheels[@]}" && touch "$WORK/site/.wheels-done"
fi
if ! "$PY" -c "import sys; from importlib.metadata import entry_points; sys.exit(not entry_points(group='stargan_rt.commands'))" 2>/dev/null; then
    "$PY" - "$REPO/pyproject.toml" "$WORK/site" <<'PYEOF'
import sys, tomllib
from pathlib import Path

project = tomllib.loads(Path(sys.argv[1]).read_text())["project"]
info = Path(sys.argv[2]) / f"stargan_rt-{project['version']}.dist-info"
info.mkdir(parents=True, exist_ok=True)
(info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
groups = project["entry-points"]
(info / "entry_points.txt").write_text("".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
                                               for g, eps in groups.items()))
PYEOF
fi
missing=$("$PY" - <<'PYEOF'
import importlib.util
names = ("torch", "numpy", "cv2", "safetensors", "tqdm", "onnx", "onnxruntime", "onnxscript", "onnxconverter_common")
print(" ".join(n for n in names if importlib.util.find_spec(n) is None))
PYEOF
)
if [ -n "$missing" ]; then
    echo "recipe: missing Python modules: $missing (carry their wheels in $REPO/.whl/: see trainer/recipes/offline_env.sh)" >&2
    exit 2
fi
