"""An engine that asks a completion server over HTTP instead of running a model in process.

Three protocols: OpenAI-style `/v1/completions` (llama-cpp-python's server, vLLM, ...) given the
prompt text laid out with the family's FIM template; llama-server's own `/completion`, the same
text with its prompt cache asked for and one slot kept; and llama-server's `/infill`, which lays
out prefix, suffix and cross-file snippets itself. Requests go to the configured URL only: no
proxy is consulted.

A team's llama-server runs several slots, each with its own prompt cache. Tide's prompts grow at
their end while the user types, so the slot that served the last one holds most of the next: the
engine claims a slot when it starts (the one the server gives its first request) and asks for it
in every request (`id_slot`), waiting for it rather than taking another editor's cache.

Each generation has its own connection, so closing it on cancellation tells the server to stop
generating, and it ends within the time limit; short calls (tokenize, probes) share one
kept-alive connection.
"""

import http.client
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from ...completion.prompts import (
    LEFT_TO_RIGHT,
    TEMPLATES,
    Prompt,
    Template,
    template_for_family,
)
from ...errors import EngineError
from ..base import Engine, GenerationParams, GenerationStats, TokenScore
from ..chat import Messages, chat_template_prompt
from .client import HttpClient, excerpt, sse_events
from .text import (
    StopScanner,
    chunk_text,
    defang,
    family_from_name,
    infill_parts,
    prompt_text,
)

log = logging.getLogger(__name__)

Mode = Literal["auto", "openai", "infill"]
ServerKind = Literal["llama-server", "llama-cpp-python", "openai"]

_CHARS_PER_TOKEN = 4
# OpenAI's own API refuses more stop strings than this; the rest are cut here on the client.
_OPENAI_MAX_STOPS = 4


class HttpEngine(Engine):
    """A completion server reached over HTTP; see the module docstring for the protocols."""

    name = "http"

    def __init__(
        self,
        url: str,
        *,
        model_name: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        mode: Mode = "auto",
        family: str | None = None,
        n_ctx: int = 2048,
        ca_file: str | None = None,
    ) -> None:
        if mode not in ("auto", "openai", "infill"):
            raise EngineError(f"unknown HTTP engine mode {mode!r}: use auto, openai or infill")
        self._client = HttpClient(url, api_key, timeout_s, ca_file)
        self.url = self._client.base
        self.mode = mode
        self.n_ctx = n_ctx
        self._chat_template = False
        self._slot = -1  # llama-server's slot that holds this editor's prompts; -1: its choice
        self.server_kind, served_name = self._probe()
        # The name sent with each request: the one given, else the one the server serves.
        self._request_model = model_name or served_name
        self.model_name = self._request_model or self.url
        self.template = self._choose_template(family)
        if self.server_kind == "llama-server":
            self._slot = self._claim_slot()
        log.info(
            "HTTP engine at %s: %s server, model %s, template %s, mode %s",
            self.url,
            self.server_kind,
            self.model_name,
            self.template.family,
            mode,
        )

    def _probe(self) -> tuple[ServerKind, str | None]:
        """What kind of server answers, and the model it serves."""
        props = self._client.optional_json("GET", "/props")
        models = self._client.optional_json("GET", "/v1/models")
        served = None
        if isinstance(models, dict) and models.get("data"):
            first = models["data"][0]
            served = first.get("id")
            self.n_ctx = int(first.get("max_model_len") or self.n_ctx)
        if isinstance(props, dict) and "default_generation_settings" in props:
            settings = props["default_generation_settings"]
            self.n_ctx = int(settings.get("n_ctx") or props.get("n_ctx") or self.n_ctx)
            self._chat_template = bool(props.get("chat_template"))
            return "llama-server", served or _stem(props.get("model_path"))
        if self._client.optional_json("POST", "/extras/tokenize", {"input": "a"}) is not None:
            return "llama-cpp-python", served
        return "openai", served

    def _claim_slot(self) -> int:
        """The slot this editor's prompts keep to: the one the server gives a one-token request
        now, its least recently used, so that editors starting one after another spread over
        the slots. The server names a request's slot only in its last chunk, which a
        completion cut short (the user typed on) never reads: it must be known before."""
        # The server first looks for a slot whose cache holds a prompt like this one: two
        # editors' claims must share no beginning, or the second would get the first's slot.
        # Digits are tokens one by one, so two draws of 24 rarely share the first few.
        digits = "".join(random.choice("0123456789") for _ in range(24))
        body = {"prompt": digits, "n_predict": 1, "cache_prompt": False}
        try:
            slot = self._client.json("POST", "/completion", body).get("id_slot")
        except EngineError as exc:
            log.info("no slot of %s kept for this editor: %s", self.url, exc)
            return -1
        return slot if isinstance(slot, int) and slot >= 0 else -1

    def _choose_template(self, family: str | None) -> Template:
        if family:
            return template_for_family(family)
        if self.server_kind != "openai":
            for template in TEMPLATES:
                if all(self._single_token(marker) for marker in template.signature):
                    return template
            return LEFT_TO_RIGHT
        guessed = family_from_name(self.model_name)
        return template_for_family(guessed) if guessed else LEFT_TO_RIGHT

    def _single_token(self, marker: str) -> bool:
        if self.server_kind == "llama-server":
            answer = self._client.json(
                "POST",
                "/tokenize",
                {
                    "content": marker,
                    "add_special": False,
                    "parse_special": True,
                    "with_pieces": True,
                },
            )
            tokens = answer.get("tokens", [])
            return len(tokens) == 1 and (
                not isinstance(tokens[0], dict) or tokens[0].get("piece") == marker
            )
        answer = self._client.json("POST", "/extras/tokenize", {"input": marker})
        return len(answer.get("tokens", [])) == 1

    def uncached_tokens(self, prompt: Prompt) -> int:
        # The server keeps its own prompt cache, at a speed that is not this machine's: an
        # arrival there is answered on its whole prompt.
        return 0

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        if self.server_kind == "llama-server":
            body = {"content": text, "add_special": False, "parse_special": False}
            return len(self._client.json("POST", "/tokenize", body).get("tokens", []))
        if self.server_kind == "llama-cpp-python":
            return len(self._client.json("POST", "/extras/tokenize", {"input": text})["tokens"])
        return math.ceil(len(text) / _CHARS_PER_TOKEN)

    def is_single_token(self, marker: str) -> bool:
        if self.server_kind == "openai":
            return marker in (self.template.prefix, self.template.suffix, self.template.middle)
        return self._single_token(marker)

    def uses_infill(self, prompt: Prompt) -> bool:
        """Whether this prompt goes to `/infill` rather than `/v1/completions`.

        `/infill` lays prompts out prefix first only, so in auto mode it takes only those; a
        left-to-right prompt has no hole to fill and always goes to `/v1/completions`.
        """
        if prompt.order == "l2r" or self.template.order == "l2r":
            return False
        if self.mode == "infill":
            return True
        return self.mode == "auto" and self.server_kind == "llama-server" and prompt.order == "psm"

    def _openai_body(self, prompt: Prompt, params: GenerationParams) -> dict[str, Any]:
        stops = list(prompt.stops)
        body: dict[str, Any] = {
            # Healing needs token-level control this protocol lacks: the backed-off text is
            # given back to the prompt and the completion begins with it as required.
            "prompt": prompt_text(prompt) + defang(params.heal),
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "seed": params.seed,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self._request_model:
            body["model"] = self._request_model
        if self.server_kind == "openai":
            body["stop"] = stops[:_OPENAI_MAX_STOPS]
        else:
            # llama-cpp-python's server penalises repeats by default; the in-process engine
            # does not, and code repeats itself on purpose.
            body.update(stop=stops, top_k=params.top_k, repeat_penalty=1.0)
        return body

    def _native_body(self, prompt: Prompt, params: GenerationParams) -> dict[str, Any]:
        """llama-server's own fields, shared by `/completion` and `/infill`."""
        return {
            "n_predict": params.max_tokens,
            "temperature": params.temperature,
            "top_k": params.top_k,
            "repeat_penalty": 1.0,
            "seed": params.seed,
            "stop": list(prompt.stops),
            "stream": True,
            "cache_prompt": True,
            "id_slot": self._slot,
            # Without it the prompt's reuse comes only with the last chunk, which a stream cut
            # short never reads.
            "timings_per_token": True,
        }

    def _infill_body(self, prompt: Prompt, params: GenerationParams) -> dict[str, Any]:
        extra, prefix, suffix = infill_parts(prompt.segments, self.template)
        return {
            **self._native_body(prompt, params),
            "input_prefix": prefix,
            "input_suffix": suffix,
            "input_extra": extra,
            "prompt": params.heal,
        }

    def _completion_body(self, prompt: Prompt, params: GenerationParams) -> dict[str, Any]:
        return {
            **self._native_body(prompt, params),
            "prompt": prompt_text(prompt) + defang(params.heal),
        }

    def _route(self, prompt: Prompt, params: GenerationParams) -> tuple[str, dict[str, Any]]:
        """The endpoint for this prompt and its request body."""
        if self.uses_infill(prompt):
            return "/infill", self._infill_body(prompt, params)
        if self.server_kind == "llama-server" and self.mode == "auto":
            return "/completion", self._completion_body(prompt, params)
        return "/v1/completions", self._openai_body(prompt, params)

    def stream(
        self,
        prompt: Prompt,
        params: GenerationParams,
        cancelled: Callable[[], bool],
        stats: GenerationStats,
    ) -> Iterator[str]:
        path, body = self._route(prompt, params)
        native = path != "/v1/completions"
        start = time.perf_counter()
        if cancelled():
            stats.stop_reason = "cancelled"
            return
        stream = self._client.stream(path, body, cancelled)
        scanner = StopScanner(prompt.stops)
        pieces = 0
        finished = False
        try:
            if params.heal:
                yield params.heal
            for event in sse_events(stream.lines):
                if not stats.prompt_ms:
                    stats.prompt_ms = (time.perf_counter() - start) * 1000
                if event == "[DONE]":
                    finished = True
                    break
                chunk = self._decode(path, event)
                if native and isinstance(chunk.get("id_slot"), int) and chunk["id_slot"] >= 0:
                    self._slot = chunk["id_slot"]
                text, final = chunk_text(chunk, native, stats)
                finished = finished or final
                shown = scanner.feed(text)
                if text:
                    pieces += 1
                if shown:
                    yield shown
                if scanner.stopped:
                    stats.stop_reason = "eos"
                    return
                if final and native:
                    break
                if cancelled():
                    stats.stop_reason = "cancelled"
                    return
            if stream.reason == "cancelled" or (not finished and cancelled()):
                stats.stop_reason = "cancelled"
                return
            if stream.reason == "timeout":
                raise self._client.ended(path, stream, TimeoutError())
            if not finished:
                raise EngineError(
                    f"the completion server at {self.url + path} closed the stream before "
                    "the completion ended"
                )
            rest = scanner.flush()
            if rest:
                yield rest
        except (OSError, http.client.HTTPException) as exc:
            if stream.reason == "cancelled":
                stats.stop_reason = "cancelled"
                return
            raise self._client.ended(path, stream, exc) from exc
        finally:
            stream.close()
            stats.generated_tokens = stats.generated_tokens or pieces
            if not stats.stop_reason:
                stats.stop_reason = "done"
            total = (time.perf_counter() - start) * 1000
            stats.generate_ms = max(total - stats.prompt_ms, 0.0)

    def _decode(self, path: str, event: str) -> dict[str, Any]:
        try:
            chunk = json.loads(event)
        except ValueError as exc:
            raise EngineError(
                f"the completion server at {self.url + path} sent an event that is not JSON: "
                f"{excerpt(event.encode())}"
            ) from exc
        if not isinstance(chunk, dict):
            raise EngineError(f"the completion server at {self.url + path} sent {event[:80]!r}")
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise EngineError(f"the completion server at {self.url + path} failed: {message}")
        return chunk

    def score(self, text: str, cancelled: Callable[[], bool]) -> list[TokenScore] | None:
        raise EngineError("scoring is not supported by the HTTP engine")

    def chat_prompt(self, system: str, user: str) -> Prompt | None:
        if not self._chat_template:
            return None

        def render(messages: Messages) -> str:
            rendered = self._client.json("POST", "/apply-template", {"messages": messages})
            return str(rendered.get("prompt", ""))

        return chat_template_prompt(render, system, user, self.template)

    def check(self) -> None:
        """Raise EngineError unless the server answers and is ready to serve."""
        if self.server_kind == "llama-server":
            # 503 while it loads its model.
            self._client.json("GET", "/health")
        else:
            self._client.json("GET", "/v1/models")

    def close(self) -> None:
        self._client.drop()


def _stem(path: Any) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name.removesuffix(".gguf") or None
