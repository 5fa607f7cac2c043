"""The numpy all-MiniLM-L6-v2: the vectors sentence-transformers gives, unit length, the same
every time, nearer for paraphrases than for unrelated tickets."""

from __future__ import annotations

import math

from subgraphs.support.embedding import DIMENSIONS, embed

# The first five components sentence-transformers' all-MiniLM-L6-v2 gives "hello world", as
# published to six significant digits.
HELLO_WORLD = [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_match_sentence_transformers() -> None:
    (vector,) = embed(["hello world"])
    assert len(vector) == DIMENSIONS
    for ours, published in zip(vector, HELLO_WORLD, strict=False):
        assert abs(ours - published) < 5e-6


def test_vectors_are_unit_length_and_the_same_every_time() -> None:
    texts = ["My invoice was charged twice", "Cannot upload a logo"]
    first, again = embed(texts), embed(list(reversed(texts)))
    assert first == list(reversed(again))
    assert all(math.isclose(_cosine(v, v), 1.0, abs_tol=1e-6) for v in first)


def test_paraphrases_are_nearer_than_unrelated_tickets() -> None:
    charged, billed, logo = embed(
        ["My invoice was charged twice", "I was billed two times", "Cannot upload a logo"]
    )
    assert _cosine(charged, billed) > 0.5
    assert _cosine(charged, logo) < 0.2


def test_a_text_longer_than_the_model_reads_is_cut_not_refused() -> None:
    long, cut = embed(["refund " * 2000, "refund " * 300])
    assert len(long) == DIMENSIONS
    assert _cosine(long, cut) > 0.9999
