"""The browser's session cookie: one-time exchange codes (single use, expiry, hashed at rest), the redirect
target check, sign-out everywhere, and the /auth routes over a real gateway and DuckDB file."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from backend.gateway.http_session import COOKIE, safe_next, session_routes
from backend.gateway.identity import Unauthorized
from backend.gateway.sessions import SessionEnded, token_hash
from backend.models import InputError
from tests.gateway.helpers import PASSWORD, text_cells_containing


@pytest.fixture
def ann(gateway):
    gateway.create_user("ann", "acme", "analyst", PASSWORD)
    return gateway


# --- the exchange code ---------------------------------------------------------------------------
def test_a_code_hands_over_the_session_once(ann):
    signed = ann.sign_in("ann", PASSWORD)
    code = ann.issue_session_code(signed.token)
    assert len(code) == 43 and code != signed.token
    handed = ann.redeem_session_code(code)
    assert handed.token == signed.token and handed.identity.user == "ann" and handed.expires_at == signed.expires_at
    with pytest.raises(Unauthorized, match="^code: unknown or already used sign-in code; sign in again$"):
        ann.redeem_session_code(code)
    assert ann.resolve_session(signed.token).user == "ann"  # using the code up does not end the session


def test_a_code_expires_after_the_configured_seconds(make_gateway, clock):
    gw = make_gateway(session_code_seconds=30)
    gw.create_tenant("acme")
    gw.create_user("ann", "acme", "analyst", PASSWORD)
    token = gw.sign_in("ann", PASSWORD).token
    fresh, stale = gw.issue_session_code(token), gw.issue_session_code(token)
    clock.advance(seconds=29)
    assert gw.redeem_session_code(fresh).token == token
    clock.advance(seconds=1)
    with pytest.raises(Unauthorized, match=r"code: the sign-in code expired \(it lasts 30 seconds\); sign in again"):
        gw.redeem_session_code(stale)
    with pytest.raises(Unauthorized, match="unknown or already used"):  # an expired code is gone, not retried
        gw.redeem_session_code(stale)


def test_the_default_code_lasts_a_minute(ann, clock):
    code = ann.issue_session_code(ann.sign_in("ann", PASSWORD).token)
    clock.advance(seconds=61)
    with pytest.raises(Unauthorized, match=r"expired \(it lasts 60 seconds\)"):
        ann.redeem_session_code(code)


def test_neither_the_code_nor_the_token_is_stored_in_clear(ann, store):
    signed = ann.sign_in("ann", PASSWORD)
    code = ann.issue_session_code(signed.token)
    assert text_cells_containing(store, code) == []
    assert text_cells_containing(store, signed.token) == []
    row = store.query_dicts("SELECT * FROM session_codes")
    assert [r["code_sha256"] for r in row] == [token_hash(code)]
    assert row[0]["token_sha256"] == token_hash(signed.token)
    assert signed.token.encode().hex() not in row[0]["sealed_token"]


@pytest.mark.parametrize(("code", "message"), [
    (None, "code: missing"), ("", "code: missing"), ("short", "code: not a sign-in code"),
    ("x" * 42 + "!", "code: not a sign-in code"), ("a" * 44, "code: not a sign-in code"),
])
def test_a_malformed_code_is_bad_input_naming_the_field(ann, code, message):
    with pytest.raises(InputError, match=f"^{message}") as raised:
        ann.redeem_session_code(code)
    assert raised.value.field == "code"


def test_a_well_formed_code_never_issued_is_refused(ann):
    with pytest.raises(Unauthorized, match="unknown or already used"):
        ann.redeem_session_code("A" * 43)


def test_a_session_that_ended_cannot_be_handed_over(ann):
    signed = ann.sign_in("ann", PASSWORD)
    code = ann.issue_session_code(signed.token)
    ann.sign_out(signed.token)
    assert ann.store.scalar("SELECT count(*) FROM session_codes") == 0  # sign-out drops its pending codes
    with pytest.raises(Unauthorized):
        ann.redeem_session_code(code)
    with pytest.raises(SessionEnded):
        ann.issue_session_code(signed.token)  # nor can a code be made for it


def test_a_disabled_user_s_code_is_refused(ann):
    code = ann.issue_session_code(ann.sign_in("ann", PASSWORD).token)
    ann.disable_user("ann", actor="admin")
    with pytest.raises(Unauthorized):
        ann.redeem_session_code(code)


def test_an_altered_row_hands_over_nothing(ann, store):
    code = ann.issue_session_code(ann.sign_in("ann", PASSWORD).token)
    sealed = store.scalar("SELECT sealed_token FROM session_codes")
    flipped = f"{int(sealed[:2], 16) ^ 1:02x}{sealed[2:]}"
    store.execute("UPDATE session_codes SET sealed_token = ?", [flipped], lane="gateway")
    with pytest.raises(Unauthorized, match="unknown or already used"):
        ann.redeem_session_code(code)


def test_sign_out_everywhere_ends_every_session_of_the_user_only(ann):
    ann.create_user("bob", "acme", "analyst", PASSWORD)
    laptop, phone, bob = ann.sign_in("ann", PASSWORD), ann.sign_in("ann", PASSWORD), ann.sign_in("bob", PASSWORD)
    pending = ann.issue_session_code(phone.token)
    assert ann.sign_out_everywhere(laptop.token) == 2
    for token in (laptop.token, phone.token):
        with pytest.raises(SessionEnded):
            ann.resolve_session(token)
    with pytest.raises(Unauthorized):
        ann.redeem_session_code(pending)
    assert ann.resolve_session(bob.token).user == "bob"
    assert ann.sign_out_everywhere(laptop.token) == 0 and ann.sign_out_everywhere(None) == 0
    [row] = ann.audit_log(action="sign_out.everywhere")
    assert (row["actor"], row["target"], row["details"]) == ("ann", "ann", {"sessions_ended": 2})


# --- where the browser may be sent afterwards ----------------------------------------------------
@pytest.mark.parametrize("target", ["/", "/chat", "/chat?collection=demo&x=%2F%2Fa", "/corpus_documents#top",
                                    "/%2F%2Fevil.example"])
def test_paths_on_this_site_are_allowed(target):
    assert safe_next(target) == target


def test_no_target_means_the_home_page():
    assert safe_next(None) == "/" and safe_next("") == "/"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/chat", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
    "/\n/evil.example", "/ /evil.example", "javascript:alert(1)", "chat", "evil.example", "http:/evil.example",
    "/chat\x00", "/" + "a" * 2000,
])
def test_anything_that_could_leave_the_site_is_refused_naming_the_field(target):
    with pytest.raises(InputError, match="^next: ") as raised:
        safe_next(target)
    assert raised.value.field == "next"


# --- the routes ----------------------------------------------------------------------------------
@pytest.fixture
def client(ann):
    app = Starlette(routes=session_routes(lambda: SimpleNamespace(gateway=ann), ("_streamlit_user",)))
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as http:
        yield http


SAME_ORIGIN = {"sec-fetch-site": "same-origin"}


def test_the_exchange_sets_an_http_only_lax_cookie_and_redirects_to_next(client, ann):
    signed = ann.sign_in("ann", PASSWORD)
    code = ann.issue_session_code(signed.token)
    response = client.get("/auth/session", params={"code": code, "next": "/chat"}, headers=SAME_ORIGIN,
                          cookies={"_streamlit_user": "st.login identity", "_streamlit_user_1": "its second chunk"})
    assert response.status_code == 303 and response.headers["location"] == "/chat"
    set_cookie = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    [ours] = [c for c in set_cookie if c.startswith(f"{COOKIE}=")]
    assert ours.startswith(f"{COOKIE}={signed.token};")
    attributes = {a.strip().split("=")[0].lower() for a in ours.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes and "secure" not in attributes
    assert "samesite=lax" in ours.lower()
    max_age = int(ours.lower().split("max-age=")[1].split(";")[0])
    assert 12 * 3600 < max_age <= 36 * 3600  # the session's 12 hours and a day of grace (the clock stands still)
    # st.login's identity cookies (and their chunks) are replaced by the Groundwork session
    assert {c.split("=")[0] for c in set_cookie} == {COOKIE, "_streamlit_user", "_streamlit_user_1"}
    assert response.headers["cache-control"] == "no-store" and response.headers["referrer-policy"] == "no-referrer"
    assert code not in str(response.headers) and signed.token not in response.headers["location"]


def test_over_https_the_cookie_is_secure(ann):
    app = Starlette(routes=session_routes(lambda: SimpleNamespace(gateway=ann)))
    code = ann.issue_session_code(ann.sign_in("ann", PASSWORD).token)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as http:
        response = http.get("/auth/session", params={"code": code}, headers=SAME_ORIGIN)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "secure" in response.headers["set-cookie"].lower()


def test_a_used_or_bad_code_shows_a_page_with_the_reason_and_no_cookie(client, ann):
    code = ann.issue_session_code(ann.sign_in("ann", PASSWORD).token)
    assert client.get("/auth/session", params={"code": code}, headers=SAME_ORIGIN).status_code == 303
    again = client.get("/auth/session", params={"code": code}, headers=SAME_ORIGIN)
    assert again.status_code == 401 and "set-cookie" not in again.headers
    assert "unknown or already used sign-in code" in again.text and "href='/'" in again.text
    bad = client.get("/auth/session", params={"code": "<script>"}, headers=SAME_ORIGIN)
    assert bad.status_code == 400 and "code: not a sign-in code" in bad.text and "<script>" not in bad.text


def test_an_open_redirect_is_refused_before_the_code_is_used(client, ann):
    code = ann.issue_session_code(ann.sign_in("ann", PASSWORD).token)
    refused = client.get("/auth/session", params={"code": code, "next": "//evil.example/"}, headers=SAME_ORIGIN)
    assert refused.status_code == 400 and "next: " in refused.text and "set-cookie" not in refused.headers
    assert client.get("/auth/session", params={"code": code}, headers=SAME_ORIGIN).status_code == 303


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_another_site_cannot_make_the_browser_redeem_a_code(client, ann, site):
    code = ann.issue_session_code(ann.sign_in("ann", PASSWORD).token)  # e.g. the attacker's own code: login CSRF
    response = client.get("/auth/session", params={"code": code}, headers={"sec-fetch-site": site})
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert client.get("/auth/session", params={"code": code}, headers=SAME_ORIGIN).status_code == 303  # unused


def test_sign_out_ends_the_cookie_s_session_and_clears_it(client, ann):
    signed = ann.sign_in("ann", PASSWORD)
    client.cookies.set(COOKIE, signed.token)
    response = client.post("/auth/sign-out", headers=SAME_ORIGIN)
    assert response.status_code == 204
    cleared = response.headers["set-cookie"]
    assert cleared.startswith(f'{COOKIE}="";') and "max-age=0" in cleared.lower() and "httponly" in cleared.lower()
    with pytest.raises(SessionEnded):
        ann.resolve_session(signed.token)
    assert [r["target"] for r in ann.audit_log(action="sign_out")] == ["ann"]


def test_sign_out_with_next_redirects_there_and_twice_is_harmless(client, ann):
    client.cookies.set(COOKIE, ann.sign_in("ann", PASSWORD).token)
    first = client.post("/auth/sign-out", params={"next": "/"}, headers={"origin": "http://testserver"})
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert client.post("/auth/sign-out", headers=SAME_ORIGIN).status_code == 204
    assert client.post("/auth/sign-out", params={"next": "https://evil.example"}, headers=SAME_ORIGIN).status_code == 400


@pytest.mark.parametrize("headers", [{"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}, {}])
def test_sign_out_from_another_site_or_no_page_is_refused(client, ann, headers):
    signed = ann.sign_in("ann", PASSWORD)
    client.cookies.set(COOKIE, signed.token)
    response = client.post("/auth/sign-out", headers=headers)
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert ann.resolve_session(signed.token).user == "ann"


def test_sign_out_is_post_only(client):
    assert client.get("/auth/sign-out", headers=SAME_ORIGIN).status_code == 405


def test_while_the_server_starts_the_exchange_says_so(ann):
    app = Starlette(routes=session_routes(lambda: None))
    with TestClient(app, follow_redirects=False) as http:
        response = http.get("/auth/session", params={"code": "A" * 43}, headers=SAME_ORIGIN)
    assert response.status_code == 503 and "starting or stopping" in response.text
