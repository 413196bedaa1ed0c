# Two commands do everything on a fresh machine:
#   make demo   set up the runtime and run the main job end to end on the embedded default
#   make test   set up everything (CPU-only PyTorch) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: demo test setup setup-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[train]"

setup-test: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[train,test]"
	# Type stubs only; without --no-deps it would try to fetch TensorRT itself.
	$(BIN)/pip install -q --no-deps tensorrt-stubs

demo: setup
	$(BIN)/stargan-rt --help

test: setup-test
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache
