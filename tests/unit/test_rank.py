"""The order alternatives are offered in when the user asks for several."""

from lsp_server.completion.edit import Edit
from lsp_server.completion.result import Candidate, rank


def candidate(text: str, logprob: float) -> Candidate:
    return Candidate(Edit(10, 10, text), text, logprob)


def test_the_greedy_answer_stays_first_and_samples_follow_most_likely_first():
    greedy = candidate("a + b", -0.9)
    samples = [candidate("a - b", -1.5), candidate("a * b", -0.2), candidate("b + a", -0.7)]
    ranked = rank([greedy, *samples])
    assert [c.text for c in ranked] == ["a + b", "a * b", "b + a", "a - b"]


def test_a_greedy_answer_less_likely_than_a_sample_is_still_first():
    greedy = candidate("x", -3.0)
    assert rank([greedy, candidate("y", -0.1)])[0] is greedy


def test_no_candidates_rank_to_none():
    assert rank([]) == []
