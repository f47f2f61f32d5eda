"""LoRA adapters on llama.cpp contexts: the completion adapter on the contexts completions use,
and the next-edit adapter on a context of its own."""

import ctypes
from pathlib import Path


def set_adapter(llama_cpp, ctx, adapter, scale: float, path: Path) -> None:
    """Put a loaded LoRA adapter on one context: it applies to what that context evaluates."""
    adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
    scales = (ctypes.c_float * 1)(scale)
    if llama_cpp.llama_set_adapters_lora(ctx.ctx, adapters, 1, scales):
        raise RuntimeError(f"cannot set the LoRA adapter {path}")


def next_edit_context(llm, llama_cpp, aux_ctx, params, lora_path: Path | None):
    """The context next edits run on: the second one when no adapter is loaded at all, else
    one of their own, with the next-edit adapter on it if there is one. An adapter holds for
    everything its context evaluates, KV cache included, so switching adapters per request on
    a shared context would make its cached prompts wrong."""
    if not lora_path and not llm.lora_path:
        return aux_ctx
    ctx = llama_cpp._internals.LlamaContext(model=llm._model, params=params, verbose=False)
    if lora_path:
        adapter = llama_cpp.llama_adapter_lora_init(llm._model.model, str(lora_path).encode())
        if adapter is None:
            ctx.close()
            raise RuntimeError(f"cannot load the next-edit LoRA adapter {lora_path}")
        # Freed with the model, after the contexts (the engine closes those first).
        llm._stack.callback(llama_cpp.llama_adapter_lora_free, adapter)
        try:
            set_adapter(llama_cpp, ctx, adapter, 1.0, lora_path)
        except RuntimeError:
            ctx.close()
            raise
    return ctx
