"""Login profiles, sign-in throttles and credential reports (iamd.store.logins), on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from iamd.store import AlreadyExists, Conflict, ConflictReason, NotFound, SigninThrottle, Store
from iamd.store.logins import user_throttle_key
from tests.store.helpers import OTHER_ACCOUNT, START

HASH1, HASH2, HASH3 = "$argon2id$one", "$argon2id$two", "$argon2id$three"  # opaque to the store


def test_login_profile_lifecycle(store: Store, account: str) -> None:
    with store.transaction() as tx:
        bob = tx.create_user(account, "Bob")
        created = tx.create_login_profile(account, "bob", HASH1, reset_required=True, now=START)
        generation = tx.generation()
    assert (created.user_id, created.user_name, created.create_date, created.password_changed) == (
        bob.id, "Bob", START, START,
    )  # fmt: skip
    assert created.password_reset_required and created.password_history == ()
    assert HASH1 not in repr(created)
    assert generation > 0  # an entity change
    with store.transaction() as tx, pytest.raises(AlreadyExists):
        tx.create_login_profile(account, "Bob", HASH2, reset_required=False, now=START)
    later = START + timedelta(days=3)
    with store.transaction() as tx:
        tx.update_login_profile(account, "Bob", password_hash=HASH2, now=later, keep_history=2)
        tx.update_login_profile(account, "Bob", password_hash=HASH3, reset_required=False, now=later, keep_history=2)
        tx.update_login_profile(account, "Bob", reset_required=True, now=later + timedelta(days=1))
    with store.read() as r:
        got = r.get_login_profile(account, "BOB")
        assert got.password_hash == HASH3 and got.password_history == (HASH2, HASH1)
        assert got.create_date == START and got.password_changed == later and got.password_reset_required
        assert r.list_login_profiles(account) == (got,)
        assert r.list_login_profiles(OTHER_ACCOUNT) == ()
        with pytest.raises(NotFound) as e:
            r.get_login_profile(account, "nobody")
        assert e.value.entity == "user"
    with store.transaction() as tx:
        with pytest.raises(Conflict) as c:
            tx.delete_user(account, "Bob")
        assert c.value.reason is ConflictReason.HAS_LOGIN_PROFILE
    with store.transaction() as tx:
        tx.delete_login_profile(account, "Bob")
        with pytest.raises(NotFound) as e:
            tx.get_login_profile(account, "Bob")
        assert e.value.entity == "login profile"
        tx.delete_user(account, "Bob")


def test_history_is_capped(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "Ann")
        tx.create_login_profile(account, "Ann", "h0", reset_required=False, now=START)
        for i in range(1, 6):
            tx.update_login_profile(account, "Ann", password_hash=f"h{i}", now=START, keep_history=3)
        assert tx.get_login_profile(account, "Ann").password_history == ("h4", "h3", "h2")


def test_throttles_and_reports_bump_no_generation(store: Store, account: str) -> None:
    key = user_throttle_key(account, "Bob")
    assert "bob" not in key.lower().removeprefix("user:")  # the typed name is hashed
    assert key == user_throttle_key(account, "BOB")
    before = store.generation()
    with store.transaction() as tx:
        assert tx.get_signin_throttle(key) is None
        tx.put_signin_throttle(SigninThrottle(key, 1, START))
        tx.put_signin_throttle(SigninThrottle(key, 2, START, START + timedelta(minutes=15)))
        report = tx.put_credential_report(account, START, b"user,arn\n")
    assert store.generation() == before
    with store.read() as r:
        assert r.get_signin_throttle(key) == SigninThrottle(key, 2, START, START + timedelta(minutes=15))
        assert r.get_credential_report(account) == report and report.content == b"user,arn\n"
        assert r.get_credential_report(OTHER_ACCOUNT) is None
    with store.transaction() as tx:
        tx.clear_signin_throttle(key)
        tx.put_credential_report(account, START + timedelta(hours=5), b"new")
    with store.read() as r:
        assert r.get_signin_throttle(key) is None
        got = r.get_credential_report(account)
        assert got is not None and (got.generated_time, got.content) == (START + timedelta(hours=5), b"new")
