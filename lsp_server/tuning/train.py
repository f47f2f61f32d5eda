"""Training a LoRA adapter on encoded examples: a plain AdamW loop with two budgets.

The run stops at whichever comes first, the step budget or the wall-time budget; either way it
leaves a checkpoint and an adapter behind, and a later run with the same settings resumes from
the checkpoint. Which examples a step trains on follows from the seed and the step number alone,
so a resumed run sees what an uninterrupted one would have.

The peft wrapper is removed again when training ends, leaving the base model as it was loaded.
"""

import dataclasses
import json
import math
import random
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic, checkpoints
from .encoding import IGNORE, EncodedExample
from .errors import TuningError

ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 8
    alpha: float = 16.0
    target_modules: tuple[str, ...] = ATTENTION_MODULES
    dropout: float = 0.0


@dataclass(frozen=True)
class TrainSettings:
    lora: LoraSettings = field(default_factory=LoraSettings)
    steps: int = 200
    batch_size: int = 4  # examples per optimizer step (accumulated: no padding on CPU)
    learning_rate: float = 2e-4
    # Constant after warm-up: a schedule that depends on `steps` would change when a run is
    # resumed with more of them.
    warmup_steps: int = 10
    max_grad_norm: float = 1.0
    # The loss on the prompt's code, next to the loss on the middle: 0 trains on the middle
    # alone (about 10 tokens of a 256-token example), 1 weighs the code's mean loss as much
    # as the middle's.
    context_weight: float = 0.0
    seed: int = 0
    time_budget_s: float | None = None
    checkpoint_every: int = 25

    def check(self) -> None:
        """Raise TuningError naming the first bad setting."""
        problems = [
            (self.steps < 0, f"steps must be 0 or more, not {self.steps}"),
            (self.lora.rank < 1, f"rank must be 1 or more, not {self.lora.rank}"),
            (self.lora.alpha <= 0, f"alpha must be positive, not {self.lora.alpha}"),
            (not self.lora.target_modules, "at least one target module is needed"),
            (not 0 <= self.lora.dropout < 1, f"dropout must be in [0, 1), not {self.lora.dropout}"),
            (self.batch_size < 1, f"batch size must be 1 or more, not {self.batch_size}"),
            (self.learning_rate <= 0, f"learning rate must be positive, not {self.learning_rate}"),
            (self.warmup_steps < 0, f"warm-up steps must be 0 or more, not {self.warmup_steps}"),
            (self.checkpoint_every < 1, "checkpoints must come every 1 or more steps"),
            (
                not 0 <= self.context_weight <= 10,
                f"the context weight must be in [0, 10], not {self.context_weight}",
            ),
            (
                self.time_budget_s is not None and self.time_budget_s <= 0,
                f"the time budget must be positive, not {self.time_budget_s}",
            ),
        ]
        for bad, message in problems:
            if bad:
                raise TuningError(message)

    def run_key(self) -> dict[str, Any]:
        """What a checkpoint must have been made with to be resumed: all but the budgets."""
        key = dataclasses.asdict(self)
        for budget in ("steps", "time_budget_s", "checkpoint_every"):
            del key[budget]
        key["lora"]["target_modules"] = list(self.lora.target_modules)
        return key


@dataclass(frozen=True)
class TrainResult:
    step: int  # steps the adapter has had, counting those before a resume
    start_step: int  # 0 for a fresh run, else the checkpoint's step
    stopped_by: str  # "steps" or "time"
    seconds: float  # time spent on steps in this run
    loss: float | None  # the last step's mean loss
    peft_dir: Path
    held_out_loss_before: float | None
    held_out_loss_after: float | None

    @property
    def seconds_per_step(self) -> float | None:
        done = self.step - self.start_step
        return self.seconds / done if done else None


def _import_peft() -> tuple[Any, Any]:
    try:
        import peft
        import torch
    except ImportError as exc:
        raise TuningError(
            f"tuning needs torch and peft ({exc}): pip install 'tide-lsp[tune]'"
        ) from exc
    return torch, peft


class _Order:
    """Which example each position of the training stream is: a fresh seeded permutation per
    pass over the examples, computed from the seed and the pass number only."""

    def __init__(self, n: int, seed: int) -> None:
        self._n = n
        self._seed = seed
        self._epoch = -1
        self._permutation = np.arange(n)

    def __getitem__(self, position: int) -> int:
        epoch, offset = divmod(position, self._n)
        if epoch != self._epoch:
            self._permutation = np.random.default_rng([self._seed, epoch]).permutation(self._n)
            self._epoch = epoch
        return int(self._permutation[offset])


def loss_of(model: Any, example: EncodedExample, context_weight: float = 0.0) -> Any:
    """Mean cross-entropy over the example's target tokens (transformers' loss with `labels`),
    plus `context_weight` times the mean over the prompt's code tokens.

    Without the code's loss the vocabulary projection (over a quarter of a 0.5B model's
    weights) runs on the targets' positions only, the example's last, for a fifth less
    compute."""
    torch, _ = _import_peft()
    cross_entropy = torch.nn.functional.cross_entropy
    device = next(model.parameters()).device
    targets = example.target_tokens
    input_ids = torch.tensor([example.input_ids], device=device)  # [1, n]
    with_context = context_weight > 0 and example.context_tokens > 0
    # Position i predicts token i + 1, so the targets' predictions come from the last
    # targets + 1 positions, less the very last.
    keep = len(example.input_ids) if with_context else targets + 1
    logits = model(input_ids=input_ids, use_cache=False, logits_to_keep=keep).logits[0, :-1]
    logits = logits.float()
    labels = torch.tensor(example.labels[-targets:], device=device)
    loss = cross_entropy(logits[-targets:], labels)
    if with_context:
        code = torch.tensor(example.context_labels[1:], device=device)
        loss = loss + context_weight * cross_entropy(logits, code, ignore_index=IGNORE)
    return loss


def evaluate(model: Any, examples: Sequence[EncodedExample]) -> float | None:
    """Mean loss per target token over `examples`; None for none."""
    torch, _ = _import_peft()
    if not examples:
        return None
    total = tokens = 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for example in examples:
            n = example.target_tokens
            total += loss_of(model, example).item() * n
            tokens += n
    model.train(was_training)
    return total / tokens


def train_adapter(
    model: Any,
    examples: Sequence[EncodedExample],
    settings: TrainSettings,
    run_dir: Path,
    *,
    held_out: Sequence[EncodedExample] = (),
    key: dict[str, Any] | None = None,
    say: Callable[[str], None] = print,
    progress: bool = True,
) -> TrainResult:
    """Train a LoRA adapter on `model` (a transformers causal LM) and save it under `run_dir`.

    `key` adds to what a checkpoint must match to be resumed (the base model, the workspace,
    how examples were made). The adapter is written to a new `peft-*` folder of `run_dir`.
    """
    torch, peft = _import_peft()
    settings.check()
    if not examples:
        raise TuningError("there are no examples to train on")
    # Through JSON, as the checkpoint stores it, so that equal settings compare equal.
    run_key = json.loads(json.dumps({**settings.run_key(), **(key or {})}))
    store = run_dir / "checkpoints"
    atomic.remove_leftovers(run_dir)
    atomic.remove_leftovers(store)
    resume = checkpoints.latest(store)
    if resume is not None and resume.state.key != run_key:
        old = resume.state.key
        changed = sorted(k for k in run_key.keys() | old.keys() if run_key.get(k) != old.get(k))
        say(
            f"The checkpoint at step {resume.state.step} was made with other settings "
            f"({', '.join(changed)}); starting over."
        )
        checkpoints.remove_all(store)
        resume = None

    # Seeded before peft draws the initial lora_A, so a fresh run starts from the same weights.
    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    lora = settings.lora
    config = peft.LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        target_modules=list(lora.target_modules),
        lora_dropout=lora.dropout,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():
            # peft asks transformers a question transformers 5 has renamed; nothing to act on.
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            wrapped = peft.get_peft_model(model, config)
    except ValueError as exc:
        raise TuningError(f"cannot put a LoRA adapter on this model: {exc}") from exc
    try:
        return _run(wrapped, examples, held_out, settings, run_dir, run_key, resume, say, progress)
    finally:
        wrapped.unload()
        model.eval()


def _run(
    model: Any,
    examples: Sequence[EncodedExample],
    held_out: Sequence[EncodedExample],
    settings: TrainSettings,
    run_dir: Path,
    run_key: dict[str, Any],
    resume: checkpoints.Checkpoint | None,
    say: Callable[[str], None],
    progress: bool,
) -> TrainResult:
    torch, _ = _import_peft()
    from tqdm import tqdm

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    step = 0
    if resume is not None:
        try:
            checkpoints.restore(resume, model, optimizer, torch)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise TuningError(
                f"cannot resume from the checkpoint {resume.path} ({exc}); delete it to start over"
            ) from exc
        step = resume.state.step
        before = resume.state.held_out_loss_before
        say(f"Resuming from the checkpoint at step {step} ({resume.path}).")
    else:
        before = evaluate(model, held_out)
    start_step = step
    if resume is not None and step >= settings.steps:
        say(f"The checkpoint already has {step} steps, no fewer than asked for; nothing to train.")
    order = _Order(len(examples), settings.seed)
    store = run_dir / "checkpoints"
    saved_at = step if resume is not None else -1
    stopped_by = "steps"
    loss_value: float | None = None
    spent = 0.0
    model.train()
    run_started = time.perf_counter()
    bar = tqdm(
        total=settings.steps,
        initial=step,
        unit="step",
        desc="tuning",
        disable=not progress,
        file=sys.stderr,
    )
    try:
        while step < settings.steps:
            done = step - start_step
            budget = settings.time_budget_s
            elapsed = time.perf_counter() - run_started
            # Stop before a step that would end past the budget, judged by the mean so far.
            if budget is not None and done and elapsed + spent / done > budget:
                stopped_by = "time"
                break
            started = time.perf_counter()
            warm = min(1.0, (step + 1) / max(settings.warmup_steps, 1))
            for group in optimizer.param_groups:
                group["lr"] = settings.learning_rate * warm
            optimizer.zero_grad(set_to_none=True)
            total = 0.0
            for i in range(settings.batch_size):
                example = examples[order[step * settings.batch_size + i]]
                loss = loss_of(model, example, settings.context_weight)
                (loss / settings.batch_size).backward()
                total += loss.item()
            torch.nn.utils.clip_grad_norm_(trainable, settings.max_grad_norm)
            optimizer.step()
            step += 1
            loss_value = total / settings.batch_size
            if not math.isfinite(loss_value):
                raise TuningError(f"the loss became {loss_value} at step {step}; lower the rate")
            spent += time.perf_counter() - started
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}")
            if step % settings.checkpoint_every == 0:
                _checkpoint(store, step, run_key, before, model, optimizer, torch)
                saved_at = step
    finally:
        bar.close()
    if saved_at != step:
        _checkpoint(store, step, run_key, before, model, optimizer, torch)
    after = evaluate(model, held_out) if held_out else None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    peft_dir = atomic.write_dir(run_dir / f"peft-{step:07d}-{stamp}", lambda d: _save(model, d))
    return TrainResult(step, start_step, stopped_by, spent, loss_value, peft_dir, before, after)


def _save(model: Any, directory: Path) -> None:
    # Only the LoRA weights: the embeddings are never trained, and checking whether they were
    # would make peft look for the base model's config on disk or on the hub.
    model.save_pretrained(directory, save_embedding_layers=False)


def _checkpoint(
    store: Path,
    step: int,
    run_key: dict[str, Any],
    before: float | None,
    model: Any,
    optimizer: Any,
    torch: Any,
) -> None:
    created = datetime.now(UTC).isoformat(timespec="seconds")
    state = checkpoints.CheckpointState(step, run_key, before, created)
    checkpoints.save(store, state, model, optimizer, torch)
