import numpy as np
import pytest

from reference_server.cache.vectors import VectorEntry, VectorIndex


def unit(seed: int, dims: int = 8) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
    return vector / np.linalg.norm(vector)


def entry(entry_id: str, partition: str, vector: np.ndarray, expires_at: float = 1e12) -> VectorEntry:
    return VectorEntry(entry_id, partition, vector, entry_id, f"key-{entry_id}", expires_at)


def test_search_returns_best_first_and_respects_min_score():
    index = VectorIndex(dimensions=8)
    vectors = {str(i): unit(i) for i in range(50)}
    for entry_id, vector in vectors.items():
        index.add(entry(entry_id, "p", vector))
    matches = index.search("p", vectors["7"], k=3, min_score=-1.0, now=0)
    assert matches[0].entry.id == "7"
    assert matches[0].score == pytest.approx(1.0, abs=1e-5)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    assert len(matches) == 3
    assert all(m.score >= 0.99 for m in index.search("p", vectors["7"], k=5, min_score=0.99, now=0))


def test_partitions_never_see_each_other():
    index = VectorIndex(dimensions=8)
    index.add(entry("a", "tenant-a", unit(1)))
    assert index.search("tenant-b", unit(1), k=5, min_score=-1, now=0) == []
    assert [m.entry.id for m in index.search("tenant-a", unit(1), k=5, min_score=-1, now=0)] == ["a"]


def test_removal_keeps_remaining_rows_searchable():
    index = VectorIndex(dimensions=8)
    for i in range(20):
        index.add(entry(str(i), "p", unit(i)))
    for i in range(0, 20, 2):
        assert index.remove(str(i)) is not None
    assert len(index) == 10
    for i in range(1, 20, 2):
        assert index.search("p", unit(i), k=1, min_score=-1, now=0)[0].entry.id == str(i)
    assert index.remove("0") is None


def test_expired_entries_are_not_returned():
    index = VectorIndex(dimensions=8)
    index.add(entry("old", "p", unit(1), expires_at=100.0))
    assert index.search("p", unit(1), k=1, min_score=-1, now=50.0)
    assert index.search("p", unit(1), k=1, min_score=-1, now=150.0) == []


def test_oldest_entries_are_evicted_beyond_the_bound():
    index = VectorIndex(dimensions=8, max_entries=3)
    evicted = [index.add(entry(str(i), "p", unit(i))) for i in range(5)]
    assert evicted[3] == ["0"] and evicted[4] == ["1"]
    assert len(index) == 3 and "0" not in index and "4" in index


def test_wrong_dimensions_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        VectorIndex(dimensions=8).add(entry("x", "p", unit(1, dims=4)))
