"""Console sign-in as a service function (the web console will call it; no HTTP endpoint yet).

``SigninService.sign_in`` takes an account id or alias, a user name, a password and, when
the user has an MFA device, a code. It answers a :class:`ConsoleSession`, or the precise
:class:`SigninFailure` — for the audit trail and the troubleshooter. What a browser would
show stays generic (:attr:`SigninResult.public_message`), as AWS's console does.

Every attempt, success or failure, becomes one CloudTrail ``ConsoleLogin`` event
(eventSource ``signin.amazonaws.com``, eventType ``AwsConsoleSignIn``,
``responseElements {"ConsoleLogin": "Success"|"Failure"}``, ``errorMessage "Failed
authentication"`` on failure), written in the same transaction as the throttle counters. The
password and MFA code never reach a record, a log or a repr; a user name nobody has is
recorded as ``HIDDEN_DUE_TO_SECURITY_REASONS`` (it may be a password typed in the wrong box),
as CloudTrail does.

Throttling (:class:`ThrottlePolicy`): failed attempts are counted per user name and per
source address in fixed windows, in the store (so several server processes agree); reaching
the limit locks the key until the lockout ends, and a locked attempt is refused without
checking the password. A success clears the user's counter.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from iamd.audit import HIDDEN
from iamd.service.mfa_port import MfaDevices, NoMfaDevices
from iamd.service.passwords import DEFAULT_POLICY, PasswordPolicy, hash_password, is_expired, password_matches
from iamd.store import LoginProfile, NotFound, SigninThrottle, Store, User, audit_event_from_record
from iamd.store.logins import user_throttle_key

__all__ = [
    "GENERIC_MESSAGE",
    "PASSWORD_CHANGE_ACTIONS",
    "ConsoleSession",
    "MfaDevices",
    "NoMfaDevices",
    "SigninAttempt",
    "SigninFailure",
    "SigninResult",
    "SigninService",
    "ThrottlePolicy",
]

GENERIC_MESSAGE = "Your authentication information is incorrect. Please try again."
MFA_PROMPT = "Enter the MFA code from your authenticator app to complete sign-in."
SESSION_DURATION = timedelta(hours=12)  # AWS's console session for IAM users
PASSWORD_CHANGE_ACTIONS = frozenset({"iam:ChangePassword", "iam:GetAccountPasswordPolicy"})


class SigninFailure(StrEnum):
    UNKNOWN_ACCOUNT = "unknown-account"
    UNKNOWN_USER = "unknown-user"
    NO_LOGIN_PROFILE = "no-login-profile"
    WRONG_PASSWORD = "wrong-password"
    MFA_REQUIRED = "mfa-required"
    WRONG_MFA_CODE = "wrong-mfa-code"
    PASSWORD_EXPIRED = "password-expired"  # with HardExpiry: only an administrator can reset it
    THROTTLED = "throttled"


# Failures that count towards the throttle (MFA_REQUIRED is the normal second step).
_COUNTED = frozenset(
    {
        SigninFailure.UNKNOWN_ACCOUNT,
        SigninFailure.UNKNOWN_USER,
        SigninFailure.NO_LOGIN_PROFILE,
        SigninFailure.WRONG_PASSWORD,
        SigninFailure.WRONG_MFA_CODE,
    }
)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    user_failures: int = 5  # per user name and window
    address_failures: int = 20  # per source address and window
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class SigninAttempt:
    account: str  # account id or alias
    user_name: str
    password: str = field(repr=False)
    mfa_code: str | None = field(default=None, repr=False)
    source_ip: str = "127.0.0.1"
    user_agent: str = ""
    root: bool = False  # the account's root user (no user name; its console password is set by an operator)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    session_id: str = field(repr=False)
    account_id: str
    user_id: str
    user_name: str
    user_arn: str
    created: datetime
    expires: datetime
    mfa_used: bool
    password_change_only: bool  # PasswordResetRequired, or expired without HardExpiry
    root: bool = False

    def allows(self, action: str) -> bool:
        """A session that must change its password may do only that (and read the policy)."""
        return not self.password_change_only or action in PASSWORD_CHANGE_ACTIONS


@dataclass(frozen=True, slots=True)
class SigninResult:
    session: ConsoleSession | None
    failure: SigninFailure | None

    @property
    def ok(self) -> bool:
        return self.session is not None

    @property
    def public_message(self) -> str | None:
        """What a browser may be told: never which part was wrong."""
        if self.failure is None:
            return None
        return MFA_PROMPT if self.failure is SigninFailure.MFA_REQUIRED else GENERIC_MESSAGE


@functools.cache
def _decoy_hash() -> str:
    """Verified against when there is no password to check, so every attempt costs the same."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class _Found:
    account: str | None
    user: User | None
    profile: LoginProfile | None
    policy: PasswordPolicy
    user_lock: SigninThrottle | None
    address_lock: SigninThrottle | None
    root_hash: str | None = None


class SigninService:
    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        *,
        mfa: MfaDevices | None = None,
        throttle: ThrottlePolicy | None = None,
        default_account: str = "",
        partition: str = "aws",
        on_password_used: Callable[[User], None] = lambda user: None,
        root_password: Callable[[str], str | None] = lambda account: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._mfa = mfa or NoMfaDevices()
        self._throttle = throttle or ThrottlePolicy()
        self._default_account = default_account
        self._partition = partition  # root's ARN names it (docs/iam-api.md, "Regions and partitions")
        self._on_password_used = on_password_used  # the store publishes the write itself (iamd.store.changes)
        self._root_password = root_password  # account id -> the root user's console password hash, if set

    def sign_in(self, attempt: SigninAttempt) -> SigninResult:
        now = self._clock()
        found = self._find(attempt)
        failure, change_only, mfa_used = self._judge(attempt, found, now)
        session = None
        if failure is None and attempt.root:
            assert found.account is not None
            session = ConsoleSession(
                session_id=secrets.token_urlsafe(32), account_id=found.account, user_id=found.account,
                user_name="", user_arn=f"arn:{self._partition}:iam::{found.account}:root", created=now,
                expires=now + SESSION_DURATION, mfa_used=False, password_change_only=False, root=True,
            )  # fmt: skip
        elif failure is None:
            assert found.user is not None and found.account is not None
            session = ConsoleSession(
                session_id=secrets.token_urlsafe(32), account_id=found.account, user_id=found.user.id,
                user_name=found.user.name, user_arn=found.user.arn, created=now, expires=now + SESSION_DURATION,
                mfa_used=mfa_used, password_change_only=change_only,
            )  # fmt: skip
        self._record(attempt, found, now, failure, mfa_used)
        if session is not None and found.user is not None:
            self._store.record_password_use(found.user.id, now)
            self._on_password_used(found.user)
        return SigninResult(session, failure)

    # -- steps ---------------------------------------------------------------------------
    def _user_key(self, attempt: SigninAttempt, account: str | None) -> str:
        # "<root>" is no IAM user name (names have no "<"): root's failures are counted apart.
        return user_throttle_key(account or f"?{attempt.account}", "<root>" if attempt.root else attempt.user_name)

    def _find(self, attempt: SigninAttempt) -> _Found:
        with self._store.read() as tx:
            account = next(
                (a for a in tx.list_accounts() if attempt.account in (a.id, a.alias) and attempt.account), None
            )
            user = profile = None
            root_hash = None
            policy = DEFAULT_POLICY
            if account is not None and attempt.root:
                root_hash = self._root_password(account.id)
            elif account is not None:
                if account.password_policy:
                    policy = PasswordPolicy.from_json(account.password_policy)
                try:
                    user = tx.get_user(account.id, attempt.user_name)
                    profile = tx.get_login_profile(account.id, user.name)
                except NotFound:
                    pass
            acct = account.id if account else None
            user_lock = tx.get_signin_throttle(self._user_key(attempt, acct))
            address_lock = tx.get_signin_throttle(f"ip:{attempt.source_ip}")
        return _Found(acct, user, profile, policy, user_lock, address_lock, root_hash)

    def _judge(self, attempt: SigninAttempt, found: _Found, now: datetime) -> tuple[SigninFailure | None, bool, bool]:
        """(failure, password-change-only, MFA used)."""
        if any(t is not None and t.locked_until is not None and now < t.locked_until
               for t in (found.user_lock, found.address_lock)):  # fmt: skip
            return SigninFailure.THROTTLED, False, False
        stored = found.profile.password_hash if found.profile else found.root_hash or _decoy_hash()
        matches = password_matches(stored, attempt.password)
        if found.account is None:
            return SigninFailure.UNKNOWN_ACCOUNT, False, False
        if attempt.root:
            # The password policy never applies to the root user (AWS "Set an account password policy for IAM
            # users"); root MFA devices are not modelled (iamd.service.mfa_port).
            if found.root_hash is None:
                return SigninFailure.NO_LOGIN_PROFILE, False, False
            return (None if matches else SigninFailure.WRONG_PASSWORD), False, False
        if found.user is None:
            return SigninFailure.UNKNOWN_USER, False, False
        if found.profile is None:
            return SigninFailure.NO_LOGIN_PROFILE, False, False
        if not matches:
            return SigninFailure.WRONG_PASSWORD, False, False
        expired = is_expired(found.policy, found.profile.password_changed, now)
        if expired and found.policy.HardExpiry:
            return SigninFailure.PASSWORD_EXPIRED, False, False
        mfa_used = False
        if self._mfa.has_device(found.account, found.user.name):
            if not attempt.mfa_code:
                return SigninFailure.MFA_REQUIRED, False, False
            if not self._mfa.verify_code(found.account, found.user.name, attempt.mfa_code, now):
                return SigninFailure.WRONG_MFA_CODE, False, False
            mfa_used = True
        return None, found.profile.password_reset_required or expired, mfa_used

    def _record(
        self, attempt: SigninAttempt, found: _Found, now: datetime, failure: SigninFailure | None, mfa_used: bool
    ) -> None:
        """Throttle counters and the ConsoleLogin event, in one transaction."""
        user_key = self._user_key(attempt, found.account)
        address_key = f"ip:{attempt.source_ip}"
        with self._store.transaction() as tx:
            if failure in _COUNTED:
                # Read again under the writer lock: concurrent failures are all counted.
                for key, limit in ((user_key, self._throttle.user_failures),
                                   (address_key, self._throttle.address_failures)):  # fmt: skip
                    tx.put_signin_throttle(self._count(tx.get_signin_throttle(key), key, now, limit))
            elif failure is None and found.user_lock is not None:
                tx.clear_signin_throttle(user_key)
            tx.add_audit_event(audit_event_from_record(self._event(attempt, found, now, failure, mfa_used)))

    def _count(self, current: SigninThrottle | None, key: str, now: datetime, limit: int) -> SigninThrottle:
        if current is None or now - current.window_start >= self._throttle.window:
            current = SigninThrottle(key, 0, now)
        failures = current.failures + 1
        locked = now + self._throttle.lockout if failures >= limit else current.locked_until
        return SigninThrottle(key, failures, current.window_start, locked)

    def _event(
        self, attempt: SigninAttempt, found: _Found, now: datetime, failure: SigninFailure | None, mfa_used: bool
    ) -> dict[str, Any]:
        account = found.account or self._default_account
        identity: dict[str, Any]
        if attempt.root:
            identity = {"type": "Root", "principalId": account, "arn": f"arn:{self._partition}:iam::{account}:root",
                        "accountId": account, "accessKeyId": ""}  # fmt: skip
        elif found.user is not None:
            user = found.user
            identity = {"type": "IAMUser", "principalId": user.id, "arn": user.arn, "accountId": account,
                        "userName": user.name}  # fmt: skip
        else:
            identity = {"type": "IAMUser", "accountId": account, "accessKeyId": "", "userName": HIDDEN}
        record: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "awsRegion": "us-east-1",
            "sourceIPAddress": attempt.source_ip,
            "userAgent": attempt.user_agent,
            "requestParameters": None,
            "responseElements": {"ConsoleLogin": "Failure" if failure else "Success"},
            "additionalEventData": {
                "LoginTo": f"/console?account={account}",
                "MobileVersion": "No",
                "MFAUsed": "Yes" if mfa_used else "No",
            },
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsConsoleSignIn",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
            "redacted": [],
        }
        if failure is SigninFailure.MFA_REQUIRED:
            # The password was right and the flow asks for a code: CloudTrail's CheckMfa sign-in event
            # (AWS CloudTrail User Guide, "AWS Management Console sign-in events"), not a failed ConsoleLogin.
            record.update(eventName="CheckMfa", responseElements={"CheckMfa": "Success"},
                          additionalEventData={"MfaType": "Virtual MFA"})  # fmt: skip
        elif failure is not None:
            record["errorMessage"] = "Failed authentication"
            # iamd's addition for the troubleshooter: the precise reason (never the password).
            record["additionalEventData"]["iamdFailureReason"] = failure.value
        return record
