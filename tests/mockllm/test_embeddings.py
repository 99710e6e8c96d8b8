"""Offline sentence embeddings: shape, norm, meaning, batching and threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from chatopt.embeddings import DIMENSIONS, get_embedder

PARAPHRASES = [
    ("How do I reset my password?", "What is the way to change my account password?"),
    ("Where is my order? It has not arrived yet.", "My package still hasn't been delivered, where is it?"),
    ("Como cancelo minha assinatura?", "Quero cancelar o meu plano, como faço?"),
]
UNRELATED = "The best season to plant tomatoes is late spring."


def test_vectors_are_384_dimensional_float32_and_unit_norm() -> None:
    vectors = get_embedder().embed(["hello world", "olá mundo", "def f(x): return x * 2", ""])
    assert vectors.shape == (4, DIMENSIONS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(("first", "second"), PARAPHRASES)
def test_paraphrases_score_higher_than_unrelated_sentences(first: str, second: str) -> None:
    a, b, unrelated = get_embedder().embed([first, second, UNRELATED])
    assert float(a @ b) > float(a @ unrelated) + 0.2
    assert float(a @ b) > float(b @ unrelated) + 0.2


def test_batched_result_equals_one_by_one() -> None:
    embedder = get_embedder()
    texts = [f"question number {i} about {'billing ' * (i % 7)}and refunds" for i in range(40)]
    together = embedder.embed(texts)
    alone = np.stack([embedder.embed_one(text) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_concurrent_threads_get_the_same_vectors() -> None:
    embedder = get_embedder()
    texts = [pair[0] for pair in PARAPHRASES] * 4
    expected = embedder.embed(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda text: embedder.embed_one(text), texts))
    np.testing.assert_allclose(np.stack(results), expected, atol=1e-4)


def test_empty_input_gives_an_empty_matrix_and_a_bare_string_is_refused() -> None:
    embedder = get_embedder()
    assert embedder.embed([]).shape == (0, DIMENSIONS)
    with pytest.raises(TypeError):
        embedder.embed("not a list")  # type: ignore[arg-type]
    assert get_embedder() is embedder
