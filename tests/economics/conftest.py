"""Economics fixtures: the shipped pricing catalog, and a writable copy of it per test."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backend.economics.catalog import load_catalog

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "pricing.yaml"


@pytest.fixture
def catalog():
    return load_catalog(SHIPPED)


@pytest.fixture
def catalog_file(tmp_path, monkeypatch):
    """A copy of the shipped catalog that settings.pricing_catalog points to."""
    path = tmp_path / "pricing.yaml"
    shutil.copy(SHIPPED, path)
    monkeypatch.setenv("GROUNDWORK_PRICING_CATALOG", str(path))
    from backend.settings import get_settings

    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()
