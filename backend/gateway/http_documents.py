"""/api/v1 corpus changes and what they leave: a collection's stats, uploads (multipart), ingest runs, document deletes."""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from backend.corpus.personal_data import documents_with_value
from backend.corpus.upload import UploadFile as StagedFile
from backend.corpus.upload import start_upload
from backend.gateway.api_models_corpus import PersonalDataQuery, UploadQuery
from backend.gateway.gate import JSON, Caller, Gate
from backend.gateway.http_errors import path_id, read_query
from backend.gateway.http_uploads import read_upload_form, upload_parts
from backend.ingest.attachments import mail_source
from backend.ingest.items import OUTCOMES
from backend.models import GroundworkError

_RUN_FIELDS = ("id", "collection", "tenant", "label", "status", "started_at", "finished_at", "files_total", "files_ok",
               "files_skipped", "files_failed", "chunks_added")


def upload_status(outcome: str, chunks: int) -> str:
    """An ingest outcome as an upload's status: did the file add, update, leave unchanged, or fail?"""
    if outcome == "near-duplicate":  # kept (with its chunks) or skipped, as near_duplicate_action says
        return "added" if chunks else "unchanged"
    return {"ingested": "added", "updated": "updated", "failed": "failed"}.get(outcome, "unchanged")


def file_json(row: dict, name: str | None = None) -> dict:
    """One ingest_files row as the API's per-file outcome."""
    mail = mail_source(row["path"])
    return {"file": name or Path(row["path"]).name, "source": row["path"],
            "attachment_of": Path(mail).name if mail is not None else None,
            "status": upload_status(row["outcome"], row["chunks"] or 0), "outcome": row["outcome"],
            "document_id": row["document_id"], "chunks": row["chunks"] or 0, "message": row["message"] or "",
            "near_duplicate_of": row["near_duplicate_of"], "near_duplicate_title": row["near_duplicate_title"],
            "similarity": row["similarity"], "duration_ms": row["duration_ms"]}


def _refused_json(item: StagedFile) -> dict:
    """A file the upload refused before ingest (e.g. the second of two parts with one name): nothing was stored."""
    return {"file": item.name, "source": None, "attachment_of": item.attachment_of or None, "status": "failed",
            "outcome": "failed", "document_id": None,
            "chunks": 0, "message": item.detail, "near_duplicate_of": None, "near_duplicate_title": None,
            "similarity": None, "duration_ms": None}


def run_json(run: dict) -> dict:
    return {**{key: run[key] for key in _RUN_FIELDS}, "label": run["label"] or "",
            "files": [file_json(row) for row in run["files"]]}


class DocumentRoutes:
    """/api/v1: collections/{name}/stats, uploads into collections/{name}/documents, ingest-runs/{id},
    DELETE documents/{id}, and personal-data/documents?value= (which documents hold this e-mail, phone, name...)."""

    def __init__(self, gate: Gate):
        self.gate = gate

    async def stats(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/collections/{name}/stats")
        entry = await run_in_threadpool(caller.platform.corpus.collection_stats, request.path_params["name"], True,
                                        caller.ctx)
        return JSON(entry)

    async def upload(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "POST /api/v1/collections/{name}/documents", scope="ingest")
        caller.platform.gateway.require_role(caller.identity, "operator")
        corpus, limit = caller.platform.corpus, caller.platform.settings.upload_max_mb
        # The collection is the caller's and can take these files before a byte of them is read: 404, then 409.
        name = (await run_in_threadpool(corpus.collection_row, request.path_params["name"], caller.ctx))["name"]
        await run_in_threadpool(corpus.check_index_settings, name, caller.ctx)
        ocr = read_query(request, UploadQuery).ocr
        form = await read_upload_form(request, limit)
        try:
            parts = upload_parts(form, limit)
            result = await run_in_threadpool(self._ingest, caller, name, [(n, part.file) for n, part in parts], ocr)
        finally:
            await form.close()
        return JSON(result, status_code=201)

    @staticmethod
    def _ingest(caller: Caller, collection: str, files: list[tuple[str, BinaryIO]], ocr: str | None = None) -> dict:
        """The corpus browser's upload path (files kept under the data dir, a failed replacement put back), waited for."""
        job = start_upload(caller.platform, collection, files, ctx=caller.ctx, ocr=ocr)
        job.wait()
        if job.error:
            raise GroundworkError(job.error + (f" (ingest run {job.run_id})" if job.run_id else ""))
        run = caller.platform.corpus.ingest_run(job.run_id, caller.ctx) if job.run_id is not None else None
        recorded = {row["path"]: row for row in (run or {}).get("files", [])}
        files_json = []
        for item in job.files:
            # An e-mail's attachment has no file of its own: ingest reported it under its source.
            row = recorded.get(item.source or (str(item.path.resolve()) if item.path is not None else ""))
            files_json.append(file_json(row, item.name) if row is not None else _refused_json(item))
        counts = {outcome: sum(1 for f in files_json if f["outcome"] == outcome) for outcome in OUTCOMES}
        return {"run_id": job.run_id, "collection": collection, "status": run["status"] if run else "finished",
                "chunks_added": run["chunks_added"] if run else 0, "counts": counts, "files": files_json}

    async def ingest_run(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/ingest-runs/{id}")
        run = await run_in_threadpool(caller.platform.corpus.ingest_run, path_id(request, "run_id", "ingest run"),
                                      caller.ctx)
        return JSON(run_json(run))

    async def delete(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "DELETE /api/v1/documents/{id}", scope="ingest")
        caller.platform.gateway.require_role(caller.identity, "operator")
        document_id = path_id(request, "document_id", "document")
        corpus = caller.platform.corpus

        def delete() -> dict:
            collection = corpus.require_document(document_id, caller.ctx)["collection"]
            deletion = corpus.remove_document(document_id, caller.ctx)  # an e-mail's attachments go with it
            return {"id": document_id, "collection": collection, "status": "deleted", "chunks_removed": deletion.chunks,
                    "attachments_removed": [a["id"] for a in deletion.attachments]}

        return JSON(await run_in_threadpool(delete))

    async def personal_data(self, request: Request) -> Response:
        caller = await self.gate.caller(request, "/api/v1/personal-data/documents")
        caller.platform.gateway.require_role(caller.identity, "operator")  # not analysts: see documents_with_value
        query = read_query(request, PersonalDataQuery)
        matches = await run_in_threadpool(documents_with_value, caller.platform, query.value, query.collection,
                                          caller.ctx)
        return JSON({"total": len(matches), "documents": [
            {"id": m.document_id, "collection": m.collection, "title": m.title, "source": m.source,
             "entity_types": m.entity_types, "findings": m.findings, "places": m.places} for m in matches]})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/collections/{name}/stats", self.stats, methods=["GET"]),
            Route("/collections/{name}/documents", self.upload, methods=["POST"]),
            Route("/ingest-runs/{id}", self.ingest_run, methods=["GET"]),
            Route("/documents/{id}", self.delete, methods=["DELETE"]),
            # Not /documents/personal-data: the GET /documents/{id} route before it would take that path.
            Route("/personal-data/documents", self.personal_data, methods=["GET"]),
        ]
