"""The default model through each engine: latency, tokens/s and whether greedy answers agree.

    .venv/bin/python -m benchmarks.engines [--prompts 8] [--max-tokens 24] [--seed 0]

The same FIM prompts (HumanEval single-line infilling, Tide's layout for the model) go to
llama.cpp in process, the HTTP engine against `python -m llama_cpp.server` on loopback serving the
same GGUF, and transformers loading that GGUF through `gguf_file=` (dequantized to float32),
alternated prompt by prompt, each cold. Reported per engine: p50 latency, prompt and generation
tokens/s, and per prompt whether the greedy answer equals llama.cpp's and, if not, at which token
(of llama.cpp's tokenization) it first differs. The HTTP engine's overhead is its latency over
the same request sent straight to the server, both on a warm prompt cache.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from lsp_server.completion.prompts import build_prompt
from lsp_server.config import Settings
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.llamacpp.engine import LlamaCppEngine
from lsp_server.engines.loading import locate_model
from lsp_server.engines.remote.engine import HttpEngine
from lsp_server.engines.reuse import common_prefix
from lsp_server.engines.transformers_engine import TransformersEngine
from tests.engines.llama_server import Server, free_port

from .quality import RESULTS, humaneval_cases


def timed(engine, prompt, max_tokens: int) -> tuple[str, GenerationStats, float]:
    stats = GenerationStats()
    start = time.perf_counter()
    text = "".join(
        engine.stream(prompt, GenerationParams(max_tokens=max_tokens), lambda: False, stats)
    )
    return text, stats, (time.perf_counter() - start) * 1000


def direct_ms(url: str, body: dict) -> float:
    """The request HttpEngine sends, straight to the server, read to its end."""
    request = urllib.request.Request(
        url + "/v1/completions",
        json.dumps(body).encode("utf-8"),
        {"Content-Type": "application/json"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def first_difference(reference: LlamaCppEngine, a: str, b: str) -> int | None:
    """The index of the first token (llama.cpp's tokenization of `a`) where `b` departs."""
    if a == b:
        return None
    ta, tb = reference.tokenize(a), reference.tokenize(b)
    return common_prefix(ta, tb)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = Path(locate_model(Settings()))
    log = Path(tempfile.mkdtemp(prefix="tide-engines-")) / "llama-server.log"
    server = Server(model, free_port(), log)
    server.start()
    try:
        engines = {
            "llama.cpp": LlamaCppEngine(model, n_threads=2),
            "http": HttpEngine(server.url),
            "transformers": TransformersEngine(model, n_ctx=2048),
        }
        reference = engines["llama.cpp"]
        cases = humaneval_cases("SingleLineInfilling", args.prompts, args.seed)
        rows = []
        for case in cases:
            row = {"id": case["id"]}
            for name, engine in engines.items():
                prompt = build_prompt(engine.template, case["prefix"], case["suffix"])
                text, stats, ms = timed(engine, prompt, args.max_tokens)
                row[name] = {
                    "text": text,
                    "ms": round(ms, 1),
                    "prompt_tokens": stats.prompt_tokens,
                    "prompt_ms": round(stats.prompt_ms, 1),
                    "generated": stats.generated_tokens,
                    "generate_ms": round(stats.generate_ms, 1),
                }
            for name in ("http", "transformers"):
                row[name]["differs_at_token"] = first_difference(
                    reference, row["llama.cpp"]["text"], row[name]["text"]
                )
            # Warm: the server has this prompt cached now; both timings below reuse it.
            http = engines["http"]
            prompt = build_prompt(http.template, case["prefix"], case["suffix"])
            body = http._openai_body(prompt, GenerationParams(max_tokens=args.max_tokens))
            row["direct_warm_ms"] = round(direct_ms(server.url, body), 1)
            row["http_warm_ms"] = round(timed(http, prompt, args.max_tokens)[2], 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
        summary = summarize(rows, list(engines))
    finally:
        server.kill()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engines.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    print("command:", " ".join(["python", "-m", "benchmarks.engines", *sys.argv[1:]]))
    print(json.dumps(summary, indent=2))
    return 0


def summarize(rows: list[dict], names: list[str]) -> dict:
    summary: dict = {}
    for name in names:
        cells = [r[name] for r in rows]
        # llama-cpp-python's server reports no prompt token count while streaming.
        prompt_rate = [
            c["prompt_tokens"] / c["prompt_ms"] * 1000 for c in cells if c["prompt_tokens"]
        ]
        gen_rate = [
            c["generated"] / c["generate_ms"] * 1000
            for c in cells
            if c["generate_ms"] and c["generated"]
        ]
        entry = {
            "p50_ms": round(statistics.median(c["ms"] for c in cells), 1),
            "prompt_tok_per_s": round(statistics.median(prompt_rate), 1) if prompt_rate else None,
            "generate_tok_per_s": round(statistics.median(gen_rate), 1) if gen_rate else None,
        }
        if name != "llama.cpp":
            entry["same_answer_as_llama_cpp"] = sum(c["differs_at_token"] is None for c in cells)
            entry["differs_at_tokens"] = [
                c["differs_at_token"] for c in cells if c["differs_at_token"] is not None
            ]
        summary[name] = entry
    overhead = [r["http_warm_ms"] - r["direct_warm_ms"] for r in rows]
    summary["http_overhead_warm_p50_ms"] = round(statistics.median(overhead), 1)
    summary["prompts"] = len(rows)
    return summary


if __name__ == "__main__":
    sys.exit(main())
