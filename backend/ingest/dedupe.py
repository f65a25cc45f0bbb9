"""Near-duplicate detection: MinHash signatures over word 5-shingles and an LSH index to query them."""
from __future__ import annotations

import functools
import re
import threading

from datasketch import LeanMinHash, MinHash, MinHashLSH

SHINGLE_WORDS = 5
_WORD_RE = re.compile(r"\w+")


def _shingles(text: str) -> list[bytes]:
    words = _WORD_RE.findall(text.lower())
    if len(words) < SHINGLE_WORDS:
        # A text shorter than one shingle is one shingle: two such texts match only when equal.
        return [" ".join(words).encode("utf-8")]
    return [" ".join(words[i : i + SHINGLE_WORDS]).encode("utf-8") for i in range(len(words) - SHINGLE_WORDS + 1)]


def _to_bytes(minhash: LeanMinHash) -> bytes:
    buf = bytearray(minhash.bytesize())
    minhash.serialize(buf)
    return bytes(buf)


def _from_bytes(signature: bytes) -> LeanMinHash:
    try:
        return LeanMinHash.deserialize(bytearray(signature))
    except Exception as exc:  # struct/ValueError from a truncated or foreign blob
        raise ValueError(f"not a MinHash signature ({len(signature)} bytes): {exc}") from exc


@functools.lru_cache(maxsize=None)
def _permutations(num_perm: int):
    # MinHash draws its permutations from a seeded RNG on every construction: draw them once per size.
    return MinHash(num_perm=num_perm).permutations


def minhash_signature(text: str, num_perm: int = 128) -> bytes:
    """Serialised MinHash of the text's lower-cased word 5-shingles (stable across processes)."""
    # The seed-1 affine32 permutations a bare MinHash(num_perm) would draw, so stored signatures still match.
    minhash = MinHash(num_perm=num_perm, permutations=_permutations(num_perm), scheme="affine32")
    minhash.update_batch(_shingles(text))
    return _to_bytes(LeanMinHash(minhash))


class NearDuplicateIndex:
    """Documents by MinHash signature; `query` returns those whose estimated Jaccard is >= threshold."""

    def __init__(self, threshold: float = 0.9, num_perm: int = 128):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.num_perm = num_perm
        # LSH banding misses some pairs just above its threshold, so it fetches candidates from a lower
        # one and the exact signature comparison below decides.
        self._lsh = MinHashLSH(threshold=max(0.1, threshold - 0.15), num_perm=num_perm)
        self._signatures: dict[int, LeanMinHash] = {}
        self._lock = threading.Lock()

    def _decode(self, signature: bytes) -> LeanMinHash:
        minhash = _from_bytes(signature)
        if len(minhash.hashvalues) != self.num_perm:
            raise ValueError(f"signature has {len(minhash.hashvalues)} permutations, index uses {self.num_perm}")
        return minhash

    def add(self, doc_id: int, signature: bytes) -> None:
        """Index a document; adding an id again replaces its signature."""
        minhash = self._decode(signature)
        with self._lock:
            if doc_id in self._signatures:
                self._lsh.remove(doc_id)
            self._lsh.insert(doc_id, minhash)
            self._signatures[doc_id] = minhash

    def remove(self, doc_id: int) -> None:
        """Forget a document; unknown ids are ignored."""
        with self._lock:
            if self._signatures.pop(doc_id, None) is not None:
                self._lsh.remove(doc_id)

    def query(self, signature: bytes) -> list[tuple[int, float]]:
        """(doc id, estimated Jaccard) of indexed documents at or above the threshold, best first."""
        minhash = self._decode(signature)
        with self._lock:
            candidates = self._lsh.query(minhash)
            scored = [(doc_id, float(minhash.jaccard(self._signatures[doc_id]))) for doc_id in candidates]
        matches = [(doc_id, score) for doc_id, score in scored if score >= self.threshold]
        matches.sort(key=lambda pair: (-pair[1], pair[0]))
        return matches

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, doc_id: int) -> bool:
        return doc_id in self._signatures
