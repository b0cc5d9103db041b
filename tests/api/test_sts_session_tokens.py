"""GetSessionToken, GetFederationToken, GetAccessKeyInfo, DecodeAuthorizationMessage (STS API "GetSessionToken"; STS API
"DecodeAuthorizationMessage").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pyotp
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.crypto import new_access_key_id
from iamd.policy import Request, build_context, evaluate
from iamd.service.sessions import resolve_caller
from iamd.service.sts import operations
from tests.api.conftest import NO_RETRY, allow, failure, policy
from tests.api.server import RunningServer, running_server
from tests.api.test_sts_assume_role import client, creds_of, make_role, make_user, trust

ACCT = "123456789012"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sts-tokens")) as srv:
        yield srv


@pytest.fixture(scope="module")
def root(server: RunningServer) -> dict[str, str]:
    return {"AccessKeyId": server.root_key, "SecretAccessKey": server.root_secret}


@pytest.fixture(scope="module")
def iam(server: RunningServer, root: dict[str, str]) -> BaseClient:
    return client(server, "iam", root)


def denied(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    status, code, message = failure(excinfo)
    assert (status, code) == (403, "AccessDenied"), message
    return message


# -- GetSessionToken ---------------------------------------------------------------------------------


def test_get_session_token_for_a_user(server: RunningServer, iam: BaseClient) -> None:
    """STS API "GetSessionToken": default 12 h, same ARN as the user; no IAM calls without MFA."""
    user = make_user(iam, "gst-user", policy(allow("*")))
    user_id = iam.get_user(UserName="gst-user")["User"]["UserId"]
    before = datetime.now(UTC)
    out = client(server, "sts", user).get_session_token()
    assert set(out) - {"ResponseMetadata"} == {"Credentials"}
    assert timedelta(hours=11, minutes=59) < out["Credentials"]["Expiration"] - before < timedelta(hours=12, minutes=1)
    session = creds_of(out)
    who = client(server, "sts", session).get_caller_identity()
    assert (who["UserId"], who["Arn"]) == (user_id, f"arn:aws:iam::{ACCT}:user/gst-user")
    with pytest.raises(ClientError) as info:  # AWS "Troubleshoot IAM" (AWS STS and MFA errors) (observed answer)
        client(server, "iam", session).list_users()
    assert failure(info) == (403, "InvalidClientTokenId", "The security token included in the request is invalid.")
    with pytest.raises(ClientError) as info:
        client(server, "sts", session).get_session_token()
    assert denied(info) == "Cannot call GetSessionToken with session credentials"
    with pytest.raises(ClientError) as info:  # only AssumeRole and GetCallerIdentity
        client(server, "sts", session).get_access_key_info(AccessKeyId=user["AccessKeyId"])
    denied(info)
    # ... but AssumeRole works, as the same user.
    arn = make_role(iam, "FromGst", trust(f"arn:aws:iam::{ACCT}:user/gst-user"))
    hop = client(server, "sts", session).assume_role(RoleArn=arn, RoleSessionName="from-gst")
    assert hop["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCT}:assumed-role/FromGst/from-gst"
    short = client(server, "sts", user).get_session_token(DurationSeconds=900)
    assert short["Credentials"]["Expiration"] - datetime.now(UTC) < timedelta(minutes=16)
    longest = client(server, "sts", user).get_session_token(DurationSeconds=129600)
    assert longest["Credentials"]["Expiration"] - datetime.now(UTC) > timedelta(hours=35)


def test_get_session_token_for_root_is_capped_at_an_hour(server: RunningServer, root: dict[str, str]) -> None:
    """STS API "GetSessionToken": root sessions last at most 1 h, longer requests silently capped."""
    out = client(server, "sts", root).get_session_token(DurationSeconds=7200)
    assert out["Credentials"]["Expiration"] - datetime.now(UTC) < timedelta(minutes=61)
    who = client(server, "sts", creds_of(out)).get_caller_identity()
    assert (who["UserId"], who["Arn"]) == (ACCT, f"arn:aws:iam::{ACCT}:root")
    with pytest.raises(ClientError) as info:  # root sessions still cannot assume roles
        client(server, "sts", creds_of(out)).assume_role(RoleArn=f"arn:aws:iam::{ACCT}:role/x", RoleSessionName="ss")
    assert denied(info) == "Roles may not be assumed by root accounts."


def test_get_session_token_mfa_fails_closed(server: RunningServer, iam: BaseClient) -> None:
    """AWS "Secure API access with MFA": a serial not associated with the caller is refused, with AWS's message."""
    user = make_user(iam, "gst-mfa")
    with pytest.raises(ClientError) as info:
        client(server, "sts", user).get_session_token(
            SerialNumber=f"arn:aws:iam::{ACCT}:mfa/gst-mfa", TokenCode="123456"
        )
    assert denied(info).startswith("MultiFactorAuthentication failed, unable to validate MFA code.")


def test_mfa_session_may_call_iam_and_carries_mfa_keys(server: RunningServer, iam: BaseClient) -> None:
    """AWS "AWS global condition context keys" (properties of the role session) / AWS "Secure API access with MFA": a
    valid code of the caller's enabled virtual MFA device makes a
    session with aws:MultiFactorAuthPresent; such a session may call IAM."""
    user = make_user(iam, "gst-mfa-ok", policy(allow("iam:ListUsers", Bool={"aws:MultiFactorAuthPresent": "true"})))
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="gst-mfa-ok")["VirtualMFADevice"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode("ascii"))
    step = int(datetime.now(UTC).timestamp()) // 30
    iam.enable_mfa_device(
        UserName="gst-mfa-ok", SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.generate_otp(step - 1), AuthenticationCode2=totp.generate_otp(step),
    )  # fmt: skip
    sts = client(server, "sts", user)
    with pytest.raises(ClientError) as info:  # another user's serial: not associated with the caller
        sts.get_session_token(SerialNumber=f"arn:aws:iam::{ACCT}:mfa/someone", TokenCode=totp.generate_otp(step + 1))
    assert denied(info).startswith("MultiFactorAuthentication failed, unable to validate MFA code.")
    out = sts.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=totp.generate_otp(step + 1))
    session_iam = client(server, "iam", creds_of(out))
    assert "Users" in session_iam.list_users()
    with pytest.raises(ClientError) as info:  # the long-term key has no MFA: the condition fails
        client(server, "iam", user).list_users()
    denied(info)
    iam.deactivate_mfa_device(UserName="gst-mfa-ok", SerialNumber=device["SerialNumber"])
    iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])


def test_assume_role_with_mfa_satisfies_a_trust_policy_that_demands_it(server: RunningServer, iam: BaseClient) -> None:
    """STS API "AssumeRole" step 3: SerialNumber + TokenCode on AssumeRole set aws:MultiFactorAuthPresent,
    which AWS's usual "MFA-protected role" trust condition checks."""
    user = make_user(iam, "ar-mfa", policy(allow("sts:AssumeRole")))
    arn = make_role(
        iam, "mfa-protected", trust(f"arn:aws:iam::{ACCT}:user/ar-mfa", Bool={"aws:MultiFactorAuthPresent": "true"})
    )
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="ar-mfa")["VirtualMFADevice"]
    totp = pyotp.TOTP(device["Base32StringSeed"].decode("ascii"))
    step = int(datetime.now(UTC).timestamp()) // 30
    iam.enable_mfa_device(
        UserName="ar-mfa", SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.generate_otp(step - 1), AuthenticationCode2=totp.generate_otp(step),
    )  # fmt: skip
    sts = client(server, "sts", user)
    with pytest.raises(ClientError) as info:  # no MFA: the trust policy's condition fails
        sts.assume_role(RoleArn=arn, RoleSessionName="no-mfa")
    assert "sts:AssumeRole" in denied(info)
    with pytest.raises(ClientError) as info:  # a wrong code
        sts.assume_role(RoleArn=arn, RoleSessionName="bad", SerialNumber=device["SerialNumber"], TokenCode="000000"
                        if totp.generate_otp(step + 1) != "000000" else "111111")  # fmt: skip
    assert denied(info) == "MultiFactorAuthentication failed with invalid MFA one time pass code. "
    out = sts.assume_role(
        RoleArn=arn,
        RoleSessionName="with-mfa",
        SerialNumber=device["SerialNumber"],
        TokenCode=totp.generate_otp(step + 1),
    )
    who = client(server, "sts", creds_of(out)).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{ACCT}:assumed-role/mfa-protected/with-mfa"


# -- GetFederationToken ------------------------------------------------------------------------------


def test_get_federation_token(server: RunningServer, iam: BaseClient, root: dict[str, str]) -> None:
    """STS API "GetFederationToken": sts:GetFederationToken on the federated-user ARN; FederatedUser in the response."""
    plain = make_user(iam, "fed-none")
    with pytest.raises(ClientError) as info:
        client(server, "sts", plain).get_federation_token(Name="partner")
    assert denied(info) == (
        f"User: arn:aws:iam::{ACCT}:user/fed-none is not authorized to perform: sts:GetFederationToken on resource: "
        f"arn:aws:sts::{ACCT}:federated-user/partner because no identity-based policy allows the "
        "sts:GetFederationToken action"
    )
    user = make_user(iam, "fed-maker", policy(allow(["sts:GetFederationToken", "iam:*"])))
    out = client(server, "sts", user).get_federation_token(Name="partner", Policy=policy(allow("iam:ListUsers")))
    assert out["FederatedUser"] == {
        "FederatedUserId": f"{ACCT}:partner", "Arn": f"arn:aws:sts::{ACCT}:federated-user/partner",
    }  # fmt: skip
    assert 0 < out["PackedPolicySize"] <= 100
    assert out["Credentials"]["Expiration"] - datetime.now(UTC) > timedelta(hours=11, minutes=59)  # default 12 h
    fed = creds_of(out)
    who = client(server, "sts", fed).get_caller_identity()
    assert (who["UserId"], who["Arn"]) == (f"{ACCT}:partner", f"arn:aws:sts::{ACCT}:federated-user/partner")
    with pytest.raises(ClientError) as info:  # AWS "Compare AWS STS credentials": federated users cannot call IAM
        client(server, "iam", fed).list_users()
    assert failure(info)[1] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as info:
        client(server, "sts", fed).get_federation_token(Name="again")
    assert denied(info) == "Cannot call GetFederationToken with session credentials"
    with pytest.raises(ClientError) as info:  # tags need sts:TagSession
        client(server, "sts", user).get_federation_token(Name="tagged", Tags=[{"Key": "k", "Value": "v"}])
    assert "sts:TagSession" in denied(info)
    by_root = client(server, "sts", root).get_federation_token(Name="rooted", DurationSeconds=7200)
    assert by_root["Credentials"]["Expiration"] - datetime.now(UTC) < timedelta(minutes=61)  # root: 1 h at most


def test_federated_session_permissions_are_user_policies_and_session_policy(
    server: RunningServer, iam: BaseClient
) -> None:
    """AWS "Temporary security credentials in IAM" / AWS "Policy evaluation logic" (determining whether a request is
    allowed or denied within an account) step 7: no session policy ⇒ no permissions; else the intersection.

    Federated users cannot call IAM or STS through the API, so the decision is read
    from the server's own authorization code for the session the API issued.
    """
    user = make_user(iam, "fed-perm", policy(allow(["sts:GetFederationToken", "iam:ListUsers", "iam:ListRoles"])))
    sts = client(server, "sts", user)
    without = creds_of(sts.get_federation_token(Name="nopolicy"))
    narrowed = creds_of(sts.get_federation_token(Name="narrow", Policy=policy(allow(["iam:ListRoles", "iam:*"]))))

    def decide(creds: dict[str, str], action: str) -> Any:
        backend = server.backend
        credential = backend.lookup(creds["AccessKeyId"], creds["SessionToken"])
        assert credential is not None
        with backend.store.read() as tx:
            caller = resolve_caller(credential.principal, tx)
            policies = backend.policies.for_caller(tx, caller)
        request = Request(caller.principal, action, "*", build_context(caller.principal), ACCT)
        return evaluate(request, policies)

    decision = decide(without, "iam:ListUsers")
    assert not decision.allowed
    assert decision.message == (
        f"User: arn:aws:sts::{ACCT}:federated-user/nopolicy is not authorized to perform: iam:ListUsers on "
        "resource: * because no session policy allows the iam:ListUsers action"
    )
    assert decide(narrowed, "iam:ListRoles").allowed
    assert not decide(narrowed, "iam:CreateUser").allowed  # the session allows it, the user does not
    assert "because no identity-based policy allows" in (decide(narrowed, "iam:CreateUser").message or "")


# -- GetAccessKeyInfo ---------------------------------------------------------------------------------


def test_get_access_key_info(server: RunningServer, iam: BaseClient) -> None:
    """STS API "GetAccessKeyInfo": any key id's account, decoded from the id; needs sts:GetAccessKeyInfo."""
    allowed = make_user(iam, "aki-yes", policy(allow("sts:GetAccessKeyInfo")))
    sts = client(server, "sts", allowed)
    assert sts.get_access_key_info(AccessKeyId=allowed["AccessKeyId"])["Account"] == ACCT
    foreign = new_access_key_id(account_id="999988887777")
    assert sts.get_access_key_info(AccessKeyId=foreign)["Account"] == "999988887777"
    temporary = new_access_key_id(account_id="444455556666", prefix="ASIA")
    assert sts.get_access_key_info(AccessKeyId=temporary)["Account"] == "444455556666"
    with pytest.raises(ClientError) as info:
        client(server, "sts", make_user(iam, "aki-no")).get_access_key_info(AccessKeyId=allowed["AccessKeyId"])
    assert denied(info) == (
        f"User: arn:aws:iam::{ACCT}:user/aki-no is not authorized to perform: sts:GetAccessKeyInfo on resource: * "
        "because no identity-based policy allows the sts:GetAccessKeyInfo action"
    )
    with pytest.raises(ClientError) as info:
        sts.get_access_key_info(AccessKeyId="AKIA1111111111111111")  # not base32: no account inside
    assert failure(info)[:2] == (400, "InvalidParameterValue")


# -- DecodeAuthorizationMessage -----------------------------------------------------------------------


def test_decode_authorization_message(server: RunningServer, iam: BaseClient) -> None:
    """STS API "DecodeAuthorizationMessage": iamd decodes what it encoded; garbage is
    InvalidAuthorizationMessageException.
    """
    user = make_user(iam, "decoder", policy(allow("sts:DecodeAuthorizationMessage")))
    credential = server.backend.lookup(user["AccessKeyId"], None)
    assert credential is not None and credential.principal.user is not None
    principal = credential.principal.principal
    with server.backend.store.read() as tx:
        policies = server.backend.policies.for_user(tx, credential.principal.user)
    denial = evaluate(Request(principal, "ec2:RunInstances", "*", build_context(principal), ACCT), policies)
    encoded = operations.encode_authorization_message(server.backend.secret_box, denial, "AIDAEXAMPLE")
    sts = client(server, "sts", user)
    decoded = json.loads(sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["explicitDeny"] is False
    assert decoded["context"]["action"] == "RunInstances"
    assert decoded["context"]["principal"]["arn"] == f"arn:aws:iam::{ACCT}:user/decoder"
    for garbage in ("not-a-message", encoded[:-4], "A" * 100):
        with pytest.raises(ClientError) as info:
            sts.decode_authorization_message(EncodedMessage=garbage)
        assert failure(info)[:2] == (400, "InvalidAuthorizationMessageException")
    with pytest.raises(ClientError) as info:
        client(server, "sts", make_user(iam, "no-decoder")).decode_authorization_message(EncodedMessage=encoded)
    assert "sts:DecodeAuthorizationMessage" in denied(info)


def test_raw_client_validation(server: RunningServer, iam: BaseClient) -> None:
    """The botocore model's constraints answer as AWS's ValidationError (IAM API "Common Errors" (ValidationError))."""
    user = make_user(iam, "raw-user", policy(allow("*")))
    raw = boto3.client(
        "sts", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=user["AccessKeyId"], aws_secret_access_key=user["SecretAccessKey"],
        config=NO_RETRY.merge(boto3.session.Config(parameter_validation=False)),
    )  # fmt: skip
    for call in (
        lambda: raw.get_session_token(DurationSeconds=899),
        lambda: raw.get_federation_token(Name="x"),
        lambda: raw.get_federation_token(Name="ok", DurationSeconds=129601),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert failure(info)[:2] == (400, "ValidationError")
