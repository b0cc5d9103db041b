"""Last-accessed data against a real server, with boto3: computed from iamd's own audit trail
(GenerateServiceLastAccessedDetails, GetServiceLastAccessedDetails, …WithEntities)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, failure, policy
from tests.api.server import RunningServer


def _services(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["ServiceNamespace"]: s for s in report["ServicesLastAccessed"]}


@pytest.fixture(scope="module")
def alice(api_server: RunningServer, iam: BaseClient, user_client: UserClient) -> str:
    """alice may read IAM and S3; she lists users, reads herself, and is refused a CreateUser."""
    client = user_client("alice", policy(allow(["iam:Get*", "iam:List*", "s3:GetObject"])))
    client.list_users()
    client.get_user()
    with pytest.raises(ClientError):
        client.create_user(UserName="mallory")
    api_server.backend.audit.flush()
    return str(iam.get_user(UserName="alice")["User"]["Arn"])


def test_a_users_report_lists_the_services_its_policies_reach_with_the_last_attempt(
    iam: BaseClient, alice: str
) -> None:
    job = iam.generate_service_last_accessed_details(Arn=alice)["JobId"]
    assert len(job) == 36
    report = iam.get_service_last_accessed_details(JobId=job)
    assert report["JobStatus"] == "COMPLETED" and report["JobType"] == "SERVICE_LEVEL"
    assert report["JobCompletionDate"] >= report["JobCreationDate"]
    services = _services(report)
    assert set(services) == {"iam", "s3"}  # only what the policies can allow
    used = services["iam"]
    assert used["ServiceName"] == "AWS Identity and Access Management (IAM)"
    assert used["LastAuthenticatedEntity"] == alice and used["LastAuthenticatedRegion"] == "us-east-1"
    assert used["TotalAuthenticatedEntities"] == 1 and "LastAuthenticated" in used
    assert "TrackedActionsLastAccessed" not in used  # service level
    unused = services["s3"]
    assert unused["TotalAuthenticatedEntities"] == 0 and "LastAuthenticated" not in unused


def test_action_level_lists_each_tracked_action_attempted_denials_included(iam: BaseClient, alice: str) -> None:
    job = iam.generate_service_last_accessed_details(Arn=alice, Granularity="ACTION_LEVEL")["JobId"]
    report = iam.get_service_last_accessed_details(JobId=job)
    assert report["JobType"] == "ACTION_LEVEL"
    actions = {a["ActionName"]: a for a in _services(report)["iam"]["TrackedActionsLastAccessed"]}
    assert {"ListUsers", "GetUser", "CreateUser"} <= set(actions)  # the denied CreateUser was an attempt
    assert actions["ListUsers"]["LastAccessedEntity"] == alice
    assert actions["ListUsers"]["LastAccessedRegion"] == "us-east-1"


def test_a_groups_report_names_each_member_with_entities(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient, alice: str
) -> None:
    iam.create_group(GroupName="readers")
    iam.put_group_policy(GroupName="readers", PolicyName="p", PolicyDocument=policy(allow("iam:List*")))
    user_client("bob")
    for member in ("alice", "bob"):
        iam.add_user_to_group(GroupName="readers", UserName=member)
    arn = iam.get_group(GroupName="readers")["Group"]["Arn"]
    job = iam.generate_service_last_accessed_details(Arn=arn)["JobId"]
    services = _services(iam.get_service_last_accessed_details(JobId=job))
    assert set(services) == {"iam"} and services["iam"]["TotalAuthenticatedEntities"] == 1
    details = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam")
    assert details["JobStatus"] == "COMPLETED"
    entities = {d["EntityInfo"]["Name"]: d for d in details["EntityDetailsList"]}
    assert set(entities) == {"alice", "bob"}
    assert entities["alice"]["EntityInfo"]["Type"] == "USER" and entities["alice"]["EntityInfo"]["Arn"] == alice
    assert "LastAuthenticated" in entities["alice"] and "LastAuthenticated" not in entities["bob"]
    page = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam", MaxItems=1)
    assert page["IsTruncated"] and len(page["EntityDetailsList"]) == 1
    rest = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam",
                                                               Marker=page["Marker"])  # fmt: skip
    assert len(rest["EntityDetailsList"]) == 1 and not rest["IsTruncated"]


def test_a_policys_report_counts_the_entities_it_is_attached_to(iam: BaseClient, acct: str, alice: str) -> None:
    arn = iam.create_policy(PolicyName="reader", PolicyDocument=policy(allow(["iam:List*", "sts:*"])))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="alice", PolicyArn=arn)
    job = iam.generate_service_last_accessed_details(Arn=arn)["JobId"]
    services = _services(iam.get_service_last_accessed_details(JobId=job))
    assert set(services) == {"iam", "sts"}
    assert services["iam"]["LastAuthenticatedEntity"] == alice
    details = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="sts")
    assert [d["EntityInfo"]["Name"] for d in details["EntityDetailsList"]] == ["alice"]


def test_errors(iam: BaseClient, acct: str) -> None:
    with pytest.raises(ClientError) as unknown_job:
        iam.get_service_last_accessed_details(JobId="00000000-0000-4000-8000-000000000000")
    assert failure(unknown_job)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as no_user:
        iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{acct}:user/nobody")
    assert failure(no_user)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as bad:
        iam.generate_service_last_accessed_details(Arn="arn:aws:s3:::bucket-of-things")
    assert failure(bad) == (400, "InvalidInput", "ARN arn:aws:s3:::bucket-of-things is not valid.")


def test_generating_is_authorized_on_the_entity(iam: BaseClient, user_client: UserClient, acct: str) -> None:
    target = f"arn:aws:iam::{acct}:user/carol"
    client = user_client("carol", policy(allow("iam:GenerateServiceLastAccessedDetails", target)))
    assert client.generate_service_last_accessed_details(Arn=target)["JobId"]
    with pytest.raises(ClientError) as denied:
        client.generate_service_last_accessed_details(Arn=f"arn:aws:iam::{acct}:user/alice")
    status, code, message = failure(denied)
    assert (status, code) == (403, "AccessDenied") and f"on resource: arn:aws:iam::{acct}:user/alice" in message
