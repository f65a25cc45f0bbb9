"""The corpus routes against the real server: a collection's stats, multipart uploads, ingest runs and deletes, each
scoped by the caller (another tenant's or an ungranted collection, run or document does not exist), with every
error status and the audit row of a delete."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import httpx
import pytest

from backend.gateway import api_models_corpus as mc
from backend.gateway.gate import JSON
from backend.ingest.items import OUTCOMES
from backend.platform import Platform
from backend.settings import Settings
from backend.store import collections as collection_store
from tests.gateway.api_client import Api, api_error, leaks, live_api
from tests.gateway.api_world import World, build_world

pytestmark = pytest.mark.slow
LEGACY = "acme-legacy"  # an acme collection whose index was built with other chunk settings
EXPRESS = b"# Express transfers\n\nThe fee for express transfers is 4 EUR per transfer, paid at once."


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    built = build_world(tmp_path_factory.mktemp("documents") / "data")
    shutil.copytree(built.data_dir, built.data_dir.parent / "spare")  # for the tests with a server of their own
    with Platform(Settings(data_dir=built.data_dir)) as platform:
        row = platform.corpus.create_collection(LEGACY, tenant="acme")
        with platform.store.transaction() as cur:
            collection_store.set_index_settings(cur, row["id"], {
                "model_id": platform.settings.embedding_model, "dim": 384, "chunk_tokens": 120, "chunk_overlap": 16,
                "bm25_stemmer": platform.settings.bm25_stemmer, "bm25_stopwords": platform.settings.bm25_stopwords})
    return built


@pytest.fixture(scope="module")
def api(world):
    with live_api(world, env={"GROUNDWORK_UPLOAD_MAX_MB": "1"}) as served:
        yield served


def upload(api: Api, key: str | None, collection: str, *files: tuple[str, bytes], **kwargs) -> httpx.Response:
    parts = [("file", (name, data, "application/octet-stream")) for name, data in files]
    return api("POST", f"/api/v1/collections/{collection}/documents", key, files=parts or None, **kwargs)


def total(api: Api, collection: str, key: str = "olga") -> int:
    return api.ok("GET", f"/api/v1/collections/{collection}/documents", key, params={"status": "all"})["total"]


def test_the_api_outcome_names_are_ingests():
    assert set(mc.IngestOutcome.__args__) == set(OUTCOMES)


# --- stats ------------------------------------------------------------------------------------------
def test_a_collections_stats_are_the_stats_commands_entry(api, world):
    served = api.ok("GET", "/api/v1/collections/acme-archive/stats", "olga")
    mc.CollectionStats.model_validate(served)
    with Platform(Settings(data_dir=world.data_dir.parent / "spare")) as platform:  # the same data, read locally
        local = next(c for c in platform.corpus.stats(load_indexes=True)["collections"] if c["name"] == "acme-archive")
    assert served == json.loads(JSON(local).body)
    assert served["documents"] == 1 and served["index"]["vectors"] == served["chunks"] == 1
    assert served["mime_types"] == {"text/markdown": 1}


def test_the_stats_of_a_collection_indexed_with_other_settings_are_409(api, world):
    body = api_error(api("GET", f"/api/v1/collections/{LEGACY}/stats", "olga"), 409)
    assert body["field"] == "collection" and "chunk_tokens" in body["message"]


def test_stats_only_of_a_readable_collection(api, world):
    unknown = api_error(api("GET", "/api/v1/collections/no-such/stats", "alice"), 404)
    for key, name in (("alice", "globex-policies"), ("alice", "acme-archive"), ("bob", "acme-policies"),
                      ("bob", "globex-policies"), ("gina", "acme-policies")):
        body = api_error(api("GET", f"/api/v1/collections/{name}/stats", key), 404)
        assert body["field"] == "collection"
        listed = body["message"].replace(name, "?")
        assert listed == api_error(api("GET", "/api/v1/collections/no-such/stats", key), 404)["message"].replace(
            "no-such", "?")  # the same as a collection that does not exist
    assert "globex" not in unknown["message"]
    gina = api("GET", "/api/v1/collections/globex-policies/stats", "gina")
    assert gina.status_code == 200 and gina.json()["documents"] == 2 and not leaks(gina, "gina")
    api_error(api("GET", "/api/v1/collections/acme-policies/stats", None), 401)


# --- uploads ------------------------------------------------------------------------------------------
def test_an_upload_ingests_each_file_and_reports_it(api, world):
    response = upload(api, "olga_ingest", "acme-policies", ("express.md", EXPRESS), ("empty.txt", b""),
                      ("express.md", b"the same name twice"))
    assert response.status_code == 201, response.text
    result = mc.UploadResult.model_validate(response.json())
    assert result.collection == "acme-policies" and result.status == "finished" and set(result.counts) == set(OUTCOMES)
    added, empty, twice = result.files
    assert (added.file, added.status, added.outcome, added.chunks) == ("express.md", "added", "ingested", 1)
    assert added.document_id is not None and added.source.endswith("express.md")
    assert (empty.status, empty.document_id) == ("failed", None) and "empty" in empty.message
    assert (twice.status, twice.source) == ("failed", None) and "twice" in twice.message
    assert result.counts["ingested"] == 1 and result.counts["failed"] == 2 and result.chunks_added == 1
    document = api.ok("GET", f"/api/v1/documents/{added.document_id}", "alice")
    assert "4 EUR" in document["text"] and document["collection"] == "acme-policies"
    hits = api.ok("POST", "/api/v1/search", "alice", json={"query": "express transfers fee", "collection": "acme-policies",
                                                           "k": 1})["hits"]
    assert hits[0]["document_id"] == added.document_id
    run = mc.IngestRun.model_validate(api.ok("GET", f"/api/v1/ingest-runs/{result.run_id}", "alice"))
    assert run.collection == "acme-policies" and run.files_ok == 1 and run.files_failed == 1
    assert {(f.file, f.status, f.document_id) for f in run.files} == {("express.md", "added", added.document_id),
                                                                       ("empty.txt", "failed", None)}


def test_an_upload_sets_its_own_ocr_mode(api, world, tmp_path):
    from tests.ingest.make_scans import make_scanned_pdf

    scan = make_scanned_pdf(tmp_path / "letter.pdf").read_bytes()
    response = upload(api, "olga_ingest", "acme-policies", ("letter.pdf", scan), params={"ocr": "off"})
    assert response.status_code == 201, response.text
    (refused,) = mc.UploadResult.model_validate(response.json()).files
    assert refused.status == "failed" and "OCR is off" in refused.message
    wrong = api_error(upload(api, "olga_ingest", "acme-policies", ("letter.pdf", scan), params={"ocr": "sometimes"}), 422)
    assert wrong["field"] == "ocr"


def test_the_same_file_again_is_unchanged_and_a_changed_one_a_new_version(api, world):
    name = "limits.txt"
    first = upload(api, "olga_ingest", "acme-policies", (name, b"Daily card limit. The daily card limit is 2,000 EUR."))
    assert first.status_code == 201 and first.json()["files"][0]["status"] == "added"
    document_id = first.json()["files"][0]["document_id"]
    again = upload(api, "olga_ingest", "acme-policies", (name, b"Daily card limit. The daily card limit is 2,000 EUR."))
    assert (again.json()["files"][0]["status"], again.json()["files"][0]["document_id"]) == ("unchanged", document_id)
    changed = upload(api, "olga_ingest", "acme-policies", (name, b"Daily card limit. The daily card limit is 3,000 EUR."))
    assert changed.status_code == 201
    assert (changed.json()["files"][0]["status"], changed.json()["files"][0]["document_id"]) == ("updated", document_id)
    assert "3,000 EUR" in api.ok("GET", f"/api/v1/documents/{document_id}", "olga")["text"]


def test_an_operator_uploads_into_their_own_tenant_and_an_admin_into_any(api, world):
    gina = upload(api, "gina_ingest", "globex-policies", ("globex-express.md", b"Express. Globex charges 9 EUR."))
    assert gina.status_code == 201 and gina.json()["files"][0]["status"] == "added" and not leaks(gina, "gina")
    ada = upload(api, "ada_ingest", "globex-policies", ("globex-sepa.md", b"SEPA. Globex charges nothing for SEPA."))
    assert ada.status_code == 201 and ada.json()["files"][0]["status"] == "added"


# An analyst or a stakeholder cannot hold the 'ingest' scope; an operator's key without it is refused too.
@pytest.mark.parametrize("key", ["olga", "alice", "stan", "bob"])
def test_uploading_needs_the_ingest_scope(api, world, key):
    body = api_error(upload(api, key, "acme-policies", ("x.md", b"# x\n\ntext")), 403)
    assert "ingest" in body["message"]


def test_an_upload_to_a_collection_the_caller_cannot_see_is_404(api, world):
    before = total(api, "acme-policies")
    unknown = api_error(upload(api, "gina_ingest", "no-such", ("x.md", b"text")), 404)
    body = api_error(upload(api, "gina_ingest", "acme-policies", ("x.md", b"text")), 404)
    assert body["message"].replace("acme-policies", "?") == unknown["message"].replace("no-such", "?")
    assert body["field"] == "collection" and "acme-archive" not in body["message"]
    assert total(api, "acme-policies") == before


def test_an_upload_into_a_collection_indexed_otherwise_is_409_and_stores_nothing(api, world):
    body = api_error(upload(api, "olga_ingest", LEGACY, ("x.md", b"# x\n\nSome text.")), 409)
    assert body["field"] == "collection" and "chunk_tokens" in body["message"] and LEGACY in body["message"]
    assert total(api, LEGACY) == 0


def test_a_file_over_the_upload_limit_is_413_naming_it_and_nothing_is_stored(api, world):
    before = total(api, "acme-policies")
    body = api_error(upload(api, "olga_ingest", "acme-policies", ("small.md", b"# Small\n\nFine."),
                            ("huge.txt", b"word " * 300_000)), 413)  # 1.5 MB against GROUNDWORK_UPLOAD_MAX_MB=1
    assert "huge.txt" in body["message"] and "1 MB" in body["message"] and body["field"] == "file"
    assert total(api, "acme-policies") == before  # not even the small file before it


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    """A multipart/form-data body (boundary BOUNDARY) of (part name, file name or None for a plain field, data)."""
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


BOUNDARY = "groundwork-test-boundary"


@pytest.mark.parametrize("parts, field, says", [
    ([("file", "x.exe", b"MZ")], "file", "unsupported file type '.exe'"),
    ([("file", "noextension", b"text")], "file", "unsupported file type (no extension)"),
    ([("file", ".hidden.md", b"text")], "file", "not a usable file name"),
    ([("file", None, b"not a file")], "file", "must be a file"),
    ([("title", None, b"no file")], "title", "unknown form field"),
    ([("file", "x.md", b"text"), ("note", None, b"extra")], "note", "unknown form field"),
    ([], "file", "no file sent"),
])
def test_bad_upload_bodies_are_400_naming_the_field_and_store_nothing(api, world, parts, field, says):
    before = total(api, "acme-policies")
    response = api("POST", "/api/v1/collections/acme-policies/documents", "olga_ingest", content=multipart(*parts),
                   headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
    body = api_error(response, 400)
    assert body["field"] == field and says in body["message"]
    assert total(api, "acme-policies") == before


def test_an_upload_that_is_not_multipart_is_400(api, world):
    response = api("POST", "/api/v1/collections/acme-policies/documents", "olga_ingest", content=b'{"file": "x.md"}',
                   headers={"content-type": "application/json"})
    body = api_error(response, 400)
    assert body["field"] == "file" and "multipart/form-data" in body["message"]
    garbled = api("POST", "/api/v1/collections/acme-policies/documents", "olga_ingest", content=b"no parts here",
                  headers={"content-type": "multipart/form-data"})  # no boundary
    assert api_error(garbled, 400)["field"] == "file"


# --- ingest runs --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, readable", [
    ("alice", {"acme-policies"}), ("olga", {"acme-policies", "acme-archive"}), ("stan", {"acme-policies", "acme-archive"}),
    ("gina", {"globex-policies"}), ("bob", set()), ("ada", {"acme-policies", "acme-archive", "globex-policies"}),
])
def test_an_ingest_run_only_of_a_readable_collection(api, world, key, readable):
    unknown = api_error(api("GET", "/api/v1/ingest-runs/99999", key), 404)
    for collection, run_id in world.runs.items():
        response = api("GET", f"/api/v1/ingest-runs/{run_id}", key)
        if collection in readable:
            run = mc.IngestRun.model_validate(response.json())
            assert run.collection == collection and run.status == "finished" and run.files_ok == len(run.files)
        else:
            assert api_error(response, 404) == {**unknown, "message": f"unknown ingest run id {run_id}"}


def test_ingest_run_ids_that_are_not_ids(api, world):
    assert api_error(api("GET", "/api/v1/ingest-runs/abc", "olga"), 400)["field"] == "run_id"
    assert api_error(api("GET", f"/api/v1/ingest-runs/{2**70}", "olga"), 404)["field"] == "run_id"


# --- deletes ------------------------------------------------------------------------------------------
def test_a_delete_removes_the_document_and_a_second_one_is_409(api, world):
    made = upload(api, "olga_ingest", "acme-policies", ("to-delete.md", b"# Doomed\n\nThe doomed fee is 99 EUR."))
    document_id = made.json()["files"][0]["document_id"]
    deleted = mc.DeletedDocument.model_validate(api.ok("DELETE", f"/api/v1/documents/{document_id}", "olga_ingest"))
    assert (deleted.id, deleted.collection, deleted.status, deleted.chunks_removed) == (
        document_id, "acme-policies", "deleted", 1)
    assert api.ok("GET", f"/api/v1/documents/{document_id}", "olga")["status"] == "deleted"
    hits = api.ok("POST", "/api/v1/search", "olga", json={"query": "doomed fee", "collection": "acme-policies"})["hits"]
    assert document_id not in {h["document_id"] for h in hits}
    again = api_error(api("DELETE", f"/api/v1/documents/{document_id}", "olga_ingest"), 409)
    assert again == {"message": f"document {document_id} is already deleted", "field": "document_id"}


def test_a_delete_of_a_document_the_caller_cannot_see_is_404_and_deletes_nothing(api, world):
    acme = world.documents["acme-archive"][0]
    unknown = api_error(api("DELETE", "/api/v1/documents/99999", "gina_ingest"), 404)
    assert api_error(api("DELETE", f"/api/v1/documents/{acme}", "gina_ingest"), 404) == {
        **unknown, "message": f"unknown document id {acme}"}
    assert api.ok("GET", f"/api/v1/documents/{acme}", "olga")["status"] == "active"
    assert api_error(api("DELETE", "/api/v1/documents/abc", "olga_ingest"), 400)["field"] == "document_id"


@pytest.mark.parametrize("key", ["olga", "alice", "stan", "bob", None])
def test_a_delete_needs_an_ingest_key(api, world, key):
    document_id = world.documents["acme-archive"][0]
    response = api("DELETE", f"/api/v1/documents/{document_id}", key)
    api_error(response, 401 if key is None else 403)
    assert api.ok("GET", f"/api/v1/documents/{document_id}", "olga")["status"] == "active"


# --- audit and rate limits, on a server of their own --------------------------------------------------
NEW_ROUTES = [("GET", "/api/v1/collections/acme-policies/stats"), ("POST", "/api/v1/collections/acme-policies/documents"),
              ("GET", "/api/v1/ingest-runs/1"), ("DELETE", "/api/v1/documents/1"), ("POST", "/api/v1/feedback"),
              ("GET", "/api/v1/conversations"), ("GET", "/api/v1/conversations/x"), ("GET", "/api/v1/traces"),
              ("GET", "/api/v1/traces/x")]


def test_a_delete_is_audited_as_the_caller_and_every_new_route_is_rate_limited(world):
    spare = world.data_dir.parent / "spare"
    document_id = world.documents["acme-archive"][0]
    with live_api(replace(world, data_dir=spare), env={"GROUNDWORK_RATE_LIMIT_PER_MINUTE": "3"}) as api:
        assert api("DELETE", f"/api/v1/documents/{document_id}", "olga_ingest").status_code == 200
        assert api("GET", "/api/v1/collections/acme-archive/stats", "olga_ingest").status_code == 200
        assert api("GET", "/api/v1/conversations", "olga_ingest").status_code == 200
        for method, path in NEW_ROUTES:  # the key and its user have used their 3 requests of this minute
            limited = api(method, path, "olga_ingest")
            assert "rate limit" in api_error(limited, 429)["message"], path
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
    with Platform(Settings(data_dir=spare)) as platform:
        rows = platform.gateway.audit_log(action="document.delete", target=str(document_id))
        assert platform.corpus.require_document(document_id)["status"] == "deleted"
    assert [(r["actor"], r["details"]["chunks"]) for r in rows] == [("olga", 1)]
