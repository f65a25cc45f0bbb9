"""A data dir for the HTTP API tests: two tenants whose collections hold near-identical documents with different
figures, users of each role, and their API keys, all made through the platform before the server starts."""
from __future__ import annotations

import atexit
import copy
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from backend.models import LoadedDocument
from backend.platform import Platform
from backend.settings import Settings
from tests.gateway.helpers import PASSWORD

# Same wording, different figures: a leak shows as the other tenant's number in an answer or a hit.
FEES = ("Fees for payments. The fee for international transfers is {intl} EUR per transfer. "
        "The fee for domestic transfers is {domestic} EUR. Transfers above 10,000 EUR need a second approval.")
CARDS = ("Card disputes. A customer has {days} days to report a card payment they did not make. "
         "After that the bank may refuse the refund. Lost cards are blocked at once by phone.")
FIGURES = {
    "acme": {"intl": "12", "domestic": "1", "days": "45"},
    "globex": {"intl": "19", "domestic": "3", "days": "60"},
}


@dataclass
class World:
    data_dir: Path
    keys: dict[str, str] = field(default_factory=dict)  # name -> full API key
    documents: dict[str, list[int]] = field(default_factory=dict)  # collection -> document ids
    revoked_key: str = ""
    runs: dict[str, int] = field(default_factory=dict)  # collection -> the ingest run that filled it


def _documents(tenant: str) -> list[LoadedDocument]:
    figures = FIGURES[tenant]
    return [
        LoadedDocument(source=f"{tenant}/fees.md", title=f"{tenant.title()} fees", mime_type="text/markdown",
                       text=FEES.format(**figures)),
        LoadedDocument(source=f"{tenant}/cards.md", title=f"{tenant.title()} cards", mime_type="text/markdown",
                       text=CARDS.format(**figures)),
    ]


_BUILT: dict[str, World] = {}  # builder name -> its world, built once per test process in a scratch dir
_BUILDING = threading.RLock()  # a builder may start from another builder's world


def copied_world(builder: Callable[[Path], World], data_dir: Path) -> World:
    """`builder`'s world in `data_dir`: built once per test process, then copied file for file (the same ids and
    keys, as the tests' "spare" copies already rely on), so a dozen modules do not each ingest and migrate it."""
    with _BUILDING:
        if builder.__qualname__ not in _BUILT:
            scratch = Path(tempfile.mkdtemp(prefix=f"gw-{builder.__name__}-"))
            atexit.register(shutil.rmtree, scratch, True)
            _BUILT[builder.__qualname__] = builder(scratch / "data")
        built = _BUILT[builder.__qualname__]
    shutil.copytree(built.data_dir, data_dir, dirs_exist_ok=True)
    return replace(copy.deepcopy(built), data_dir=data_dir)


def build_world(data_dir: Path) -> World:
    """The API tests' world (see _build_world) in `data_dir`."""
    return copied_world(_build_world, data_dir)


def _build_world(data_dir: Path) -> World:
    """Collections acme-policies and acme-archive (tenant acme), globex-policies (tenant globex); users:
    alice (acme analyst, granted acme-policies only), olga (acme operator), stan (acme stakeholder), gina (globex
    operator; globex's quota is used up), bob (globex analyst with no grant), ada (admin)."""
    world = World(data_dir)
    with Platform(Settings(data_dir=data_dir)) as platform:
        corpus, gateway = platform.corpus, platform.gateway
        for tenant in ("acme", "globex"):
            gateway.create_tenant(tenant)
        for name, tenant in (("acme-policies", "acme"), ("acme-archive", "acme"), ("globex-policies", "globex")):
            corpus.create_collection(name, tenant=tenant)
            source = "acme" if name.startswith("acme") else "globex"
            records = _documents(source)[: 1 if name == "acme-archive" else 2]
            if name == "acme-archive":
                records = [LoadedDocument(source="acme/old.md", title="Acme archive", mime_type="text/markdown",
                                          text="Archived fees. The old fee for international transfers was 7 EUR.")]
            corpus.ingest_records(name, records)
            world.documents[name] = [d["id"] for d in corpus.documents(name)]
            world.runs[name] = corpus.ingest_runs(1, name)[0]["id"]
        users = (("alice", "acme", "analyst"), ("olga", "acme", "operator"), ("stan", "acme", "stakeholder"),
                 ("gina", "globex", "operator"), ("bob", "globex", "analyst"), ("ada", "acme", "admin"))
        for name, tenant, role in users:
            gateway.create_user(name, tenant, role, PASSWORD)
        gateway.create_group("acme-analysts", "acme")
        gateway.add_member("acme-analysts", "alice")
        gateway.grant("acme-analysts", "acme-policies")
        gateway.set_quota("globex", monthly_tokens=0)
        scopes = {"alice": ["read", "ask"], "alice_read": ["read"], "olga": ["read", "ask"], "stan": ["read"],
                  "gina": ["read", "ask"], "bob": ["read", "ask"], "ada": ["read", "ask"]}
        for key_name, wanted in scopes.items():
            world.keys[key_name], _ = gateway.create_key(key_name.split("_")[0], wanted)
        world.revoked_key, row = gateway.create_key("olga", ["read"])
        gateway.revoke_key(row["id"])
        for key_name, wanted in INGEST_KEYS.items():  # made last, so the keys above keep their ids
            world.keys[key_name], _ = gateway.create_key(key_name.split("_")[0], wanted)
    return world


# Keys that may change the corpus (uploads, deletes): only operators and admins can hold the 'ingest' scope.
INGEST_KEYS = {"olga_ingest": ["read", "ask", "ingest"], "gina_ingest": ["read", "ingest"],
               "ada_ingest": ["read", "ask", "ingest"]}
