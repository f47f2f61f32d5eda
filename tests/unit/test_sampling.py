"""Tests for lsp_server.engines.sampling: next-token choice and the token-healing mask."""

import numpy as np

from lsp_server.engines.base import GenerationParams
from lsp_server.engines.sampling import HealingVocab, choose, log_softmax

PIECES = ["p", "pr", "print", " print", "pri", "private", "x", "<|end|>", ""]
CONTROL = np.array([piece.startswith("<|") for piece in PIECES])


def test_greedy_takes_the_best_token_and_reports_its_log_probability():
    logits = np.array([0.0, 2.0, 1.0])
    token, logprob = choose(logits, GenerationParams(), np.random.default_rng(0))
    assert token == 1
    assert np.isclose(logprob, log_softmax(logits)[1])


def test_sampling_is_reproducible_per_seed_and_stays_in_the_top_k():
    logits = np.linspace(0.0, 1.0, 50)
    params = GenerationParams(temperature=0.8, top_k=5, seed=3)
    draws = [choose(logits, params, np.random.default_rng(3))[0] for _ in range(3)]
    assert len(set(draws)) == 1
    many = {choose(logits, params, np.random.default_rng(s))[0] for s in range(40)}
    assert many <= set(range(45, 50))


def test_a_mask_limits_the_choice():
    logits = np.array([5.0, 1.0, 0.0])
    allowed = np.array([False, False, True])
    assert choose(logits, GenerationParams(), np.random.default_rng(0), allowed)[0] == 2


def test_healing_mask_accepts_prefixes_of_the_word_and_tokens_that_extend_it():
    vocab = HealingVocab(lambda t: PIECES[t], CONTROL)
    allowed = {PIECES[t] for t in np.flatnonzero(vocab.mask("pri"))}
    assert allowed == {"p", "pr", "pri", "print", "private"}
    # Control tokens and empty pieces never heal anything.
    assert not vocab.mask("<|")[PIECES.index("<|end|>")]
    assert {PIECES[t] for t in np.flatnonzero(vocab.mask(" pr"))} == {" print"}


SPACED = ["    ", "        ", "    r", "r", "re", "return", "c", " c", "<|end|>"]


def test_shunning_bans_the_tokens_that_would_complete_the_beginning_and_nothing_else():
    vocab = HealingVocab(lambda t: SPACED[t], np.array([p.startswith("<|") for p in SPACED]))
    # Indentation still to follow: whitespace is fine, the shunned beginning itself is not.
    allowed = {SPACED[t] for t in np.flatnonzero(vocab.allowed("", "    r"))}
    assert allowed == {"    ", "        ", "r", "re", "return", "c", " c", "<|end|>"}


def test_past_the_indentation_shunning_also_keeps_the_answer_from_drifting_into_blanks():
    vocab = HealingVocab(lambda t: SPACED[t], np.array([p.startswith("<|") for p in SPACED]))
    allowed = {SPACED[t] for t in np.flatnonzero(vocab.allowed("", "r"))}
    assert allowed == {"c", "<|end|>"}


def test_healing_and_shunning_together_allow_what_both_allow():
    vocab = HealingVocab(lambda t: SPACED[t], np.array([p.startswith("<|") for p in SPACED]))
    allowed = {SPACED[t] for t in np.flatnonzero(vocab.allowed("    ", "    r"))}
    assert allowed == {"    ", "        "}
    assert vocab.allowed("", "") is None
