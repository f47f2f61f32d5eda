# Tide: `make demo` and `make test` each install what is missing, then run.
# A second run installs nothing: the venv, the llama-cpp-python wheel and the model are cached.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Builds llama-cpp-python for this CPU's instruction sets, cached per build, never with AMX or
# GGML_NATIVE, and keeps a build only once it has run the model (see its docstring).
BUILD_LLAMA := $(BIN)/python tools/build_llama.py
STAMP := $(VENV)/.tide-installed
ENGINE_STAMP := $(VENV)/.tide-engine-probed
EXTRAS_STAMP := $(VENV)/.tide-extras-installed
# The CPU build, found on disk here; the exact local version means a machine without it fails
# to resolve instead of pulling the multi-GB CUDA build from PyPI.
TORCH := torch==2.13.0+cpu

.PHONY: install extras model demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Compiling llama.cpp takes ~5-12 minutes on two cores, so each build's wheel is made once per
# machine (under ~/.cache/tide/wheels) and reused by every checkout and CI run.
$(STAMP): pyproject.toml tools/build_llama.py | $(BIN)/python
	$(BUILD_LLAMA) install
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# The build is proven on the default model once per venv; one that dies there (SIGILL on an
# instruction the VM does not allow) is replaced by the portable AVX2 build.
$(ENGINE_STAMP): $(STAMP)
	$(BIN)/tide-lsp models pull
	$(BUILD_LLAMA) probe --model "$$($(BIN)/tide-lsp models path)"
	touch $@

install: $(STAMP)

# The other engines (transformers, ctransformers, an HTTP server) and tuning (peft) for their real
# tests; the demo needs none of them. After the probe, which may reinstall llama-cpp-python.
$(EXTRAS_STAMP): $(ENGINE_STAMP)
	$(BIN)/pip install -q '$(TORCH)' -e '.[dev,transformers,ctransformers,server,tune]'
	touch $@

extras: $(EXTRAS_STAMP)

# Fetches, verifies and caches the default model; returns at once when it is already there.
model: $(ENGINE_STAMP)
	$(BIN)/tide-lsp models pull

demo: model
	$(BIN)/python -m examples.demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The editor clients are tested in the real editors when Node is there (TIDE_SKIP_EDITORS=1 skips).
test: model lint extras
	$(BIN)/python -m pytest -q
	@if [ -n "$(TIDE_SKIP_EDITORS)" ]; then echo "TIDE_SKIP_EDITORS set: skipping the editor tests"; \
	elif command -v node >/dev/null 2>&1; then $(MAKE) --no-print-directory editors-test; \
	else echo "Node not found: skipping the editor tests (make editors-test)"; fi

bench: model
	$(BIN)/python -m benchmarks.latency

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Editor clients (VS Code extension, Neovim plugin): `make editors-test`, `make vsix`.
include editors/Makefile.editors
