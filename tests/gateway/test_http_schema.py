"""schemathesis over the served OpenAPI document against the real server: no 5xx, and every response (status,
content type, body) conforms to the document, for generated valid and invalid requests alike."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import positive_data_acceptance

from backend.gateway.openapi import openapi_document
from tests.gateway.api_world import build_world
from tests.live_server import serve

pytestmark = pytest.mark.slow
schema = schemathesis.openapi.from_dict(openapi_document())
UNLIMITED = {"GROUNDWORK_RATE_LIMIT_PER_MINUTE": "100000", "GROUNDWORK_ROUTE_LIMIT_PER_MINUTE": "100000"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    world = build_world(tmp_path_factory.mktemp("schema") / "data")
    with serve(world.data_dir, env=UNLIMITED) as url:
        yield url, world


def test_the_served_document_is_the_one_tested(server):
    import httpx

    url, _ = server
    assert httpx.get(f"{url}/api/v1/openapi.json").json() == openapi_document()


@schema.parametrize()
@settings(max_examples=30, deadline=None, database=None)  # nothing written into the repo
def test_every_operation_conforms_to_the_document(case, server):
    url, world = server
    # positive_data_acceptance would want every schema-valid body answered 2xx, but the backend refuses some on
    # what no JSON schema says (a question of punctuation only, a last message that is not the user's): 400,
    # documented, with the field named. Every other check runs.
    # The generated Authorization header is replaced by a valid key, and left out where schemathesis left it out
    # on purpose: a negative case without it must get its 401 (adding it back made the server accept the case).
    headers = dict(case.headers or {})
    for name in [name for name in headers if name.lower() == "authorization"]:
        headers[name] = f"Bearer {world.keys['ada']}"
    case.headers = headers
    case.call_and_validate(base_url=url, timeout=120, excluded_checks=[positive_data_acceptance])
