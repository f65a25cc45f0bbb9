"""Observability fixtures: a real DuckDB store per test, a real Tracer, and a scripted pipeline of spans."""
from __future__ import annotations

import pytest

from backend.observability.tracing import Tracer
from backend.store.db import Store


@pytest.fixture
def store(settings):
    settings.ensure_dirs()
    db = Store(settings.db_path)
    yield db
    db.close()


@pytest.fixture
def tracer(store, settings):
    instance = Tracer(store, settings)
    yield instance
    instance.shutdown()
