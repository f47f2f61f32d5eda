"""A prompt in a model's chat format whose user message stays plain text.

Rendering the chat template with the user's code in it would let code containing
"<|im_end|>" end the message early once tokenized. So the template is rendered around a
placeholder, and the code goes between the two halves as plain text: only the template's own
markup is tokenized as control tokens.
"""

from collections.abc import Callable

from ..completion.prompts import Prompt, Segment, Template

Messages = list[dict[str, str]]

# No real message contains NUL bytes, so the placeholder cannot match the system text.
_HOLE = "\x00TIDE_USER\x00"


def chat_template_prompt(
    render: Callable[[Messages], str], system: str, user: str, template: Template
) -> Prompt | None:
    """The chat prompt for `system` and `user`, with `render` the engine's own rendering of
    messages through the model's template (generation prompt added); None when the rendering
    leaves out the user's message."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": _HOLE}]
    before, found, after = render(messages).partition(_HOLE)
    if not found:
        return None
    segments = tuple(
        s for s in (Segment(before, True), Segment(user), Segment(after, True)) if s.text
    )
    return Prompt(segments, template.stops, template.family, "l2r")
