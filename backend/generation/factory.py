"""Generators by name: a registry of builders, the built-ins registered through it like any plugin."""
from __future__ import annotations

import threading
from typing import Callable

from backend.generation.base import Generator
from backend.models import InputError
from backend.settings import Settings, fingerprint

Builder = Callable[[Settings, object], Generator]  # (settings, sentence encoder) -> a generator

_BUILDERS: dict[str, Builder] = {}
_BUILT: dict[tuple, Generator] = {}
_LOCK = threading.RLock()  # re-entrant: a builder may build another generator (a fallback)

def register_generator(name: str, builder: Builder) -> None:
    """Make `name` buildable by `builder(settings, encoder)`; registering a name again replaces its builder."""
    with _LOCK:
        _BUILDERS[name] = builder
        for key in [key for key in _BUILT if key[0] == name]:  # instances of the replaced builder are stale
            del _BUILT[key]


def unregister_generator(name: str) -> None:
    """Forget `name` and the instances built for it (tests registering fakes clean up with this)."""
    with _LOCK:
        _BUILDERS.pop(name, None)
        for key in [key for key in _BUILT if key[0] == name]:
            del _BUILT[key]


def generator_names() -> tuple[str, ...]:
    """The registered names, in registration order."""
    with _LOCK:
        return tuple(_BUILDERS)


def build_generator(settings: Settings, encoder=None, name: str | None = None) -> Generator:
    """The generator named `name` (default: settings.generator), built once per configuration per process."""
    name = name or settings.generator
    with _LOCK:
        builder = _BUILDERS.get(name)
        if builder is None:
            raise InputError(f"generator {name!r} is unknown; choose one of: {', '.join(_BUILDERS)}")
        # The fields marked as shaping an answer or reaching a generator (backend.settings): a new such
        # setting joins the key by being declared so, never by a list kept here.
        key = (name, id(encoder), fingerprint(settings, ("answer", "generator")))
        generator = _BUILT.get(key)
        if generator is None:
            generator = _BUILT[key] = builder(settings, encoder)
        return generator


# --- built-ins: each imports its backend only when built, so an absent optional package costs nothing ---
def _extractive(settings: Settings, encoder) -> Generator:
    from backend.generation.extractive import ExtractiveGenerator

    return ExtractiveGenerator(settings, encoder)


def _openai(settings: Settings, encoder) -> Generator:
    from backend.generation.openai_backend import OpenAIGenerator

    # The fallback is extractive by design (its notice says so), whatever else is registered.
    return OpenAIGenerator(settings, fallback=_extractive(settings, encoder))


def _vllm(settings: Settings, encoder) -> Generator:
    # vllm_backend imports vllm itself only on construction, raising the hint that names the other choices.
    from backend.generation.vllm_backend import VLLMGenerator

    return VLLMGenerator(settings)


register_generator("extractive", _extractive)
register_generator("openai", _openai)
register_generator("vllm", _vllm)
