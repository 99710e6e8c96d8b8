"""Embeddings from an OpenAI-compatible ``POST /v1/embeddings`` endpoint (the production option).

Called from the embedding batcher's worker thread, so the blocking HTTP call never runs on
the event loop; one call carries a whole micro-batch. Vectors are L2-normalized here, so
dot products stay cosines whatever the provider returns.
"""

from __future__ import annotations

import httpx
import numpy as np


class RemoteEmbedder:
    """``embed(texts) -> (n, d) float32`` unit vectors from a provider's embeddings API."""

    def __init__(self, base_url: str, model: str, api_key: str, *, timeout_s: float = 10.0) -> None:
        self.model = model
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout_s, headers={"Authorization": f"Bearer {api_key}"}
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        response = self._client.post("/embeddings", json={"model": self.model, "input": texts})
        response.raise_for_status()
        rows = sorted(response.json()["data"], key=lambda item: item["index"])
        if len(rows) != len(texts):
            raise ValueError(f"the embeddings endpoint returned {len(rows)} vectors for {len(texts)} texts")
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)

    def close(self) -> None:
        self._client.close()
