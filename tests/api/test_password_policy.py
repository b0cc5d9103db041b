"""The account password policy (AWS "Set an account password policy for IAM users") and password expiry, with unmodified
boto3.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.service.signin import SigninAttempt, SigninFailure
from tests.api.clock import MovableClock
from tests.api.conftest import client_for, failure
from tests.api.server import RunningServer

DEFAULTS = {
    "MinimumPasswordLength": 6,
    "RequireSymbols": False,
    "RequireNumbers": False,
    "RequireUppercaseCharacters": False,
    "RequireLowercaseCharacters": False,
    "AllowUsersToChangePassword": False,
    "ExpirePasswords": False,
    "HardExpiry": False,
}


@pytest.fixture(autouse=True)
def no_policy(iam: BaseClient) -> Iterator[None]:
    yield
    with contextlib.suppress(ClientError):
        iam.delete_account_password_policy()


def test_no_policy_is_no_such_entity(iam: BaseClient, acct: str) -> None:
    for call in (iam.get_account_password_policy, iam.delete_account_password_policy):
        with pytest.raises(ClientError) as e:
            call()
        assert failure(e) == (404, "NoSuchEntity", f"The Password Policy with domain name {acct} cannot be found.")


def test_update_is_a_full_replace(iam: BaseClient) -> None:
    iam.update_account_password_policy(
        MinimumPasswordLength=12, RequireSymbols=True, RequireNumbers=True, RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True, AllowUsersToChangePassword=True, MaxPasswordAge=90,
        PasswordReusePrevention=5, HardExpiry=True,
    )  # fmt: skip
    full = iam.get_account_password_policy()["PasswordPolicy"]
    assert full == {
        "MinimumPasswordLength": 12, "RequireSymbols": True, "RequireNumbers": True,
        "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True, "AllowUsersToChangePassword": True,
        "ExpirePasswords": True, "MaxPasswordAge": 90, "PasswordReusePrevention": 5, "HardExpiry": True,
    }  # fmt: skip
    # omitted fields reset to their defaults; MaxPasswordAge/PasswordReusePrevention are then absent
    iam.update_account_password_policy(RequireNumbers=True)
    assert iam.get_account_password_policy()["PasswordPolicy"] == {**DEFAULTS, "RequireNumbers": True}
    iam.delete_account_password_policy()
    with pytest.raises(ClientError):
        iam.get_account_password_policy()


@pytest.mark.parametrize(
    ("member", "value", "bound"),
    [
        ("MinimumPasswordLength", 5, "greater than or equal to 6"),
        ("MinimumPasswordLength", 129, "less than or equal to 128"),
        ("MaxPasswordAge", 1096, "less than or equal to 1095"),
        ("PasswordReusePrevention", 25, "less than or equal to 24"),
    ],
)
def test_ranges(raw_iam: BaseClient, member: str, value: int, bound: str) -> None:
    with pytest.raises(ClientError) as e:
        raw_iam.update_account_password_policy(**{member: value})
    status, code, message = failure(e)
    assert (status, code) == (400, "ValidationError") and bound in message


@pytest.mark.parametrize(
    ("settings", "password", "message"),
    [
        ({"MinimumPasswordLength": 10}, "Abcdefg1!", "Password should have a minimum length of 10"),
        ({"RequireUppercaseCharacters": True}, "abcdefg1!", "Password should have at least one uppercase letter"),
        ({"RequireLowercaseCharacters": True}, "ABCDEFG1!", "Password should have at least one lowercase letter"),
        ({"RequireNumbers": True}, "Abcdefgh!", "Password should have at least one number"),
        ({"RequireSymbols": True}, "Abcdefgh1", "Password should have at least one symbol"),
        (
            {"RequireNumbers": True, "RequireSymbols": True},
            "Abcdefgh",
            "Password should have at least one number\nPassword should have at least one symbol",
        ),
    ],
)
def test_policy_rules_name_what_failed(
    iam: BaseClient, settings: dict[str, object], password: str, message: str
) -> None:
    name = f"Rule{zlib.crc32((password + message).encode())}"
    iam.create_user(UserName=name)
    iam.update_account_password_policy(**settings)  # type: ignore[arg-type]
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=name, Password=password)
    assert failure(e) == (400, "PasswordPolicyViolation", message)
    iam.delete_account_password_policy()
    # with no policy set, the default one applies: this password passes it
    iam.create_login_profile(UserName=name, Password="Abcdefg1!")


def test_set_policy_relaxes_the_default(iam: BaseClient) -> None:
    iam.create_user(UserName="Relaxed")
    iam.update_account_password_policy(MinimumPasswordLength=6)
    iam.create_login_profile(UserName="Relaxed", Password="simple")


def test_expiry_soft_and_hard(
    api_server: RunningServer, iam: BaseClient, server_clock: MovableClock, acct: str
) -> None:
    iam.create_user(UserName="Ager")
    iam.create_login_profile(UserName="Ager", Password="Ag3ing-pass!")
    iam.update_account_password_policy(MaxPasswordAge=30)
    assert iam.get_account_password_policy()["PasswordPolicy"]["ExpirePasswords"] is True
    attempt = SigninAttempt(acct, "Ager", "Ag3ing-pass!")
    fresh = api_server.backend.sign_in(attempt)
    assert fresh.ok and fresh.session is not None and not fresh.session.password_change_only
    with server_clock.moved(timedelta(days=31)):
        # expired without HardExpiry: a session that may only change the password
        expired = api_server.backend.sign_in(attempt)
        assert expired.session is not None and expired.session.password_change_only
        assert expired.session.allows("iam:ChangePassword") and not expired.session.allows("iam:ListUsers")
        iam.update_account_password_policy(MaxPasswordAge=30, HardExpiry=True)
        hard = api_server.backend.sign_in(attempt)
        assert (hard.session, hard.failure) == (None, SigninFailure.PASSWORD_EXPIRED)
        # an administrator resets it; the new password starts a new age
        iam.update_login_profile(UserName="Ager", Password="N3w-ageing-pass!")
        renewed = api_server.backend.sign_in(SigninAttempt(acct, "Ager", "N3w-ageing-pass!"))
        assert renewed.session is not None and not renewed.session.password_change_only


def test_user_reads_the_policy_with_permission(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="Reader")
    iam.put_user_policy(UserName="Reader", PolicyName="p", PolicyDocument='{"Version":"2012-10-17","Statement":'
                        '[{"Effect":"Allow","Action":"iam:GetAccountPasswordPolicy","Resource":"*"}]}')  # fmt: skip
    key = iam.create_access_key(UserName="Reader")["AccessKey"]
    reader = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    iam.update_account_password_policy(MinimumPasswordLength=9)
    assert reader.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 9
