"""The gateway's in-memory views (key rows, grants, quotas) are never stale, and usage written behind the request
reaches DuckDB exactly: on flush, on close, before any read of the stored rows, and from the background thread."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from backend.gateway.identity import Identity, QuotaExceeded, Unauthorized
from backend.platform import Platform
from backend.settings import Settings
from tests.gateway.helpers import PASSWORD


@pytest.fixture
def gw(gateway):
    gateway.create_user("ann", "acme", "analyst", PASSWORD)
    gateway.create_user("olga", "acme", "operator", PASSWORD)
    return gateway


def _stored_usage(store, tenant: str) -> tuple:
    """The usage row in DuckDB itself (tokens, cost_usd, requests), not the gateway's view of it."""
    rows = store.query("SELECT tokens, cost_usd, requests FROM usage WHERE tenant = ?", [tenant])
    return rows[0] if rows else (0, 0.0, 0)


def test_a_request_reads_no_table_once_its_key_grants_and_quota_are_known(gw, store, monkeypatch):
    gw.create_group("acme-analysts", "acme")
    gw.add_member("acme-analysts", "ann")
    gw.grant("acme-analysts", "acme-policies")
    gw.set_quota("acme", monthly_tokens=1_000_000)
    raw, _ = gw.create_key("ann", ["read", "ask"])
    gw.context_for(gw.authenticate_key(raw))  # first request: reads the key row and the grants
    gw.check_quota("acme")

    main = threading.current_thread()
    opened: list[str] = []
    real_cursor = store.cursor

    def counting_cursor():
        if threading.current_thread() is main:  # the write-behind threads write on their own
            opened.append("cursor")
        return real_cursor()

    monkeypatch.setattr(store, "cursor", counting_cursor)
    for _ in range(3):  # what the HTTP gate and the metered chat do per request
        identity = gw.authenticate_key(raw)
        ctx = gw.context_for(identity)
        gw.check_quota(identity.tenant)
        gw.record_usage(identity.tenant, 120, 0.001)
    assert opened == []
    assert ctx.collections == {"acme-policies"} and gw.usage("acme")["requests"] == 3


def test_a_revoked_key_is_refused_on_its_very_next_request(gw):
    raw, row = gw.create_key("ann", ["read"])
    assert gw.authenticate_key(raw).user == "ann"  # now cached
    gw.revoke_key(row["id"], actor="admin")
    with pytest.raises(Unauthorized, match="was revoked"):
        gw.authenticate_key(raw)


def test_a_disabled_user_is_refused_at_once_and_enabled_again_at_once(gw):
    raw, _ = gw.create_key("ann", ["read"])
    gw.authenticate_key(raw)
    gw.disable_user("ann", actor="admin")
    with pytest.raises(Unauthorized, match="disabled account"):
        gw.authenticate_key(raw)
    gw.enable_user("ann", actor="admin")
    assert gw.authenticate_key(raw).user == "ann"


def test_a_role_change_applies_to_the_next_request_of_a_cached_key(gw):
    raw, _ = gw.create_key("olga", ["read", "ask", "ingest"])
    assert gw.authenticate_key(raw).scopes == {"read", "ask", "ingest"}
    gw.set_role("olga", "stakeholder", actor="admin")
    identity = gw.authenticate_key(raw)
    assert (identity.role, identity.scopes) == ("stakeholder", {"read"})
    gw.set_role("olga", "operator", actor="admin")  # her keys follow her role back up, at once too
    identity = gw.authenticate_key(raw)
    assert (identity.role, identity.scopes) == ("operator", {"read", "ask", "ingest"})


def test_a_password_change_or_a_new_key_leaves_cached_keys_working(gw):
    raw, _ = gw.create_key("ann", ["read"])
    gw.authenticate_key(raw)
    gw.change_password("ann", "another long passphrase", actor="admin")
    other, _ = gw.create_key("ann", ["read"])
    assert gw.authenticate_key(raw).user == gw.authenticate_key(other).user == "ann"
    with pytest.raises(Unauthorized, match="^invalid API key$"):  # the secret is still checked on a cached row
        gw.authenticate_key(raw[:-1] + ("A" if raw[-1] != "A" else "B"))


def test_expiry_is_checked_against_the_clock_on_every_request_of_a_cached_key(gw, clock):
    raw, _ = gw.create_key("ann", ["read"], expires_at=clock.now + timedelta(minutes=10))
    gw.authenticate_key(raw)
    clock.advance(minutes=9, seconds=59)
    gw.authenticate_key(raw)
    clock.advance(seconds=1)
    with pytest.raises(Unauthorized, match="expired at"):
        gw.authenticate_key(raw)


def test_grant_and_membership_changes_apply_to_the_next_context(gw):
    ann = Identity(user="ann", tenant="acme", role="analyst")
    gw.create_group("acme-analysts", "acme")
    gw.grant("acme-analysts", "acme-policies")
    assert gw.context_for(ann).collections == frozenset()  # not a member yet: cached as nothing
    gw.add_member("acme-analysts", "ann")
    assert gw.context_for(ann).collections == {"acme-policies"}
    gw.grant("acme-analysts", "acme-archive")
    assert gw.context_for(ann).collections == {"acme-policies", "acme-archive"}
    gw.revoke_grant("acme-analysts", "acme-archive")
    assert gw.context_for(ann).collections == {"acme-policies"}
    gw.remove_member("acme-analysts", "ann")
    assert gw.context_for(ann).collections == frozenset()


def test_a_changed_quota_applies_to_the_very_next_check(gw):
    gw.record_usage("acme", 500, 0.5)
    gw.check_quota("acme")  # loaded: no quota
    gw.set_quota("acme", monthly_tokens=500)
    with pytest.raises(QuotaExceeded, match="500 of its 500 monthly tokens"):
        gw.check_quota("acme")
    gw.set_quota("acme", monthly_tokens=501)
    gw.check_quota("acme")
    gw.record_usage("acme", 1, 0.0)  # the very next check counts it
    with pytest.raises(QuotaExceeded):
        gw.check_quota("acme")
    gw.set_quota("acme", monthly_cost_usd=0.5)
    with pytest.raises(QuotaExceeded, match=r"\$0.50 of its \$0.50 monthly cost"):
        gw.check_quota("acme")
    gw.set_quota("acme")  # lifted
    gw.check_quota("acme")
    assert gw.usage("acme")["monthly_cost_usd"] is None


def test_concurrent_usage_sums_exactly_in_memory_and_in_duckdb_after_a_flush(gw, store):
    threads, each = 8, 200
    start = threading.Barrier(threads)

    def charge(n: int) -> None:
        start.wait()
        for i in range(each):
            gw.record_usage("acme" if n % 2 else "globex", 3 + i % 5, 0.125)  # binary fractions: exact sums

    workers = [threading.Thread(target=charge, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    per_tenant = (threads // 2) * sum(3 + i % 5 for i in range(each)), (threads // 2) * each * 0.125, (threads // 2) * each
    for tenant in ("acme", "globex"):
        used = gw.usage(tenant)
        assert (used["tokens"], used["cost_usd"], used["requests"]) == per_tenant
    gw.flush()
    assert _stored_usage(store, "acme") == _stored_usage(store, "globex") == per_tenant


def test_usage_history_read_right_after_a_request_includes_it(gw, store):
    gw.record_usage("acme", 321, 0.25)
    assert [(h["tenant"], h["month"], h["tokens"], h["requests"]) for h in gw.usage_history("acme")] == [
        ("acme", "2026-05", 321, 1)]
    gw.record_usage("acme", 9, 0.25)
    scoped = gw.quotas.history_in_scope(gw.context_for(Identity(user="olga", tenant="acme", role="operator")))
    assert [(h["tokens"], h["requests"]) for h in scoped] == [(330, 2)]
    assert _stored_usage(store, "acme") == (330, 0.5, 2)


def test_the_background_writer_stores_usage_without_any_reader(gw, store):
    gw.record_usage("acme", 42, 0.5)
    deadline = time.monotonic() + 30  # it flushes within a second; the margin is for a loaded machine
    while _stored_usage(store, "acme") != (42, 0.5, 1) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _stored_usage(store, "acme") == (42, 0.5, 1)


def test_usage_is_counted_from_what_duckdb_held_at_start(make_gateway, gw, store):
    gw.record_usage("acme", 100, 0.25)
    gw.close()
    later = make_gateway()  # as after a restart: the month is read from DuckDB, then added to in memory
    later.record_usage("acme", 1, 0.25)
    assert (later.usage("acme")["tokens"], later.usage("acme")["requests"]) == (101, 2)
    later.close()
    assert _stored_usage(store, "acme") == (101, 0.5, 2)


def test_closing_the_platform_writes_the_queued_usage_and_key_use_before_the_store_closes(data_dir):
    settings = Settings(data_dir=data_dir)
    with Platform(settings) as platform:
        gateway = platform.gateway
        gateway.create_tenant("acme")
        gateway.create_user("ann", "acme", "analyst", PASSWORD)
        raw, row = gateway.create_key("ann", ["read"])
        gateway.authenticate_key(raw)
        for _ in range(5):
            gateway.record_usage("acme", 10, 0.125)
    with Platform(settings) as platform:
        assert _stored_usage(platform.store, "acme") == (50, 0.625, 5)
        assert platform.gateway.list_keys("ann")[0]["last_used_at"] is not None
        assert platform.gateway.usage("acme")["tokens"] == 50


def test_writes_after_close_are_made_at_once(gw, store):
    gw.close()
    gw.record_usage("acme", 7, 0.125)
    assert _stored_usage(store, "acme") == (7, 0.125, 1)


def test_the_http_gate_authorises_on_the_event_loop_only_when_nothing_needs_reading(gw, make_gateway):
    """Gateway.authorises_in_memory: the gate skips its worker-thread hop only when the key row, an analyst's
    grants and the limiter's counters are all in this process."""
    admin_key, _ = gw.create_key("olga", ["read"])
    analyst_key, _ = gw.create_key("ann", ["read", "ask"])
    assert not gw.authorises_in_memory(admin_key)  # its row not read yet
    assert not gw.authorises_in_memory("not-a-key")
    gw.authenticate_key(admin_key)
    assert gw.authorises_in_memory(admin_key)
    identity = gw.authenticate_key(analyst_key)
    assert not gw.authorises_in_memory(analyst_key)  # an analyst's grants are read too
    gw.context_for(identity)
    assert gw.authorises_in_memory(analyst_key)
    gw.revoke_key(identity.key_id)  # a change clears the rows: the next request reads (and refuses) it
    assert not gw.authorises_in_memory(analyst_key)

    shared = make_gateway(rate_limit_storage="redis://127.0.0.1:1")  # counted over the network: always a hop
    shared.authenticate_key(admin_key)
    assert not shared.authorises_in_memory(admin_key)
