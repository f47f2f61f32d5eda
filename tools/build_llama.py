"""Build llama-cpp-python for the instruction sets this CPU reports; keep only a build that runs.

    python tools/build_llama.py install             # build this CPU's wheel (cached), install it
    python tools/build_llama.py probe --model GGUF  # run it on the model; if it dies, go portable
    python tools/build_llama.py wheel [--portable]  # build if needed, print the wheel's path
    python tools/build_llama.py show                # the recorded choice

Run with the Python of the environment to install into; `make install` runs `install` and
`make model` runs `probe`, each once per venv (their stamps).

The portable build (`-DGGML_NATIVE=OFF`: SSE4.2, AVX, AVX2, BMI2, FMA, F16C) runs on every
machine measured so far. On top of it, ggml's AVX-512 and VNNI options are turned on when
/proc/cpuinfo lists their instructions. AMX never is, nor GGML_NATIVE (which turns on whatever
the CPU reports): a native build died with SIGILL on VMs whose CPUs report AMX that the VM does
not allow. A CPU may misreport AVX-512 the same way, so a build is kept only once it has
evaluated a prompt and generated tokens on the real model in a child process. When that child
dies (SIGILL, or any non-zero exit), the portable build is installed instead, and the verdict
is kept so this machine never builds or tries that build again.

llama.cpp's run-time CPU variants (GGML_BACKEND_DL with GGML_CPU_ALL_VARIANTS) are not used:
llama-cpp-python 0.3.36 binds neither ggml_backend_load nor ggml_backend_load_all, so such a
build loads no CPU backend at all (abetlen/llama-cpp-python#2069); it compiles ggml's CPU code
14 times, on two cores; and it picks a variant from CPUID alone, which on the AMX VMs is the
sapphirerapids variant, with the AMX code that died.

Everything is cached under $XDG_CACHE_HOME/tide/wheels (~/.cache/tide/wheels), a folder per
build holding the wheel, build.json (its CMake options, how long it took) and probe.json (its
verdict on this machine). `probe` records the build in use and why in
llama-cpp-python-<version>-choice.json there, and prints it in one line.
TIDE_CPU_FLAGS (space-separated /proc/cpuinfo flags) replaces the CPU's own flags, to test the
choice and the fallback on a machine that lacks them.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

VERSION = "0.3.36"
# What the portable build already assumes; without all of it the extra options are not tried.
BASE_FLAGS = ("avx2", "fma", "f16c", "bmi2")
# ggml option -> the /proc/cpuinfo flags it compiles in. GGML_AVX512 is ggml's
# -mavx512f/cd/vl/dq/bw; the extensions take effect only on top of it.
AVX512 = ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")
OPTIONS = {
    "GGML_AVX512": AVX512,
    "GGML_AVX512_VBMI": (*AVX512, "avx512vbmi"),
    "GGML_AVX512_VNNI": (*AVX512, "avx512_vnni"),
    "GGML_AVX512_BF16": (*AVX512, "avx512_bf16"),
    "GGML_AVX_VNNI": ("avx_vnni",),
}
NEVER = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")
PROBE_TIMEOUT_S = 300

# The probe: load the model as Tide does (flash attention, 512-token batches), evaluate a
# prompt long enough for the batched matrix kernels, then generate token by token.
PROBE = """
import inspect, json, os, sys, time, argparse
import llama_cpp
threads = min(os.cpu_count() or 1, 8)
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=1024, n_batch=512, n_ubatch=512,
                      n_threads=threads, n_threads_batch=threads, flash_attn=True, verbose=False)
tokens = llm.tokenize(inspect.getsource(argparse)[:4000].encode())[:300]
started = time.perf_counter()
out = llm.create_completion(llm.detokenize(tokens).decode("utf-8", "replace"), max_tokens=8,
                            temperature=0.0)
print(json.dumps({"llama_cpp": llama_cpp.__file__, "prompt_tokens": len(tokens),
                  "text": out["choices"][0]["text"],
                  "completion_s": round(time.perf_counter() - started, 2)}))
"""


@dataclass(frozen=True)
class Build:
    name: str  # the cache folder's suffix
    cmake_args: tuple[str, ...]
    reason: str  # why this machine uses it

    @property
    def portable(self) -> bool:
        return self.name == PORTABLE.name


PORTABLE = Build("native-off", ("-DGGML_NATIVE=OFF",), "the portable AVX2 build")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tide" / "wheels"


def folder(build: Build) -> Path:
    return cache_root() / f"llama-cpp-python-{VERSION}-{build.name}"


def choice_file() -> Path:
    return cache_root() / f"llama-cpp-python-{VERSION}-choice.json"


def cpu_flags() -> tuple[set[str], str]:
    """The CPU's flags and where they came from."""
    forced = os.environ.get("TIDE_CPU_FLAGS")
    if forced is not None:
        return set(forced.split()), "TIDE_CPU_FLAGS"
    for line in _cpuinfo():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split()), "/proc/cpuinfo"
    return set(), "/proc/cpuinfo"


def cpu_name() -> str:
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def candidate() -> Build:
    """The fastest build this CPU reports it can run: the portable one when nothing is added."""
    flags, source = cpu_flags()
    if platform.machine() != "x86_64":
        return replace(PORTABLE, reason=f"not x86-64 ({platform.machine()})")
    missing = [f for f in BASE_FLAGS if f not in flags]
    if missing:
        return replace(PORTABLE, reason=f"{source} lacks {', '.join(missing)}")
    options = [option for option, needs in OPTIONS.items() if flags.issuperset(needs)]
    if not options:
        return replace(PORTABLE, reason=f"{source} reports no AVX-512 or AVX-VNNI")
    short = {"GGML_AVX512": "avx512", "GGML_AVX_VNNI": "avxvnni"}
    name = "x86-" + "-".join(short.get(o, o.removeprefix("GGML_AVX512_").lower()) for o in options)
    args = (*PORTABLE.cmake_args, *(f"-D{o}=ON" for o in options), *(f"-D{o}=OFF" for o in NEVER))
    reported = sorted({f for o in options for f in OPTIONS[o]})
    return Build(name, args, f"{source} reports {' '.join(reported)}")


def verdict(build: Build) -> dict | None:
    """The build's last probe on this machine."""
    try:
        return json.loads((folder(build) / "probe.json").read_text())
    except (OSError, ValueError):
        return None


def chosen() -> Build:
    """This CPU's candidate, unless it has failed its probe on this machine before."""
    build = candidate()
    seen = verdict(build)
    if build.portable or seen is None or seen["ok"]:
        return build
    return replace(PORTABLE, reason=f"{build.name} failed its probe ({seen['why']})")


def wheel(build: Build) -> Path:
    """The build's wheel, compiled first if this machine has none (5-12 minutes on two cores)."""
    target = folder(build)
    if not (target / ".built").exists():
        compile_into(build, target)
    return next(target.glob(f"llama_cpp_python-{VERSION}-*.whl"))


def compile_into(build: Build, target: Path) -> None:
    print(f"tide: compiling llama-cpp-python {VERSION} {build.name}: {' '.join(build.cmake_args)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Built aside and renamed into place, so a build that stops half-way leaves nothing behind
    # and two checkouts building at once do not mix their files.
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))
    started = time.perf_counter()
    env = {
        **os.environ,
        "CMAKE_ARGS": " ".join(build.cmake_args),
        "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1),
    }
    # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS and would hand back a build made
    # with other options.
    spec = f"llama-cpp-python=={VERSION}"
    pip("wheel", "--no-cache-dir", "--no-deps", "-w", str(staging), spec, env=env)
    seconds = round(time.perf_counter() - started)
    record = {"cmake_args": list(build.cmake_args), "seconds": seconds, "cpu": cpu_name()}
    (staging / "build.json").write_text(json.dumps(record, indent=1) + "\n")
    (staging / ".built").touch()
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the cache from the machine's other users
    try:
        staging.rename(target)
    except OSError:  # another checkout finished the same build first
        shutil.rmtree(staging)


def pip(*args: str, env: dict | None = None) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, env=env)


def installed_wheel() -> Path | None:
    """The wheel file this environment's llama-cpp-python was installed from, if any."""
    try:
        direct = metadata.distribution("llama-cpp-python").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    url = json.loads(direct or "{}").get("url", "")
    return Path(url.removeprefix("file://")) if url.startswith("file://") else None


def install(build: Build) -> None:
    path = wheel(build)
    if installed_wheel() == path:
        print(f"tide: llama-cpp-python {VERSION} {build.name} is installed ({build.reason})")
        return
    print(f"tide: installing llama-cpp-python {VERSION} {build.name} ({build.reason})")
    pip("install", "-q", "--no-deps", "--force-reinstall", str(path))
    pip("install", "-q", str(path))  # its dependencies, into a fresh environment


def run_probe(build: Build, model: Path) -> dict:
    """Run the installed build in a child process; what it answered, or how it died.
    The verdict is kept with the build."""
    started = time.perf_counter()
    try:
        child = subprocess.run(
            [sys.executable, "-c", PROBE, str(model)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
        seconds = round(time.perf_counter() - started, 1)
        if child.returncode == 0:
            answer = json.loads(child.stdout.strip().splitlines()[-1])
            result = {"ok": True, "why": "ran", "seconds": seconds, **answer}
        elif child.returncode < 0:
            name = signal.Signals(-child.returncode).name
            result = {"ok": False, "why": f"killed by {name}", "exit": child.returncode}
        else:
            last = (child.stderr.strip().splitlines() or [""])[-1]
            result = {"ok": False, "why": f"exit {child.returncode}: {last}"}
    except subprocess.TimeoutExpired:
        result = {"ok": False, "why": f"no answer in {PROBE_TIMEOUT_S} s"}
    (folder(build) / "probe.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def probe(model: Path) -> None:
    if not model.is_file():
        sys.exit(f"tide: no model at {model} to probe llama-cpp-python with")
    installed = installed_wheel()
    builds = (chosen(), candidate())
    build = next((b for b in builds if installed and installed == wheel_path(b)), None)
    if build is None:
        sys.exit(f"tide: {installed or 'llama-cpp-python'} is not what `install` chose here")
    result = run_probe(build, model)
    if not result["ok"]:
        print(f"tide: llama-cpp-python {build.name} failed its probe ({result['why']})")
        if build.portable:
            sys.exit("tide: the portable llama-cpp-python build does not run on this machine")
        build = replace(PORTABLE, reason=f"{build.name} failed its probe ({result['why']})")
        install(build)
        result = run_probe(build, model)
        if not result["ok"]:
            sys.exit(f"tide: the portable build failed its probe too ({result['why']})")
    flags, source = cpu_flags()
    known = {*BASE_FLAGS, *(f for needs in OPTIONS.values() for f in needs)}
    record = {
        "version": VERSION,
        "build": build.name,
        "cmake_args": list(build.cmake_args),
        "wheel": str(wheel(build)),
        "reason": build.reason,
        "cpu": cpu_name(),
        "flags_from": source,
        "flags": sorted(flags & known),
        "amx_reported_not_used": sorted(f for f in flags if f.startswith("amx")),
        "probe": result,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    choice_file().write_text(json.dumps(record, indent=1) + "\n")
    print(describe(record))


def wheel_path(build: Build) -> Path | None:
    return next(folder(build).glob(f"llama_cpp_python-{VERSION}-*.whl"), None)


def describe(record: dict) -> str:
    return (
        f"tide: llama-cpp-python {record['version']} build {record['build']} "
        f"({' '.join(record['cmake_args'])}) on {record['cpu']}: {record['reason']}; "
        f"probe {record['probe']['why']}"
    )


def main() -> int:
    # So these lines stay in order with pip's output in make's log.
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="build this CPU's wheel if needed and install it")
    probe_parser = sub.add_parser("probe", help="run the installed build; fall back if it dies")
    probe_parser.add_argument("--model", type=Path, required=True)
    wheel_parser = sub.add_parser("wheel", help="build if needed and print the wheel's path")
    wheel_parser.add_argument("--portable", action="store_true")
    show_parser = sub.add_parser("show", help="print the recorded choice")
    show_parser.add_argument("--json", action="store_true", help="the whole record, one line")
    args = parser.parse_args()
    if args.command == "install":
        install(chosen())
    elif args.command == "probe":
        probe(args.model)
    elif args.command == "wheel":
        print(wheel(PORTABLE if args.portable else chosen()))
    else:
        try:
            record = json.loads(choice_file().read_text())
        except OSError:
            sys.exit(f"tide: no choice recorded yet ({choice_file()}); run `make model`")
        print(json.dumps(record) if args.json else describe(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
