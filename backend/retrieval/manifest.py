"""What built an index (model, dimension, chunking, BM25 analysis): recorded with it, checked on every open."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone

from backend.models import GroundworkError


@dataclass
class IndexManifest:
    model_id: str
    dim: int
    chunk_tokens: int
    chunk_overlap: int
    bm25_stemmer: str
    bm25_stopwords: str
    created_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> IndexManifest:
        names = {f.name for f in fields(cls)}
        missing = [f.name for f in fields(cls) if f.name != "created_at" and f.name not in data]
        if missing:
            raise GroundworkError(f"index manifest is missing {', '.join(missing)}")
        return cls(**{key: value for key, value in data.items() if key in names})

    @classmethod
    def from_settings(cls, settings, dim: int) -> IndexManifest:
        return cls(
            model_id=settings.embedding_model,
            dim=int(dim),
            chunk_tokens=settings.chunk_tokens,
            chunk_overlap=settings.chunk_overlap,
            bm25_stemmer=settings.bm25_stemmer,
            bm25_stopwords=settings.bm25_stopwords,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    def describe(self) -> str:
        return (
            f"model {self.model_id} dim {self.dim} chunk {self.chunk_tokens}/{self.chunk_overlap} "
            f"bm25 {self.bm25_stemmer}/{self.bm25_stopwords}"
        )

    def differences(self, other: IndexManifest) -> list[str]:
        return [f.name for f in fields(self) if f.name != "created_at" and getattr(self, f.name) != getattr(other, f.name)]

    def check_compatible(self, other: IndexManifest) -> None:
        """Raise unless `other` (current settings) would build the same index as `self` (what built it)."""
        differing = self.differences(other)
        if differing:
            raise GroundworkError(
                f"index built with {self.describe()}; current settings say {other.describe()} "
                f"(differs in {', '.join(differing)}): re-index the collection or restore the settings"
            )
