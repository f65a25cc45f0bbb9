"""Store: migrations recorded once, transactions all-or-nothing, a clear message when the file is locked."""
import duckdb
import pytest

from backend.store.db import Store


def test_migrations_apply_once(tmp_path):
    store = Store(tmp_path / "a.duckdb")
    applied = store.scalar("SELECT count(*) FROM schema_migrations")
    assert applied >= 1
    assert store.migrate() == []
    store.close()


def test_failed_transaction_leaves_nothing_and_store_stays_usable(tmp_path):
    store = Store(tmp_path / "a.duckdb")
    store.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    store.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(duckdb.Error):
        with store.transaction() as cur:
            cur.execute("INSERT INTO t VALUES (2)")
            cur.execute("INSERT INTO t VALUES (1)")  # duplicate key
    assert store.query("SELECT id FROM t ORDER BY id") == [(1,)]
    with store.transaction() as cur:
        cur.execute("INSERT INTO t VALUES (3)")
    assert store.query("SELECT id FROM t ORDER BY id") == [(1,), (3,)]
    store.close()


def test_platform_close_stops_the_tracer_before_closing_the_store(data_dir):
    """Regression: close() closed DuckDB while the span exporter thread was still writing to it."""
    from backend.platform import Platform
    from backend.settings import Settings

    platform = Platform(Settings(data_dir=data_dir))
    tracer = platform.tracer
    for i in range(50):
        with tracer.request("rag.ask", question=f"q{i}"):
            with tracer.span("bm25", k=5):
                pass
    platform.close()  # raised ResourceInUseException when the exporter was mid-write
    with Platform(Settings(data_dir=data_dir)) as reopened:
        assert reopened.store.scalar("SELECT count(*) FROM spans WHERE name = 'bm25'") == 50
