"""The type-through cache serves the rest of a suggestion the user is typing through."""

from lsp_server.completion.type_through import TypeThroughCache

URI = "file:///a.py"
TEXT = "def f(x):\n    return \n\nprint(f(2))\n"
CURSOR = TEXT.index("return ") + len("return ")


def typed(text: str, cursor: int, keys: str) -> tuple[str, int]:
    return text[:cursor] + keys + text[cursor:], cursor + len(keys)


def test_typing_the_suggestions_first_characters_serves_the_rest():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    for k in range(1, 5):
        text, cursor = typed(TEXT, CURSOR, "x * 2"[:k])
        assert cache.lookup(URI, text, cursor) == "x * 2"[k:]


def test_typing_something_else_misses():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    text, cursor = typed(TEXT, CURSOR, "y")
    assert cache.lookup(URI, text, cursor) is None


def test_typing_all_of_it_or_nothing_misses():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    assert cache.lookup(URI, TEXT, CURSOR) is None
    text, cursor = typed(TEXT, CURSOR, "x * 2")
    assert cache.lookup(URI, text, cursor) is None


def test_an_edit_elsewhere_misses():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    text, cursor = typed(TEXT, CURSOR, "x")
    assert cache.lookup(URI, text.replace("print(f(2))", "print(f(3))"), cursor) is None
    assert cache.lookup(URI, "# new\n" + text, cursor + 6) is None


def test_other_documents_and_forgotten_ones_miss():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    text, cursor = typed(TEXT, CURSOR, "x")
    assert cache.lookup("file:///b.py", text, cursor) is None
    cache.forget(URI)
    assert cache.lookup(URI, text, cursor) is None


def test_an_empty_suggestion_clears_the_memory():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    cache.remember(URI, TEXT, CURSOR, "")
    text, cursor = typed(TEXT, CURSOR, "x")
    assert cache.lookup(URI, text, cursor) is None


def accepted(text: str, cursor: int, completion: str) -> tuple[str, int]:
    return typed(text, cursor, completion)


def test_a_suggestion_computed_ahead_is_served_right_after_the_accept():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    after, cursor = accepted(TEXT, CURSOR, "x * 2")
    assert cache.lookup(URI, after, cursor) is None  # nothing computed ahead yet
    cache.remember_ahead(URI, after, cursor, "  # doubled")
    assert cache.has_ahead(URI, after, cursor)
    assert cache.lookup(URI, after, cursor) == "  # doubled"
    # It is now the shown suggestion: typing through it keeps serving it.
    more, at = typed(after, cursor, "  #")
    assert cache.lookup(URI, more, at) == " doubled"


def test_a_suggestion_computed_ahead_misses_when_the_user_did_not_accept():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    after, cursor = accepted(TEXT, CURSOR, "x * 2")
    cache.remember_ahead(URI, after, cursor, "  # doubled")
    other, at = typed(TEXT, CURSOR, "x + 1")
    assert cache.lookup(URI, other, at) is None
    assert cache.lookup(URI, TEXT, CURSOR) is None


def test_a_new_suggestion_drops_what_was_computed_ahead_of_the_last():
    cache = TypeThroughCache()
    cache.remember(URI, TEXT, CURSOR, "x * 2")
    after, cursor = accepted(TEXT, CURSOR, "x * 2")
    cache.remember_ahead(URI, after, cursor, "  # doubled")
    cache.remember(URI, TEXT, CURSOR, "x - 2")
    assert not cache.has_ahead(URI, after, cursor)
    assert cache.lookup(URI, after, cursor) is None
