"""Raw llama.cpp speed on one model: cold prompt evaluation and generation, tokens per second.

    .venv/bin/python -m benchmarks.engine_speed [--model NAME|PATH] [--prompt 512] [--gen 64]
        [--batch N] [--flash-attn on|off]

Run under each llama-cpp-python build by `benchmarks/build_choice.sh`; a build that crashes
(SIGILL on a CPU feature the VM does not allow) shows up there as a negative exit code.
"""

import argparse
import inspect
import json
import sys
import time
from pathlib import Path

from lsp_server.config import Settings
from lsp_server.engine_slot import load_engine, locate_model
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.llama_cpp import LlamaCppEngine
from lsp_server.prompts import build_prompt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--prompt", type=int, default=512, help="prompt tokens")
    parser.add_argument("--gen", type=int, default=64, help="tokens to generate")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=None, help="prompt batch (default: Tide's)")
    parser.add_argument("--flash-attn", choices=["on", "off"], default=None)
    args = parser.parse_args()
    settings = Settings(model=args.model)
    path = locate_model(settings)
    if args.batch or args.flash_attn:
        options = {"n_batch": args.batch} if args.batch else {}
        if args.flash_attn:
            options["flash_attn"] = args.flash_attn == "on"
        engine = LlamaCppEngine(path, **options)
    else:
        engine = load_engine(path, settings)
    source = Path(inspect.getsourcefile(argparse)).read_text()
    results = []
    for i in range(args.repeat):
        # A different slice each time, so nothing is reused from the KV cache.
        text = source[i * 40_000 :]
        tokens = engine.tokenize(text)[: args.prompt]
        prefix = engine._llm.detokenize(tokens).decode("utf-8", "replace")
        prompt = build_prompt(engine.template, prefix, "", order="l2r")
        stats = GenerationStats()
        started = time.perf_counter()
        for _ in engine.stream(prompt, GenerationParams(max_tokens=args.gen), lambda: False, stats):
            pass
        total = time.perf_counter() - started
        results.append(
            {
                "prompt_tokens": stats.prompt_tokens,
                "prompt_tok_s": round(stats.evaluated_tokens / (stats.prompt_ms / 1000), 1),
                "generated": stats.generated_tokens,
                "gen_tok_s": round(stats.generated_tokens / (stats.generate_ms / 1000), 1),
                "total_s": round(total, 2),
            }
        )
    engine.close()
    print(
        json.dumps(
            {
                "model": engine.model_name,
                "batch": engine.n_batch,
                "flash_attn": args.flash_attn,
                "runs": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
