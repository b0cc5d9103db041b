"""Login profiles, ChangePassword and the account password policy (AWS "Set an account password policy for IAM users").

Passwords are checked against the account's policy (or the default policy while none is
set), stored only as argon2id hashes (:mod:`iamd.service.passwords`) and redacted from the
audit trail (``password``/``oldPassword``/``newPassword`` in :data:`iamd.audit.SECRET_MEMBERS`).
"""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.service.call import Call
from iamd.service.passwords import (
    DEFAULT_POLICY,
    PasswordPolicy,
    check_password,
    hash_password,
    password_matches,
    reused,
)
from iamd.store import LoginProfile, NotFound, ReadTx, Tx

from .checks import target_user_name

__all__ = [
    "account_policy",
    "change_password",
    "create_login_profile",
    "delete_account_password_policy",
    "delete_login_profile",
    "effective_policy",
    "get_account_password_policy",
    "get_login_profile",
    "update_account_password_policy",
    "update_login_profile",
]

HISTORY_KEPT = 24  # PasswordReusePrevention's maximum


def account_policy(tx: ReadTx, account: str) -> PasswordPolicy | None:
    text = tx.get_account(account).password_policy
    return PasswordPolicy.from_json(text) if text else None


def effective_policy(tx: ReadTx, account: str) -> PasswordPolicy:
    """The account's policy, or AWS's default policy while none is set."""
    return account_policy(tx, account) or DEFAULT_POLICY


def _forbidden(tx: ReadTx, account: str) -> list[str]:
    """What the default policy forbids a password to equal: the account's id and alias."""
    alias = tx.get_account(account).alias
    return [account, alias] if alias else [account]


def _check(tx: ReadTx, account: str, password: str) -> None:
    policy = account_policy(tx, account)
    check_password(policy or DEFAULT_POLICY, password, forbidden=_forbidden(tx, account) if policy is None else ())


def _profile_shape(profile: LoginProfile) -> dict[str, Any]:
    return {
        "UserName": profile.user_name,
        "CreateDate": profile.create_date,
        "PasswordResetRequired": profile.password_reset_required,
    }


def _user_name(call: Call) -> str:
    name = target_user_name(call)
    if name is None:  # the root user has no login profile through the IAM API
        raise aws.ValidationError("Must specify userName when calling with non-User credentials")
    return name


def _no_session_duration(call: Call) -> None:
    # The 2026 model's console session duration (MaxSigninSessionDuration) is not implemented
    # yet; refusing it is safer than silently ignoring a security setting.
    for member in ("MaxSigninSessionDuration", "ResetMaxSigninSessionDuration"):
        if call.params.get(member) is not None:
            raise aws.InvalidInput(f"{member} is not supported by iamd yet.")


def _has_profile(tx: ReadTx, account: str, user_name: str) -> bool:
    try:
        tx.get_login_profile(account, user_name)
    except NotFound as e:
        if e.entity == "user":
            raise
        return False
    return True


def create_login_profile(call: Call, tx: Tx) -> dict[str, Any]:
    name = tx.get_user(call.account, _user_name(call)).name
    _no_session_duration(call)
    password = call.params.get("Password")
    if password is None:  # the model lets only AssumeRoot sessions omit it (root password recovery)
        raise aws.ValidationError("Password is required to create a login profile for an IAM user.")
    if _has_profile(tx, call.account, name):
        raise aws.EntityAlreadyExists(f"Login Profile for user {name} already exists.")
    _check(tx, call.account, str(password))
    profile = tx.create_login_profile(
        call.account,
        name,
        hash_password(str(password)),
        reset_required=bool(call.params.get("PasswordResetRequired", False)),
        now=call.now,
    )
    return {"LoginProfile": _profile_shape(profile)}


def get_login_profile(call: Call, tx: ReadTx) -> dict[str, Any]:
    return {"LoginProfile": _profile_shape(tx.get_login_profile(call.account, _user_name(call)))}


def update_login_profile(call: Call, tx: Tx) -> None:
    name = str(call.params["UserName"])
    _no_session_duration(call)
    profile = tx.get_login_profile(call.account, name)
    password = call.params.get("Password")
    new_hash = None
    if password is not None:
        _check(tx, call.account, str(password))
        _check_reuse(tx, call.account, profile, str(password))
        new_hash = hash_password(str(password))
    reset = call.params.get("PasswordResetRequired")
    tx.update_login_profile(
        call.account,
        name,
        password_hash=new_hash,
        reset_required=None if reset is None else bool(reset),
        now=call.now,
        keep_history=HISTORY_KEPT,
    )


def delete_login_profile(call: Call, tx: Tx) -> None:
    tx.delete_login_profile(call.account, _user_name(call))


def _check_reuse(tx: ReadTx, account: str, profile: LoginProfile, password: str) -> None:
    policy = account_policy(tx, account)
    prevention = policy.PasswordReusePrevention if policy else 0
    if reused((profile.password_hash, *profile.password_history), password, prevention):
        raise aws.PasswordPolicyViolation(f"Password should not be one of your previous {prevention} passwords")


def change_password(call: Call, tx: Tx) -> None:
    """An IAM user changes their own password (AWS "Set an account password policy for IAM users"); clears
    PasswordResetRequired.
    """
    user = call.caller.user
    if user is None:
        raise aws.InvalidUserType("Only IAM users can change their own password with ChangePassword.")
    profile = tx.get_login_profile(call.account, user.name)
    if not password_matches(profile.password_hash, str(call.params["OldPassword"])):
        raise aws.AccessDenied("The old password is incorrect.")
    new = str(call.params["NewPassword"])
    _check(tx, call.account, new)
    _check_reuse(tx, call.account, profile, new)
    tx.update_login_profile(
        call.account, user.name, password_hash=hash_password(new), reset_required=False, now=call.now,
        keep_history=HISTORY_KEPT,
    )  # fmt: skip


# -- the account password policy ------------------------------------------------------------
def _no_policy(account: str) -> aws.NoSuchEntity:
    return aws.NoSuchEntity(f"The Password Policy with domain name {account} cannot be found.")


def update_account_password_policy(call: Call, tx: Tx) -> None:
    """A full replace: omitted fields take their defaults (AWS "Set an account password policy for IAM users")."""
    policy = PasswordPolicy.from_params(call.params)
    tx.set_password_policy(call.account, policy.to_json())


def get_account_password_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    policy = account_policy(tx, call.account)
    if policy is None:
        raise _no_policy(call.account)
    return {"PasswordPolicy": policy.to_wire()}


def delete_account_password_policy(call: Call, tx: Tx) -> None:
    if account_policy(tx, call.account) is None:
        raise _no_policy(call.account)
    tx.set_password_policy(call.account, None)
