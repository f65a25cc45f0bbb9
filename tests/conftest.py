"""Shared fixtures: every test gets its own data directory, so nothing touches var/ or another test."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "gw-data"
    monkeypatch.setenv("GROUNDWORK_DATA_DIR", str(path))
    from backend.settings import get_settings

    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture
def settings(data_dir):
    from backend.settings import Settings

    return Settings(data_dir=data_dir)


@pytest.fixture
def store(settings):
    """A migrated DuckDB store in the test's own data dir."""
    from backend.store.db import Store

    store = Store(settings.db_path)
    yield store
    store.close()


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: they are the slowest, and Playwright's sync API keeps an event loop
    running in the main thread for the whole browser session, which must not leak into unit tests."""
    items.sort(key=lambda item: "tests/e2e/" in item.nodeid.replace("\\", "/"))
