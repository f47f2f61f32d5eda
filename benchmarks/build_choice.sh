#!/usr/bin/env bash
# Build llama-cpp-python with GGML_NATIVE=ON and =OFF (cached under the wheel cache) and run
# benchmarks/engine_speed.py on each, in its own process so a crash is recorded, not fatal.
#   bash benchmarks/build_choice.sh [MODEL ...]
set -u
cd "$(dirname "$0")/.."
version=0.3.36
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tide/wheels"
for variant in off on; do
    wheels="$cache/llama-cpp-python-$version-native-$variant"
    if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
        flag=$([ "$variant" = on ] && echo ON || echo OFF)
        CMAKE_ARGS="-DGGML_NATIVE=$flag" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
            .venv/bin/pip wheel --no-cache-dir --no-deps -q -w "$wheels" "llama-cpp-python==$version"
    fi
    site="$(mktemp -d)"
    .venv/bin/pip install -q --no-deps --target "$site" "$wheels"/llama_cpp_python-*.whl
    for model in "${@:-}"; do
        echo "== GGML_NATIVE=$variant ${model:-default model}"
        PYTHONPATH="$site" .venv/bin/python -m benchmarks.engine_speed ${model:+--model "$model"}
        echo "exit code: $?"
    done
    rm -rf "$site"
done
