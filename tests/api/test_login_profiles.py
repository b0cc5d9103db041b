"""Login profiles and ChangePassword (AWS "Set an account password policy for IAM users"), with unmodified boto3 against
a real server.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, failure, policy
from tests.api.server import RunningServer

REUSED = "Password should not be one of your previous 2 passwords"
GOOD = "Corr3ct-Horse!"  # meets the default policy: 8+ characters, 3 of 4 classes


def test_login_profile_lifecycle(iam: BaseClient) -> None:
    iam.create_user(UserName="Lena")
    created = iam.create_login_profile(UserName="Lena", Password=GOOD, PasswordResetRequired=True)["LoginProfile"]
    assert set(created) == {"UserName", "CreateDate", "PasswordResetRequired"}
    assert created["UserName"] == "Lena" and created["PasswordResetRequired"] is True
    assert isinstance(created["CreateDate"], datetime)
    got = iam.get_login_profile(UserName="lena")["LoginProfile"]
    assert got == created
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="Lena", Password=GOOD)
    assert failure(e) == (409, "EntityAlreadyExists", "Login Profile for user Lena already exists.")
    iam.update_login_profile(UserName="Lena", PasswordResetRequired=False)
    assert iam.get_login_profile(UserName="Lena")["LoginProfile"]["PasswordResetRequired"] is False
    iam.update_login_profile(UserName="Lena", Password="An0ther-one!")
    # CreateDate is the first password's creation (AWS "Set an account password policy for IAM users"), not the last
    # change
    assert iam.get_login_profile(UserName="Lena")["LoginProfile"]["CreateDate"] == created["CreateDate"]
    # DeleteUser refuses while a login profile exists, as AWS does (IAM API "CreateUser", "UpdateUser", "DeleteUser")
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="Lena")
    assert failure(e) == (409, "DeleteConflict", "Cannot delete entity, must delete login profile first.")
    iam.delete_login_profile(UserName="Lena")
    with pytest.raises(ClientError) as e:
        iam.get_login_profile(UserName="Lena")
    assert failure(e) == (404, "NoSuchEntity", "Login Profile for User Lena cannot be found.")
    for call in (iam.delete_login_profile, lambda **kw: iam.update_login_profile(PasswordResetRequired=True, **kw)):
        with pytest.raises(ClientError) as e:
            call(UserName="Lena")
        assert failure(e) == (404, "NoSuchEntity", "Login Profile for User Lena cannot be found.")
    iam.delete_user(UserName="Lena")
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="Nobody", Password=GOOD)
    assert failure(e) == (404, "NoSuchEntity", "The user with name Nobody cannot be found.")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        # AWS's default policy (AWS "Set an account password policy for IAM users"): at least 8 characters and 3 of 4
        # character classes
        ("Sh0rt!", "Password should have a minimum length of 8"),
        (
            "alllowercase",
            "Password should contain at least 3 of the following: uppercase letters, lowercase letters, numbers "
            "and symbols",
        ),
    ],
)
def test_default_policy_applies_when_none_is_set(iam: BaseClient, password: str, message: str) -> None:
    iam.create_user(UserName=f"Def{len(password)}")
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=f"Def{len(password)}", Password=password)
    assert failure(e) == (400, "PasswordPolicyViolation", message)


def test_default_policy_refuses_the_account_id(iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="Acctpw")
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="Acctpw", Password=acct)
    assert failure(e)[:2] == (400, "PasswordPolicyViolation")
    assert "same as the account name" in failure(e)[2]


def test_root_caller_must_name_the_user(iam: BaseClient) -> None:
    with pytest.raises(ClientError) as e:
        iam.get_login_profile()
    assert failure(e) == (400, "ValidationError", "Must specify userName when calling with non-User credentials")


def test_a_user_gets_their_own_profile_by_default(iam: BaseClient, user_client: UserClient) -> None:
    me = user_client("Selfie", policy(allow("iam:GetLoginProfile", "arn:aws:iam::*:user/Selfie")))
    iam.create_login_profile(UserName="Selfie", Password=GOOD)
    assert me.get_login_profile()["LoginProfile"]["UserName"] == "Selfie"


def test_change_password(api_server: RunningServer, iam: BaseClient, user_client: UserClient) -> None:
    me = user_client("Changer", policy(allow("iam:ChangePassword", "arn:aws:iam::*:user/Changer")))
    with pytest.raises(ClientError) as e:  # no login profile yet
        me.change_password(OldPassword=GOOD, NewPassword="N3w-password!")
    assert failure(e) == (404, "NoSuchEntity", "Login Profile for User Changer cannot be found.")
    iam.create_login_profile(UserName="Changer", Password=GOOD, PasswordResetRequired=True)
    with pytest.raises(ClientError) as e:  # wrong old password (AWS's code unconfirmed: AccessDenied)
        me.change_password(OldPassword="Wr0ng-password!", NewPassword="N3w-password!")
    assert failure(e) == (403, "AccessDenied", "The old password is incorrect.")
    with pytest.raises(ClientError) as e:
        me.change_password(OldPassword=GOOD, NewPassword="weak")
    assert failure(e)[:2] == (400, "PasswordPolicyViolation")
    me.change_password(OldPassword=GOOD, NewPassword="N3w-password!")
    # changing the password clears PasswordResetRequired
    assert iam.get_login_profile(UserName="Changer")["LoginProfile"]["PasswordResetRequired"] is False
    with pytest.raises(ClientError) as e:  # the old password no longer is the current one
        me.change_password(OldPassword=GOOD, NewPassword="Y3t-another!")
    assert failure(e)[:2] == (403, "AccessDenied")
    # the trail shows the calls, never the passwords (CloudTrail: HIDDEN_DUE_TO_SECURITY_REASONS)
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    with api_server.backend.store.read() as tx:
        events = tx.list_audit_events(api_server.account_id, event_name="ChangePassword").items
    assert len(events) == 5
    for event in events:
        params = json.loads(event.record)["requestParameters"]
        assert params == {
            "oldPassword": "HIDDEN_DUE_TO_SECURITY_REASONS",
            "newPassword": "HIDDEN_DUE_TO_SECURITY_REASONS",
        }


def test_root_cannot_change_password(iam: BaseClient) -> None:
    with pytest.raises(ClientError) as e:
        iam.change_password(OldPassword=GOOD, NewPassword="N3w-password!")
    assert failure(e)[:2] == (400, "InvalidUserType")


def test_change_password_needs_permission_or_the_policy_grant(iam: BaseClient, user_client: UserClient) -> None:
    me = user_client("Granted")
    iam.create_login_profile(UserName="Granted", Password=GOOD)
    with pytest.raises(ClientError) as e:
        me.change_password(OldPassword=GOOD, NewPassword="N3w-password!")
    assert failure(e)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        me.get_account_password_policy()
    assert failure(e)[:2] == (403, "AccessDenied")
    # AllowUsersToChangePassword grants iam:ChangePassword on oneself and
    # iam:GetAccountPasswordPolicy implicitly (AWS "Set an account password policy for IAM users")
    iam.update_account_password_policy(AllowUsersToChangePassword=True, PasswordReusePrevention=2)
    try:
        me.change_password(OldPassword=GOOD, NewPassword="N3w-password!")
        assert me.get_account_password_policy()["PasswordPolicy"]["AllowUsersToChangePassword"] is True
        # ... but not on anyone else's user, nor anything else
        with pytest.raises(ClientError) as e:
            me.get_login_profile()
        assert failure(e)[:2] == (403, "AccessDenied")
        # reuse prevention: the last 2 passwords (the current one included) cannot come back
        for old in (GOOD, "N3w-password!"):
            with pytest.raises(ClientError) as e:
                me.change_password(OldPassword="N3w-password!", NewPassword=old)
            assert failure(e) == (400, "PasswordPolicyViolation", REUSED)
        # an explicit Deny still wins over the implicit grant
        iam.put_user_policy(UserName="Granted", PolicyName="no", PolicyDocument=policy(
            {"Effect": "Deny", "Action": "iam:ChangePassword", "Resource": "*"}))  # fmt: skip
        with pytest.raises(ClientError) as e:
            me.change_password(OldPassword="N3w-password!", NewPassword="Th1rd-password!")
        assert failure(e)[:2] == (403, "AccessDenied")
    finally:
        iam.delete_account_password_policy()


def test_passwords_are_never_stored_or_audited_in_clear(api_server: RunningServer, iam: BaseClient) -> None:
    secret = "Unique-S3cret-4-audit!"
    iam.create_user(UserName="Hidden")
    iam.create_login_profile(UserName="Hidden", Password=secret)
    iam.update_login_profile(UserName="Hidden", Password=secret + "2")
    with pytest.raises(ClientError):
        iam.create_login_profile(UserName="Hidden", Password=secret + "3")
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    db = api_server.backend.store.engine.url.database  # type: ignore[attr-defined]
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    with api_server.backend.store.read() as tx:
        events = tx.list_audit_events(api_server.account_id, max_items=1000).items
    records = [e.record for e in events if e.event_name.endswith("LoginProfile") and '"userName":"Hidden"' in e.record]
    assert secret not in dump
    assert len(records) == 3 and all("HIDDEN_DUE_TO_SECURITY_REASONS" in r and secret not in r for r in records)
    hashes = dump.count("$argon2id$")
    assert hashes >= 2  # the current password and the one in the history
