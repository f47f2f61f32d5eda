"""A scripted engine: plain data in, text pieces out, for testing the orchestration in process.

It answers every prompt with the next scripted completion, records the prompts it was given,
and can hold a generation until the test lets it go, so a test can edit the document while a
generation runs. Beside the real-model end-to-end tests, never instead of them.
"""

import re
import threading
import time
from collections.abc import Callable, Iterator

from lsp_server.completion.prompts import Prompt, template_for_family
from lsp_server.engines.base import Engine, GenerationParams, GenerationStats, TokenScore


class ScriptedEngine(Engine):
    name = "scripted"

    def __init__(self, answers: list[str], model_name: str = "scripted") -> None:
        self.answers = list(answers)
        self.model_name = model_name
        self.template = template_for_family("qwen2.5-coder")
        self.n_ctx = 2048
        self.prompts: list[Prompt] = []
        self.params: list[GenerationParams] = []
        self.logprob = 0.0  # the model's log-probability of each word it answers
        self.started = threading.Event()  # set once a generation has begun
        self.release = threading.Event()  # a generation streams only once this is set
        self.release.set()
        # With `hold_after` pieces streamed (words), the rest waits for `resume`.
        self.hold_after: int | None = None
        self.resume = threading.Event()
        self.held = threading.Event()  # set while a generation waits for `resume`
        self.piece_s = 0.0  # between pieces, as a model takes time per token
        self.closed = False

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def is_single_token(self, marker: str) -> bool:
        return marker.startswith("<|")

    def stream(
        self,
        prompt: Prompt,
        params: GenerationParams,
        cancelled: Callable[[], bool],
        stats: GenerationStats,
    ) -> Iterator[str]:
        self.prompts.append(prompt)
        self.params.append(params)
        self.started.set()
        self.release.wait(10)
        answer = self.answers.pop(0) if self.answers else ""
        stats.prompt_tokens = self.count_tokens(prompt.text)
        if cancelled():
            stats.stop_reason = "cancelled"
            return
        stats.generated_tokens = self.count_tokens(answer)
        stats.logprob = self.logprob * stats.generated_tokens
        # Token healing: the answer re-types what the prompt was backed off by.
        pieces = re.findall(r"\S+\s*|\s+", params.heal + answer)
        for n, piece in enumerate(pieces):
            if n:
                time.sleep(self.piece_s)
            if n == self.hold_after:
                self.held.set()
                self.resume.wait(10)
                if cancelled():
                    stats.stop_reason = "cancelled"
                    return
            yield piece
        stats.stop_reason = "eos"

    def score(self, text: str, cancelled: Callable[[], bool]) -> list[TokenScore] | None:
        return []

    def chat_prompt(self, system: str, user: str) -> Prompt | None:
        return None

    def close(self) -> None:
        self.closed = True
