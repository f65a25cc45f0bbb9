"""Synthetic gold sets from the corpus with ragas' test-set generator; only when an LLM backend is configured."""
from __future__ import annotations

import warnings

from backend.context import RequestContext
from backend.evaluation.goldsets import GoldItem, GoldSet, check_name
from backend.evaluation.ragas_runner import judge_from_settings, quote_containment
from backend.models import InputError


def synthetic_unavailable_reason(settings) -> str:
    """Empty when a synthetic set can be generated, else why not (shown instead of the button)."""
    judge = judge_from_settings(settings)
    if not judge.available:
        return ("unavailable: ragas' test-set generator needs an LLM; set GROUNDWORK_EVAL_JUDGE_MODEL "
                "or GROUNDWORK_OPENAI_MODEL (with its base URL) to an OpenAI-compatible server")
    return ""


class _LangchainEmbeddings:
    """The local embedder behind langchain's Embeddings interface (what the ragas generator expects)."""

    def __init__(self, embedder):
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.encode([text])[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def _source_of(context: str, documents: list[tuple[str, str]]) -> str | None:
    best, best_score = None, 0.0
    for source, text in documents:
        score = quote_containment(context[:400], text)
        if score > best_score:
            best, best_score = source, score
    return best if best_score >= 0.9 else None


def synthetic_goldset(platform, collection: str, name: str, size: int = 10, max_documents: int = 50,
                      ctx: RequestContext | None = None) -> GoldSet:
    """Generate `size` questions with reference answers and contexts from up to `max_documents` documents of a
    collection the caller may read."""
    reason = synthetic_unavailable_reason(platform.settings)
    if reason:
        raise InputError(f"synthetic gold set {reason}")
    if not 1 <= size <= 200:
        raise InputError(f"size: must be between 1 and 200, got {size}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_core.documents import Document as LCDocument
        from langchain_core.embeddings import Embeddings
        from langchain_openai import ChatOpenAI
        from ragas.testset import TestsetGenerator

    judge = judge_from_settings(platform.settings)
    rows = platform.corpus.documents(collection, limit=max_documents, ctx=ctx)
    if not rows:
        raise InputError(f"collection {collection!r} has no documents: ingest it first")
    documents = []
    for row in rows:
        doc = platform.corpus.document(row["id"], ctx)
        documents.append((doc.source, doc.text))
    lc_docs = [LCDocument(page_content=text, metadata={"source": source}) for source, text in documents if text.strip()]

    embeddings_cls = type("LocalEmbeddings", (_LangchainEmbeddings, Embeddings), {})
    llm = ChatOpenAI(base_url=judge.base_url, model=judge.model, api_key=judge.api_key, timeout=judge.timeout_s)
    generator = TestsetGenerator.from_langchain(llm=llm, embedding_model=embeddings_cls(platform.embedder))
    testset = generator.generate_with_langchain_docs(lc_docs, testset_size=size, raise_exceptions=False)
    items = []
    # ragas annotates Testset | Executor without overloads; the Executor comes only with return_executor=True.
    for number, sample in enumerate(testset.to_list(), start=1):  # type: ignore[union-attr]
        question = (sample.get("user_input") or "").strip()
        if not question:
            continue
        contexts = [c for c in sample.get("reference_contexts") or [] if c]
        sources = {s for s in (_source_of(c, documents) for c in contexts) if s}
        items.append(GoldItem(
            id=f"syn{number}", question=question, reference_answer=(sample.get("reference") or "").strip(),
            relevant={s: 1 for s in sources}, evidence=contexts, tags=["synthetic", sample.get("synthesizer_name") or ""],
            line=number,
        ))
    if not items:
        raise InputError("the test-set generator produced no questions (check the LLM server's log)")
    return GoldSet(name=check_name(name), kind="synthetic", collection=collection, items=items,
                   origin=f"ragas TestsetGenerator with {judge.model} over {len(lc_docs)} documents")
