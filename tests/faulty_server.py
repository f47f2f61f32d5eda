"""`tide-lsp` with an engine that fails on purpose, for the end-to-end tests of engine failures.

    python -m tests.faulty_server N [tide-lsp arguments...]

Every engine the server builds is wrapped: each generation raises an EngineError once it has
produced N pieces, the way a native library failing mid-generation would. The server itself is
the real one; only its engine builder is replaced, before it starts.
"""

import sys
from collections.abc import Callable, Iterator
from typing import Any

from lsp_server import cli
from lsp_server.engines import loading
from lsp_server.engines.base import Engine, GenerationParams, GenerationStats
from lsp_server.errors import EngineError

FAULT = "injected engine fault"


class FailingEngine:
    """The real engine, except that every stream fails after `after` pieces."""

    def __init__(self, engine: Engine, after: int) -> None:
        self._engine = engine
        self._after = after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def stream(
        self,
        prompt: Any,
        params: GenerationParams,
        cancelled: Callable[[], bool],
        stats: GenerationStats,
    ) -> Iterator[str]:
        for count, piece in enumerate(self._engine.stream(prompt, params, cancelled, stats)):
            if count >= self._after:
                raise EngineError(f"{FAULT} after {self._after} pieces")
            yield piece


def main() -> int:
    after = int(sys.argv.pop(1))
    build = loading.load_engine
    loading.load_engine = lambda *a, **k: FailingEngine(build(*a, **k), after)
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
