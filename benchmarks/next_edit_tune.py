"""A next-edit adapter trained on the next-edit benchmark's `train` split (issue 30), for
`benchmarks/next_edit.py --adapter` to measure on `bench`.

    .venv/bin/python -m benchmarks.next_edit_tune [--data DIR] [tide-lsp tune options]

It is `tide-lsp tune --next-edit --commits DIR/train.jsonl.gz DIR`: the split's file commits
mined into examples exactly as the server asks for next edits (lsp_server/tuning/
next_edit_examples.py), a LoRA trained on them, exported to GGUF and recorded in the adapter
store under the data folder (so a stopped run resumes). Any other option goes to `tide-lsp
tune` (`--steps`, `--batch-size`, `--rank`, `--mlp`, `--time-budget`, `--holdout`, `--out`,
...); its held-out share is of `train`'s commits. `bench` is never read. Then:

    .venv/bin/python -m benchmarks.next_edit --adapter ADAPTER.gguf --name tuned
"""

import argparse
import sys
from pathlib import Path

from benchmarks.next_edit_cases import DATA
from lsp_server.cli import main as tide_lsp

SPLIT = "train"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--data", type=Path, default=DATA, help="the folder of the .jsonl.gz")
    args, rest = parser.parse_known_args()
    data = args.data.resolve()
    commits = data / f"{SPLIT}.jsonl.gz"
    return tide_lsp(["tune", str(data), "--next-edit", "--commits", str(commits), *rest])


if __name__ == "__main__":
    sys.exit(main())
