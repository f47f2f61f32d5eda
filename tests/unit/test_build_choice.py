"""tools/build_llama.py's choice of llama.cpp build from the CPU's flags, with plain flag sets."""

import importlib.util
import platform
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location(
    "build_llama", Path(__file__).resolve().parents[2] / "tools" / "build_llama.py"
)
build_llama = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_llama)

AVX2 = "fpu sse sse2 avx avx2 fma f16c bmi2"
AVX512 = "avx512f avx512cd avx512vl avx512dq avx512bw"
pytestmark = pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 builds only")


def chosen_for(flags: str, monkeypatch) -> "build_llama.Build":
    monkeypatch.setenv("TIDE_CPU_FLAGS", flags)
    return build_llama.candidate()


def test_an_avx2_cpu_gets_the_portable_build(monkeypatch) -> None:
    build = chosen_for(AVX2, monkeypatch)
    assert build.name == "native-off" and "no AVX-512" in build.reason


def test_an_epyc_with_avx512_vnni_and_bf16_gets_them(monkeypatch) -> None:
    build = chosen_for(f"{AVX2} {AVX512} avx512_vnni avx512_bf16", monkeypatch)
    assert "-DGGML_AVX512=ON" in build.cmake_args
    assert "-DGGML_AVX512_VNNI=ON" in build.cmake_args
    assert "-DGGML_AVX512_BF16=ON" in build.cmake_args
    assert "-DGGML_NATIVE=OFF" in build.cmake_args


def test_amx_is_never_enabled_even_when_reported(monkeypatch) -> None:
    build = chosen_for(f"{AVX2} {AVX512} amx_tile amx_int8 amx_bf16", monkeypatch)
    assert not any("AMX" in arg and arg.endswith("=ON") for arg in build.cmake_args)
    assert {"-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF"} <= set(build.cmake_args)


def test_avx512_without_all_its_parts_adds_nothing(monkeypatch) -> None:
    build = chosen_for(f"{AVX2} avx512f", monkeypatch)
    assert build.name == "native-off"


def test_a_cpu_without_avx2_gets_the_portable_build_and_says_why(monkeypatch) -> None:
    build = chosen_for("fpu sse sse2", monkeypatch)
    assert build.name == "native-off" and "lacks avx2" in build.reason
