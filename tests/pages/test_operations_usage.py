"""AppTest of the Operations page's usage section: this month's tokens and cost against the quota of the tenants
the caller may see (an operator: their own; an admin: every tenant), and usage month by month."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import TIMEOUT, run, texts
from tests.pages.signin import signed_in

ROOT = Path(__file__).resolve().parents[2]


def _operations(role: str, user: str, tenant: str | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "pages" / "operations.py"), default_timeout=TIMEOUT)
    return run(signed_in(app, role, user=user, tenant=tenant))


def _progress(app: AppTest) -> list[str]:
    return [str(p.proto.text) for p in app.get("progress")]


def _world(platform) -> None:
    gateway = platform.gateway
    gateway.create_tenant("acme")
    gateway.create_tenant("globex")
    gateway.set_quota("acme", monthly_tokens=1000, actor="test-admin")
    gateway.record_usage("acme", 600, 0.25)
    gateway.record_usage("globex", 98_765, 4.5)


def test_an_operator_sees_their_tenants_usage_against_its_quota_and_no_other_tenant(platform):
    _world(platform)
    app = _operations("operator", "olga", tenant="acme")
    assert _progress(app) == ["tokens: 600 of 1,000"]
    shown = texts(app)
    assert "**acme**" in shown and "· 1 request\n" in shown and "cost: $0.25 (no limit)" in shown
    assert "globex" not in shown and "98,765" not in shown
    assert "No traces yet" in shown  # the usage shows before the first trace exists
    [chart] = app.get("plotly_chart")  # usage by month, only acme's
    assert "globex" not in str(chart.proto.spec) and "acme tokens" in str(chart.proto.spec)


def test_an_admin_sees_every_tenant_and_which_has_no_quota(platform):
    _world(platform)
    app = _operations("admin", "test-admin")
    shown = texts(app)
    assert _progress(app) == ["tokens: 600 of 1,000"]
    assert "**globex**" in shown and "tokens: 98,765 · cost: $4.50 · no quota set" in shown
    [history] = [d.value for d in app.dataframe if "tenant" in d.value.columns]
    assert sorted(zip(history["tenant"], history["tokens"])) == [("acme", 600), ("globex", 98_765)]
