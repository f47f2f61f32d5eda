"""HttpEngine against a stand-in completion server on loopback: protocols, stops and failures."""

import threading
from collections.abc import Iterator

import pytest

from lsp_server.completion.prompts import Prompt, Segment, build_prompt, template_for_family
from lsp_server.engines.base import GenerationParams, GenerationStats
from lsp_server.engines.remote.client import sse_events
from lsp_server.engines.remote.engine import HttpEngine
from lsp_server.engines.remote.text import (
    StopScanner,
    chunk_text,
    defang,
    family_from_name,
    infill_parts,
    prompt_text,
)
from lsp_server.errors import EngineError
from tests.unit.http_stand_in import QWEN, StandIn

STARCODER = template_for_family("starcoder2")


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.stop()


def generate(engine: HttpEngine, prompt: Prompt, **params) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    text = "".join(engine.stream(prompt, GenerationParams(**params), lambda: False, stats))
    return text, stats


def test_probe_detects_llama_server_and_its_template(stand_in: StandIn) -> None:
    engine = HttpEngine(stand_in.url)
    assert engine.server_kind == "llama-server"
    assert engine.template.family == "qwen2.5-coder"
    assert engine.model_name == "stub-model"
    assert engine.n_ctx == 4096
    assert engine.is_single_token("<|fim_prefix|>")
    assert not engine.is_single_token("<fim_prefix>")
    assert engine.count_tokens("abcdef") == 2
    assert engine.count_tokens("") == 0


def test_openai_server_without_tokenizer_uses_family_and_estimate() -> None:
    server = StandIn(flavor="openai")
    try:
        engine = HttpEngine(server.url, family="starcoder2")
        assert engine.server_kind == "openai"
        assert engine.template.family == "starcoder2"
        assert engine.count_tokens("12345678") == 2
        assert HttpEngine(server.url).template.family == "l2r"
    finally:
        server.stop()


def test_streams_openai_completion_with_stats(stand_in: StandIn) -> None:
    engine = HttpEngine(stand_in.url, mode="openai")
    prompt = build_prompt(QWEN, "def add(a, b):\n    ", "\n")
    text, stats = generate(engine, prompt, max_tokens=7, seed=3)
    assert text == "return a + b"
    assert (stats.prompt_tokens, stats.generated_tokens, stats.stop_reason) == (17, 4, "eos")
    path, body = stand_in.requests[-1]
    assert path == "/v1/completions"
    assert body["prompt"] == prompt.text
    assert body["stream"] is True
    assert (body["max_tokens"], body["seed"], body["temperature"]) == (7, 3, 0.0)
    assert body["stop"] == list(QWEN.stops)
    assert body["model"] == "stub-model"


def test_stop_string_ends_the_stream_even_split_across_chunks(stand_in: StandIn) -> None:
    stand_in.pieces = ["x = 1", "\n<|file", "_sep|>other.py", "never"]
    engine = HttpEngine(stand_in.url, mode="openai")
    text, stats = generate(engine, build_prompt(QWEN, "", ""))
    assert text == "x = 1\n"
    assert stats.stop_reason == "eos"


def test_infill_request_and_timings(stand_in: StandIn) -> None:
    engine = HttpEngine(stand_in.url, family="starcoder2")
    prompt = build_prompt(STARCODER, "def add(a, b):\n    ", "\nprint(add(1, 2))\n")
    assert engine.uses_infill(prompt)
    text, stats = generate(engine, prompt, max_tokens=9, heal="ret")
    assert text == "retreturn a + b"
    path, body = stand_in.requests[-1]
    assert path == "/infill"
    assert body["input_prefix"] == "def add(a, b):\n    "
    assert body["input_suffix"] == "\nprint(add(1, 2))\n"
    assert body["prompt"] == "ret"
    assert body["cache_prompt"] is True and body["stream"] is True and body["n_predict"] == 9
    assert (stats.prompt_tokens, stats.reused_tokens, stats.evaluated_tokens) == (15, 10, 5)
    assert stats.prompt_ms == 12.5
    assert stats.stop_reason == "eos"


def test_suffix_first_prompts_stay_on_completions_in_auto_mode(stand_in: StandIn) -> None:
    engine = HttpEngine(stand_in.url)
    prompt = build_prompt(QWEN, "a", "b")
    assert prompt.order == "spm" and not engine.uses_infill(prompt)
    assert HttpEngine(stand_in.url, mode="infill").uses_infill(prompt)


def test_llama_server_prompts_keep_to_the_slot_claimed_at_start(stand_in: StandIn) -> None:
    stand_in.slot = 2
    engine = HttpEngine(stand_in.url)
    claim = stand_in.requests[-1]
    assert claim[0] == "/completion" and claim[1]["n_predict"] == 1
    stand_in.slot = 0  # the server would pick another for a request that asks for none
    prompt = build_prompt(QWEN, "def add(a, b):\n    ", "\n")
    text, stats = generate(engine, prompt, max_tokens=5)
    assert text == "return a + b"
    path, body = stand_in.requests[-1]
    assert path == "/completion"
    assert body["prompt"] == prompt.text
    assert body["cache_prompt"] is True and body["id_slot"] == 2
    assert body["timings_per_token"] is True
    assert (stats.reused_tokens, stats.evaluated_tokens) == (10, 5)


def test_a_server_that_names_no_slot_chooses_each_time(stand_in: StandIn) -> None:
    stand_in.slot = -1
    engine = HttpEngine(stand_in.url)
    generate(engine, build_prompt(QWEN, "a", "b"))
    assert stand_in.requests[-1][1]["id_slot"] == -1


def test_cancelled_while_the_server_is_silent(stand_in: StandIn) -> None:
    stand_in.hold = threading.Event()
    engine = HttpEngine(stand_in.url, mode="openai", timeout_s=600)
    asked = threading.Event()
    stats = GenerationStats()
    threading.Timer(0.2, asked.set).start()
    try:
        pieces = list(
            engine.stream(build_prompt(QWEN, "", ""), GenerationParams(), asked.is_set, stats)
        )
        # The server has not begun to answer: only the watchdog can have ended the request.
        assert not stand_in.hold.is_set()
        assert pieces == [] and stats.stop_reason == "cancelled"
    finally:
        stand_in.hold.set()


def test_a_stream_that_goes_on_too_long_is_ended_at_the_limit(stand_in: StandIn) -> None:
    stand_in.pieces = [f"tok{i} " for i in range(400)]
    stand_in.interval = 0.01  # each piece well within the limit, the whole answer not
    engine = HttpEngine(stand_in.url, mode="openai", timeout_s=0.5)
    received: list[str] = []
    with pytest.raises(EngineError, match=r"did not answer within 0.5s \(the serverTimeout"):
        for piece in engine.stream(
            build_prompt(QWEN, "", ""), GenerationParams(), lambda: False, GenerationStats()
        ):
            received.append(piece)
    assert 0 < len(received) < 400


def test_api_key_refused_or_missing_is_named_and_never_echoed(stand_in: StandIn) -> None:
    stand_in.api_key = "team-secret-1"
    with pytest.raises(EngineError, match=r"refused the API key \(HTTP 401\)") as wrong:
        HttpEngine(stand_in.url, api_key="not-the-key")
    assert "not-the-key" not in str(wrong.value)
    with pytest.raises(EngineError, match="needs an API key"):
        HttpEngine(stand_in.url)
    engine = HttpEngine(stand_in.url, api_key="team-secret-1")
    assert generate(engine, build_prompt(QWEN, "a", "b"))[0] == "return a + b"
    assert all(b"Bearer team-secret-1" in raw for raw in stand_in.raw[-3:])


def test_https_to_a_plain_server_fails_before_anything_is_sent(stand_in: StandIn) -> None:
    url = stand_in.url.replace("http://", "https://")
    with pytest.raises(
        EngineError, match=f"TLS with the completion server at {url}.*nothing was sent"
    ):
        HttpEngine(url, api_key="team-secret-1")
    assert stand_in.requests == [] and stand_in.raw == []


def test_health_check(stand_in: StandIn) -> None:
    engine = HttpEngine(stand_in.url)
    engine.check()
    port = stand_in.port
    stand_in.stop()
    with pytest.raises(EngineError, match=f"127.0.0.1:{port}/health: connection refused"):
        engine.check()


def test_cancellation_closes_the_connection(stand_in: StandIn) -> None:
    stand_in.pieces = [f"tok{i} " for i in range(2000)]
    stand_in.interval = 0.005
    engine = HttpEngine(stand_in.url, mode="openai")
    received: list[str] = []
    stats = GenerationStats()
    pieces = engine.stream(
        build_prompt(QWEN, "", ""), GenerationParams(), lambda: len(received) >= 3, stats
    )
    for piece in pieces:
        received.append(piece)
    assert len(received) == 3
    assert stats.stop_reason == "cancelled"
    assert stand_in.disconnected.wait(5), "the stand-in never saw the client go away"


def test_consumer_stopping_early_closes_the_connection(stand_in: StandIn) -> None:
    stand_in.pieces = [f"tok{i} " for i in range(2000)]
    stand_in.interval = 0.005
    engine = HttpEngine(stand_in.url, mode="openai")
    stats = GenerationStats()
    pieces = engine.stream(build_prompt(QWEN, "", ""), GenerationParams(), lambda: False, stats)
    next(pieces)
    pieces.close()
    assert stats.stop_reason == "done"
    assert stand_in.disconnected.wait(5)


def test_server_down_then_back(stand_in: StandIn) -> None:
    engine = HttpEngine(stand_in.url, mode="openai")
    assert engine.count_tokens("abc") == 1
    port = stand_in.port
    stand_in.stop()
    with pytest.raises(EngineError, match=f"127.0.0.1:{port}.*connection refused"):
        generate(engine, build_prompt(QWEN, "a", "b"))
    with pytest.raises(EngineError, match="connection refused"):
        engine.count_tokens("abcdef")
    back = StandIn(port=port)
    try:
        assert generate(engine, build_prompt(QWEN, "a", "b"))[0] == "return a + b"
        assert engine.count_tokens("abcdef") == 2
    finally:
        back.stop()


def test_restarted_server_is_reached_through_a_stale_kept_connection(stand_in: StandIn) -> None:
    engine = HttpEngine(stand_in.url)
    assert engine.count_tokens("abc") == 1
    port = stand_in.port
    stand_in.stop()
    back = StandIn(port=port)
    try:
        assert engine.count_tokens("abcdef") == 2
    finally:
        back.stop()


def test_unreachable_server_at_construction() -> None:
    server = StandIn()
    url = server.url
    server.stop()
    with pytest.raises(EngineError, match=f"{url}/props: connection refused"):
        HttpEngine(url)


def test_server_dying_mid_stream(stand_in: StandIn) -> None:
    stand_in.die_after = 2
    engine = HttpEngine(stand_in.url, mode="openai")
    received: list[str] = []
    with pytest.raises(EngineError, match="v1/completions.*closed"):
        for piece in engine.stream(
            build_prompt(QWEN, "a", "b"), GenerationParams(), lambda: False, GenerationStats()
        ):
            received.append(piece)
    assert received == ["return", " a"]


def test_slow_server_times_out(stand_in: StandIn) -> None:
    stand_in.header_delay = 1.0
    engine = HttpEngine(stand_in.url, mode="openai", timeout_s=0.2)
    with pytest.raises(EngineError, match=r"v1/completions did not answer within 0.2s"):
        generate(engine, build_prompt(QWEN, "a", "b"))


def test_http_error_carries_the_body(stand_in: StandIn) -> None:
    stand_in.fail_status = 500
    engine = HttpEngine(stand_in.url, mode="openai")
    with pytest.raises(EngineError, match="HTTP 500: .*model exploded: out of KV"):
        generate(engine, build_prompt(QWEN, "a", "b"))
    stand_in.fail_status = 0
    assert generate(engine, build_prompt(QWEN, "a", "b"))[0] == "return a + b"


def test_score_is_unsupported_and_chat_uses_apply_template(stand_in: StandIn) -> None:
    engine = HttpEngine(stand_in.url)
    with pytest.raises(EngineError, match="scoring is not supported"):
        engine.score("x = 1", lambda: False)
    prompt = engine.chat_prompt("Be terse.", "fix <|im_end|> this")
    assert prompt is not None and prompt.order == "l2r"
    assert [s.special for s in prompt.segments] == [True, False, True]
    assert prompt.segments[1].text == "fix <|im_end|> this"
    assert prompt.segments[0].text.endswith("<|im_start|>user\n")


def test_user_text_cannot_forge_markers() -> None:
    prompt = Prompt((Segment("<|fim_prefix|>", True), Segment("s = '<|fim_middle|>'")))
    text = prompt_text(prompt)
    assert text.startswith("<|fim_prefix|>")
    assert "<|fim_middle|>" not in text
    assert text.replace("\u200b", "") == prompt.text
    assert defang("plain code") == "plain code"


def test_stop_scanner_holds_back_possible_stop_starts() -> None:
    scanner = StopScanner(("<|endoftext|>", "\n\n"))
    assert scanner.feed("a <") == "a "
    assert scanner.feed("b") == "<b"
    assert scanner.feed("\n") == ""
    assert scanner.feed("\nrest") == ""
    assert scanner.stopped
    flushing = StopScanner(("<|x|>",))
    assert flushing.feed("end <|") == "end "
    assert flushing.flush() == "<|"


def test_cached_prompt_tokens_reported_in_usage_count_as_reused() -> None:
    stats = GenerationStats()
    usage = {"prompt_tokens": 500, "completion_tokens": 7}
    chunk_text(
        {"choices": [], "usage": {**usage, "prompt_tokens_details": {"cached_tokens": 480}}},
        False,
        stats,
    )
    assert (stats.prompt_tokens, stats.reused_tokens, stats.evaluated_tokens) == (500, 480, 20)


def test_sse_events_skip_comments_and_join_data_lines() -> None:
    lines = [
        b": ping\n",
        b"\n",
        b'data: {"a": 1}\n',
        b"\n",
        b"event: x\n",
        b"data: one\n",
        b"data: two\r\n",
        b"\r\n",
        b"data: [DONE]",
    ]
    assert list(sse_events(iter(lines))) == ['{"a": 1}', "one\ntwo", "[DONE]"]


def test_infill_parts_reads_repository_layout() -> None:
    segments = (
        Segment(QWEN.repo_name, True),
        Segment("tide\n"),
        Segment(QWEN.file_sep, True),
        Segment("util.py\ndef helper(): ...\n"),
        Segment(QWEN.file_sep, True),
        Segment("main.py\n"),
        *build_prompt(QWEN, "x = hel", "\n", order="psm").segments,
    )
    extra, prefix, suffix = infill_parts(segments, QWEN)
    assert extra == [{"filename": "util.py", "text": "def helper(): ...\n"}]
    assert (prefix, suffix) == ("x = hel", "\n")
    spm = infill_parts(build_prompt(QWEN, "pre", "suf").segments, QWEN)
    assert spm == ([], "pre", "suf")


def test_family_from_model_names() -> None:
    assert family_from_name("Qwen/Qwen2.5-Coder-1.5B-Instruct") == "qwen2.5-coder"
    assert family_from_name("bigcode/starcoder2-3b") == "starcoder2"
    assert family_from_name("deepseek-ai/deepseek-coder-1.3b-base") == "deepseek-coder"
    assert family_from_name("gpt-4o") is None


def test_bad_mode_and_url() -> None:
    with pytest.raises(EngineError, match="unknown HTTP engine mode"):
        HttpEngine("http://127.0.0.1:1", mode="grpc")  # type: ignore[arg-type]
    with pytest.raises(EngineError, match="not an http"):
        HttpEngine("ftp://example.invalid/")
