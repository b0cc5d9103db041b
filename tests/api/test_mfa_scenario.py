"""The IAM guide's MFA scenario over a real socket (IAM API "CreateVirtualMFADevice", "EnableMFADevice").

Diego is governed by AWS's sample policy "allows MFA-authenticated IAM users to manage their
own credentials" (docs/examples/manage-own-credentials-with-mfa.json). His first MFA
enrolment was abandoned, leaving an unassigned device named after him; without MFA he is
explicitly denied deleting it. An administrator lists the unassigned devices and deletes
the stale one; Diego then creates and enables a new device with real TOTP codes.

Then he gets MFA-authenticated session credentials with GetSessionToken (SerialNumber +
TokenCode) and manages his own access keys with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyotp
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.clock import StepClock, installed
from tests.api.conftest import NO_RETRY, client_for, failure
from tests.api.server import RunningServer

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "manage-own-credentials-with-mfa.json"


@pytest.fixture
def clock(api_server: RunningServer) -> Iterator[StepClock]:
    clock = StepClock()  # moved by whole 30-second TOTP steps (no sleeping)
    with installed(api_server.backend, clock):
        yield clock


def test_the_example_policy_is_aws_sample(iam: BaseClient) -> None:
    """The example is a valid managed policy whose Deny carries the spec's NotAction list (IAM API
    "CreateVirtualMFADevice", "EnableMFADevice").
    """
    document = json.loads(EXAMPLE.read_text())
    deny = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert len(deny) == 1 and deny[0]["Sid"] == "DenyAllExceptListedIfNoMFA"
    assert set(deny[0]["NotAction"]) == {
        "iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices",
        "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "sts:GetSessionToken",
    }  # fmt: skip
    assert deny[0]["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    arn = iam.create_policy(PolicyName="ExampleCheck", PolicyDocument=EXAMPLE.read_text())["Policy"]["Arn"]
    iam.delete_policy(PolicyArn=arn)


def test_stale_virtual_mfa_device_is_cleaned_up_by_an_administrator(
    api_server: RunningServer, iam: BaseClient, acct: str, clock: StepClock
) -> None:
    # -- an administrator (root here) sets Diego up under the sample policy ------------------
    iam.create_user(UserName="Diego")
    managed = iam.create_policy(PolicyName="ManageOwnCredentialsWithMFA", PolicyDocument=EXAMPLE.read_text())
    iam.attach_user_policy(UserName="Diego", PolicyArn=managed["Policy"]["Arn"])
    key = iam.create_access_key(UserName="Diego")["AccessKey"]
    diego = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    assert diego.get_user()["User"]["UserName"] == "Diego"  # allowed without MFA

    # -- the abandoned enrolment: a device was created, never enabled ---------------------------
    stale = diego.create_virtual_mfa_device(VirtualMFADeviceName="Diego")["VirtualMFADevice"]["SerialNumber"]
    assert stale == f"arn:aws:iam::{acct}:mfa/Diego"
    with pytest.raises(ClientError) as e:  # the console's retry: the name is taken
        diego.create_virtual_mfa_device(VirtualMFADeviceName="Diego")
    assert failure(e) == (409, "EntityAlreadyExists", "MFADevice entity at the same path and name already exists.")
    with pytest.raises(ClientError) as e:  # ... and deleting it is explicitly denied without MFA
        diego.delete_virtual_mfa_device(SerialNumber=stale)
    assert failure(e) == (
        403,
        "AccessDenied",
        f"User: arn:aws:iam::{acct}:user/Diego is not authorized to perform: iam:DeleteVirtualMFADevice on "
        f"resource: arn:aws:iam::{acct}:mfa/Diego with an explicit deny",
    )
    with pytest.raises(ClientError) as e:  # so is managing his keys until he authenticates with MFA
        diego.list_access_keys()
    assert failure(e) == (
        403,
        "AccessDenied",
        f"User: arn:aws:iam::{acct}:user/Diego is not authorized to perform: iam:ListAccessKeys on resource: "
        "user Diego with an explicit deny in an identity-based policy",  # the newer form elsewhere (docs/mfa.md)
    )

    # -- the administrator lists the unassigned devices and deletes the stale one -------------------
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert {"SerialNumber": stale} in unassigned
    iam.delete_virtual_mfa_device(SerialNumber=stale)
    assert {"SerialNumber": stale} not in iam.list_virtual_mfa_devices()["VirtualMFADevices"]

    # -- Diego enrols again, with real codes from his authenticator ---------------------------------
    created = diego.create_virtual_mfa_device(VirtualMFADeviceName="Diego")["VirtualMFADevice"]
    serial = created["SerialNumber"]
    authenticator = pyotp.TOTP(created["Base32StringSeed"].decode("ascii"))
    first = authenticator.generate_otp(clock.step)
    clock.advance()  # he waits for the next code
    second = authenticator.generate_otp(clock.step)
    diego.enable_mfa_device(
        UserName="Diego", SerialNumber=serial, AuthenticationCode1=first, AuthenticationCode2=second
    )
    devices = diego.list_mfa_devices()["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [("Diego", serial)]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert [d["User"]["UserName"] for d in assigned if d["SerialNumber"] == serial] == ["Diego"]

    # -- Diego authenticates with MFA through STS and manages his own credentials ---------------
    clock.advance()
    token_code = authenticator.generate_otp(clock.step)  # a fresh code: the two above are used up
    sts = boto3.client(
        "sts", endpoint_url=api_server.endpoint, region_name="us-east-1", config=NO_RETRY,
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
    )  # fmt: skip
    with pytest.raises(ClientError) as e:  # a wrong code first: AWS's exact answer
        sts.get_session_token(SerialNumber=serial, TokenCode=f"{(int(token_code) + 1) % 1_000_000:06d}")
    assert failure(e) == (403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ")
    credentials = sts.get_session_token(SerialNumber=serial, TokenCode=token_code)["Credentials"]
    with pytest.raises(ClientError) as e:  # the same code cannot be used twice
        sts.get_session_token(SerialNumber=serial, TokenCode=token_code)
    assert failure(e)[:2] == (403, "AccessDenied")
    session = boto3.client(
        "iam", endpoint_url=api_server.endpoint, region_name="us-east-1", config=NO_RETRY,
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )  # fmt: skip
    assert [k["AccessKeyId"] for k in session.list_access_keys()["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    second_key = session.create_access_key()["AccessKey"]
    assert second_key["UserName"] == "Diego"
    session.delete_access_key(AccessKeyId=second_key["AccessKeyId"])
    with pytest.raises(ClientError) as e:  # still nobody else's credentials: the sample allows only his own
        session.list_access_keys(UserName="someone-else")
    assert failure(e)[:2] in {(403, "AccessDenied"), (404, "NoSuchEntity")}
