"""First start: the default tenant, the admin and one demo user per role, with one-time secrets; never a default password."""
from __future__ import annotations

import pytest

from backend.gateway.accounts import bootstrap
from backend.gateway.identity import Identity, Unauthorized
from backend.gateway.service import Gateway
from backend.models import InputError
from backend.settings import Settings
from tests.gateway.helpers import text_cells_containing

EXPECTED = {"admin": "admin", "demo-operator": "operator", "demo-analyst": "analyst", "demo-stakeholder": "stakeholder"}


def test_first_start_creates_the_accounts_and_returns_their_secrets_once(store, settings):
    secrets = bootstrap(store, settings)
    assert set(secrets) == set(EXPECTED)
    assert len(set(secrets.values())) == 4 and all(len(s) >= 20 for s in secrets.values())
    gw = Gateway(store, settings)
    assert {u["name"]: u["role"] for u in gw.users()} == EXPECTED
    assert {u["tenant"] for u in gw.users()} == {"default"} and [t["name"] for t in gw.tenants()] == ["default"]
    for name, secret in secrets.items():
        assert gw.sign_in(name, secret).identity.role == EXPECTED[name]
        assert text_cells_containing(store, secret) == []
    # The demo analyst reads the demo collection (granted before it is even ingested).
    analyst = Identity(user="demo-analyst", tenant="default", role="analyst")
    assert gw.context_for(analyst).collections == frozenset({settings.default_collection})

    users_before = store.scalar("SELECT count(*) FROM users")
    audit_before = store.scalar("SELECT count(*) FROM audit_log")
    assert bootstrap(store, settings) == {}  # a second start creates nothing and shows nothing
    assert store.scalar("SELECT count(*) FROM users") == users_before
    assert store.scalar("SELECT count(*) FROM audit_log") == audit_before


def test_there_is_no_default_password(tmp_path):
    seen = []
    for run in ("a", "b"):
        from backend.store.db import Store

        settings = Settings(data_dir=tmp_path / run)
        store = Store(settings.db_path)
        try:
            secrets = bootstrap(store, settings, demo=False)
            assert set(secrets) == {"admin"}
            seen.append(secrets["admin"])
            gw = Gateway(store, settings)
            for guess in ("admin", "password", "groundwork", "changeme", ""):
                with pytest.raises(Unauthorized):
                    gw.sign_in("admin", guess)
        finally:
            store.close()
    assert seen[0] != seen[1]  # generated per install, not shipped


def test_the_admin_password_can_come_from_the_environment(store, data_dir, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_ADMIN_PASSWORD", "a long admin passphrase")
    settings = Settings(data_dir=data_dir)
    assert "a long admin passphrase" not in repr(settings) and "a long admin passphrase" not in settings.model_dump_json()
    secrets = bootstrap(store, settings)
    assert "admin" not in secrets and set(secrets) == {"demo-operator", "demo-analyst", "demo-stakeholder"}
    assert Gateway(store, settings).sign_in("admin", "a long admin passphrase").identity.is_admin()


def test_a_weak_admin_password_from_the_environment_is_refused_by_name(store, data_dir):
    settings = Settings(data_dir=data_dir, admin_password="admin")
    with pytest.raises(InputError, match="GROUNDWORK_ADMIN_PASSWORD: use at least 12 characters"):
        bootstrap(store, settings)
    assert store.scalar("SELECT count(*) FROM users") == 0


def test_bootstrap_takes_a_platform_too(data_dir):
    from backend.platform import Platform

    with Platform(Settings(data_dir=data_dir)) as platform:
        assert set(bootstrap(platform, platform.settings)) == set(EXPECTED)
        assert platform.gateway.bootstrap() == {}
