"""The document tools: search the caller's collections through the one retriever, and read a section of one document."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.models import Chunk, NotFound
from backend.retrieval.freshness import is_superseded
from backend.tools.spec import READERS, Tool, ToolCaller, ToolError, ToolOutput

# `platform` (the Platform) is typed Any: importing Platform, even under TYPE_CHECKING, is an edge of the import
# graph tests/test_architecture.py keeps free of cycles, and the Platform builds this module's tools.

PASSAGE_CHARS = 600  # a hit's text in the result: enough to quote a figure, short enough for k=10 in one prompt
HEADINGS_REFUSED = 20  # headings an unknown-heading refusal lists
HEADINGS_LISTED = 50  # headings a call without a heading lists
PATH_JOIN = " > "  # how a heading path is written, in results and in the `heading` argument alike


class SearchDocumentsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        ..., description="What to look for: a question or keywords.")
    collection: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        None, description="The collection to search; by default the one the question is about.")
    k: int = Field(5, ge=1, le=10, description="How many passages to return (1 to 10).")


class ReadDocumentSectionArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document_id: int = Field(..., gt=0, description="The document's id, as search_documents lists it.")
    heading: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        None, description="The section's heading (its last part, or the whole path joined with ' > '), matched "
                          "case-insensitively; leave out to get the document's headings and its first section.")
    max_chars: int = Field(4000, ge=200, le=8000, description="Longest text to return (200 to 8000 characters).")


# --- search_documents ------------------------------------------------------------------------------------------
def _readable_collection(platform: Any, caller: ToolCaller, name: str | None) -> dict:
    """The collection's row if the caller may read it; else one refusal for unreadable and missing alike."""
    name = name or caller.collection or platform.settings.default_collection
    try:
        return platform.corpus.collection_row(name, caller.ctx)
    except NotFound:
        readable = ", ".join(platform.corpus.collection_names(caller.ctx)) or "none"
        raise ToolError(f"collection {name!r}: no such collection among those you can read "
                        f"(collections you can read: {readable})") from None


def _trimmed(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)  # at a word boundary, so a figure is never cut in half
    return text[: cut if cut > limit // 2 else limit].rstrip() + " …"


def _shown(path: tuple[str, ...] | list[str], title: str) -> tuple[str, ...]:
    """A heading path as shown after its document's title: without a first heading that repeats the title."""
    path = tuple(path)
    return path[1:] if path and path[0].strip().casefold() == title.strip().casefold() else path


def _passage(number: int, chunk: Chunk, superseded: bool) -> str:
    where = chunk.title + (" (superseded)" if superseded else "")
    if _shown(chunk.heading_path, chunk.title):
        where += " › " + PATH_JOIN.join(_shown(chunk.heading_path, chunk.title))
    # The document id is given with the chunk's so a model can go on with read_document_section.
    return (f"[{number}] {where} (document {chunk.document_id}, chunk {chunk.id}): "
            f"{_trimmed(chunk.text, PASSAGE_CHARS)}")


def search_documents(platform: Any, caller: ToolCaller, args: SearchDocumentsArgs) -> ToolOutput:
    row = _readable_collection(platform, caller, args.collection)
    hits = platform.retriever.search(args.query, row["name"], k=args.k, ctx=caller.ctx)
    hits = [hit for hit in hits if hit.chunk is not None]
    if not hits:
        return ToolOutput(text=f"No passages in collection {row['name']!r} match {args.query!r}.",
                          data={"collection": row["name"], "hits": []})
    lines: list[str] = []
    found: list[dict[str, Any]] = []
    chunk_ids: list[int] = []
    for number, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        assert chunk is not None  # filtered above
        lines.append(_passage(number, chunk, is_superseded(hit)))
        found.append({"chunk_id": chunk.id, "document_id": chunk.document_id, "title": chunk.title,
                      "heading_path": list(chunk.heading_path), "score": round(float(hit.fused_score), 5),
                      "superseded": is_superseded(hit)})
        chunk_ids.append(chunk.id)
    return ToolOutput(text="\n\n".join(lines), data={"collection": row["name"], "hits": found}, chunk_ids=chunk_ids)


SEARCH_DOCUMENTS = Tool(
    name="search_documents",
    description="Search the documents of a collection you can read and return the best passages, numbered, each "
                "with its document title, section, document id and chunk id (cite passages by their chunk).",
    arguments=SearchDocumentsArgs,
    run=search_documents,
    roles=READERS,
    scope="read",
    timeout_s=10.0,
)


# --- read_document_section -------------------------------------------------------------------------------------
def _headings(chunks: list[Chunk]) -> list[tuple[str, ...]]:
    """Every heading path in document order, parents too (a parent section may hold no chunk of its own)."""
    seen: dict[tuple[str, ...], None] = {}
    for chunk in chunks:
        for depth in range(1, len(chunk.heading_path) + 1):
            seen.setdefault(tuple(chunk.heading_path[:depth]), None)
    return list(seen)


def _matches(path: tuple[str, ...], heading: str, title: str) -> bool:
    """The last heading, the whole path, or the path as shown (without the title) equal `heading`, ignoring case."""
    wanted = " ".join(heading.split()).casefold()
    forms = {path[-1], PATH_JOIN.join(path), PATH_JOIN.join(_shown(path, title))}
    return any(" ".join(form.split()).casefold() == wanted for form in forms if form)


def _listing(paths: list[tuple[str, ...]], limit: int, title: str) -> str:
    shown = [PATH_JOIN.join(_shown(p, title) or p) for p in paths[:limit]]
    more = f"; and {len(paths) - limit} more" if len(paths) > limit else ""
    return "; ".join(shown) + more


def _section_text(text: str, chunks: list[Chunk]) -> tuple[str, list[int]]:
    """The document's own text over the chunks' spans, and where each chunk starts in it. Consecutive chunks
    overlap, so their texts joined would repeat the overlap; spans apart by more than whitespace are separate."""
    pieces: list[list[int]] = []
    for chunk in chunks:
        if pieces and not text[pieces[-1][1]:chunk.char_start].strip():
            pieces[-1][1] = max(pieces[-1][1], chunk.char_end)
        else:
            pieces.append([chunk.char_start, chunk.char_end])
    bodies, piece_at, starts = [], [], []
    offset = 0
    for start, end in pieces:
        raw = text[start:end]
        piece_at.append((start, offset - (len(raw) - len(raw.lstrip()))))
        bodies.append(raw.strip())
        offset += len(bodies[-1]) + 2
    for chunk in chunks:
        start, at = next((s, a) for s, a in reversed(piece_at) if s <= chunk.char_start)
        starts.append(max(0, at + chunk.char_start - start))
    return "\n\n".join(bodies), starts


def _not_found(document_id: int) -> ToolError:
    return ToolError(f"document {document_id}: not found among the documents you can read")


def read_document_section(platform: Any, caller: ToolCaller, args: ReadDocumentSectionArgs) -> ToolOutput:
    try:
        document = platform.corpus.document(args.document_id, caller.ctx)
        chunks = platform.corpus.chunks(args.document_id, caller.ctx)
    except NotFound:
        raise _not_found(args.document_id) from None
    if document.status == "deleted" or not chunks:  # a deleted document keeps its row, not its chunks
        raise _not_found(args.document_id)
    headings = _headings(chunks)
    if args.heading is None:
        path = chunks[0].heading_path
        used = []
        for chunk in chunks:  # the leading run under the first heading path: the document's first section
            if chunk.heading_path != path:
                break
            used.append(chunk)
    else:
        if not headings:
            raise ToolError(f"heading: document {args.document_id} has no headings; leave heading out to read it "
                            "from the start")
        matched = [p for p in headings if _matches(p, args.heading, document.title)]
        if not matched:
            raise ToolError(f"heading: document {args.document_id} has no heading {args.heading!r} (its headings: "
                            f"{_listing(headings, HEADINGS_REFUSED, document.title)})")
        path = matched[0]
        used = [c for c in chunks if tuple(c.heading_path[:len(path)]) == path]
    body, starts = _section_text(document.text, used)
    trimmed = len(body) > args.max_chars
    if trimmed:
        used = [chunk for chunk, start in zip(used, starts) if start < args.max_chars]  # only chunks still shown
        cut = max(body.rfind(" ", 0, args.max_chars), body.rfind("\n", 0, args.max_chars))
        shown = body[: cut if cut > args.max_chars * 3 // 4 else args.max_chars].rstrip()  # at a word if one is near
        body = (f"{shown}\n\n[trimmed: {len(shown)} of {len(body)} characters shown; ask with a larger max_chars "
                "or a narrower heading for the rest]")
    label = " › " + PATH_JOIN.join(_shown(path, document.title)) if _shown(path, document.title) else ""
    parts = [f"{document.title}{label} (document {document.id}, collection {document.collection})"]
    if args.heading is None:
        parts.append(f"Headings: {_listing(headings, HEADINGS_LISTED, document.title)}" if headings else
                     "Headings: none")
    elif len(matched) > 1:
        parts.append(f"Other sections with this heading: {_listing(matched[1:], HEADINGS_REFUSED, document.title)}")
    parts.append(body)
    data = {"document_id": document.id, "title": document.title, "collection": document.collection,
            "heading_path": list(path), "chunks": len(used), "trimmed": trimmed}
    if args.heading is None:
        data["headings"] = [PATH_JOIN.join(_shown(p, document.title) or p) for p in headings[:HEADINGS_LISTED]]
    return ToolOutput(text="\n\n".join(parts), data=data, chunk_ids=[c.id for c in used])


READ_DOCUMENT_SECTION = Tool(
    name="read_document_section",
    description="Read one section of a document you can read, by document id and heading; without a heading, get "
                "the document's headings and its first section.",
    arguments=ReadDocumentSectionArgs,
    run=read_document_section,
    roles=READERS,
    scope="read",
)
