"""Principal.grant: how strongly a resource policy's ``Principal.AWS`` value binds a caller.

Derived from the principal's fields on each call (a cached principal keeps no mapping of the
names it answers to); the expected grants are AWS's ("Policy evaluation logic", identity-based
policies with resource-based policies): the caller's own user or session ARN and a user's unique
id bind it outright, a role's ARN or unique id binds its sessions through the role, a federated
user's parent user binds it through the user, the account and its root ARN delegate to the
account's identity policies.
"""

from __future__ import annotations

import pytest

from iamd.policy import Principal
from iamd.policy.request import GRANT_ACCOUNT, GRANT_ENTITY, GRANT_FINAL

ACCOUNT = "111122223333"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
USER = f"arn:aws:iam::{ACCOUNT}:user/team/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/path/deploy"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/build-7"
FEDERATED = f"arn:aws:sts::{ACCOUNT}:federated-user/bob"
OTHERS = ("222233334444", "arn:aws:iam::222233334444:root", f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAOTHER",
          f"arn:aws:iam::{ACCOUNT}:role/deploy", "", "*", f"arn:aws:iam::{ACCOUNT}:user/team/alice/")  # fmt: skip


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (Principal.from_arn(ROOT), {ACCOUNT: GRANT_ACCOUNT, ROOT: GRANT_ACCOUNT}),
        (Principal.from_arn(USER, unique_id="AIDAALICE"),
         {ACCOUNT: GRANT_ACCOUNT, ROOT: GRANT_ACCOUNT, USER: GRANT_FINAL, "AIDAALICE": GRANT_FINAL}),
        (Principal.from_arn(ROLE, unique_id="AROADEPLOY"),
         {ACCOUNT: GRANT_ACCOUNT, ROOT: GRANT_ACCOUNT, ROLE: GRANT_ENTITY, "AROADEPLOY": GRANT_ENTITY}),
        (Principal.from_arn(SESSION, unique_id="AROADEPLOY", role_arn=ROLE),
         {ACCOUNT: GRANT_ACCOUNT, ROOT: GRANT_ACCOUNT, ROLE: GRANT_ENTITY, SESSION: GRANT_FINAL,
          "AROADEPLOY": GRANT_ENTITY}),
        (Principal.from_arn(FEDERATED, parent_user_arn=USER),
         {ACCOUNT: GRANT_ACCOUNT, ROOT: GRANT_ACCOUNT, FEDERATED: GRANT_FINAL, USER: GRANT_ENTITY}),
        (Principal.from_arn(FEDERATED), {ACCOUNT: GRANT_ACCOUNT, ROOT: GRANT_ACCOUNT, FEDERATED: GRANT_FINAL}),
        (Principal.service_principal("ec2.amazonaws.com"), {}),
        (Principal.federated("accounts.google.com", ACCOUNT), {}),
        (Principal.anonymous(), {}),
    ],
)  # fmt: skip
def test_each_name_binds_its_caller_as_aws_does(principal: Principal, expected: dict[str, str]) -> None:
    assert dict(principal.names) == expected
    for name, grant in expected.items():
        assert principal.grant(name) == grant, name
    for name in OTHERS:
        if name not in expected:
            assert principal.grant(name) is None, name


def test_principals_share_their_account_and_partition_strings() -> None:
    """A principal is kept with each cached credential: its account and partition are one object
    each across principals, not a copy per caller."""
    a = Principal.from_arn("".join(["arn:aws:iam::", ACCOUNT, ":user/a"]))
    b = Principal.from_arn("".join(["arn:aws:iam::", ACCOUNT, ":user/b"]))
    assert a.account is b.account
    assert a.partition is b.partition
