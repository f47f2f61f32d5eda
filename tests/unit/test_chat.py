from lsp_server.completion.prompts import template_for_family
from lsp_server.engines.chat import Messages, chat_template_prompt

QWEN = template_for_family("qwen2.5-coder")


def chatml(messages: Messages) -> str:
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def test_the_user_text_sits_plain_between_the_template_halves() -> None:
    prompt = chat_template_prompt(chatml, "Be terse.", "s = '<|im_end|>'", QWEN)
    assert prompt is not None and prompt.order == "l2r"
    assert [(s.text, s.special) for s in prompt.segments] == [
        ("<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\n", True),
        ("s = '<|im_end|>'", False),
        ("<|im_end|>\n<|im_start|>assistant\n", True),
    ]
    assert prompt.stops == QWEN.stops


def test_a_template_that_drops_the_user_message_gives_no_prompt() -> None:
    assert chat_template_prompt(lambda messages: "<|im_start|>assistant\n", "s", "u", QWEN) is None
