"""LoRA adapters tuned on a workspace's own code, for the served model to load on top of its base.

One module per job: `files` (which files to learn from, which to hold out), `examples`
(fill-in-the-middle examples laid out as completions lay out prompts), `encoding` (token ids and
the loss mask), `base` (the base model's file and its loading for training), `train` (the LoRA
loop, its budgets and checkpoints, with `checkpoints` and `atomic`), `export` (the llama.cpp
GGUF LoRA file), `gguf_header` (reading GGUF headers quickly), `adapters` (the adapter store,
manifests and validation against a base) and `tune` (all of it, for `tide-lsp tune`). Next-edit
adapters (`--next-edit`) learn from `git_history` (a workspace's commits as `commits`, replayed
hunk by hunk) through `next_edit_examples` (each state asked as the server asks it).
Training and export need the `tune` extra (torch, transformers, peft); listing adapters and
validating them need none of it.
"""
