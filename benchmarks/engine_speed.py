"""Raw llama.cpp speed on one model: cold prompt evaluation and generation, tokens per second.

    .venv/bin/python -m benchmarks.engine_speed [--model NAME|PATH] [--prompt 512] [--gen 64]
        [--batch N[,N...]] [--flash-attn on|off]

With several batch sizes, one engine per size is loaded in the same process and they take
turns on the same prompts (alternating which goes first), because these VMs drift by ±10%
between runs, more than the difference being measured.

Run under the chosen and the portable llama-cpp-python build by `benchmarks.build_speed`; a
build that crashes (SIGILL on a CPU feature the VM does not allow) shows up there as a negative
exit code.
"""

import argparse
import inspect
import json
import statistics
import sys
import time
from pathlib import Path

from lsp_server.completion.prompts import build_prompt
from lsp_server.config import Settings
from lsp_server.engines.base import Engine, GenerationParams, GenerationStats
from lsp_server.engines.llamacpp.engine import LlamaCppEngine
from lsp_server.engines.loading import load_engine, locate_model


def measure(engine: Engine, text: str, prompt_tokens: int, gen: int) -> dict:
    tokens = engine.tokenize(text)[:prompt_tokens]
    prefix = engine._llm.detokenize(tokens).decode("utf-8", "replace")
    prompt = build_prompt(engine.template, prefix, "", order="l2r")
    stats = GenerationStats()
    started = time.perf_counter()
    for _ in engine.stream(prompt, GenerationParams(max_tokens=gen), lambda: False, stats):
        pass
    total = time.perf_counter() - started
    return {
        "prompt_tokens": stats.prompt_tokens,
        "prompt_tok_s": round(stats.evaluated_tokens / (stats.prompt_ms / 1000), 1),
        "generated": stats.generated_tokens,
        "gen_tok_s": round(stats.generated_tokens / (stats.generate_ms / 1000), 1),
        "total_s": round(total, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--prompt", type=int, default=512, help="prompt tokens")
    parser.add_argument("--gen", type=int, default=64, help="tokens to generate")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--batch", default=None, help="prompt batch, or several to interleave (default: Tide's)"
    )
    parser.add_argument("--flash-attn", choices=["on", "off"], default=None)
    args = parser.parse_args()
    settings = Settings(model=args.model)
    path = locate_model(settings)
    engines: dict[int, Engine] = {}
    if args.batch or args.flash_attn:
        options = {"flash_attn": args.flash_attn == "on"} if args.flash_attn else {}
        for batch in args.batch.split(",") if args.batch else [None]:
            engine = LlamaCppEngine(path, **options, **({"n_batch": int(batch)} if batch else {}))
            engines[engine.n_batch] = engine
    else:
        engine = load_engine(path, settings)
        engines[engine.n_batch] = engine
    source = Path(inspect.getsourcefile(argparse)).read_text()
    runs: dict[int, list[dict]] = {batch: [] for batch in engines}
    for i in range(args.repeat):
        # A different slice each time, so nothing is reused from the KV cache.
        text = source[i * 7_000 :]
        order = list(engines.items())
        for batch, engine in order if i % 2 == 0 else reversed(order):
            runs[batch].append(measure(engine, text, args.prompt, args.gen))
    for engine in engines.values():
        engine.close()
    for batch, results in runs.items():
        summary = {
            key: statistics.median(r[key] for r in results) for key in ("prompt_tok_s", "gen_tok_s")
        }
        print(
            json.dumps(
                {
                    "model": engines[batch].model_name,
                    "batch": batch,
                    "flash_attn": args.flash_attn,
                    "median": summary,
                    "runs": results,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
