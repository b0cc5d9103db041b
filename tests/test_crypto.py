"""Secrets at rest, the master key, and AWS-shaped identifiers."""

from __future__ import annotations

import base64
import os
import re
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamd.crypto import (
    MasterKeyError,
    SecretBox,
    SecretBoxError,
    account_from_access_key_id,
    key_id_for,
    load_master_key,
    new_access_key_id,
    new_secret_access_key,
    new_unique_id,
)

OLD, NEW = bytes(range(32)), bytes(range(32, 64))
ROW = b"AKIAIOSFODNN7EXAMPLE"


# -- SecretBox -----------------------------------------------------------------------------------
@given(st.text(), st.binary(max_size=40))
def test_round_trip(plaintext: str, context: bytes) -> None:
    box = SecretBox({"k1": OLD}, primary="k1")
    sealed = box.seal(plaintext, context=context)
    assert sealed.isascii() and sealed.startswith("v1:k1:")
    assert box.open(sealed, context=context) == plaintext


def test_every_seal_uses_a_fresh_nonce_and_hides_the_plaintext() -> None:
    box = SecretBox({"k1": OLD}, primary="k1")
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    first, second = box.seal(secret, context=ROW), box.seal(secret, context=ROW)
    assert first != second
    nonces = {base64.urlsafe_b64decode(s.split(":")[2] + "==")[:12] for s in (first, second)}
    assert len(nonces) == 2
    assert secret not in first and "wJalrXUtnFEMI" not in repr(box)


def _flip(sealed: str, index: int) -> str:
    prefix, body = sealed.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index] ^= 1
    return f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


@pytest.mark.parametrize("index", [0, 11, 12, 20, -1])  # nonce, ciphertext, tag
def test_tampering_is_detected(index: int) -> None:
    box = SecretBox({"k1": OLD}, primary="k1")
    sealed = box.seal("secret value", context=ROW)
    with pytest.raises(SecretBoxError, match="failed authentication"):
        box.open(_flip(sealed, index), context=ROW)


def test_context_binds_the_ciphertext_to_its_row() -> None:
    box = SecretBox({"k1": OLD}, primary="k1")
    sealed = box.seal("secret value", context=ROW)
    with pytest.raises(SecretBoxError, match="failed authentication"):
        box.open(sealed, context=b"AKIAOTHERKEY00000000")
    with pytest.raises(SecretBoxError, match="failed authentication"):
        box.open(sealed, context=b"")


def test_another_key_cannot_open_and_relabelling_does_not_help() -> None:
    sealed = SecretBox({"k1": OLD}, primary="k1").seal("secret value", context=ROW)
    other = SecretBox({"k1": NEW}, primary="k1")
    with pytest.raises(SecretBoxError, match="failed authentication"):
        other.open(sealed, context=ROW)
    both = SecretBox({"k1": OLD, "k2": NEW}, primary="k2")
    with pytest.raises(SecretBoxError, match="failed authentication"):
        both.open(sealed.replace("v1:k1:", "v1:k2:"), context=ROW)
    with pytest.raises(SecretBoxError, match="unknown key id 'k1'"):
        SecretBox({"k2": NEW}, primary="k2").open(sealed, context=ROW)


@pytest.mark.parametrize("garbage", ["", "v1", "v2:k1:AAAA", "v1:k 1:AAAA", "v1:k1:!!!!", "v1:k1:AAAA"])
def test_malformed_sealed_values(garbage: str) -> None:
    with pytest.raises(SecretBoxError):
        SecretBox({"k1": OLD}, primary="k1").open(garbage, context=ROW)


def test_rotation() -> None:
    old_box = SecretBox({"k1": OLD}, primary="k1")
    sealed_old = old_box.seal("old secret", context=ROW)
    rotated = SecretBox({"k1": OLD, "k2": NEW}, primary="k2")
    assert rotated.open(sealed_old, context=ROW) == "old secret"
    assert rotated.needs_rewrap(sealed_old)
    sealed_new = rotated.seal("new secret", context=ROW)
    assert sealed_new.startswith("v1:k2:") and not rotated.needs_rewrap(sealed_new)
    with pytest.raises(SecretBoxError, match="unknown key id 'k2'"):
        old_box.open(sealed_new, context=ROW)


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox({"k1": b"short"}, primary="k1")
    with pytest.raises(ValueError, match="primary"):
        SecretBox({"k1": OLD}, primary="k2")
    with pytest.raises(ValueError, match="key id"):
        SecretBox({"k:1": OLD}, primary="k:1")
    assert re.fullmatch(r"[0-9a-f]{12}", key_id_for(OLD)) and key_id_for(OLD) != key_id_for(NEW)


# -- master key ----------------------------------------------------------------------------------
def test_master_key_from_the_environment(tmp_path: Path) -> None:
    encoded = base64.b64encode(NEW).decode()
    assert load_master_key(tmp_path, {"IAMD_MASTER_KEY": encoded}) == NEW
    assert load_master_key(tmp_path, {"IAMD_MASTER_KEY": f" {encoded}\n"}) == NEW
    assert load_master_key(tmp_path, {"IAMD_MASTER_KEY": base64.urlsafe_b64encode(NEW).decode().rstrip("=")}) == NEW
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "IAMD_MASTER_KEY is empty"),
        ("not base64!", "IAMD_MASTER_KEY is not valid base64"),
        (base64.b64encode(b"x" * 16).decode(), "IAMD_MASTER_KEY decodes to 16 bytes, not 32"),
        (base64.b64encode(b"x" * 33).decode(), "IAMD_MASTER_KEY decodes to 33 bytes, not 32"),
    ],
)
def test_malformed_environment_keys_are_explained_without_echoing(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(MasterKeyError, match=re.escape(message)) as caught:
        load_master_key(tmp_path, {"IAMD_MASTER_KEY": value})
    assert "openssl rand -base64 32" in str(caught.value)
    assert not value or value not in str(caught.value)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = load_master_key(data_dir, {})
    path = data_dir / "master.key"
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) & 0o077 == 0
    assert base64.b64decode(path.read_text()) == key
    assert load_master_key(data_dir, {}) == key
    assert sorted(p.name for p in data_dir.iterdir()) == ["master.key"]  # no temporary files left


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_master_key_file_is_created_once_under_concurrency(tmp_path: Path) -> None:
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(load_master_key(tmp_path, {}))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    path.write_text(base64.b64encode(OLD).decode())
    path.chmod(mode)
    with pytest.raises(MasterKeyError, match=f"mode {mode:04o}.*chmod 600"):
        load_master_key(tmp_path, {})
    path.chmod(0o400)
    assert load_master_key(tmp_path, {}) == OLD


def test_a_corrupt_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(b"\xff\xfe")
    path.chmod(0o600)
    with pytest.raises(MasterKeyError, match="not base64 text"):
        load_master_key(tmp_path, {})
    path.write_text("c2hvcnQ=")
    with pytest.raises(MasterKeyError, match="decodes to 5 bytes"):
        load_master_key(tmp_path, {})


# -- identifiers ---------------------------------------------------------------------------------
accounts = st.integers(0, 999_999_999_999).map(lambda n: f"{n:012d}")


@given(accounts, st.sampled_from(["AKIA", "ASIA"]))
def test_access_key_ids_encode_their_account(account: str, prefix: str) -> None:
    key_id = new_access_key_id(account_id=account, prefix=prefix)
    assert re.fullmatch(rf"{prefix}[A-Z2-7]{{16}}", key_id)
    assert key_id[4] in "QRSTUVWXYZ234567"  # the current format's high bit, as in AWS's keys
    assert account_from_access_key_id(key_id) == account


def test_the_published_decoding_example() -> None:
    # The widely reproduced example of the (unofficial) encoding, AWS "Manage access keys for IAM users".
    assert account_from_access_key_id("ASIAY34FZKBOKMUTVV7A") == "609629065308"


def test_key_ids_are_random() -> None:
    assert len({new_access_key_id(account_id="123456789012") for _ in range(200)}) == 200


@pytest.mark.parametrize("bad", ["AKIA", "AKIAIOSFODNN7EXAMPL", "akiaIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPL1"])
def test_malformed_key_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        account_from_access_key_id(bad)


def test_identifier_argument_validation() -> None:
    with pytest.raises(ValueError, match="12 digits"):
        new_access_key_id(account_id="12345")
    with pytest.raises(ValueError, match="12 digits"):
        new_access_key_id(account_id="\u0661" * 12)
    with pytest.raises(ValueError, match="four uppercase"):
        new_access_key_id(account_id="123456789012", prefix="AKI")
    with pytest.raises(ValueError, match="four uppercase"):
        new_unique_id("aida")


def test_secret_access_keys() -> None:
    secrets_ = {new_secret_access_key() for _ in range(200)}
    assert len(secrets_) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9/+]{40}", s) for s in secrets_)


@pytest.mark.parametrize("prefix", ["AIDA", "AROA", "AGPA", "ANPA", "AIPA"])
def test_unique_ids(prefix: str) -> None:
    ids = {new_unique_id(prefix) for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(rf"{prefix}[A-Z2-7]{{17}}", i) for i in ids)
