"""GET /api/v1/personal-data/documents in-process over the real routes: who may ask, what it answers, scoped by tenant."""
from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from backend.gateway import api_models as m
from backend.gateway import api_models_corpus as mc
from backend.gateway.http import api_routes
from backend.models import LoadedDocument
from backend.platform import Platform
from backend.settings import Settings
from tests.gateway.helpers import PASSWORD

PATH = "/api/v1/personal-data/documents"
EMAIL = "dana.reyes@example.com"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with Platform(Settings(data_dir=tmp_path_factory.mktemp("personal-data-api") / "data")) as platform:
        gateway, corpus = platform.gateway, platform.corpus
        for tenant in ("acme", "globex"):
            gateway.create_tenant(tenant)
            corpus.create_collection(f"{tenant}-hr", tenant=tenant)
            corpus.ingest_records(f"{tenant}-hr", [LoadedDocument(
                source=f"{tenant}/contacts.md", title=f"{tenant.title()} contacts", mime_type="text/markdown",
                text=f"# Contacts\n\nHR questions go to {EMAIL} or to the desk on 020 7946 0958.")])
        keys = {}
        for user, tenant, role in (("olga", "acme", "operator"), ("alice", "acme", "analyst"),
                                   ("stan", "acme", "stakeholder"), ("ada", "acme", "admin")):
            gateway.create_user(user, tenant, role, PASSWORD)
            keys[user], _ = gateway.create_key(user, ["read"])
        app = Starlette(routes=api_routes(lambda: platform))
        with TestClient(app) as client:
            def call(key: str | None, **params):
                headers = {"Authorization": f"Bearer {keys[key]}"} if key else {}
                return client.get(PATH, params=params, headers=headers)

            yield call


def error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    return m.ErrorBody.model_validate(response.json()).error.model_dump()


def test_an_operator_finds_the_documents_of_their_tenant_holding_the_value(api):
    response = api("olga", value=EMAIL.upper())
    assert response.status_code == 200, response.text
    body = mc.PersonalDataDocuments.model_validate(response.json())
    assert body.total == 1 and [d.collection for d in body.documents] == ["acme-hr"]
    document = body.documents[0]
    assert document.entity_types == ["EMAIL_ADDRESS"] and document.findings == 1
    assert document.places[0].chunk == 1 and document.places[0].chunk_id is not None
    assert EMAIL not in response.text.lower()  # the value is not echoed
    phone = api("olga", value="+44 20 7946 0958", collection="acme-hr").json()
    assert [d["entity_types"] for d in phone["documents"]] == [["PHONE_NUMBER"]]
    assert api("olga", value="nobody@example.com").json() == {"total": 0, "documents": []}


def test_an_admin_reads_every_tenant(api):
    body = api("ada", value=EMAIL).json()
    assert sorted(d["collection"] for d in body["documents"]) == ["acme-hr", "globex-hr"]


def test_analysts_and_stakeholders_get_403_and_no_key_401(api):
    for key in ("alice", "stan"):
        assert "operator" in error(api(key, value=EMAIL), 403)["message"]
    assert error(api(None, value=EMAIL), 401)["field"] == "authorization"


def test_bad_queries_name_their_field(api):
    assert error(api("olga"), 422)["field"] == "value"
    assert error(api("olga", value="x" * 400), 422)["field"] == "value"
    assert error(api("olga", value="   "), 400)["field"] == "value"
    assert error(api("olga", value=EMAIL, colection="acme-hr"), 422)["field"] == "colection"
    assert error(api("olga", value=EMAIL, collection="globex-hr"), 404)["field"] == "collection"  # another tenant's
