"""Console sign-in as a service function (iamd.service.signin), on a real server's backend."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta

import pyotp
import pytest
from botocore.client import BaseClient

from iamd.service.signin import (
    GENERIC_MESSAGE,
    SigninAttempt,
    SigninFailure,
    SigninResult,
    SigninService,
    ThrottlePolicy,
)
from tests.api.clock import MovableClock
from tests.api.server import RunningServer

PASSWORD = "Sign1n-Secret-XYZ!"


def _user(iam: BaseClient, name: str, *, reset: bool = False) -> None:
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD, PasswordResetRequired=reset)


def _events(server: RunningServer, user: str | None = None) -> list[dict[str, object]]:
    with server.backend.store.read() as tx:
        page = tx.list_audit_events(server.account_id, event_name="ConsoleLogin", user_name=user, max_items=1000)
    return [json.loads(e.record) for e in page.items]


def test_success_opens_a_session_and_records_the_use(api_server: RunningServer, iam: BaseClient, acct: str) -> None:
    _user(iam, "Ana")
    result = api_server.backend.sign_in(SigninAttempt(acct, "ana", PASSWORD, source_ip="198.51.100.1"))
    assert result.ok and result.failure is None and result.public_message is None
    session = result.session
    assert session is not None and session.user_name == "Ana" and session.account_id == acct
    assert not session.password_change_only and session.allows("iam:ListUsers") and not session.mfa_used
    assert session.expires - session.created == timedelta(hours=12)
    assert session.session_id not in repr(session)
    # PasswordLastUsed is visible at once: the entity cache was dropped
    assert isinstance(iam.get_user(UserName="Ana")["User"]["PasswordLastUsed"], datetime)
    (event,) = _events(api_server, "Ana")
    assert event["eventSource"] == "signin.amazonaws.com" and event["eventType"] == "AwsConsoleSignIn"
    assert event["responseElements"] == {"ConsoleLogin": "Success"} and "errorMessage" not in event
    assert event["additionalEventData"] == {"LoginTo": f"/console?account={acct}", "MobileVersion": "No",
                                            "MFAUsed": "No"}  # fmt: skip
    assert event["sourceIPAddress"] == "198.51.100.1"
    assert event["userIdentity"]["type"] == "IAMUser" and event["userIdentity"]["userName"] == "Ana"


def test_alias_signs_in_too(api_server: RunningServer, iam: BaseClient) -> None:
    _user(iam, "Aliased")
    iam.create_account_alias(AccountAlias="signin-corp")
    try:
        assert api_server.backend.sign_in(SigninAttempt("signin-corp", "Aliased", PASSWORD)).ok
    finally:
        iam.delete_account_alias(AccountAlias="signin-corp")


@pytest.mark.parametrize(
    ("account", "user", "password", "reason"),
    [
        ("999999999999", "Bea", PASSWORD, SigninFailure.UNKNOWN_ACCOUNT),
        ("no-such-alias", "Bea", PASSWORD, SigninFailure.UNKNOWN_ACCOUNT),
        (None, "Nobody", PASSWORD, SigninFailure.UNKNOWN_USER),
        (None, "NoProfile", PASSWORD, SigninFailure.NO_LOGIN_PROFILE),
        (None, "Bea", "Wrong-password-1!", SigninFailure.WRONG_PASSWORD),
    ],
)
def test_failures_say_why_but_show_nothing(
    api_server: RunningServer, iam: BaseClient, acct: str, account: str | None, user: str, password: str,
    reason: SigninFailure,
) -> None:  # fmt: skip
    if not any(u["UserName"] == "Bea" for u in iam.list_users()["Users"]):
        _user(iam, "Bea")
        iam.create_user(UserName="NoProfile")
    ip = f"203.0.113.{list(SigninFailure).index(reason)}"
    result = api_server.backend.sign_in(SigninAttempt(account or acct, user, password, source_ip=ip))
    assert (result.session, result.failure) == (None, reason)
    assert result.public_message == GENERIC_MESSAGE  # a browser is never told which part was wrong
    event = next(e for e in _events(api_server) if e["sourceIPAddress"] == ip)
    assert event["responseElements"] == {"ConsoleLogin": "Failure"}
    assert event["errorMessage"] == "Failed authentication" and "errorCode" not in event
    assert event["additionalEventData"]["iamdFailureReason"] == reason.value  # type: ignore[index]
    if reason in (SigninFailure.UNKNOWN_USER, SigninFailure.UNKNOWN_ACCOUNT):
        # an unknown user name may be a password typed in the wrong box: CloudTrail hides it
        assert event["userIdentity"]["userName"] == "HIDDEN_DUE_TO_SECURITY_REASONS"  # type: ignore[index]


def test_reset_required_gets_a_password_change_only_session(
    api_server: RunningServer, iam: BaseClient, acct: str
) -> None:
    _user(iam, "Resetter", reset=True)
    session = api_server.backend.sign_in(SigninAttempt(acct, "Resetter", PASSWORD)).session
    assert session is not None and session.password_change_only
    assert session.allows("iam:ChangePassword") and session.allows("iam:GetAccountPasswordPolicy")
    assert not session.allows("iam:ListUsers")


def test_throttling_locks_then_recovers(
    api_server: RunningServer, iam: BaseClient, server_clock: MovableClock, acct: str
) -> None:
    _user(iam, "Target")
    backend = api_server.backend
    limit = backend.signin_throttle.user_failures
    for i in range(limit):
        wrong = SigninAttempt(acct, "Target", f"Wrong-{i}!", source_ip=f"192.0.2.{i}")
        assert backend.sign_in(wrong).failure is SigninFailure.WRONG_PASSWORD
    # locked: even the right password is refused without being checked
    right = SigninAttempt(acct, "Target", PASSWORD, source_ip="192.0.2.99")
    assert backend.sign_in(right).failure is SigninFailure.THROTTLED
    with server_clock.moved(backend.signin_throttle.lockout + timedelta(seconds=1)):
        assert backend.sign_in(right).ok
        # a success clears the user's counter
        assert backend.sign_in(replace(right, password="Wrong-again!")).failure is SigninFailure.WRONG_PASSWORD
        assert backend.sign_in(right).ok


def test_throttling_per_source_address(
    api_server: RunningServer, iam: BaseClient, server_clock: MovableClock, acct: str
) -> None:
    # a second service on the same store, with its own policy: counters live in the store
    service = SigninService(
        api_server.backend.store, server_clock, throttle=ThrottlePolicy(user_failures=100, address_failures=3)
    )
    _user(iam, "Sprayed")
    for name in ("Sprayed", "Nobody1", "Nobody2"):
        assert service.sign_in(SigninAttempt(acct, name, "Spray-1234!", source_ip="198.51.100.66")).failure in (
            SigninFailure.WRONG_PASSWORD, SigninFailure.UNKNOWN_USER,
        )  # fmt: skip
    locked = service.sign_in(SigninAttempt(acct, "Sprayed", PASSWORD, source_ip="198.51.100.66"))
    assert locked.failure is SigninFailure.THROTTLED
    assert service.sign_in(SigninAttempt(acct, "Sprayed", PASSWORD, source_ip="198.51.100.67")).ok


class _OneDevice:
    """A fake MFA edge: Mfa-user has a device whose only valid code is 123456."""

    def has_device(self, account: str, user_name: str | None) -> bool:
        return user_name == "MfaUser"

    def verify_code(self, account: str, user_name: str | None, code: str, now: datetime) -> bool:
        return user_name == "MfaUser" and code == "123456"


def test_mfa_branch_with_a_fake_device(
    api_server: RunningServer, iam: BaseClient, server_clock: MovableClock, acct: str
) -> None:
    _user(iam, "MfaUser")
    service = SigninService(api_server.backend.store, server_clock, mfa=_OneDevice())
    needs = service.sign_in(SigninAttempt(acct, "MfaUser", PASSWORD))
    assert needs.failure is SigninFailure.MFA_REQUIRED and needs.public_message != GENERIC_MESSAGE
    assert service.sign_in(SigninAttempt(acct, "MfaUser", PASSWORD, "000000")).failure is SigninFailure.WRONG_MFA_CODE
    done: SigninResult = service.sign_in(SigninAttempt(acct, "MfaUser", PASSWORD, "123456"))
    assert done.session is not None and done.session.mfa_used
    assert _events(api_server, "MfaUser")[0]["additionalEventData"]["MFAUsed"] == "Yes"  # type: ignore[index]


def test_mfa_with_a_real_virtual_device(
    api_server: RunningServer, iam: BaseClient, server_clock: MovableClock, acct: str
) -> None:
    """The backend's sign-in asks the account's real virtual MFA devices (iamd.service.mfa_codes):
    a user with an enabled device must give a current code, and a code is never accepted twice."""
    _user(iam, "RealMfa")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="RealMfa")["VirtualMFADevice"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode("ascii"))
    step = int(server_clock().timestamp()) // 30
    iam.enable_mfa_device(
        UserName="RealMfa", SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.generate_otp(step - 1), AuthenticationCode2=totp.generate_otp(step),
    )  # fmt: skip
    sign_in = api_server.backend.sign_in
    assert sign_in(SigninAttempt(acct, "RealMfa", PASSWORD)).failure is SigninFailure.MFA_REQUIRED
    # the right password of a user with a device is no failed ConsoleLogin: CloudTrail's CheckMfa
    assert _events(api_server, "RealMfa") == []
    with api_server.backend.store.read() as tx:
        (check,) = tx.list_audit_events(acct, event_name="CheckMfa", user_name="RealMfa", max_items=10).items
    assert json.loads(check.record)["responseElements"] == {"CheckMfa": "Success"}
    wrong = f"{(int(totp.generate_otp(step + 1)) + 1) % 1_000_000:06d}"
    assert sign_in(SigninAttempt(acct, "RealMfa", PASSWORD, wrong)).failure is SigninFailure.WRONG_MFA_CODE
    code = totp.generate_otp(step + 1)
    done = sign_in(SigninAttempt(acct, "RealMfa", PASSWORD, code))
    assert done.session is not None and done.session.mfa_used
    replayed = sign_in(SigninAttempt(acct, "RealMfa", PASSWORD, code))
    assert replayed.failure is SigninFailure.WRONG_MFA_CODE
    report = iam.generate_credential_report() and iam.get_credential_report()["Content"].decode()
    header, *rows = report.splitlines()
    row = dict(zip(header.split(","), next(r for r in rows if r.startswith("RealMfa,")).split(","), strict=True))
    assert row["mfa_active"] == "true"


def test_no_attempt_leaves_the_password_anywhere(api_server: RunningServer, iam: BaseClient, acct: str) -> None:
    secret = "Never-1n-the-trail!"
    _user(iam, "Careful")
    api_server.backend.sign_in(SigninAttempt(acct, "Careful", secret))  # wrong
    api_server.backend.sign_in(SigninAttempt(acct, secret, PASSWORD))  # password typed as the user name
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    records = json.dumps(_events(api_server))
    assert secret not in records and PASSWORD not in records
    db = api_server.backend.store.engine.url.database  # type: ignore[attr-defined]
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert secret.lower() not in dump.lower() and PASSWORD.lower() not in dump.lower()
    assert secret not in repr(SigninAttempt(acct, "Careful", secret, "123456"))


def test_concurrent_failures_are_all_counted(api_server: RunningServer, server_clock: MovableClock, acct: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    service = SigninService(api_server.backend.store, server_clock, throttle=ThrottlePolicy(user_failures=100))
    attempt = SigninAttempt(acct, "Concurrent", "Wrong-pass-1!", source_ip="198.51.100.200")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: service.sign_in(attempt), range(4)))
    assert all(r.failure is SigninFailure.UNKNOWN_USER for r in results)
    with api_server.backend.store.read() as tx:
        counted = tx.get_signin_throttle("ip:198.51.100.200")
    assert counted is not None and counted.failures == 4
