"""Tuning a LoRA adapter on a tiny workspace with the real default model, and loading it into
llama.cpp on top of the quantized base.

Needs the `tune` extra (torch, transformers, peft). The base is loaded once (dequantized by
transformers, about a minute); each training step on ~100-token examples takes a few seconds on
two cores.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.model
pytest.importorskip("peft", reason="needs the tune extra")
pytest.importorskip("transformers", reason="needs the tune extra")
llama_cpp = pytest.importorskip("llama_cpp")

from safetensors.numpy import load_file, save_file  # noqa: E402

from lsp_server.completion.prompts import build_prompt  # noqa: E402
from lsp_server.engines.base import GenerationParams, GenerationStats  # noqa: E402
from lsp_server.tuning.adapters import (  # noqa: E402
    NEXT_EDIT,
    find_adapter,
    read_adapter,
    validate_adapter,
)
from lsp_server.tuning.base import LoadedBase, identify_base, load_base  # noqa: E402
from lsp_server.tuning.encoding import encode_example  # noqa: E402
from lsp_server.tuning.errors import AdapterError  # noqa: E402
from lsp_server.tuning.examples import ExampleSettings, FimExample  # noqa: E402
from lsp_server.tuning.export import AdapterMetadata, export_gguf  # noqa: E402
from lsp_server.tuning.train import LoraSettings, TrainSettings, loss_of  # noqa: E402
from lsp_server.tuning.tune import TuneOutcome, TuneRequest, tune  # noqa: E402

FILES = {
    "shapes/circle.py": '''"""Circles."""

import math


class Circle:
    def __init__(self, radius: float) -> None:
        self.radius = radius

    def area(self) -> float:
        return math.pi * self.radius**2

    def perimeter(self) -> float:
        return 2 * math.pi * self.radius
''',
    "shapes/square.py": '''"""Squares."""


class Square:
    def __init__(self, side: float) -> None:
        self.side = side

    def area(self) -> float:
        return self.side * self.side

    def perimeter(self) -> float:
        return 4 * self.side
''',
    "shapes/total.py": """from shapes.circle import Circle
from shapes.square import Square


def total_area(shapes: list) -> float:
    total = 0.0
    for shape in shapes:
        total += shape.area()
    return total
""",
    "main.py": """from shapes.circle import Circle
from shapes.square import Square
from shapes.total import total_area


def main() -> None:
    shapes = [Circle(1.0), Square(2.0)]
    print(total_area(shapes))


if __name__ == "__main__":
    main()
""",
}
PROMPT = "def fibonacci(n: int) -> int:\n"


@pytest.fixture(scope="module")
def base(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedBase]:
    started = time.perf_counter()
    loaded = load_base(identify_base(str(model_path), tmp_path_factory.mktemp("unused-cache")))
    print(f"\nbase loaded for training in {time.perf_counter() - started:.0f}s on {loaded.device}")
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workspace")
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def run(
    base: LoadedBase, workspace: Path, cache: Path, steps: int, time_budget_s: float = 120.0
) -> tuple[TuneOutcome, list[str]]:
    settings = TrainSettings(
        lora=LoraSettings(rank=2, alpha=4.0),
        steps=steps,
        batch_size=1,
        checkpoint_every=1,
        time_budget_s=time_budget_s,
    )
    request = TuneRequest(
        workspace,
        model_dir=str(cache),
        train=settings,
        examples=ExampleSettings(context_budget=128, lines_per_example=4),
        held_out_share=0.0,
        progress=False,
    )
    said: list[str] = []
    return tune(request, said.append, base=base), said


def lora_weights(outcome: TuneOutcome) -> dict[str, np.ndarray]:
    return load_file(outcome.result.peft_dir / "adapter_model.safetensors")


def greedy(model_path: Path, lora: Path | None, n_ctx: int = 512) -> list[int]:
    llm = llama_cpp.Llama(
        model_path=str(model_path),
        lora_path=str(lora) if lora else None,
        n_ctx=n_ctx,
        n_threads=2,
        verbose=False,
    )
    try:
        tokens = llm.tokenize(PROMPT.encode())
        out: list[int] = []
        for token in llm.generate(tokens, temp=0.0, top_k=1):
            if token == llm.token_eos() or len(out) == 12:
                break
            out.append(token)
        return out
    finally:
        llm.close()


def last_logits(model_path: Path, lora: Path | None, tokens: list[int]) -> np.ndarray:
    llm = llama_cpp.Llama(
        model_path=str(model_path),
        lora_path=str(lora) if lora else None,
        n_ctx=128,
        n_threads=2,
        logits_all=True,
        verbose=False,
    )
    try:
        llm.eval(tokens)
        return np.array(llm.scores[len(tokens) - 1], dtype=np.float64)
    finally:
        llm.close()


def test_tune_resume_export_and_load_into_llama_cpp(
    base: LoadedBase, workspace: Path, model_path: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    # Interrupted by the step budget after one step...
    first, said = run(base, workspace, cache, steps=1)
    assert (first.result.start_step, first.result.step, first.result.stopped_by) == (0, 1, "steps")
    assert [p.name for p in (first.directory / "checkpoints").iterdir()] == ["step-0000001"]
    assert find_adapter(workspace, cache) == first.manifest
    # ...then resumed to two: it says so, and starts from the checkpoint.
    second, said = run(base, workspace, cache, steps=2)
    assert any("Resuming from the checkpoint at step 1" in line for line in said), said
    assert (second.result.start_step, second.result.step) == (1, 2)
    assert [p.name for p in (second.directory / "checkpoints").iterdir()] == ["step-0000002"]
    assert [p.name for p in second.directory.glob("peft-*")] == [second.result.peft_dir.name]
    per_step = second.result.seconds_per_step
    print(f"\n{per_step:.1f} s a training step ({second.manifest.examples} examples)")
    # Resuming gives what two uninterrupted steps give: same order, weights, optimizer state.
    straight, _ = run(base, workspace, tmp_path / "straight", steps=2)
    resumed, uninterrupted = lora_weights(second), lora_weights(straight)
    assert resumed.keys() == uninterrupted.keys()
    for name in resumed:
        np.testing.assert_allclose(resumed[name], uninterrupted[name], rtol=1e-5, atol=1e-7)
    assert any(np.abs(v).max() > 0 for k, v in resumed.items() if "lora_B" in k)
    # A time budget stops a longer run early and still leaves a resumable adapter.
    timed, said = run(base, workspace, cache, steps=50, time_budget_s=0.5)
    assert (timed.result.start_step, timed.result.step, timed.result.stopped_by) == (2, 3, "time")
    assert any("stopped by the time budget" in line for line in said), said

    manifest = find_adapter(workspace, cache)
    assert manifest == timed.manifest and manifest.steps == 3 and manifest.rank == 2
    gguf_path = Path(manifest.gguf_path)
    info = validate_adapter(gguf_path, model_path, base.file.sha256)
    assert (info.steps, info.rank, info.workspace) == (3, 2, str(workspace))
    assert len(info.pairs) == 4 * 24  # q, k, v, o in each of the 24 blocks
    print(f"adapter file: {gguf_path.stat().st_size} bytes at rank 2")
    llm = llama_cpp.Llama(
        model_path=str(model_path), lora_path=str(gguf_path), n_ctx=512, n_threads=2, verbose=False
    )
    try:
        text = llm.create_completion(PROMPT, max_tokens=8, temperature=0.0)["choices"][0]["text"]
        assert text.strip()
    finally:
        llm.close()


def test_an_untrained_adapter_is_accepted_and_changes_nothing(
    base: LoadedBase, workspace: Path, model_path: Path, tmp_path: Path
) -> None:
    fresh, _ = run(base, workspace, tmp_path / "models", steps=0)
    assert fresh.result.step == 0
    weights = lora_weights(fresh)
    # peft starts lora_B at zero and lora_A random: the adapter adds nothing yet.
    assert all(not v.any() for k, v in weights.items() if "lora_B" in k)
    assert all(v.any() for k, v in weights.items() if "lora_A" in k)
    gguf_path = Path(fresh.manifest.gguf_path)
    plain = greedy(model_path, None)
    assert len(plain) >= 4
    # llama.cpp refuses misnamed or misshapen LoRA tensors when it loads them, so getting
    # tokens at all means it took every pair; the same tokens mean the zero update is neutral.
    assert greedy(model_path, gguf_path) == plain


@pytest.fixture(scope="module")
def random_adapter(
    base: LoadedBase, workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """A peft adapter with random B halves (so it changes the model) and its GGUF export."""
    folder = tmp_path_factory.mktemp("random")
    fresh, _ = run(base, workspace, folder / "models", steps=0)
    weights = lora_weights(fresh)
    rng = np.random.default_rng(0)
    for name in weights:
        if "lora_B" in name:
            weights[name] = rng.normal(0.0, 0.05, weights[name].shape).astype(np.float32)
    random_dir = folder / "random-peft"
    random_dir.mkdir()
    save_file(weights, random_dir / "adapter_model.safetensors")
    config = (fresh.result.peft_dir / "adapter_config.json").read_text()
    (random_dir / "adapter_config.json").write_text(config)
    out = folder / "random.gguf"
    metadata = AdapterMetadata(base.file.sha256, base.file.path.name, str(workspace), 0, "now")
    export_gguf(random_dir, base.file.header, metadata, out)
    return random_dir, out


def peft_logits(base: LoadedBase, peft_dir: Path | None, tokens: list[int]) -> np.ndarray:
    """Every position's logits from transformers, with the unmerged peft adapter if given."""
    import peft
    import torch

    ids = torch.tensor([tokens], device=base.device)
    with torch.no_grad():
        if peft_dir is None:
            return base.model(input_ids=ids).logits[0].double().cpu().numpy()
        wrapped = peft.PeftModel.from_pretrained(base.model, str(peft_dir))
        try:
            return wrapped(input_ids=ids).logits[0].double().cpu().numpy()
        finally:
            wrapped.unload()


def area_prompt(base: LoadedBase) -> list[int]:
    return base.engine.prompt_tokens(
        build_prompt(base.engine.template, "def area(radius):\n    return ", "\n")
    )


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning")
@pytest.mark.parametrize("context_weight", [0.0, 0.5])
def test_the_training_loss_is_transformers_loss(
    base: LoadedBase, random_adapter: tuple[Path, Path], context_weight: float
) -> None:
    """Without the code's loss only the targets' positions are projected onto the vocabulary;
    either way the loss must be what transformers computes from the full labels (the middle's,
    plus the weighted code's), and its gradients the same."""
    import peft
    import torch

    prefix, suffix = "def area(radius):\n    return ", "\n"
    prompt = build_prompt(base.engine.template, prefix, suffix)
    fim = FimExample("area.py", 1, prefix, "math.pi * radius ** 2", suffix, prompt, "<|endoftext|>")
    example = encode_example(fim, base.engine)
    assert example.context_tokens > 0
    wrapped = peft.PeftModel.from_pretrained(base.model, str(random_adapter[0]), is_trainable=True)

    def transformers_loss(labels: tuple[int, ...]) -> torch.Tensor:
        ids = torch.tensor([example.input_ids])
        return wrapped(input_ids=ids, labels=torch.tensor([labels]), use_cache=False).loss

    try:
        ours = loss_of(wrapped, example, context_weight)
        ours.backward()
        our_grads = [p.grad.clone() for p in wrapped.parameters() if p.requires_grad]
        wrapped.zero_grad(set_to_none=True)
        full = transformers_loss(example.labels)
        if context_weight:
            full = full + context_weight * transformers_loss(example.context_labels)
        full.backward()
        full_grads = [p.grad for p in wrapped.parameters() if p.requires_grad]
    finally:
        wrapped.unload()
    assert ours.item() == pytest.approx(full.item(), rel=1e-5)
    assert our_grads and all(
        torch.allclose(a, b, rtol=1e-4, atol=1e-5)
        for a, b in zip(our_grads, full_grads, strict=True)
    )


# peft asks transformers 5 for a renamed attribute when it loads an adapter; nothing to act on.
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning")
def test_a_nonzero_adapter_moves_llama_cpp_as_it_moves_transformers(
    base: LoadedBase, model_path: Path, random_adapter: tuple[Path, Path]
) -> None:
    """Names and orientation checked numerically: q and o are both square, so a swap would pass
    llama.cpp's shape checks; the logit change must match the one peft makes."""
    random_dir, out = random_adapter
    tokens = area_prompt(base)
    torch_base = peft_logits(base, None, tokens)[-1]
    torch_lora = peft_logits(base, random_dir, tokens)[-1]
    llama_base = last_logits(model_path, None, tokens)
    llama_lora = last_logits(model_path, out, tokens)
    torch_delta, llama_delta = torch_lora - torch_base, llama_lora - llama_base
    correlation = np.corrcoef(torch_delta, llama_delta)[0, 1]
    ratio = np.linalg.norm(llama_delta) / np.linalg.norm(torch_delta)
    noise = np.linalg.norm(llama_base - torch_base) / np.linalg.norm(torch_delta)
    print(
        f"\nlogit change: correlation {correlation:.3f}, size ratio {ratio:.3f}, noise {noise:.3f}"
    )
    assert correlation > 0.9
    assert 0.8 < ratio < 1.25  # llama.cpp scales by alpha / rank, as peft does


def test_tides_llama_cpp_engine_puts_the_adapter_on_both_its_contexts(
    model_path: Path, random_adapter: tuple[Path, Path]
) -> None:
    """Completions (the main context) and scoring (the second one) both see the adapter: the
    scores match llama.cpp's own adapter-loading path, and they differ from the base's."""
    from lsp_server.engines.llamacpp.engine import LlamaCppEngine

    _, out = random_adapter
    text = "def area(radius):\n    return 3.14159 * radius ** 2\n"
    plain = LlamaCppEngine(model_path, n_threads=2)
    try:
        plain_scores = [s.logprob for s in plain.score(text, lambda: False)]
        plain_answer = engine_greedy(plain)
    finally:
        plain.close()
    adapted = LlamaCppEngine(model_path, n_threads=2, lora_path=out)
    try:
        assert adapted.lora_path == out
        scores = [s.logprob for s in adapted.score(text, lambda: False)]
        answer = engine_greedy(adapted)
        tokens = adapted.tokenize(text)
    finally:
        adapted.close()
    reference = last_logits(model_path, out, tokens[:-1])
    expected = reference[tokens[-1]] - np.log(np.exp(reference - reference.max()).sum())
    expected -= reference.max()
    assert scores[-1] == pytest.approx(expected, abs=0.3)
    assert np.abs(np.array(scores) - np.array(plain_scores)).max() > 0.5
    # The greedy tokens may well agree; their log-probabilities cannot.
    assert answer[1] != pytest.approx(plain_answer[1], abs=1e-3)


def engine_greedy(engine, next_edit: bool = False) -> tuple[str, float]:
    """A greedy completion of PROMPT and the sum of its tokens' log-probabilities; with
    `next_edit`, generated as a next-edit rewrite is."""
    prompt = build_prompt(engine.template, PROMPT, "")
    stats = GenerationStats()
    params = GenerationParams(max_tokens=12, background=next_edit, next_edit=next_edit)
    text = "".join(engine.stream(prompt, params, lambda: False, stats))
    return text, stats.logprob


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing`:FutureWarning")
def test_the_transformers_engine_merges_the_peft_adapter(
    base: LoadedBase, model_path: Path, random_adapter: tuple[Path, Path]
) -> None:
    from lsp_server.engines.transformers_engine import TransformersEngine

    random_dir, _ = random_adapter
    tokens = area_prompt(base)
    expected = peft_logits(base, random_dir, tokens)[-1]
    engine = TransformersEngine(model_path, local_files_only=True, adapter_dir=random_dir)
    try:
        assert engine.adapter_dir == random_dir
        import torch

        with torch.no_grad():
            ids = torch.tensor([tokens], device=engine.device)
            merged = engine.model(input_ids=ids).logits[0, -1].double().cpu().numpy()
    finally:
        engine.close()
    np.testing.assert_allclose(merged, expected, atol=1e-2)


def test_an_adapter_recorded_for_another_base_is_refused(
    base: LoadedBase, workspace: Path, model_path: Path, tmp_path: Path
) -> None:
    fresh, _ = run(base, workspace, tmp_path / "models", steps=0)
    out = tmp_path / "other.gguf"
    other = AdapterMetadata("0" * 64, "some-other-model.gguf", str(workspace), 0, "now")
    export_gguf(fresh.result.peft_dir, base.file.header, other, out)
    assert read_adapter(out).base_sha256 == "0" * 64
    with pytest.raises(AdapterError, match=r"made for another base model \(some-other-model"):
        validate_adapter(out, model_path, base.file.sha256)


def test_the_next_edit_adapter_is_on_next_edits_alone(
    model_path: Path, random_adapter: tuple[Path, Path], base: LoadedBase, tmp_path: Path
) -> None:
    """llama.cpp keeps the two adapters apart: next-edit generations run under the next-edit
    adapter, completions and scoring never do, and next edits never see the completion
    adapter."""
    from lsp_server.engines.llamacpp.engine import LlamaCppEngine

    _, out = random_adapter
    edits = tmp_path / "next-edit.gguf"
    metadata = AdapterMetadata(base.file.sha256, model_path.name, "w", 0, "now", NEXT_EDIT)
    export_gguf(random_adapter[0], base.file.header, metadata, edits)
    assert read_adapter(edits).purpose == NEXT_EDIT
    text = "def area(radius):\n    return 3.14159 * radius ** 2\n"

    def run(engine: LlamaCppEngine) -> tuple[float, float, list[float]]:
        scores = [s.logprob for s in engine.score(text, lambda: False)]
        return engine_greedy(engine)[1], engine_greedy(engine, next_edit=True)[1], scores

    def opened(**adapters: Path) -> tuple[float, float, list[float]]:
        engine = LlamaCppEngine(model_path, n_threads=2, **adapters)
        try:
            return run(engine)
        finally:
            engine.close()

    plain_main, plain_edit, plain_scores = opened()
    assert plain_main == pytest.approx(plain_edit, abs=1e-3)
    main, edit, scores = opened(next_edit_lora_path=edits)
    assert main == pytest.approx(plain_main, abs=1e-3) and scores == pytest.approx(plain_scores)
    assert edit != pytest.approx(plain_edit, abs=1e-3)
    main, edit, scores = opened(lora_path=out)
    assert main != pytest.approx(plain_main, abs=1e-3)
    assert edit == pytest.approx(plain_edit, abs=1e-3)


CALC_V1 = """def total(items):
    result = 0
    for item in items:
        result += item.price
    return result


def count(items):
    return len(items)
"""


def git(root: Path, *args: str) -> None:
    import subprocess

    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@e", "HOME": str(root), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """A workspace whose commits rename a name in several places, hunk by hunk."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    versions = [
        CALC_V1,
        CALC_V1.replace("items", "products"),
        CALC_V1.replace("items", "products").replace("result", "subtotal"),
    ]
    for n, text in enumerate(versions):
        (root / "calc.py").write_text(text)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"version {n}")
    return root


async def test_a_next_edit_adapter_tuned_on_the_history_serves_the_servers_next_edits(
    base: LoadedBase, model_path: Path, history: Path, tmp_path: Path
) -> None:
    from lsp_server.tuning.git_history import HistorySettings
    from lsp_server.tuning.next_edit_examples import NextEditSettings
    from lsp_server.tuning.tune import NextEditTuning
    from tests.conftest import lsp_session, open_doc

    cache = tmp_path / "models"
    settings = TrainSettings(lora=LoraSettings(rank=2, alpha=4.0), steps=2, batch_size=1)
    tuning = NextEditTuning(HistorySettings(max_hunk_lines=4), NextEditSettings(nothing_share=0.2))
    request = TuneRequest(
        history,
        model_dir=str(cache),
        train=settings,
        held_out_share=0.0,
        progress=False,
        next_edit=tuning,
    )
    said: list[str] = []
    outcome = tune(request, said.append, base=base)
    assert any("2 file commits to learn from" in line for line in said), said
    manifest = outcome.manifest
    assert (manifest.purpose, manifest.steps, manifest.commits) == (NEXT_EDIT, 2, 2)
    assert find_adapter(history, cache, NEXT_EDIT) == manifest
    assert find_adapter(history, cache) is None  # the completion adapter's place is empty
    assert read_adapter(Path(manifest.gguf_path)).purpose == NEXT_EDIT

    log = tmp_path / "server.log"
    init = {"model": str(model_path), "modelDir": str(cache), "diagnostics": False}
    async with lsp_session(root=history, init=init, args=("--log-file", str(log))) as client:
        uri = (history / "calc.py").as_uri()
        text = CALC_V1.replace("items", "products").replace("result", "subtotal")
        open_doc(client, uri, text)
        client.text_document_did_change(
            _change(uri, 2, 0, 4, 9, "sum_of")  # def total -> def sum_of
        )
        params = {
            "textDocument": {"uri": uri, "version": 2},
            "position": {"line": 0, "character": 10},
        }
        await client.protocol.send_request_async("textDocument/copilotInlineEdit", params)
        # The model was loaded for the request: no completion adapter, and nothing wrong.
        ready = [s for s in client.tide_statuses if s.state == "ready"]
        assert ready and ready[-1].adapter is None and ready[-1].message is None
    logged = log.read_text()
    label = "project (2 steps, rank 2)"
    assert f"with no adapter; next edits with adapter {label}" in logged
    assert f"(next-edit adapter {manifest.gguf_path})" in logged


def _change(uri: str, version: int, line: int, start: int, end: int, text: str):
    from lsprotocol import types

    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[
            types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, start), types.Position(line, end)), text=text
            )
        ],
    )
