"""The llama-cpp-python build this machine chose against the portable AVX2 build, interleaved.

    .venv/bin/python -m benchmarks.build_speed [--rounds 4] [--prompt 512] [--gen 64] [--model M]

The chosen build is the one `tools/build_llama.py probe` recorded (`make model` runs it). Each
build's wheel is installed into its own scratch folder, and `benchmarks.engine_speed` runs
under each in turn, a fresh process per run with that folder first on PYTHONPATH, alternating
which build goes first, so the VM's drift falls on both alike. A run that dies shows its exit
code (negative: the signal). When the chosen build is the portable one, both columns run the
same wheel and their difference is the noise; the output says so.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "build_llama.py"
RESULTS = ROOT / "benchmarks" / "results" / "build-speed.json"


def tool(*args: str) -> str:
    """The tool's last line of output (it may compile first, printing as it goes)."""
    out = subprocess.run([sys.executable, str(TOOL), *args], check=True, stdout=subprocess.PIPE)
    return out.stdout.decode().strip().splitlines()[-1]


def unpack(wheel: Path, into: Path) -> dict[str, str]:
    """The environment that imports llama_cpp from `wheel`, installed into `into`."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(into),
            str(wheel),
        ],
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(into), str(ROOT)])}
    where = subprocess.run(
        [sys.executable, "-c", "import llama_cpp; print(llama_cpp.__file__)"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not where.startswith(str(into)):
        raise SystemExit(f"llama_cpp came from {where}, not from {into}")
    return env


def run(env: dict[str, str], args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "benchmarks.engine_speed", "--repeat", "1"]
    command += ["--prompt", str(args.prompt), "--gen", str(args.gen)]
    command += ["--model", args.model] if args.model else []
    child = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if child.returncode != 0:
        return {"exit": child.returncode, "error": (child.stderr.strip().splitlines() or [""])[-1]}
    measured = json.loads(child.stdout.strip().splitlines()[-1])["runs"][0]
    return {"exit": 0, **measured}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--prompt", type=int, default=512, help="prompt tokens")
    parser.add_argument("--gen", type=int, default=64, help="tokens to generate")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    print(tool("show"))
    record = json.loads(tool("show", "--json"))
    chosen, portable = Path(record["wheel"]), Path(tool("wheel", "--portable"))
    same = chosen == portable
    if same:
        print(f"The chosen build is the portable one ({record['reason']}): both columns run the")
        print("same wheel, so their difference is this machine's noise.")
    builds = {f"chosen ({record['build']})": chosen, "portable (native-off)": portable}
    runs: dict[str, list[dict]] = {label: [] for label in builds}
    with tempfile.TemporaryDirectory(prefix="tide-build-speed-") as scratch:
        envs = {
            label: unpack(wheel, Path(scratch) / str(i))
            for i, (label, wheel) in enumerate(builds.items())
        }
        for i in range(args.rounds):
            order = list(envs.items()) if i % 2 == 0 else list(reversed(envs.items()))
            for label, env in order:
                result = run(env, args)
                runs[label].append(result)
                print(f"round {i + 1} {label}: {json.dumps(result)}", flush=True)
    summary = {}
    for label, results in runs.items():
        ok = [r for r in results if r["exit"] == 0]
        summary[label] = {
            "runs": len(results),
            "died": [r["exit"] for r in results if r["exit"] != 0],
            **{
                key: round(statistics.median(r[key] for r in ok), 1) if ok else None
                for key in ("prompt_tok_s", "gen_tok_s")
            },
            "prompt_tok_s_each": [r["prompt_tok_s"] for r in ok],
            "gen_tok_s_each": [r["gen_tok_s"] for r in ok],
        }
    print("\n| build | runs | died | prompt tok/s (median) | generate tok/s (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, s in summary.items():
        print(
            f"| {label} | {s['runs']} | {len(s['died'])} | {s['prompt_tok_s']} | {s['gen_tok_s']} |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "choice": record,
                "same_wheel": same,
                "args": vars(args),
                "summary": summary,
                "runs": runs,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"\nrecords: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
