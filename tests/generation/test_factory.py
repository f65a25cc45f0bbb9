"""The generator registry: built-ins registered like plugins, replacing a name drops its stale instances, unregistering forgets it."""
from __future__ import annotations

import pytest

from backend.generation.factory import build_generator, generator_names, register_generator, unregister_generator
from backend.models import InputError
from tests.contracts.fakes import FakeGenerator


def test_built_ins_are_registered_in_order():
    assert generator_names()[:3] == ("extractive", "openai", "vllm")


def test_register_replace_and_unregister(settings, encoder):
    built = []

    def builder(settings, encoder):
        built.append(FakeGenerator("plugin"))
        return built[-1]

    try:
        register_generator("plugin", builder)
        first = build_generator(settings, encoder, "plugin")
        assert first is built[0] and build_generator(settings, encoder, "plugin") is first  # built once
        register_generator("plugin", builder)  # a new builder for the name: the old instance is stale
        assert build_generator(settings, encoder, "plugin") is built[1] is not first
    finally:
        unregister_generator("plugin")
    assert "plugin" not in generator_names()
    with pytest.raises(InputError, match="'plugin' is unknown"):
        build_generator(settings, encoder, "plugin")


def test_a_builder_that_fails_leaves_nothing_cached(settings, encoder):
    calls = []

    def flaky(settings, encoder):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("not yet")
        return FakeGenerator("flaky")

    try:
        register_generator("flaky", flaky)
        with pytest.raises(RuntimeError):
            build_generator(settings, encoder, "flaky")
        assert build_generator(settings, encoder, "flaky").name == "flaky" and len(calls) == 2
    finally:
        unregister_generator("flaky")
