"""STS AssumeRole against a real server with unmodified boto3 (STS API "AssumeRole", AWS "Policy evaluation logic"
(determining whether a request is allowed or denied within an account); AWS "Cross-account policy evaluation logic").

Every case names the AWS fact it encodes. The server's clock is a MovableClock so sessions
can be issued "in the past" and expire without sleeping.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.crypto import SecretBox, access_key_context, key_id_for, load_master_key, new_access_key_id
from iamd.store import EntityKind
from tests.api.clock import MovableClock
from tests.api.conftest import NO_RETRY, allow, failure, policy, signed_request
from tests.api.server import RunningServer, running_server

ACCT = "123456789012"
OTHER = "222233334444"


@pytest.fixture(scope="module")
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, clock: MovableClock) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("sts-assume"), clock=clock) as srv:
        yield srv


def client(server: RunningServer, service: str, creds: dict[str, str], region: str = "us-east-1") -> Any:
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name=region, config=NO_RETRY,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def root(server: RunningServer) -> dict[str, str]:
    return {"AccessKeyId": server.root_key, "SecretAccessKey": server.root_secret}


@pytest.fixture(scope="module")
def iam(server: RunningServer, root: dict[str, str]) -> BaseClient:
    return client(server, "iam", root)


def make_user(iam: BaseClient, name: str, document: str | None = None) -> dict[str, str]:
    iam.create_user(UserName=name)
    if document is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def trust(*principals: str, actions: list[str] | None = None, **condition: Any) -> str:
    st: dict[str, Any] = {
        "Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": actions or ["sts:AssumeRole"],
    }  # fmt: skip
    if condition:
        st["Condition"] = condition
    return policy(st)


def make_role(iam: BaseClient, name: str, trust_doc: str, document: str | None = None, **kw: Any) -> str:
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc, **kw)["Role"]["Arn"]
    if document is not None:
        iam.put_role_policy(RoleName=name, PolicyName="perms", PolicyDocument=document)
    return arn


def creds_of(response: dict[str, Any]) -> dict[str, str]:
    c = response["Credentials"]
    return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"], "SessionToken": c["SessionToken"]}


def denied(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    status, code, message = failure(excinfo)
    assert (status, code) == (403, "AccessDenied"), message
    return message


LIST_ALL = policy(allow(["iam:List*", "iam:Get*"]))


# -- the response and who the session is -----------------------------------------------------------


def test_assume_role_response_and_session_identity(server: RunningServer, iam: BaseClient) -> None:
    alice = make_user(iam, "alice")  # no identity policy: the trust policy names her ARN directly
    arn = make_role(iam, "Direct", trust(f"arn:aws:iam::{ACCT}:user/alice"), LIST_ALL)
    role_id = iam.get_role(RoleName="Direct")["Role"]["RoleId"]
    before = datetime.now(UTC)
    out = client(server, "sts", alice).assume_role(RoleArn=arn, RoleSessionName="alice-session")
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["AccessKeyId"]) == 20 and len(c["SecretAccessKey"]) == 40
    assert timedelta(minutes=59) < c["Expiration"] - before < timedelta(minutes=61)  # default 3600 s
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role_id}:alice-session", "Arn": f"arn:aws:sts::{ACCT}:assumed-role/Direct/alice-session",
    }  # fmt: skip
    assert "PackedPolicySize" not in out and "SourceIdentity" not in out  # no policies, tags, source identity
    who = client(server, "sts", creds_of(out)).get_caller_identity()
    assert (who["UserId"], who["Account"], who["Arn"]) == (
        f"{role_id}:alice-session", ACCT, f"arn:aws:sts::{ACCT}:assumed-role/Direct/alice-session",
    )  # fmt: skip
    # Role sessions may call IAM, governed by the role's policies (AWS "Compare AWS STS credentials").
    session_iam = client(server, "iam", creds_of(out))
    assert session_iam.get_role(RoleName="Direct")["Role"]["Arn"] == arn
    with pytest.raises(ClientError) as info:
        session_iam.create_user(UserName="nope")
    assert denied(info) == (
        f"User: arn:aws:sts::{ACCT}:assumed-role/Direct/alice-session is not authorized to perform: iam:CreateUser "
        f"on resource: arn:aws:iam::{ACCT}:user/nope because no identity-based policy allows the iam:CreateUser action"
    )


def test_trust_naming_the_account_needs_an_identity_policy(server: RunningServer, iam: BaseClient) -> None:
    """AWS "Cross-account policy evaluation logic": a trust policy naming only the account delegates to identity
    policies.
    """
    arn = make_role(iam, "AccountTrust", trust(ACCT))
    bob = make_user(iam, "bob")
    with pytest.raises(ClientError) as info:
        client(server, "sts", bob).assume_role(RoleArn=arn, RoleSessionName="ss")
    assert denied(info) == (
        f"User: arn:aws:iam::{ACCT}:user/bob is not authorized to perform: sts:AssumeRole on resource: {arn} "
        "because no identity-based policy allows the sts:AssumeRole action"
    )
    carol = make_user(iam, "carol", policy(allow("sts:AssumeRole", arn)))
    assert client(server, "sts", carol).assume_role(RoleArn=arn, RoleSessionName="ss")["AssumedRoleUser"]


def test_trust_not_naming_the_caller_and_unknown_roles_answer_alike(server: RunningServer, iam: BaseClient) -> None:
    """STS API "AssumeRole" step 3: AWS does not reveal whether a role exists."""
    dave = make_user(iam, "dave", policy(allow("sts:AssumeRole")))
    arn = make_role(iam, "OthersOnly", trust(f"arn:aws:iam::{ACCT}:user/alice"))  # alice: created by the first test
    sts = client(server, "sts", dave)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=arn, RoleSessionName="ss")
    assert denied(info) == (
        f"User: arn:aws:iam::{ACCT}:user/dave is not authorized to perform: sts:AssumeRole on resource: {arn} "
        "because no role trust policy allows the sts:AssumeRole action"
    )
    ghost = f"arn:aws:iam::{ACCT}:role/Ghost"
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=ghost, RoleSessionName="ss")
    assert denied(info) == (
        f"User: arn:aws:iam::{ACCT}:user/dave is not authorized to perform: sts:AssumeRole on resource: {ghost} "
        "because no role trust policy allows the sts:AssumeRole action"
    )
    wrong_path = f"arn:aws:iam::{ACCT}:role/some/path/OthersOnly"  # a role's ARN includes its path
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=wrong_path, RoleSessionName="ss")
    denied(info)


def test_parameter_errors(server: RunningServer, iam: BaseClient, root: dict[str, str]) -> None:
    erin = make_user(iam, "erin", policy(allow("sts:AssumeRole")))
    raw = boto3.client(
        "sts", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=erin["AccessKeyId"], aws_secret_access_key=erin["SecretAccessKey"],
        config=NO_RETRY.merge(boto3.session.Config(parameter_validation=False)),
    )  # fmt: skip
    with pytest.raises(ClientError) as info:  # STS API "AssumeRole" step 2
        raw.assume_role(RoleArn="arn:aws:iam::123:role/x", RoleSessionName="ok-name")
    assert failure(info) == (400, "ValidationError", "arn:aws:iam::123:role/x is invalid")
    # IAM API "Common Errors" (ValidationError): the model's pattern, AWS's wording
    with pytest.raises(ClientError) as info:
        raw.assume_role(RoleArn=f"arn:aws:iam::{ACCT}:role/x", RoleSessionName="has space")
    assert failure(info)[:2] == (400, "ValidationError")
    assert "at 'roleSessionName' failed to satisfy constraint" in failure(info)[2]
    with pytest.raises(ClientError) as info:
        raw.assume_role(RoleArn=f"arn:aws:iam::{ACCT}:role/x", RoleSessionName="ss", DurationSeconds=899)
    assert failure(info)[:2] == (400, "ValidationError")
    with pytest.raises(ClientError) as info:  # AWS "Temporary security credentials in IAM": root cannot assume roles
        client(server, "sts", root).assume_role(RoleArn=f"arn:aws:iam::{ACCT}:role/x", RoleSessionName="ss")
    assert denied(info) == "Roles may not be assumed by root accounts."


def test_external_id_condition(server: RunningServer, iam: BaseClient) -> None:
    """sts:ExternalId is in the context when passed (AWS "IAM and AWS STS condition context keys")."""
    sts = client(server, "sts", make_user(iam, "frank"))
    arn = make_role(
        iam, "ThirdParty", trust(f"arn:aws:iam::{ACCT}:user/frank", StringEquals={"sts:ExternalId": "secret-42"})
    )
    for bad in ({}, {"ExternalId": "wrong-id"}):
        with pytest.raises(ClientError) as info:
            sts.assume_role(RoleArn=arn, RoleSessionName="ss", **bad)
        assert "because no role trust policy allows the sts:AssumeRole action" in denied(info)
    assert sts.assume_role(RoleArn=arn, RoleSessionName="ss", ExternalId="secret-42")["Credentials"]


# -- durations and role chaining ----------------------------------------------------------------


def test_duration_limits_and_role_chaining(server: RunningServer, iam: BaseClient) -> None:
    """IAM API "Common Errors" and each operation's Errors: MaxSessionDuration, and the 1-hour limit of role chaining
    (STS API "AssumeRole" step 7).
    """
    gina = make_user(iam, "gina")
    first = make_role(iam, "ChainA", trust(f"arn:aws:iam::{ACCT}:user/gina"), policy(allow("sts:AssumeRole")),
                      MaxSessionDuration=7200)  # fmt: skip
    second = make_role(iam, "ChainB", trust(first), LIST_ALL, MaxSessionDuration=43200)
    sts = client(server, "sts", gina)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=first, RoleSessionName="ss", DurationSeconds=7201)
    assert failure(info) == (
        400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )  # fmt: skip
    out = sts.assume_role(RoleArn=first, RoleSessionName="ss", DurationSeconds=7200)
    assert out["Credentials"]["Expiration"] - datetime.now(UTC) > timedelta(minutes=119)
    chained = client(server, "sts", creds_of(out))
    with pytest.raises(ClientError) as info:
        chained.assume_role(RoleArn=second, RoleSessionName="hop", DurationSeconds=3601)
    assert failure(info) == (
        400, "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    )  # fmt: skip
    hop = chained.assume_role(RoleArn=second, RoleSessionName="hop", DurationSeconds=3600)
    assert hop["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCT}:assumed-role/ChainB/hop"
    assert client(server, "iam", creds_of(hop)).list_roles()["Roles"]


# -- session policies and boundaries narrow the session ---------------------------------------------


def test_session_policy_narrows_the_role(server: RunningServer, iam: BaseClient) -> None:
    """AWS "Policy evaluation logic" (determining whether a request is allowed or denied within an account) step 7: role
    policies ∩ session policies.
    """
    harry = make_user(iam, "harry")
    arn = make_role(iam, "Wide", trust(f"arn:aws:iam::{ACCT}:user/harry"), LIST_ALL)
    sts = client(server, "sts", harry)
    out = sts.assume_role(RoleArn=arn, RoleSessionName="narrow", Policy=policy(allow("iam:ListUsers")))
    assert 0 < out["PackedPolicySize"] <= 100
    session_iam = client(server, "iam", creds_of(out))
    assert "Users" in session_iam.list_users()
    with pytest.raises(ClientError) as info:
        session_iam.list_roles()
    assert denied(info) == (
        f"User: arn:aws:sts::{ACCT}:assumed-role/Wide/narrow is not authorized to perform: iam:ListRoles on "
        "resource: arn:aws:iam::123456789012:role/ because no session policy allows the iam:ListRoles action"
    )
    # A managed session policy narrows the same way; the role still has to allow the action.
    managed = iam.create_policy(PolicyName="OnlyListRoles", PolicyDocument=policy(allow(["iam:ListRoles",
                                "iam:CreateUser"])))["Policy"]["Arn"]  # fmt: skip
    out = sts.assume_role(RoleArn=arn, RoleSessionName="managed", PolicyArns=[{"arn": managed}])
    session_iam = client(server, "iam", creds_of(out))
    assert "Roles" in session_iam.list_roles()
    for call in (session_iam.list_users, lambda: session_iam.create_user(UserName="x")):
        with pytest.raises(ClientError) as info:
            call()
        denied(info)
    # Deleting the managed session policy leaves the session with nothing it allowed (fail closed).
    iam.delete_policy(PolicyArn=managed)
    with pytest.raises(ClientError) as info:
        session_iam.list_roles()
    assert "because no session policy allows" in denied(info)


def test_session_policy_errors(server: RunningServer, iam: BaseClient) -> None:
    sts = client(server, "sts", make_user(iam, "ivan"))
    arn = make_role(iam, "PolicyErrors", trust(f"arn:aws:iam::{ACCT}:user/ivan"), LIST_ALL)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=arn, RoleSessionName="ss", Policy='{"Version": "2012-10-17", "Statement": [')
    assert failure(info)[:2] == (400, "MalformedPolicyDocument")
    with pytest.raises(ClientError) as info:  # STS API "AssumeRole" step 8: 2,048 characters of session policy
        big = policy(*[allow(f"iam:ListUsers{i}") for i in range(60)])
        sts.assume_role(RoleArn=arn, RoleSessionName="ss", Policy=big)
    assert failure(info)[:2] == (400, "ValidationError")
    arns = [{"arn": f"arn:aws:iam::aws:policy/P{i}"} for i in range(11)]
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=arn, RoleSessionName="ss", PolicyArns=arns)
    assert failure(info)[:2] == (400, "ValidationError")
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=arn, RoleSessionName="ss", PolicyArns=[{"arn": f"arn:aws:iam::{ACCT}:policy/None"}])
    assert failure(info)[:2] == (400, "InvalidParameterValue")
    # Tags count in the packed size: 50 long random tags are over the limit (the Errors of each operation in the STS API
    # Reference).
    tags = [{"Key": f"k{i}-{'x' * 100}"[:128], "Value": secrets.token_hex(128)} for i in range(50)]
    arn_tags = make_role(iam, "PackedTags", trust(f"arn:aws:iam::{ACCT}:user/ivan",
                         actions=["sts:AssumeRole", "sts:TagSession"]))  # fmt: skip
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=arn_tags, RoleSessionName="ss", Tags=tags)
    status, code, message = failure(info)
    assert (status, code) == (400, "PackedPolicyTooLarge")
    assert message.startswith("Packed policy consumes ") and message.endswith("% of allotted space")


def test_permissions_boundary_narrows_a_session(server: RunningServer, iam: BaseClient) -> None:
    """AWS "Policy evaluation logic" (determining whether a request is allowed or denied within an account) step 6: the
    role's boundary applies to its sessions.
    """
    boundary = iam.create_policy(PolicyName="OnlyListUsers", PolicyDocument=policy(allow("iam:ListUsers")))
    judy = make_user(iam, "judy")
    arn = make_role(iam, "Bounded", trust(f"arn:aws:iam::{ACCT}:user/judy"), LIST_ALL,
                    PermissionsBoundary=boundary["Policy"]["Arn"])  # fmt: skip
    out = client(server, "sts", judy).assume_role(RoleArn=arn, RoleSessionName="bb")
    session_iam = client(server, "iam", creds_of(out))
    assert "Users" in session_iam.list_users()
    with pytest.raises(ClientError) as info:
        session_iam.list_roles()
    assert "because no permissions boundary allows the iam:ListRoles action" in denied(info)


def test_role_changes_apply_to_live_sessions_and_deleted_roles_lose_everything(
    server: RunningServer, iam: BaseClient
) -> None:
    """AWS "Revoke IAM role temporary security credentials": policies are evaluated at request time, not copied into the
    session.
    """
    ken = make_user(iam, "ken")
    arn = make_role(iam, "Live", trust(f"arn:aws:iam::{ACCT}:user/ken"), LIST_ALL)
    session_iam = client(server, "iam", creds_of(
        client(server, "sts", ken).assume_role(RoleArn=arn, RoleSessionName="ss")))  # fmt: skip
    assert session_iam.list_users()["Users"]
    iam.put_role_policy(RoleName="Live", PolicyName="deny", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "iam:ListUsers", "Resource": "*"}))  # fmt: skip
    with pytest.raises(ClientError) as info:
        session_iam.list_users()
    assert "with an explicit deny in an identity-based policy" in denied(info)
    iam.delete_role_policy(RoleName="Live", PolicyName="deny")
    iam.delete_role_policy(RoleName="Live", PolicyName="perms")
    iam.delete_role(RoleName="Live")
    with pytest.raises(ClientError) as info:
        session_iam.list_users()
    denied(info)
    iam.create_role(RoleName="Live", AssumeRolePolicyDocument=trust(ACCT))  # same name, another role
    iam.put_role_policy(RoleName="Live", PolicyName="perms", PolicyDocument=LIST_ALL)
    with pytest.raises(ClientError) as info:
        session_iam.list_users()
    denied(info)


def test_token_issue_time_deny_revokes_older_sessions_only(
    server: RunningServer, iam: BaseClient, clock: MovableClock
) -> None:
    """AWS "Revoke IAM role temporary security credentials": AWSRevokeOlderSessions = Deny with DateLessThan
    aws:TokenIssueTime.
    """
    sts = client(server, "sts", make_user(iam, "leo"))
    arn = make_role(iam, "Revocable", trust(f"arn:aws:iam::{ACCT}:user/leo"), LIST_ALL)
    clock.offset = timedelta(minutes=-10)  # within the signature's 15-minute skew
    try:
        old = client(server, "iam", creds_of(sts.assume_role(RoleArn=arn, RoleSessionName="old")))
    finally:
        clock.offset = timedelta(0)
    new = client(server, "iam", creds_of(sts.assume_role(RoleArn=arn, RoleSessionName="new")))
    cutoff = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    iam.put_role_policy(RoleName="Revocable", PolicyName="AWSRevokeOlderSessions", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}))  # fmt: skip
    with pytest.raises(ClientError) as info:
        old.list_users()
    assert "with an explicit deny in an identity-based policy" in denied(info)
    assert "Users" in new.list_users()


# -- authentication of session credentials ------------------------------------------------------------


def test_expired_tampered_and_mismatched_tokens(server: RunningServer, iam: BaseClient, clock: MovableClock) -> None:
    """AWS "Troubleshoot Signature Version 4 signing": ExpiredToken for an expired session; InvalidClientTokenId for
    anything not issued.
    """
    mia = make_user(iam, "mia")
    arn = make_role(iam, "Short", trust(f"arn:aws:iam::{ACCT}:user/mia"), LIST_ALL)
    c = creds_of(client(server, "sts", mia).assume_role(RoleArn=arn, RoleSessionName="ss", DurationSeconds=900))
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    ok = signed_request(server, body, key=c["AccessKeyId"], secret=c["SecretAccessKey"], token=c["SessionToken"],
                        service="sts")  # fmt: skip
    assert ok.status_code == 200
    later = datetime.now(UTC) + timedelta(minutes=16)
    clock.offset = timedelta(minutes=16)
    try:
        expired = signed_request(server, body, key=c["AccessKeyId"], secret=c["SecretAccessKey"],
                                 token=c["SessionToken"], service="sts", at=later.replace(tzinfo=None))  # fmt: skip
    finally:
        clock.offset = timedelta(0)
    assert expired.status_code == 403 and "<Code>ExpiredToken</Code>" in expired.text
    assert "The security token included in the request is expired" in expired.text
    token = c["SessionToken"]
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for key, secret, tok in (
        (c["AccessKeyId"], c["SecretAccessKey"], tampered),  # one character changed
        (c["AccessKeyId"], c["SecretAccessKey"], None),  # ASIA without its token
        (mia["AccessKeyId"], mia["SecretAccessKey"], token),  # a long-term key with a token
        ("ASIA" + c["AccessKeyId"][4:-1] + ("A" if c["AccessKeyId"][-1] != "A" else "B"), c["SecretAccessKey"],
         token),  # another key id: the token is bound to its own
    ):  # fmt: skip
        r = signed_request(server, body, key=key, secret=secret, token=tok, service="sts")
        assert r.status_code == 403 and "<Code>InvalidClientTokenId</Code>" in r.text, r.text
        assert token not in r.text and c["SecretAccessKey"] not in r.text


def test_sealing_key_rotation_keeps_live_sessions(server: RunningServer, iam: BaseClient) -> None:
    """A token sealed under the old master key still opens once a new primary key is added."""
    sts = client(server, "sts", make_user(iam, "nina"))
    arn = make_role(iam, "Rotation", trust(f"arn:aws:iam::{ACCT}:user/nina"), LIST_ALL)
    session = client(server, "iam", creds_of(sts.assume_role(RoleArn=arn, RoleSessionName="before")))
    assert server.backend.data_dir is not None
    old = load_master_key(server.backend.data_dir, {})
    new = bytes(32 - len(b"rotated")) + b"rotated"
    original = server.backend.secret_box
    server.backend.secret_box = SecretBox({key_id_for(old): old, key_id_for(new): new}, primary=key_id_for(new))
    try:
        assert session.list_users()["Users"]  # sealed under the old key
        after = sts.assume_role(RoleArn=arn, RoleSessionName="after")
        assert after["Credentials"]["SessionToken"].startswith(f"v1:{key_id_for(new)}:")
        assert client(server, "iam", creds_of(after)).list_users()["Users"]
    finally:
        server.backend.secret_box = original


# -- tags, transitive tags, source identity, MFA -----------------------------------------------------


def test_session_tags_need_tag_session_and_become_principal_tags(server: RunningServer, iam: BaseClient) -> None:
    """AWS "AWS global condition context keys" (properties of the principal): aws:PrincipalTag = role tags overlaid by
    session tags; sts:TagSession.
    """
    oscar = make_user(iam, "oscar")
    no_tags = make_role(iam, "NoTagSession", trust(f"arn:aws:iam::{ACCT}:user/oscar"))
    sts = client(server, "sts", oscar)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=no_tags, RoleSessionName="ss", Tags=[{"Key": "team", "Value": "blue"}])
    assert denied(info) == (
        f"User: arn:aws:iam::{ACCT}:user/oscar is not authorized to perform: sts:TagSession on resource: {no_tags} "
        "because no role trust policy allows the sts:TagSession action"
    )
    by_tag = policy(allow("iam:ListUsers", StringEquals={"aws:PrincipalTag/team": "blue"}),
                    allow("iam:ListRoles", StringEquals={"aws:PrincipalTag/level": "role"}))  # fmt: skip
    arn = make_role(iam, "Tagged", trust(f"arn:aws:iam::{ACCT}:user/oscar", actions=["sts:AssumeRole",
                    "sts:TagSession"]), by_tag, Tags=[{"Key": "Team", "Value": "red"},
                    {"Key": "level", "Value": "role"}])  # fmt: skip
    plain = client(server, "iam", creds_of(sts.assume_role(RoleArn=arn, RoleSessionName="plain")))
    assert "Roles" in plain.list_roles()  # role tag level=role
    with pytest.raises(ClientError) as info:
        plain.list_users()  # role tag Team=red
    denied(info)
    out = sts.assume_role(RoleArn=arn, RoleSessionName="blue", Tags=[{"Key": "team", "Value": "blue"}])
    assert out["PackedPolicySize"] >= 1
    blue = client(server, "iam", creds_of(out))
    assert "Users" in blue.list_users()  # the session tag overrides the role's Team (case-insensitive)
    assert "Roles" in blue.list_roles()
    for tags, keys in (
        ([{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}], []),  # duplicate keys, any case
        ([{"Key": "a", "Value": "1"}], ["b"]),  # a transitive key must be one of the tags
    ):
        with pytest.raises(ClientError) as info:
            sts.assume_role(RoleArn=arn, RoleSessionName="ss", Tags=tags, TransitiveTagKeys=keys)
        assert failure(info)[:2] == (400, "InvalidParameterValue")


def test_transitive_tags_and_source_identity_propagate_through_chaining(server: RunningServer, iam: BaseClient) -> None:
    """STS API "AssumeRole" step 6: transitive tags and the source identity follow the chain."""
    pat = make_user(iam, "pat")
    actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    first = make_role(iam, "HopOne", trust(f"arn:aws:iam::{ACCT}:user/pat", actions=actions),
                      policy(allow("sts:AssumeRole")))  # fmt: skip
    perms = policy(
        allow("iam:ListUsers", StringEquals={"aws:PrincipalTag/project": "apollo"}),
        allow("iam:ListRoles", StringEquals={"aws:SourceIdentity": "pat@example.com"}),
    )
    second = make_role(iam, "HopTwo", trust(first, actions=actions), perms)
    no_source = make_role(iam, "NoSourceIdentity", trust(f"arn:aws:iam::{ACCT}:user/pat"))
    sts = client(server, "sts", pat)
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=no_source, RoleSessionName="ss", SourceIdentity="pat@example.com")
    assert "sts:SetSourceIdentity" in denied(info)
    out = sts.assume_role(
        RoleArn=first, RoleSessionName="one", SourceIdentity="pat@example.com",
        Tags=[{"Key": "project", "Value": "apollo"}, {"Key": "temp", "Value": "x"}], TransitiveTagKeys=["project"],
    )  # fmt: skip
    assert out["SourceIdentity"] == "pat@example.com"
    hop = client(server, "sts", creds_of(out))
    with pytest.raises(ClientError) as info:  # an inherited transitive key cannot be set again
        hop.assume_role(RoleArn=second, RoleSessionName="two", Tags=[{"Key": "Project", "Value": "x"}])
    assert failure(info)[:2] == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as info:  # the source identity of a chain never changes
        hop.assume_role(RoleArn=second, RoleSessionName="two", SourceIdentity="someone-else")
    denied(info)
    two = hop.assume_role(RoleArn=second, RoleSessionName="two")
    assert two["SourceIdentity"] == "pat@example.com" and two["PackedPolicySize"] >= 1
    session_iam = client(server, "iam", creds_of(two))
    assert "Users" in session_iam.list_users()  # project=apollo was transitive
    assert "Roles" in session_iam.list_roles()  # aws:SourceIdentity inherited


def test_mfa_parameters_fail_closed_until_devices_exist(server: RunningServer, iam: BaseClient) -> None:
    """AWS "Secure API access with MFA": a serial number not associated with the caller is refused (AWS's message)."""
    sts = client(server, "sts", make_user(iam, "quinn"))
    arn = make_role(iam, "NeedsMfa", trust(f"arn:aws:iam::{ACCT}:user/quinn"))
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=arn, RoleSessionName="ss", SerialNumber=f"arn:aws:iam::{ACCT}:mfa/quinn",
                        TokenCode="123456")  # fmt: skip
    assert denied(info) == (
        "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is "
        "valid and associated with this user."
    )


# -- cross-account, last use, audit ------------------------------------------------------------------


def _foreign_user(server: RunningServer, name: str, document: str | None) -> dict[str, str]:
    """A user of a second account, created in the store directly (the server serves one account)."""
    backend = server.backend
    key_id = new_access_key_id(account_id=OTHER)
    secret = "s" * 40
    with backend.store.read() as rtx:
        exists = OTHER in {a.id for a in rtx.list_accounts()}
    with backend.store.transaction() as tx:
        if not exists:
            tx.create_account(OTHER)
        tx.create_user(OTHER, name)
        if document is not None:
            tx.put_inline_policy(EntityKind.USER, OTHER, name, "inline", document)
        tx.create_access_key(OTHER, name, key_id, backend.secret_box.seal(secret, context=access_key_context(key_id))
                             .encode())  # fmt: skip
    backend.changed()
    return {"AccessKeyId": key_id, "SecretAccessKey": secret}


def test_cross_account_needs_both_sides(server: RunningServer, iam: BaseClient) -> None:
    """AWS "Cross-account policy evaluation logic": the trust policy AND the caller's identity policy must allow."""
    arn = make_role(iam, "CrossAccount", trust(OTHER), LIST_ALL)
    without = _foreign_user(server, "outsider", None)
    with pytest.raises(ClientError) as info:
        client(server, "sts", without).assume_role(RoleArn=arn, RoleSessionName="xx")
    assert denied(info) == (
        f"User: arn:aws:iam::{OTHER}:user/outsider is not authorized to perform: sts:AssumeRole on resource: {arn} "
        "because no identity-based policy allows the sts:AssumeRole action"
    )
    allowed = _foreign_user(server, "partner", policy(allow("sts:AssumeRole", arn)))
    out = client(server, "sts", allowed).assume_role(RoleArn=arn, RoleSessionName="xx")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCT}:assumed-role/CrossAccount/xx"
    assert client(server, "iam", creds_of(out)).list_roles()["Roles"]
    not_trusted = make_role(iam, "NotForOthers", trust(ACCT))
    with pytest.raises(ClientError) as info:
        client(server, "sts", _foreign_user(server, "eager", policy(allow("sts:AssumeRole")))).assume_role(
            RoleArn=not_trusted, RoleSessionName="xx")  # fmt: skip
    assert "because no role trust policy allows the sts:AssumeRole action" in denied(info)


def test_role_last_used_and_audit_records(server: RunningServer, iam: BaseClient) -> None:
    """AWS "CloudTrail userIdentity element"; AWS "Logging IAM and AWS STS API calls with AWS CloudTrail": AssumedRole
    userIdentity with sessionContext; STS region; secrets redacted.
    """
    rita = make_user(iam, "rita")
    arn = make_role(iam, "Audited", trust(f"arn:aws:iam::{ACCT}:user/rita"), LIST_ALL)
    role_id = iam.get_role(RoleName="Audited")["Role"]["RoleId"]
    out = client(server, "sts", rita, region="eu-west-1").assume_role(RoleArn=arn, RoleSessionName="audit")
    used = iam.get_role(RoleName="Audited")["Role"]["RoleLastUsed"]
    assert used["Region"] == "eu-west-1" and datetime.now(UTC) - used["LastUsedDate"] < timedelta(minutes=1)
    client(server, "iam", creds_of(out)).list_users()
    assert server.backend.audit is not None
    server.backend.audit.flush()
    with server.backend.store.read() as tx:
        assumes = [json.loads(e.record) for e in tx.list_audit_events(ACCT, event_name="AssumeRole").items]
        listing = [json.loads(e.record) for e in tx.list_audit_events(ACCT, event_name="ListUsers").items]
    assume = next(e for e in assumes if (e.get("requestParameters") or {}).get("roleArn") == arn)
    assert assume["awsRegion"] == "eu-west-1" and assume["readOnly"] is False
    creds = assume["responseElements"]["credentials"]
    assert creds["accessKeyId"] == out["Credentials"]["AccessKeyId"]
    assert creds["secretAccessKey"] == creds["sessionToken"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert assume["responseElements"]["assumedRoleUser"]["arn"] == f"arn:aws:sts::{ACCT}:assumed-role/Audited/audit"
    session_event = next(
        e for e in listing if e["userIdentity"].get("accessKeyId") == out["Credentials"]["AccessKeyId"]
    )
    identity = session_event["userIdentity"]
    assert identity["type"] == "AssumedRole" and identity["principalId"] == f"{role_id}:audit"
    assert identity["arn"] == f"arn:aws:sts::{ACCT}:assumed-role/Audited/audit"
    assert identity["sessionContext"]["sessionIssuer"] == {
        "type": "Role", "principalId": role_id, "arn": arn, "accountId": ACCT, "userName": "Audited",
    }  # fmt: skip
    assert identity["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    everything = json.dumps([*assumes, *listing])
    assert out["Credentials"]["SessionToken"] not in everything
    assert out["Credentials"]["SecretAccessKey"] not in everything


def test_sessions_cannot_get_session_or_federation_tokens(server: RunningServer, iam: BaseClient) -> None:
    """AWS "Compare AWS STS credentials": role sessions may call every STS operation but these two."""
    sam = make_user(iam, "sam")
    arn = make_role(iam, "NoTokens", trust(f"arn:aws:iam::{ACCT}:user/sam"), policy(allow("sts:*")))
    sts = client(server, "sts", creds_of(client(server, "sts", sam).assume_role(
        RoleArn=arn, RoleSessionName="ss")))  # fmt: skip
    with pytest.raises(ClientError) as info:
        sts.get_session_token()
    assert denied(info) == "Cannot call GetSessionToken with session credentials"
    with pytest.raises(ClientError) as info:
        sts.get_federation_token(Name="fed")
    assert denied(info) == "Cannot call GetFederationToken with session credentials"
    assert sts.get_access_key_info(AccessKeyId=sam["AccessKeyId"])["Account"] == ACCT


def test_session_principal_context_keys(server: RunningServer, iam: BaseClient) -> None:
    """AWS "AWS global condition context keys" (properties of the principal): aws:PrincipalArn is the ROLE ARN,
    aws:userid is <role id>:<session>,
    aws:PrincipalType is AssumedRole; aws:MultiFactorAuthPresent is false without MFA."""
    tess = make_user(iam, "tess")
    arn = f"arn:aws:iam::{ACCT}:role/ctx/Context"
    make_role(iam, "Context", trust(f"arn:aws:iam::{ACCT}:user/tess"), Path="/ctx/")
    role_id = iam.get_role(RoleName="Context")["Role"]["RoleId"]
    conditions = {
        "ArnEquals": {"aws:PrincipalArn": arn},
        "StringEquals": {"aws:userid": f"{role_id}:ctx-session", "aws:PrincipalType": "AssumedRole"},
        "Bool": {"aws:MultiFactorAuthPresent": "false"},
    }
    iam.put_role_policy(RoleName="Context", PolicyName="ctx", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*", "Condition": conditions}))  # fmt: skip
    sts = client(server, "sts", tess)
    good = client(server, "iam", creds_of(sts.assume_role(RoleArn=arn, RoleSessionName="ctx-session")))
    assert "Users" in good.list_users()
    other = client(server, "iam", creds_of(sts.assume_role(RoleArn=arn, RoleSessionName="other-session")))
    with pytest.raises(ClientError) as info:
        other.list_users()
    assert f"arn:aws:sts::{ACCT}:assumed-role/Context/other-session" in denied(info)
