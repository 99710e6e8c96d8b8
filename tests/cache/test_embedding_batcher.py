import asyncio
import threading

import numpy as np
import pytest

from reference_server.cache.embedding_batcher import EmbeddingBatcher


async def test_concurrent_requests_share_model_calls_off_the_event_loop(embed):
    loop_thread = threading.get_ident()
    threads: set[int] = set()
    batch_sizes: list[int] = []

    def recording_embed(texts: list[str]) -> np.ndarray:
        threads.add(threading.get_ident())
        batch_sizes.append(len(texts))
        return embed(texts)

    batcher = EmbeddingBatcher(recording_embed, max_batch=8)
    texts = [f"question number {i} about billing" for i in range(20)]
    vectors = await asyncio.gather(*(batcher.embed(t) for t in texts))
    await batcher.close()
    assert loop_thread not in threads
    assert sum(batch_sizes) == 20 and max(batch_sizes) <= 8
    assert len(batch_sizes) < 20  # later requests were batched together
    expected = embed(texts)
    assert np.allclose(np.stack(vectors), expected, atol=1e-5)


async def test_a_model_failure_reaches_every_waiter():
    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("model crashed")

    batcher = EmbeddingBatcher(broken)
    results = await asyncio.gather(batcher.embed("a"), batcher.embed("b"), return_exceptions=True)
    await batcher.close()
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        raise results[0]
