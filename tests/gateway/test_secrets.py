"""No secret in clear: passwords as argon2 hashes, keys and session tokens as sha256; the raw values are nowhere in DuckDB."""
from __future__ import annotations

import pytest

from backend.gateway.identity import Unauthorized
from backend.gateway.passwords import hash_password, needs_rehash, verify_password
from backend.models import InputError
from tests.gateway.helpers import PASSWORD, text_cells_containing


def test_password_hashes_are_salted_argon2id_and_verify():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert PASSWORD not in first
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + "!") and not verify_password(None, PASSWORD)
    assert not verify_password("not a hash", PASSWORD)
    assert not needs_rehash(first) and needs_rehash("not a hash")


def test_weaker_parameters_need_a_rehash():
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert verify_password(weak, PASSWORD) and needs_rehash(weak)


def test_short_or_empty_passwords_are_refused_without_echoing_them():
    with pytest.raises(InputError, match="at least 12 characters") as caught:
        hash_password("hunter2")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(InputError, match="a password is required"):
        hash_password("")


def test_no_table_holds_a_password_key_or_session_token_in_clear(gateway, store):
    gateway.create_user("ann", "acme", "analyst", PASSWORD)
    raw_key, row = gateway.create_key("ann", ["read", "ask"])
    session = gateway.sign_in("ann", PASSWORD, address="10.0.0.7")
    with pytest.raises(Unauthorized):
        gateway.sign_in("ann", "a wrong password, typed")
    gateway.change_password("ann", "a brand new passphrase")
    secret_part = raw_key.split("_", 2)[2]
    assert "users.name" in text_cells_containing(store, "ann")  # the scan does find what is there
    for secret in (PASSWORD, "a wrong password, typed", "a brand new passphrase", raw_key, secret_part, session.token):
        assert text_cells_containing(store, secret) == [], secret
    # What is stored instead: the hash of the key, the prefix people see, argon2 for the password.
    assert row["prefix"] == raw_key[:11] and "secret_sha256" not in row
    assert store.scalar("SELECT count(*) FROM api_keys WHERE length(secret_sha256) = 64") == 1
    assert store.scalar("SELECT password_hash FROM users WHERE name = 'ann'").startswith("$argon2id$")
    # ... and not in the file's bytes either, once checkpointed.
    store.execute("CHECKPOINT")
    data = store.path.read_bytes()
    for secret in (PASSWORD, raw_key, secret_part, session.token):
        assert secret.encode() not in data


def test_listings_never_carry_hashes(gateway):
    gateway.create_user("ann", "acme", "analyst", PASSWORD)
    gateway.create_key("ann", ["read"])
    assert all("password_hash" not in u for u in gateway.users())
    assert "password_hash" not in gateway.user("ann")
    keys = gateway.list_keys("ann")
    assert len(keys) == 1 and not {"secret_sha256", "user_id"} & set(keys[0])
    assert keys[0]["prefix"].startswith("gw_") and len(keys[0]["prefix"]) == 11
