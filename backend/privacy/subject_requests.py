"""Data-subject requests, the one door for the page and the CLI: find, export, erase; admins only, every request audited."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from backend.context import RequestContext
from backend.gateway.identity import Identity
from backend.models import Forbidden, InputError
from backend.privacy.erasure import ErasureReport, erase_corpus, erase_lanes
from backend.privacy.finder import SubjectFindings, find_everywhere
from backend.privacy.subject import SubjectRequest, subject_hash
from backend.privacy.subject_report import FORMATS, report_json, report_pdf

ACTIONS = ("find", "export", "erase")
LANE = "gateway"  # the audit rows of requests: written beside the gateway's own


@dataclass
class ErasureOutcome:
    request_id: str
    before: SubjectFindings
    report: ErasureReport
    after: SubjectFindings  # the re-scan: its erasable occurrences should be none

    @property
    def remaining(self) -> int:
        return len(self.after.erasable)


def _context(platform, caller: RequestContext | Identity) -> RequestContext:
    if caller.role != "admin":  # refused before anything is read, the caller's account included
        raise Forbidden(f"the role {caller.role} may not run data-subject requests (needs: admin): they read and "
                        "change every tenant's data")
    return platform.gateway.context_for(caller) if isinstance(caller, Identity) else caller


def _audit(platform, ctx: RequestContext, action: str, request: SubjectRequest, request_id: str, **details) -> None:
    """Who ran which request and what it touched: never an identifier, only how many of each kind and a keyed hash
    that links one person's requests (see subject_hash)."""
    record = {"request_id": request_id, "subject": subject_hash(request, platform.settings.data_dir),
              "identifiers": request.identifier_counts(), **details}
    platform.gateway.audit(ctx.user, f"dsr.{action}", request_id, record)


def _counts(findings: SubjectFindings) -> dict:
    return {"occurrences": len(findings.occurrences), "stores": findings.by_store(),
            "retained": len(findings.retained)}


def find_subject_data(platform, caller: RequestContext | Identity, request: SubjectRequest,
                      via: str = "page") -> tuple[str, SubjectFindings]:
    """(the request id, everything found about the person)."""
    ctx = _context(platform, caller)
    request_id = uuid.uuid4().hex
    findings = find_everywhere(platform.store, platform.settings, request)
    _audit(platform, ctx, "find", request, request_id, via=via, **_counts(findings))
    return request_id, findings


def export_subject_data(platform, caller: RequestContext | Identity, request: SubjectRequest, fmt: str,
                        findings: SubjectFindings | None = None, request_id: str | None = None,
                        via: str = "page") -> bytes:
    """The report (JSON or PDF) of a find made now, or of `findings` already made by `request_id`."""
    ctx = _context(platform, caller)
    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r}: use {' or '.join(FORMATS)}", field="format")
    request_id = request_id or uuid.uuid4().hex
    if findings is None:
        findings = find_everywhere(platform.store, platform.settings, request)
    content = report_json(findings, request_id) if fmt == "json" else report_pdf(findings, request_id)
    _audit(platform, ctx, "export", request, request_id, via=via, format=fmt, bytes=len(content), **_counts(findings))
    return content


def erase_subject_data(platform, caller: RequestContext | Identity, request: SubjectRequest,
                       via: str = "page") -> ErasureOutcome:
    """Erase every erasable occurrence, then scan again. A failure midway leaves each store whole (one transaction
    per lane, the corpus before its indexes); it is audited with what was done, and running the request again
    erases what is left."""
    ctx = _context(platform, caller)
    request_id = uuid.uuid4().hex
    before = find_everywhere(platform.store, platform.settings, request)
    report = ErasureReport()
    try:
        erase_corpus(platform, request, before, report)
        erase_lanes(platform.store, request, report)
    except Exception as exc:
        _audit(platform, ctx, "erase", request, request_id, via=via, status="failed", error=type(exc).__name__,
               touched=report.touched, files=report.files, found=_counts(before))
        raise
    after = find_everywhere(platform.store, platform.settings, request)
    outcome = ErasureOutcome(request_id, before, report, after)
    _audit(platform, ctx, "erase", request, request_id, via=via, status="done", found=_counts(before),
           touched=report.touched, chunks_replaced=report.chunks_replaced,
           collections_reindexed=report.collections_reindexed, files=report.files,
           remaining=outcome.remaining, retained=len(after.retained))
    return outcome
