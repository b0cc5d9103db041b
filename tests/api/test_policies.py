"""Managed policies and versions, attachments, inline policies, boundaries (AWS "Versioning IAM policies"; IAM API
"PutUserPolicy", "PutGroupPolicy", "PutRolePolicy").
"""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.policy import DocumentKind, PolicyValidationError, parse_policy
from tests.api.conftest import allow, failure, policy, signed_request
from tests.api.server import RunningServer

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
S3 = policy(allow("s3:GetObject", "arn:aws:s3:::bucket/*"))
TRUST = policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})


def arn_of(acct: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{acct}:policy{path}{name}"


# -- managed policies and versions ----------------------------------------------------------
def test_create_and_get_policy_shape(iam: BaseClient, acct: str) -> None:
    created = iam.create_policy(
        PolicyName="Reader", Path="/team/", PolicyDocument=S3, Description="reads",
        Tags=[{"Key": "owner", "Value": "me"}],
    )["Policy"]  # fmt: skip
    assert created["Arn"] == arn_of(acct, "Reader", "/team/") and created["PolicyId"].startswith("ANPA")
    assert created["DefaultVersionId"] == "v1" and created["AttachmentCount"] == 0
    assert created["PermissionsBoundaryUsageCount"] == 0 and created["IsAttachable"] is True
    assert created["Description"] == "reads" and created["Tags"] == [{"Key": "owner", "Value": "me"}]
    got = iam.get_policy(PolicyArn=created["Arn"])["Policy"]
    assert got == created
    iam.get_waiter("policy_exists").wait(PolicyArn=created["Arn"], WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    version = iam.get_policy_version(PolicyArn=created["Arn"], VersionId="v1")["PolicyVersion"]
    assert version["Document"] == json.loads(S3) and version["IsDefaultVersion"] is True
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="READER", PolicyDocument=S3)  # unique per account, any path
    assert failure(e) == (
        409, "EntityAlreadyExists", "A policy called READER already exists. Duplicate names are not allowed.",
    )  # fmt: skip
    missing = arn_of(acct, "Nope")
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=missing)
    assert failure(e) == (404, "NoSuchEntity", f"Policy {missing} was not found.")


def test_policy_documents_are_stored_as_sent_and_url_encoded(api_server: RunningServer, iam: BaseClient) -> None:
    document = (
        '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}]\n}'
    )
    arn = iam.create_policy(PolicyName="Spaced", PolicyDocument=document)["Policy"]["Arn"]
    body = f"Action=GetPolicyVersion&Version=2010-05-08&PolicyArn={arn}&VersionId=v1"
    xml = signed_request(api_server, body).text
    encoded = xml.split("<Document>")[1].split("</Document>")[0]
    assert "%0A" in encoded and "{" not in encoded and unquote(encoded) == document


@pytest.mark.parametrize(
    "document",
    [
        policy(allow("s3:GetObject", "bucket")),
        policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principal": "*"}),
        '{"Version": "2012-10-17"}',
        "{",
    ],
    ids=["resource-not-arn", "principal-in-identity-policy", "no-statement", "syntax"],
)
def test_policy_documents_are_validated_with_the_engines_message(
    iam: BaseClient, document: str, request: pytest.FixtureRequest
) -> None:
    try:
        parse_policy(document, DocumentKind.IDENTITY)
        raise AssertionError("expected the engine to refuse")
    except PolicyValidationError as error:
        expected = error.message
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="Broken", PolicyDocument=document)
    assert failure(e) == (400, "MalformedPolicyDocument", expected)
    user = f"InlineTarget-{request.node.callspec.id}"
    iam.create_user(UserName=user)
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName=user, PolicyName="Broken", PolicyDocument=document)
    assert failure(e) == (400, "MalformedPolicyDocument", expected)
    assert "Broken" not in [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []


def test_managed_policy_size_quota(iam: BaseClient) -> None:
    big = policy(*[allow(f"s3:GetObject{i}", f"arn:aws:s3:::bucket-{'x' * 80}/{i}") for i in range(60)])
    with pytest.raises(ClientError) as e:
        iam.create_policy(PolicyName="Huge", PolicyDocument=big)
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for PolicySize: 6144")


def test_policy_versions_max_five_default_and_delete_rules(iam: BaseClient, acct: str) -> None:
    arn = iam.create_policy(PolicyName="Versioned", PolicyDocument=S3)["Policy"]["Arn"]
    created = [iam.create_policy_version(PolicyArn=arn, PolicyDocument=S3)["PolicyVersion"] for _ in range(3)]
    assert [v["VersionId"] for v in created] == ["v2", "v3", "v4"]
    assert all(v["IsDefaultVersion"] is False and "Document" not in v for v in created)
    v5 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=S3, SetAsDefault=True)["PolicyVersion"]
    assert v5["VersionId"] == "v5" and v5["IsDefaultVersion"] is True
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"
    with pytest.raises(ClientError) as e:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=S3)
    assert failure(e) == (
        409, "LimitExceeded",
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing "
        "version.",
    )  # fmt: skip
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v5"]
    page = iam.list_policy_versions(PolicyArn=arn, MaxItems=2)
    assert len(page["Versions"]) == 2 and page["IsTruncated"] is True
    rest = iam.list_policy_versions(PolicyArn=arn, Marker=page["Marker"], MaxItems=10)
    assert len(rest["Versions"]) == 3 and rest["IsTruncated"] is False
    with pytest.raises(ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v5")
    assert failure(e) == (409, "DeleteConflict", "Cannot delete the default version of a policy.")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["IsDefaultVersion"] is True
    with pytest.raises(ClientError) as e:
        iam.set_default_policy_version(PolicyArn=arn, VersionId="v9")
    assert failure(e) == (404, "NoSuchEntity", f"Policy {arn} version v9 does not exist or is not attachable.")
    with pytest.raises(ClientError) as e:
        iam.get_policy_version(PolicyArn=arn, VersionId="v9")
    assert failure(e) == (404, "NoSuchEntity", f"Policy {arn} version v9 does not exist or is not attachable.")
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert failure(e) == (
        409, "DeleteConflict",
        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. "
        "The default version is deleted with the policy.",
    )  # fmt: skip
    for version in ("v1", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    v6 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=S3)["PolicyVersion"]
    assert v6["VersionId"] == "v6"  # version numbers are not reused
    iam.delete_policy_version(PolicyArn=arn, VersionId="v6")
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert failure(e)[:2] == (404, "NoSuchEntity")


def test_bad_version_id_is_a_validation_error(iam: BaseClient) -> None:
    with pytest.raises(ClientError) as e:
        iam.get_policy_version(PolicyArn=ADMIN, VersionId="latest")
    assert failure(e) == (
        400, "ValidationError",
        "1 validation error detected: Value 'latest' at 'versionId' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
    )  # fmt: skip


# -- AWS managed policies -------------------------------------------------------------------
def test_aws_managed_policies_are_present_and_not_modifiable(iam: BaseClient, acct: str) -> None:
    admin = iam.get_policy(PolicyArn=ADMIN)["Policy"]
    assert admin["PolicyName"] == "AdministratorAccess" and admin["IsAttachable"] is True
    document = iam.get_policy_version(PolicyArn=ADMIN, VersionId=admin["DefaultVersionId"])["PolicyVersion"]
    assert document["Document"]["Statement"][0]["Action"] == "*"
    aws_names = {
        p["PolicyName"] for page in iam.get_paginator("list_policies").paginate(Scope="AWS") for p in page["Policies"]
    }
    assert {"AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "IAMReadOnlyAccess"} <= aws_names
    assert iam.list_policy_tags(PolicyArn=ADMIN)["Tags"] == []
    changes = [
        lambda: iam.delete_policy(PolicyArn=ADMIN),
        lambda: iam.create_policy_version(PolicyArn=ADMIN, PolicyDocument=S3),
        lambda: iam.set_default_policy_version(PolicyArn=ADMIN, VersionId="v1"),
        lambda: iam.delete_policy_version(PolicyArn=ADMIN, VersionId="v1"),
        lambda: iam.tag_policy(PolicyArn=ADMIN, Tags=[{"Key": "k", "Value": "v"}]),
    ]
    for change in changes:
        with pytest.raises(ClientError) as e:
            change()
        status, code, message = failure(e)
        assert (status, code) == (403, "AccessDenied") and message.startswith(f"User: arn:aws:iam::{acct}:root ")
    assert iam.get_policy(PolicyArn=ADMIN)["Policy"] == admin


def test_list_policies_scope_only_attached_usage_and_path(iam: BaseClient, acct: str) -> None:
    for name in ("lp-a", "lp-b", "lp-c"):
        iam.create_policy(PolicyName=name, Path="/listing/", PolicyDocument=S3, Description="hidden in lists")
    iam.create_user(UserName="Lister")
    iam.attach_user_policy(UserName="Lister", PolicyArn=arn_of(acct, "lp-b", "/listing/"))
    iam.put_user_permissions_boundary(UserName="Lister", PermissionsBoundary=arn_of(acct, "lp-c", "/listing/"))
    local = iam.list_policies(Scope="Local", PathPrefix="/listing/")["Policies"]
    assert [p["PolicyName"] for p in local] == ["lp-a", "lp-b", "lp-c"]
    assert all("Description" not in p and "Tags" not in p for p in local)
    attached = iam.list_policies(Scope="Local", OnlyAttached=True, PathPrefix="/listing/")["Policies"]
    assert [p["PolicyName"] for p in attached] == ["lp-b"] and attached[0]["AttachmentCount"] == 1
    bounding = iam.list_policies(Scope="Local", PolicyUsageFilter="PermissionsBoundary", PathPrefix="/listing/")
    assert [p["PolicyName"] for p in bounding["Policies"]] == ["lp-c"]
    assert bounding["Policies"][0]["PermissionsBoundaryUsageCount"] == 1
    assert all(p["Arn"].startswith("arn:aws:iam::aws:") for p in iam.list_policies(Scope="AWS")["Policies"])
    first = iam.list_policies(Scope="Local", PathPrefix="/listing/", MaxItems=2)
    assert first["IsTruncated"] is True
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local", PathPrefix="/listing/", Marker=first["Marker"])[
        "Policies"
    ]] == ["lp-c"]  # fmt: skip


# -- attachments ----------------------------------------------------------------------------
def test_attach_detach_and_list_for_every_entity_kind(iam: BaseClient, acct: str) -> None:
    arn = iam.create_policy(PolicyName="Shared", Path="/shared/", PolicyDocument=S3)["Policy"]["Arn"]
    iam.create_user(UserName="AttU", Path="/u/")
    iam.create_group(GroupName="AttG")
    iam.create_role(RoleName="AttR", AssumeRolePolicyDocument=TRUST)
    iam.attach_user_policy(UserName="AttU", PolicyArn=arn)
    iam.attach_user_policy(UserName="AttU", PolicyArn=arn)  # attaching twice is a no-op
    iam.attach_group_policy(GroupName="AttG", PolicyArn=arn)
    iam.attach_role_policy(RoleName="AttR", PolicyArn=arn)
    iam.attach_role_policy(RoleName="AttR", PolicyArn=READ)
    expected = [{"PolicyName": "Shared", "PolicyArn": arn}]
    assert iam.list_attached_user_policies(UserName="AttU")["AttachedPolicies"] == expected
    assert iam.list_attached_group_policies(GroupName="AttG")["AttachedPolicies"] == expected
    role_policies = iam.list_attached_role_policies(RoleName="AttR")["AttachedPolicies"]
    assert {p["PolicyArn"] for p in role_policies} == {arn, READ}
    assert iam.list_attached_role_policies(RoleName="AttR", PathPrefix="/shared/")["AttachedPolicies"] == expected
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["AttU"]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["AttG"]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["AttR"]
    assert entities["PolicyUsers"][0]["UserId"].startswith("AIDA")
    only_roles = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and only_roles["PolicyGroups"] == [] and len(only_roles["PolicyRoles"]) == 1
    by_path = iam.list_entities_for_policy(PolicyArn=arn, PathPrefix="/u/")
    assert [u["UserName"] for u in by_path["PolicyUsers"]] == ["AttU"] and by_path["PolicyRoles"] == []
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert failure(e) == (409, "DeleteConflict", "Cannot delete a policy attached to entities.")
    iam.detach_user_policy(UserName="AttU", PolicyArn=arn)
    iam.detach_group_policy(GroupName="AttG", PolicyArn=arn)
    iam.detach_role_policy(RoleName="AttR", PolicyArn=arn)
    with pytest.raises(ClientError) as e:
        iam.detach_role_policy(RoleName="AttR", PolicyArn=arn)
    assert failure(e) == (404, "NoSuchEntity", f"Policy {arn} was not found.")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    iam.delete_policy(PolicyArn=arn)


def test_attach_errors(iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="AttachErrors")
    missing = arn_of(acct, "Missing")
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName="AttachErrors", PolicyArn=missing)
    assert failure(e) == (404, "NoSuchEntity", f"Policy {missing} does not exist or is not attachable.")
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName="AttachErrors", PolicyArn="this-is-not-an-arn-at-all")
    assert failure(e) == (400, "InvalidInput", "ARN this-is-not-an-arn-at-all is not valid.")
    with pytest.raises(ClientError) as e:
        iam.attach_user_policy(UserName="NoSuchUser", PolicyArn=ADMIN)
    assert failure(e) == (404, "NoSuchEntity", "The user with name NoSuchUser cannot be found.")
    with pytest.raises(ClientError) as e:
        iam.attach_group_policy(GroupName="NoSuchGroup", PolicyArn=ADMIN)
    assert failure(e) == (404, "NoSuchEntity", "The group with name NoSuchGroup cannot be found.")


@pytest.mark.parametrize("kind", ["User", "Group", "Role"])
def test_at_most_ten_managed_policies_per_entity(iam: BaseClient, acct: str, kind: str) -> None:
    name = f"Ten{kind}"
    {"User": lambda: iam.create_user(UserName=name), "Group": lambda: iam.create_group(GroupName=name),
     "Role": lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)}[kind]()  # fmt: skip
    attach = getattr(iam, f"attach_{kind.lower()}_policy")
    arns = [iam.create_policy(PolicyName=f"q{kind}{i}", PolicyDocument=S3)["Policy"]["Arn"] for i in range(11)]
    for arn in arns[:10]:
        attach(**{f"{kind}Name": name, "PolicyArn": arn})
    with pytest.raises(ClientError) as e:
        attach(**{f"{kind}Name": name, "PolicyArn": arns[10]})
    assert failure(e) == (409, "LimitExceeded", f"Cannot exceed quota for PoliciesPer{kind}: 10")
    attach(**{f"{kind}Name": name, "PolicyArn": arns[0]})  # re-attaching at the quota is fine
    listed = getattr(iam, f"list_attached_{kind.lower()}_policies")(**{f"{kind}Name": name, "MaxItems": 4})
    assert len(listed["AttachedPolicies"]) == 4 and listed["IsTruncated"] is True


# -- inline policies ------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "limit"), [("User", 2048), ("Group", 5120), ("Role", 10240)])
def test_inline_policies_create_replace_get_list_delete(iam: BaseClient, kind: str, limit: int) -> None:
    name = f"Inline{kind}"
    {"User": lambda: iam.create_user(UserName=name), "Group": lambda: iam.create_group(GroupName=name),
     "Role": lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)}[kind]()  # fmt: skip
    low = kind.lower()
    put, get = getattr(iam, f"put_{low}_policy"), getattr(iam, f"get_{low}_policy")
    listing, delete = getattr(iam, f"list_{low}_policies"), getattr(iam, f"delete_{low}_policy")
    entity = {f"{kind}Name": name}
    put(**entity, PolicyName="b-second", PolicyDocument=S3)
    put(**entity, PolicyName="a-first", PolicyDocument=S3)
    replaced = policy(allow("s3:PutObject", "arn:aws:s3:::bucket/*"))
    put(**entity, PolicyName="a-first", PolicyDocument=replaced)  # overwrite, no error
    got = get(**entity, PolicyName="a-first")
    assert got[f"{kind}Name"] == name and got["PolicyName"] == "a-first"
    assert got["PolicyDocument"] == json.loads(replaced)
    assert listing(**entity)["PolicyNames"] == ["a-first", "b-second"]
    page = listing(**entity, MaxItems=1)
    assert page["PolicyNames"] == ["a-first"] and page["IsTruncated"] is True
    assert listing(**entity, Marker=page["Marker"])["PolicyNames"] == ["b-second"]
    with pytest.raises(ClientError) as e:
        get(**entity, PolicyName="missing")
    assert failure(e) == (404, "NoSuchEntity", f"The {low} policy with name missing cannot be found.")
    # the aggregate (non-whitespace) size of all inline policies of the entity is limited
    padding = "x" * (limit - 200)
    big = policy(allow("s3:GetObject", f"arn:aws:s3:::{padding}"))
    with pytest.raises(ClientError) as e:
        put(**entity, PolicyName="c-big", PolicyDocument=big)
    assert failure(e) == (409, "LimitExceeded", f"Maximum policy size of {limit} bytes exceeded for {low} {name}")
    assert listing(**entity)["PolicyNames"] == ["a-first", "b-second"]  # nothing written
    delete(**entity, PolicyName="b-second")
    delete(**entity, PolicyName="a-first")
    put(**entity, PolicyName="c-big", PolicyDocument=big)  # fits alone
    with pytest.raises(ClientError) as e:
        delete(**entity, PolicyName="a-first")
    assert failure(e) == (404, "NoSuchEntity", f"The {low} policy with name a-first cannot be found.")


def test_inline_aggregate_message_names_the_user(iam: BaseClient) -> None:
    iam.create_user(UserName="Bob")
    half = policy(allow("s3:GetObject", f"arn:aws:s3:::{'y' * 1000}"))
    iam.put_user_policy(UserName="Bob", PolicyName="one", PolicyDocument=half)
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName="Bob", PolicyName="two", PolicyDocument=half)
    assert failure(e) == (409, "LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user Bob")
    iam.put_user_policy(UserName="Bob", PolicyName="one", PolicyDocument=half)  # replacing is measured after


# -- permissions boundaries -----------------------------------------------------------------
def test_permissions_boundaries_on_users_and_roles(iam: BaseClient, acct: str) -> None:
    boundary = iam.create_policy(PolicyName="Bound", PolicyDocument=S3)["Policy"]["Arn"]
    iam.create_user(UserName="Bounded")
    iam.create_role(RoleName="BoundedRole", AssumeRolePolicyDocument=TRUST)
    iam.put_user_permissions_boundary(UserName="Bounded", PermissionsBoundary=boundary)
    iam.put_role_permissions_boundary(RoleName="BoundedRole", PermissionsBoundary=READ)
    expected = {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": boundary}
    assert iam.get_user(UserName="Bounded")["User"]["PermissionsBoundary"] == expected
    assert iam.get_role(RoleName="BoundedRole")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == READ
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    used = iam.list_entities_for_policy(PolicyArn=boundary, PolicyUsageFilter="PermissionsBoundary")
    assert [u["UserName"] for u in used["PolicyUsers"]] == ["Bounded"]
    assert iam.list_entities_for_policy(PolicyArn=boundary)["PolicyUsers"] == []  # not a permissions policy
    with pytest.raises(ClientError) as e:
        iam.delete_policy(PolicyArn=boundary)
    assert failure(e)[:2] == (409, "DeleteConflict")
    missing = arn_of(acct, "NoBoundary")
    with pytest.raises(ClientError) as e:
        iam.put_user_permissions_boundary(UserName="Bounded", PermissionsBoundary=missing)
    assert failure(e) == (404, "NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.")
    with pytest.raises(ClientError) as e:
        iam.put_role_permissions_boundary(RoleName="BoundedRole", PermissionsBoundary="not-an-arn-but-longer")
    assert failure(e) == (400, "InvalidInput", "ARN not-an-arn-but-longer is not valid.")
    iam.delete_user_permissions_boundary(UserName="Bounded")
    iam.delete_role_permissions_boundary(RoleName="BoundedRole")
    assert "PermissionsBoundary" not in iam.get_user(UserName="Bounded")["User"]
    assert "PermissionsBoundary" not in iam.get_role(RoleName="BoundedRole")["Role"]
    iam.delete_policy(PolicyArn=boundary)


# -- policy tags ----------------------------------------------------------------------------
def test_policy_tags_are_case_sensitive(iam: BaseClient) -> None:
    arn = iam.create_policy(PolicyName="TaggedPolicy", PolicyDocument=S3)["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "Cost", "Value": "1"}, {"Key": "cost", "Value": "2"}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [
        {"Key": "Cost", "Value": "1"},
        {"Key": "cost", "Value": "2"},
    ]
    with pytest.raises(ClientError) as e:
        iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "x", "Value": "1"}, {"Key": "x", "Value": "2"}])
    assert failure(e)[:2] == (400, "InvalidInput")
    with pytest.raises(ClientError) as e:
        iam.tag_policy(PolicyArn=arn, Tags=[{"Key": f"t{i}", "Value": ""} for i in range(49)])
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for TagsPerPolicy: 50")
    iam.untag_policy(PolicyArn=arn, TagKeys=["cost"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "Cost", "Value": "1"}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == [{"Key": "Cost", "Value": "1"}]
