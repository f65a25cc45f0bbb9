"""POST /api/v1/collections against the real server: operators and admins create collections in their own tenant,
a taken name is 409, readers and other tenants are refused, and the new collection takes uploads at once."""
from __future__ import annotations

import pytest

from backend.gateway import api_models as m
from tests.gateway.api_client import api_error, live_api
from tests.gateway.api_world import build_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with live_api(build_world(tmp_path_factory.mktemp("collections") / "data")) as served:
        yield served


def test_an_operator_creates_a_collection_in_their_tenant_and_uploads_into_it(api):
    made = m.Collection.model_validate(api.ok("POST", "/api/v1/collections", "olga_ingest", 201,
                                              json={"name": "acme-new", "description": "fresh"}))
    assert (made.name, made.tenant, made.description, made.documents) == ("acme-new", "acme", "fresh", 0)
    assert "acme-new" in {c["name"] for c in api.ok("GET", "/api/v1/collections", "olga")["collections"]}
    assert "acme-new" not in {c["name"] for c in api.ok("GET", "/api/v1/collections", "gina")["collections"]}
    uploaded = api.ok("POST", "/api/v1/collections/acme-new/documents", "olga_ingest", 201,
                      files={"file": ("rates.md", b"# Rates\nThe savings rate is 2 percent.", "text/markdown")})
    assert [f["status"] for f in uploaded["files"]] == ["added"]
    audit = api.ok("GET", "/api/v1/collections/acme-new/stats", "olga")
    assert audit["documents"] == 1


def test_a_taken_name_is_409_and_a_bad_one_names_the_field(api):
    body = api_error(api("POST", "/api/v1/collections", "olga_ingest", json={"name": "acme-policies"}), 409)
    assert "already exists" in body["message"] and body["field"] == "name"
    assert api_error(api("POST", "/api/v1/collections", "olga_ingest", json={"name": "bad name!"}), 400)["field"] == "name"
    assert api_error(api("POST", "/api/v1/collections", "olga_ingest", json={"name": "acme-x", "colour": "red"}), 422)["field"] == "colour"


def test_readers_and_other_tenants_are_refused(api):
    assert "ingest" in api_error(api("POST", "/api/v1/collections", "alice", json={"name": "alice-own"}), 403)["message"]
    assert "ingest" in api_error(api("POST", "/api/v1/collections", "stan", json={"name": "stan-own"}), 403)["message"]
    refused = api_error(api("POST", "/api/v1/collections", "olga_ingest", json={"name": "in-globex", "tenant": "globex"}), 403)
    assert "tenant" in refused["message"]
    names = {c["name"] for c in api.ok("GET", "/api/v1/collections", "ada")["collections"]}
    assert not {"alice-own", "stan-own", "in-globex"} & names
