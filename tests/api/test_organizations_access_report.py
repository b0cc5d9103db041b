"""GenerateOrganizationsAccessReport / GetOrganizationsAccessReport against a real server:
services the SCPs allow under an Organizations entity, and when its accounts last used them
(from iamd's own audit trail)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import failure
from tests.api.server import RunningServer
from tests.api.test_organizations import _member_admin, client, new_account

IAM_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def setup(api_server: RunningServer) -> dict[str, Any]:
    orgs = client(api_server, "organizations", api_server.root_key, api_server.root_secret)
    org = orgs.create_organization(FeatureSet="ALL")["Organization"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    member = new_account(orgs, "report-member")
    member_iam = client(api_server, "iam", *_member_admin(api_server, member, "report-admin"))
    member_iam.list_users()
    policy = orgs.create_policy(Name="iam-only", Description="", Type="SERVICE_CONTROL_POLICY",
                                Content=IAM_ONLY)["Policy"]["PolicySummary"]["Id"]  # fmt: skip
    api_server.backend.audit.flush()
    return {"org": org["Id"], "root": root, "member": member, "member_iam": member_iam, "policy": policy}


def test_a_root_report_lists_every_allowed_service_and_who_used_it(iam: BaseClient, setup: dict[str, Any]) -> None:
    path = f"{setup['org']}/{setup['root']}"
    job = iam.generate_organizations_access_report(EntityPath=path)["JobId"]
    report = iam.get_organizations_access_report(JobId=job, MaxItems=1000)
    assert report["JobStatus"] == "COMPLETED"
    details = {d["ServiceNamespace"]: d for d in report["AccessDetails"]}
    assert report["NumberOfServicesAccessible"] == len(details) > 400  # FullAWSAccess allows every service
    assert report["NumberOfServicesNotAccessed"] == len([d for d in details.values() if "LastAuthenticatedTime"
                                                           not in d])  # fmt: skip
    used = details["iam"]
    assert used["TotalAuthenticatedEntities"] == 2  # the management account and the member made IAM calls
    assert used["EntityPath"].startswith(path + "/") and used["Region"] == "us-east-1"
    assert details["ec2"]["TotalAuthenticatedEntities"] == 0 and "LastAuthenticatedTime" not in details["ec2"]
    newest_first = iam.get_organizations_access_report(JobId=job, SortKey="LAST_AUTHENTICATED_TIME_DESCENDING",
                                                       MaxItems=2)  # fmt: skip
    assert all("LastAuthenticatedTime" in d for d in newest_first["AccessDetails"])
    assert newest_first["IsTruncated"]


def test_a_report_for_one_policy_lists_what_it_allows(iam: BaseClient, setup: dict[str, Any]) -> None:
    path = f"{setup['org']}/{setup['root']}/{setup['member']}"
    job = iam.generate_organizations_access_report(EntityPath=path, OrganizationsPolicyId=setup["policy"])["JobId"]
    report = iam.get_organizations_access_report(JobId=job)
    assert [d["ServiceNamespace"] for d in report["AccessDetails"]] == ["iam"]
    assert report["AccessDetails"][0]["EntityPath"] == path
    assert (report["NumberOfServicesAccessible"], report["NumberOfServicesNotAccessed"]) == (1, 0)


def test_errors(iam: BaseClient, setup: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as member:
        setup["member_iam"].generate_organizations_access_report(EntityPath=f"{setup['org']}/{setup['root']}")
    assert failure(member)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as bad_path:
        iam.generate_organizations_access_report(EntityPath=f"{setup['org']}/r-zzzz")
    assert failure(bad_path)[:2] == (400, "InvalidInput")
    with pytest.raises(ClientError) as unknown:
        iam.get_organizations_access_report(JobId="00000000-0000-4000-8000-000000000000")
    assert failure(unknown)[:2] == (404, "NoSuchEntity")
