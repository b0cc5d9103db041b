"""verify_mfa_code (the verifier STS and console sign-in call) on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pyotp
import pytest

from iamd.crypto import SecretBox
from iamd.service.mfa_codes import (
    MfaCodeInvalid,
    MfaDeviceNotAssigned,
    mfa_seed_context,
    new_seed,
    verify_mfa_code,
)
from iamd.store import Store

BOX = SecretBox({"test": bytes(range(32))}, "test")
NOW = datetime(2024, 1, 15, 12, 0, 10, tzinfo=UTC)
STEP = int(NOW.timestamp()) // 30


def _device(store: Store, account: str, user: str, name: str) -> tuple[str, pyotp.TOTP]:
    seed = new_seed()
    serial = f"arn:aws:iam::{account}:mfa/{name}"
    with store.transaction() as tx:
        tx.create_user(account, user)
        sealed = BOX.seal(seed, context=mfa_seed_context(serial)).encode()
        tx.create_virtual_mfa_device(account, name, serial=serial, seed_sealed=sealed)
        tx.enable_mfa_device(account, serial, user, step=STEP - 1, drift=0, when=NOW)
    return serial, pyotp.TOTP(seed)


def test_verify_consumes_codes(store: Store, account: str) -> None:
    serial, totp = _device(store, account, "alice", "alice")
    with store.transaction() as tx:
        done = verify_mfa_code(tx, BOX, account, "alice", serial, totp.generate_otp(STEP), NOW)
    assert (done.serial_number, done.user_name, done.step, done.at) == (serial, "alice", STEP, NOW)
    with store.transaction() as tx, pytest.raises(MfaCodeInvalid):
        verify_mfa_code(tx, BOX, account, "alice", serial, totp.generate_otp(STEP), NOW)
    with store.transaction() as tx, pytest.raises(MfaDeviceNotAssigned):
        verify_mfa_code(tx, BOX, account, "bob", serial, totp.generate_otp(STEP + 1), NOW)
    with store.transaction() as tx, pytest.raises(MfaDeviceNotAssigned):
        verify_mfa_code(tx, BOX, account, "alice", serial + "x", totp.generate_otp(STEP + 1), NOW)


def test_a_code_is_accepted_once_under_concurrency(store: Store, account: str) -> None:
    serial, totp = _device(store, account, "carol", "carol")
    code = totp.generate_otp(STEP + 1)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            with store.transaction() as tx:
                verify_mfa_code(tx, BOX, account, "carol", serial, code, NOW)
            result = "ok"
        except MfaCodeInvalid:
            result = "replay"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "replay", "replay", "replay"]
