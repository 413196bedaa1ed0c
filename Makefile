# Two commands do everything on a fresh machine:
#   make demo   install the runtime (numpy, OpenCV, onnxruntime; no torch) and translate a synthetic video and a
#               grid of faces with the embedded default model, printing FPS and per-stage latency
#   make test   install everything (CPU-only PyTorch) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
DEMO   ?= demo
TARGET ?= Blond_Hair

.PHONY: demo test setup setup-train setup-test setup-browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e .

setup-train: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[train]"

setup-test: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[train,test,serve,ray]"
	# Type stubs only; without --no-deps it would try to fetch TensorRT itself.
	$(BIN)/pip install -q --no-deps tensorrt-stubs
	# pycuda built from its sdist against the CUDA headers (~3.5 min once; the wheel is cached in
	# ~/.cache/stargan-rt/wheels by version). Importing it needs the NVIDIA driver.
	$(BIN)/pip install -q "$$(bash export/build_pycuda.sh --python $(BIN)/python)"

demo: setup
	$(BIN)/stargan-rt synth video -o $(DEMO)/input.mp4 --faces 1 -q
	$(BIN)/stargan-rt video $(DEMO)/input.mp4 $(DEMO)/output.mp4 -t $(TARGET) --overlay --detect-every 3
	$(BIN)/stargan-rt synth celeba -n 4 --seed 9999 -o $(DEMO)/faces -q --overwrite
	$(BIN)/stargan-rt translate $(DEMO)/faces/images/*.jpg --grid -d none --source-attrs $(DEMO)/faces/list_attr_celeba.txt -o $(DEMO)/grid
	@echo "demo: $(DEMO)/output.mp4 (translated video) and $(DEMO)/grid/ (every domain for 4 faces)"

# The serving page's browser test drives Debian's Chromium through Playwright (which never downloads a browser).
setup-browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

test: setup-test setup-browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache $(DEMO)
