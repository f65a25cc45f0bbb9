"""context_for scopes every read by the caller: analysts see their groups' grants only, within their tenant."""
from __future__ import annotations

import pytest

from backend.gateway.identity import Forbidden, Identity
from backend.models import InputError
from backend.platform import Platform
from backend.settings import Settings
from tests.gateway.helpers import PASSWORD


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("gw-ctx")
    corpora = {"acme-docs": ("acme", "£3.50"), "acme-hr": ("acme", "£4.20"), "globex-docs": ("globex", "£9.99")}
    instance = Platform(Settings(data_dir=root / "data"))
    for collection, (tenant, fee) in corpora.items():
        folder = root / collection
        folder.mkdir()
        (folder / "fees.md").write_text(f"# Fees\n\nAn international transfer costs {fee} per transfer.\n")
        instance.corpus.create_collection(collection, tenant=tenant)
        assert not instance.corpus.ingest([folder], collection).failed
    gw = instance.gateway
    for tenant in ("acme", "globex"):
        gw.create_tenant(tenant)
    gw.create_user("ann", "acme", "analyst", PASSWORD)     # granted acme-docs through a group
    gw.create_user("bob", "acme", "analyst", PASSWORD)     # no group, no grant
    gw.create_user("olga", "acme", "operator", PASSWORD)
    gw.create_user("sam", "globex", "stakeholder", PASSWORD)
    gw.create_user("root", "acme", "admin", PASSWORD)
    gw.create_group("acme-support", "acme", actor="root")
    gw.add_member("acme-support", "ann", actor="root")
    gw.grant("acme-support", "acme-docs", actor="root")
    yield instance
    instance.close()


def identity(platform, name: str) -> Identity:
    user = platform.gateway.user(name)
    return Identity(user=name, tenant=user["tenant"], role=user["role"])


def names(platform, user: str) -> list[str]:
    return platform.corpus.collection_names(platform.gateway.context_for(identity(platform, user)))


def test_each_role_reads_what_it_may(platform):
    assert names(platform, "ann") == ["acme-docs"]
    assert names(platform, "bob") == []  # no grant reads nothing, not everything
    assert names(platform, "olga") == ["acme-docs", "acme-hr"]
    assert names(platform, "sam") == ["globex-docs"]
    assert names(platform, "root") == ["acme-docs", "acme-hr", "globex-docs"]
    ctx = platform.gateway.context_for(identity(platform, "ann"))
    assert (ctx.user, ctx.tenant, ctx.role, ctx.tenants, ctx.collections) == (
        "ann", "acme", "analyst", frozenset({"acme"}), frozenset({"acme-docs"}))


def test_an_analyst_cannot_search_or_ask_an_ungranted_collection(platform):
    ann = platform.gateway.context_for(identity(platform, "ann"))
    for collection in ("acme-hr", "globex-docs"):
        with pytest.raises(InputError, match=rf"collection '{collection}' does not exist \(collections: acme-docs\)"):
            platform.retriever.search("international transfer fee", collection, ctx=ann)
    hits = platform.retriever.search("international transfer fee", "acme-docs", ctx=ann)
    assert hits and {h.chunk.collection for h in hits} == {"acme-docs"}
    answer = platform.chat.ask("What does an international transfer cost?", "acme-docs", ctx=ann, remember=False)
    assert "£3.50" in answer.text and "£9.99" not in answer.text and "£4.20" not in answer.text
    assert {d["collection"] for d in platform.corpus.documents(ctx=ann)} == {"acme-docs"}


def test_grant_changes_apply_at_once_and_are_audited(platform):
    gw = platform.gateway
    assert gw.grant("acme-support", "acme-hr", actor="root") and not gw.grant("acme-support", "acme-hr", actor="root")
    assert names(platform, "ann") == ["acme-docs", "acme-hr"]
    assert gw.revoke_grant("acme-support", "acme-hr", actor="root")
    assert names(platform, "ann") == ["acme-docs"]
    gw.add_member("acme-support", "bob", actor="root")
    assert names(platform, "bob") == ["acme-docs"]
    gw.remove_member("acme-support", "bob", actor="root")
    assert names(platform, "bob") == []
    actions = [(r["action"], r["target"], r["actor"]) for r in gw.audit_log(actor="root", limit=6)]
    assert actions == [("group.member_remove", "acme-support", "root"), ("group.member_add", "acme-support", "root"),
                       ("grant.revoke", "acme-hr", "root"), ("grant.add", "acme-hr", "root"),
                       ("grant.add", "acme-docs", "root"), ("group.member_add", "acme-support", "root")]


def test_grants_and_groups_never_cross_tenants(platform):
    gw = platform.gateway
    with pytest.raises(InputError, match="collection 'globex-docs' belongs to tenant 'globex'.*never crosses tenants"):
        gw.grant("acme-support", "globex-docs")
    with pytest.raises(InputError, match="user 'sam' is in tenant 'globex'"):
        gw.add_member("acme-support", "sam")
    # Even a grant row naming another tenant's collection (made before it existed) reads nothing of it.
    gw.create_group("acme-future", "acme")
    gw.add_member("acme-future", "bob")
    gw.grant("acme-future", "later-docs")
    platform.corpus.create_collection("later-docs", tenant="globex")
    try:
        assert "later-docs" not in names(platform, "bob")
    finally:
        platform.corpus.delete_collection("later-docs")


def test_an_unknown_role_is_refused(platform):
    with pytest.raises(Forbidden, match="unknown role 'guest'"):
        platform.gateway.context_for(Identity(user="x", tenant="acme", role="guest"))


def test_a_derived_platform_shares_the_gateway(platform):
    assert platform.derive(top_k=3).gateway is platform.gateway
