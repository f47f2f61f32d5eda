# Tide: `make demo` and `make test` each install what is missing, then run.
# A second run installs nothing: the venv, the llama-cpp-python wheel and the model are cached.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tide
LLAMA_VERSION := 0.3.36
# GGML_NATIVE=ON dies with SIGILL on these VMs (their CPUs report AMX/AVX-512 the VM does not
# fully allow); the portable AVX2 build runs everywhere we have measured. See BENCHMARKS.md.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
LLAMA_WHEELS := $(CACHE)/wheels/llama-cpp-python-$(LLAMA_VERSION)-native-off
STAMP := $(VENV)/.tide-installed
EXTRAS_STAMP := $(VENV)/.tide-extras-installed
# The CPU build, found on disk here; the exact local version means a machine without it fails
# to resolve instead of pulling the multi-GB CUDA build from PyPI.
TORCH := torch==2.13.0+cpu

.PHONY: install extras model demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Compiling llama.cpp takes ~5-12 minutes on two cores, so the wheel is built once per machine
# and reused by every checkout and CI run. --no-cache-dir: pip's own wheel cache ignores
# CMAKE_ARGS and would hand back a build made with other flags.
$(LLAMA_WHEELS)/.built: | $(BIN)/python
	mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/pip wheel --no-cache-dir --no-deps -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	touch $@

$(STAMP): pyproject.toml $(LLAMA_WHEELS)/.built | $(BIN)/python
	$(BIN)/pip install -q $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# The other engines (transformers, ctransformers, an HTTP server) and tuning (peft) for their real
# tests; the demo needs none of them.
$(EXTRAS_STAMP): $(STAMP)
	$(BIN)/pip install -q '$(TORCH)' -e '.[dev,transformers,ctransformers,server,tune]'
	touch $@

extras: $(EXTRAS_STAMP)

# Fetches, verifies and caches the default model; returns at once when it is already there.
model: install
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
