"""Browser: "Sign in with <provider>" through st.login against a local OpenID provider (oidc-provider-mock on
127.0.0.1), mapped by the oidc_* settings to a Groundwork account and role, ending on the Chat page; a provider
user whose groups map to no role is refused with the reason."""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from typing import Iterator

import pytest

from backend.gateway.http_session import COOKIE
from tests import live_server
from tests.e2e.conftest import _chromium_or_skip, assert_no_exception, wait_for_app

pytestmark = pytest.mark.e2e

ANALYST = {"sub": "ann-sub", "email": "ann@oidc.example", "email_verified": True, "name": "Ann",
           "groups": ["gw-analysts", "unrelated"]}
OUTSIDER = {"sub": "olaf-sub", "email": "olaf@oidc.example", "email_verified": True, "groups": ["visitors"]}
LABEL = "Test IdP"


@contextmanager
def oidc_provider() -> Iterator[str]:
    """oidc-provider-mock on a free loopback port with the two users predefined; yields its issuer URL."""
    port = live_server.free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port),
               "--user-claims", json.dumps(ANALYST), "--user-claims", json.dumps(OUTSIDER)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"oidc-provider-mock did not start: {proc.communicate()[1].decode()[-2000:]}")
            time.sleep(0.2)
        yield issuer
    finally:
        live_server.stop(proc)


@contextmanager
def server_with_oidc(data_dir, issuer: str) -> Iterator[str]:
    """The real server with st.login's [auth] secrets (a file outside the repository, STREAMLIT_SECRETS_FILES)
    pointing at the provider, and the mapping settings in its environment."""
    port = live_server.free_port()
    secrets_file = data_dir / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "groundwork-e2e"\n'
        'client_secret = "e2e client secret"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n')
    env = {"STREAMLIT_SECRETS_FILES": str(secrets_file), "GROUNDWORK_OIDC_AUTO_PROVISION": "true",
           "GROUNDWORK_OIDC_ROLE_MAP": json.dumps({"gw-analysts": "analyst", "gw-admins": "admin"}),
           "GROUNDWORK_OIDC_PROVIDER_LABEL": LABEL, "GROUNDWORK_ADMIN_PASSWORD": secrets.token_urlsafe(18)}
    # redirect_uri must name the server's port before it starts: serve() takes its port from free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live_server, "free_port", lambda: port)
        with live_server.serve(data_dir, env) as url:
            patch.undo()
            yield url


def _sign_in_with_provider(tab, url: str, subject: str) -> None:
    tab.goto(url)
    wait_for_app(tab)
    tab.get_by_role("button", name=f"Sign in with {LABEL}").click()
    tab.get_by_role("heading", name="Authorize Client").wait_for()  # the provider's own page
    tab.get_by_role("button", name=subject).click()  # a predefined user


def test_a_provider_user_signs_in_with_the_mapped_role_and_lands_on_chat(browser, tmp_path):
    _chromium_or_skip()
    with oidc_provider() as issuer, server_with_oidc(tmp_path, issuer) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        try:
            _sign_in_with_provider(tab, url, ANALYST["sub"])
            sidebar = tab.get_by_test_id("stSidebar")
            sidebar.get_by_text(ANALYST["email"]).wait_for()
            wait_for_app(tab)
            assert "· analyst ·" in sidebar.inner_text() and "tenant default" in sidebar.inner_text()
            names = {c["name"] for c in context.cookies()}
            assert COOKIE in names and not any(n.startswith("_streamlit_user") for n in names)  # st.login's replaced
            tab.get_by_test_id("stSidebarNav").get_by_text("Chat", exact=True).click()
            tab.get_by_role("heading", name="Chat with your documents").wait_for()
            assert tab.url.endswith("/chat")
            assert_no_exception(tab)
            tab.reload()  # the Groundwork session cookie holds, as after a password sign-in
            wait_for_app(tab)
            tab.get_by_role("heading", name="Chat with your documents").wait_for()
            assert ANALYST["email"] in sidebar.inner_text()

            refused = browser.new_context(viewport={"width": 1400, "height": 1000})
            other = refused.new_page()
            other.set_default_timeout(60_000)
            _sign_in_with_provider(other, url, OUTSIDER["sub"])
            other.get_by_text("not allowed: your account has no Groundwork role").wait_for()
            other.get_by_label("User name").wait_for()  # the message renders a moment before the form below it
            assert other.get_by_test_id("stSidebarNav").count() == 0
            assert COOKIE not in {c["name"] for c in refused.cookies()}
            assert_no_exception(other)
            refused.close()
        finally:
            context.close()

    from backend.platform import Platform
    from backend.settings import Settings

    with Platform(Settings(data_dir=tmp_path)) as platform:  # the server is gone: the DuckDB file is free
        gateway = platform.gateway
        assert gateway.user(ANALYST["email"])["role"] == "analyst"
        assert OUTSIDER["email"] not in {u["name"] for u in gateway.users()}
        [signed] = gateway.audit_log(action="signin.oidc", target=ANALYST["email"])
        assert signed["action"] == "signin.oidc" and signed["details"]["provisioned"] is True
        [refusal] = gateway.audit_log(action="signin.oidc.refused")
        assert refusal["target"] == OUTSIDER["email"]
