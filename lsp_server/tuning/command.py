"""`tide-lsp tune`: its command-line options and what they start."""

import argparse
from pathlib import Path

from ..config import DEFAULTS
from ..models import ProgressFn
from .errors import TuningError
from .git_history import HistorySettings
from .next_edit_examples import NextEditSettings
from .train import TrainSettings


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workspace", help="the folder whose code the adapter learns")
    parser.add_argument(
        "--steps", type=int, default=200, help="optimizer steps in all (default 200)"
    )
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    parser.add_argument("--alpha", type=float, help="LoRA alpha (default: twice the rank)")
    parser.add_argument(
        "--mlp", action="store_true", help="adapt the MLP projections too, not only attention"
    )
    parser.add_argument("--batch-size", type=int, default=4, help="examples per step (default 4)")
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=TrainSettings.learning_rate,
        metavar="RATE",
        help=f"AdamW's, after a short warm-up (default {TrainSettings.learning_rate})",
    )
    parser.add_argument(
        "--context-weight",
        type=float,
        default=TrainSettings.context_weight,
        metavar="W",
        help="weight of the loss on the prompt's code beside the middle's "
        f"(default {TrainSettings.context_weight})",
    )
    parser.add_argument(
        "--out", metavar="ADAPTER", help="the GGUF file to write (default: in the adapter store)"
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="stop training after about this long (the model load not counted); run again to go on",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=25, metavar="N", help="steps between checkpoints"
    )
    parser.add_argument("--seed", type=int, default=0, help="for examples and initial weights")
    parser.add_argument(
        "--context-budget",
        type=int,
        default=DEFAULTS.context_budget,
        metavar="TOKENS",
        help=f"prefix + suffix tokens per example (default {DEFAULTS.context_budget})",
    )
    parser.add_argument(
        "--cross-file-budget",
        type=int,
        default=DEFAULTS.cross_file_budget,
        metavar="TOKENS",
        help="tokens of other files' code per example, as completions show it "
        f"(default {DEFAULTS.cross_file_budget}; 0 for none)",
    )
    parser.add_argument(
        "--holdout",
        type=float,
        default=0.1,
        metavar="SHARE",
        help="share of files kept out of training to measure the adapter on (default 0.1)",
    )
    parser.add_argument("--model-dir", help="model cache directory (adapters are kept there too)")
    parser.add_argument(
        "--next-edit",
        action="store_true",
        help="train the next-edit adapter instead, on the edits of the workspace's git history "
        "(each commit's hunks in order: given the earlier ones, the next one)",
    )
    parser.add_argument(
        "--commits",
        metavar="JSONL",
        help="with --next-edit: learn from the file commits of this .jsonl(.gz), in the "
        "next-edit benchmark's format, instead of the git history",
    )
    parser.add_argument(
        "--max-commits",
        type=int,
        default=HistorySettings.max_commits,
        metavar="N",
        help=f"with --next-edit: the newest commits read (default {HistorySettings.max_commits})",
    )
    parser.add_argument(
        "--context-length",
        type=int,
        default=DEFAULTS.context_length,
        metavar="TOKENS",
        help="with --next-edit: the server's contextLength, which sets how much of the file "
        f"a prompt shows (default {DEFAULTS.context_length})",
    )
    parser.add_argument(
        "--nothing-share",
        type=float,
        default=NextEditSettings.nothing_share,
        metavar="SHARE",
        help="with --next-edit: share of examples where the right answer is no edit "
        f"(default {NextEditSettings.nothing_share})",
    )


def run_tune(args: argparse.Namespace, progress: ProgressFn) -> int:
    """Train the adapter the parsed arguments describe."""
    # Imported here: torch and transformers take seconds to import, and only tuning needs them.
    from .examples import ExampleSettings
    from .train import ATTENTION_MODULES, MLP_MODULES, LoraSettings
    from .tune import NextEditTuning, TuneRequest, tune

    if args.commits and not args.next_edit:
        raise TuningError("--commits is for next-edit adapters: add --next-edit")

    modules = ATTENTION_MODULES + (MLP_MODULES if args.mlp else ())
    alpha = args.alpha if args.alpha is not None else 2.0 * args.rank
    lora = LoraSettings(rank=args.rank, alpha=alpha, target_modules=modules)
    train = TrainSettings(
        lora=lora,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        context_weight=args.context_weight,
        seed=args.seed,
        time_budget_s=args.time_budget,
        checkpoint_every=args.checkpoint_every,
    )
    request = TuneRequest(
        workspace=Path(args.workspace),
        model=getattr(args, "model", None),
        model_dir=args.model_dir,
        train=train,
        examples=ExampleSettings(
            seed=args.seed,
            context_budget=args.context_budget,
            cross_file_budget=args.cross_file_budget,
        ),
        held_out_share=args.holdout,
        out=Path(args.out) if args.out else None,
        next_edit=NextEditTuning(
            history=HistorySettings(max_commits=args.max_commits),
            examples=NextEditSettings(
                nothing_share=args.nothing_share, n_ctx=args.context_length, seed=args.seed
            ),
            commits_file=Path(args.commits) if args.commits else None,
        )
        if args.next_edit
        else None,
    )
    tune(request, progress=progress)
    return 0
