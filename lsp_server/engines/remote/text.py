"""The text a completion server is sent and sends back, apart from the HTTP that carries it.

The user's code goes into one prompt string that the server tokenizes with special tokens
enabled, so every control marker in it is broken up first; a streamed answer is cut at the
first stop string on this side, since servers accept only a few.
"""

from typing import Any

from ...completion.prompts import TEMPLATES, Prompt, Segment, Template
from ..base import GenerationStats

# Every control marker Tide's templates know: inside the user's text each is broken up, since a
# server tokenizes the whole prompt string with special tokens enabled.
_MARKERS = tuple(
    sorted(
        {
            marker
            for t in TEMPLATES
            for marker in (t.prefix, t.suffix, t.middle, t.repo_name, t.file_sep, *t.stops)
            if marker
        },
        key=len,
        reverse=True,
    )
)
_BREAK = "\u200b"

# Model ids carry the family in their name often enough to be the last resort.
_FAMILY_NAMES = (
    ("qwen2.5-coder", "qwen2.5-coder"),
    ("qwen2.5coder", "qwen2.5-coder"),
    ("starcoder2", "starcoder2"),
    ("starcoder", "starcoder"),
    ("deepseek-coder", "deepseek-coder"),
    ("codellama", "codellama"),
    ("code-llama", "codellama"),
    ("codegemma", "codegemma"),
    ("codestral", "codestral"),
)


def defang(text: str) -> str:
    """The user's text with every known control marker broken by a zero-width space."""
    for marker in _MARKERS:
        if marker in text:
            text = text.replace(marker, marker[0] + _BREAK + marker[1:])
    return text


def prompt_text(prompt: Prompt) -> str:
    """The prompt as one string, markers whole and the user's text unable to forge one."""
    return "".join(s.text if s.special else defang(s.text) for s in prompt.segments)


def family_from_name(name: str) -> str | None:
    """The family a model id names, if any (e.g. 'Qwen2.5-Coder-1.5B' -> 'qwen2.5-coder')."""
    lowered = name.lower().replace("_", "-")
    for needle, family in _FAMILY_NAMES:
        if needle in lowered:
            return family
    return None


class StopScanner:
    """Cuts streamed text at the first stop string, holding back what may begin one."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The text safe to show now; sets `stopped` once a stop string has appeared."""
        held = self._held + text
        hits = [i for i in (held.find(s) for s in self._stops) if i >= 0]
        if hits:
            self.stopped = True
            self._held = ""
            return held[: min(hits)]
        keep = 0
        for stop in self._stops:
            for k in range(min(len(stop) - 1, len(held)), keep, -1):
                if held.endswith(stop[:k]):
                    keep = k
                    break
        self._held = held[len(held) - keep :]
        return held[: len(held) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


def chunk_text(chunk: dict[str, Any], infill: bool, stats: GenerationStats) -> tuple[str, bool]:
    """The text one streamed chunk adds and whether it ends the completion; fills `stats`."""
    timings = chunk.get("timings")
    if isinstance(timings, dict):
        cached = int(timings.get("cache_n") or 0)
        evaluated = int(timings.get("prompt_n") or 0)
        stats.reused_tokens = cached
        stats.evaluated_tokens = evaluated
        stats.prompt_tokens = cached + evaluated
        stats.prompt_ms = float(timings.get("prompt_ms") or stats.prompt_ms)
        stats.generated_tokens = int(timings.get("predicted_n") or stats.generated_tokens)
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        stats.prompt_tokens = int(usage.get("prompt_tokens") or stats.prompt_tokens)
        stats.generated_tokens = int(usage.get("completion_tokens") or stats.generated_tokens)
        # vLLM's prefix cache (with --enable-prompt-tokens-details) and OpenAI's report this.
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict) and details.get("cached_tokens") is not None:
            stats.reused_tokens = int(details["cached_tokens"])
            stats.evaluated_tokens = max(stats.prompt_tokens - stats.reused_tokens, 0)
    if infill:
        final = bool(chunk.get("stop"))
        if final:
            stats.stop_reason = "length" if chunk.get("stop_type") == "limit" else "eos"
        return str(chunk.get("content") or ""), final
    choices = chunk.get("choices") or []
    if not choices:
        return "", False
    reason = choices[0].get("finish_reason")
    if reason:
        stats.stop_reason = "length" if reason == "length" else "eos"
    return str(choices[0].get("text") or ""), bool(reason)


def infill_parts(
    segments: tuple[Segment, ...], template: Template
) -> tuple[list[dict[str, str]], str, str]:
    """Cross-file snippets, prefix and suffix of a FIM prompt, for llama-server's `/infill`.

    Text before the first FIM marker is cross-file context: one snippet per file separator
    (its first line is the file name), or one unnamed snippet where the family has none.
    """
    head: list[list[str]] = [[]]
    prefix: list[str] = []
    suffix: list[str] = []
    target = head[-1]
    for segment in segments:
        if not segment.special:
            target.append(segment.text)
        elif segment.text == template.prefix:
            target = prefix
        elif segment.text == template.suffix:
            target = suffix
        elif segment.text == template.middle:
            # Suffix-first layouts put the prefix after the middle marker.
            target = prefix
        elif segment.text == template.file_sep:
            head.append([])
            target = head[-1]
        elif segment.text == template.repo_name:
            target = []
    extra: list[dict[str, str]] = []
    for index, parts in enumerate(head):
        text = "".join(parts)
        if index > 0:
            filename, _, text = text.partition("\n")
        else:
            filename = ""
        if text:
            extra.append({"filename": filename, "text": text})
    return extra, "".join(prefix), "".join(suffix)
