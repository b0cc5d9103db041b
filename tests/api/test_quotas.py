"""Entity-count quotas per account (AWS "IAM and AWS STS quotas"): LimitExceeded at the limit.

The account is filled to each quota straight through the store (thousands of API calls
would be slow), then the API is asked for one more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.store import Tx
from tests.api.conftest import allow, failure, policy
from tests.api.server import RunningServer

TRUST = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
DOC = policy(allow("s3:GetObject"))


def fill(server: RunningServer, write: Callable[[Tx, str], Any]) -> None:
    with server.backend.store.transaction() as tx:
        write(tx, server.account_id)
    server.backend.changed()


CASES: list[tuple[str, str, int, Callable[[Tx, str], Any], Callable[[BaseClient, str], Any]]] = [
    ("Users", "UsersPerAccount", 5000,
     lambda tx, a: tx.bulk_create_users(a, [f"bulk-{i:04}" for i in range(5000)]),
     lambda iam, name: iam.create_user(UserName=name)),
    ("Groups", "GroupsPerAccount", 300,
     lambda tx, a: [tx.create_group(a, f"bulk-{i:04}") for i in range(300)],
     lambda iam, name: iam.create_group(GroupName=name)),
    ("Roles", "RolesPerAccount", 1000,
     lambda tx, a: [tx.create_role(a, f"bulk-{i:04}", assume_role_policy=TRUST) for i in range(1000)],
     lambda iam, name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)),
    ("Policies", "PoliciesPerAccount", 1500,
     lambda tx, a: [tx.create_policy(a, f"bulk-{i:04}", DOC) for i in range(1500)],
     lambda iam, name: iam.create_policy(PolicyName=name, PolicyDocument=DOC)),
    ("InstanceProfiles", "InstanceProfilesPerAccount", 1000,
     lambda tx, a: [tx.create_instance_profile(a, f"bulk-{i:04}") for i in range(1000)],
     lambda iam, name: iam.create_instance_profile(InstanceProfileName=name)),
]  # fmt: skip


@pytest.mark.parametrize(("summary", "quota", "limit", "populate", "create"), CASES, ids=[c[0] for c in CASES])
def test_entity_count_quotas(
    api_server: RunningServer,
    iam: BaseClient,
    summary: str,
    quota: str,
    limit: int,
    populate: Callable[[Tx, str], Any],
    create: Callable[[BaseClient, str], Any],
) -> None:
    fill(api_server, populate)
    counts = iam.get_account_summary()["SummaryMap"]
    assert counts[summary] == counts[f"{summary}Quota"] == limit
    generation = api_server.backend.store.generation()
    with pytest.raises(ClientError) as e:
        create(iam, "one-too-many")
    assert failure(e) == (409, "LimitExceeded", f"Cannot exceed quota for {quota}: {limit}")
    with pytest.raises(ClientError) as e:  # a taken name is still reported as such
        create(iam, "BULK-0007")
    assert failure(e)[:2] == (409, "EntityAlreadyExists")
    assert api_server.backend.store.generation() == generation


@pytest.mark.parametrize(("summary", "quota", "limit", "populate", "create"), CASES, ids=[c[0] for c in CASES])
def test_an_account_s_own_quota_raises_or_lowers_aws_s(
    api_server: RunningServer,
    iam: BaseClient,
    summary: str,
    quota: str,
    limit: int,
    populate: Callable[[Tx, str], Any],
    create: Callable[[BaseClient, str], Any],
) -> None:
    """``iamd db quota`` (docs/iam-api.md, "Quotas"): AWS raises these quotas on request; a self-hosted
    account sets its own, which the API checks and GetAccountSummary reports."""
    store, account = api_server.backend.store, api_server.account_id
    with store.read() as tx:  # filled by the test above in this module, or now
        filled = tx.get_entity_quotas(account) == {} and iam.get_account_summary()["SummaryMap"][summary] == limit
    if not filled:
        fill(api_server, populate)
    with store.transaction() as tx:
        tx.set_entity_quota(account, summary, limit + 1)
    assert iam.get_account_summary()["SummaryMap"][f"{summary}Quota"] == limit + 1
    create(iam, "one-more")  # now within the account's quota
    with pytest.raises(ClientError) as e:
        create(iam, "two-more")
    assert failure(e) == (409, "LimitExceeded", f"Cannot exceed quota for {quota}: {limit + 1}")
    with store.transaction() as tx:  # lowered below the count: no more creates
        tx.set_entity_quota(account, summary, 10)
    with pytest.raises(ClientError) as e:
        create(iam, "three-more")
    assert failure(e) == (409, "LimitExceeded", f"Cannot exceed quota for {quota}: 10")
    with store.transaction() as tx:
        tx.set_entity_quota(account, summary, None)  # back to AWS's default
        assert tx.get_entity_quotas(account) == {}
    assert iam.get_account_summary()["SummaryMap"][f"{summary}Quota"] == limit
