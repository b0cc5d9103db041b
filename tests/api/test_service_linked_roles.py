"""Service-linked roles against a real server, with boto3: AWS's naming and path, the trust
policy, the protections of ordinary role operations, deletion tasks and authorization."""

from __future__ import annotations

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, failure, policy

PROTECTED = "Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS"


def test_create_names_and_places_the_role_as_aws(iam: BaseClient, acct: str) -> None:
    role = iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com",
                                          Description="for Beanstalk")["Role"]  # fmt: skip
    assert role["RoleName"] == "AWSServiceRoleForElasticBeanstalk"
    assert role["Path"] == "/aws-service-role/elasticbeanstalk.amazonaws.com/"
    assert role["Arn"] == (
        f"arn:aws:iam::{acct}:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk"
    )
    assert role["RoleId"].startswith("AROA") and role["Description"] == "for Beanstalk"
    trust = iam.get_role(RoleName="AWSServiceRoleForElasticBeanstalk")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": ["elasticbeanstalk.amazonaws.com"]},
                                   "Action": ["sts:AssumeRole"]}]  # fmt: skip
    custom = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="fleet")["Role"]
    assert custom["RoleName"] == "AWSServiceRoleForAutoScaling_fleet"
    derived = iam.create_service_linked_role(AWSServiceName="new-thing.amazonaws.com")["Role"]
    assert derived["RoleName"] == "AWSServiceRoleForNewThing"
    with pytest.raises(ClientError) as taken:
        iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
    assert failure(taken) == (400, "InvalidInput", "Service role name AWSServiceRoleForElasticBeanstalk has been "
                              "taken in this account, please try a different suffix.")  # fmt: skip
    with pytest.raises(ClientError) as bad:
        iam.create_service_linked_role(AWSServiceName="not-a-service")
    assert failure(bad)[:2] == (400, "InvalidInput")
    listed = iam.list_roles(PathPrefix="/aws-service-role/")["Roles"]
    assert {r["RoleName"] for r in listed} >= {
        "AWSServiceRoleForElasticBeanstalk",
        "AWSServiceRoleForAutoScaling_fleet",
    }


def test_ordinary_role_operations_are_refused(iam: BaseClient, acct: str) -> None:
    name = iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")["Role"]["RoleName"]
    assert name == "AWSServiceRoleForECS"
    refused = {
        "delete_role": {},
        "update_assume_role_policy": {"PolicyDocument": policy({"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                 "Principal": {"Service": "ec2.amazonaws.com"}})},
        "put_role_policy": {"PolicyName": "p", "PolicyDocument": policy(allow("s3:*"))},
        "attach_role_policy": {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "put_role_permissions_boundary": {"PermissionsBoundary": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "update_role": {"MaxSessionDuration": 7200},
    }  # fmt: skip
    for operation, kwargs in refused.items():
        with pytest.raises(ClientError) as e:
            getattr(iam, operation)(RoleName=name, **kwargs)
        assert failure(e) == (400, "UnmodifiableEntity", PROTECTED.format(name)), operation
    with pytest.raises(ClientError) as path:
        iam.create_role(
            RoleName="sneaky",
            Path="/aws-service-role/ecs.amazonaws.com/",
            AssumeRolePolicyDocument=policy(
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ecs.amazonaws.com"}}
            ),
        )
    assert failure(path)[:2] == (400, "InvalidInput")


def test_delete_and_the_deletion_task(iam: BaseClient) -> None:
    iam.create_service_linked_role(AWSServiceName="rds.amazonaws.com")
    task = iam.delete_service_linked_role(RoleName="AWSServiceRoleForRDS")["DeletionTaskId"]
    assert task.startswith("task/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS/")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as gone:
        iam.get_role(RoleName="AWSServiceRoleForRDS")
    assert failure(gone)[1] == "NoSuchEntity"
    unknown = "task/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS/00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as missing:
        iam.get_service_linked_role_deletion_status(DeletionTaskId=unknown)
    assert failure(missing)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as malformed:
        iam.get_service_linked_role_deletion_status(DeletionTaskId="nonsense")
    assert failure(malformed)[:2] == (400, "InvalidInput")
    iam.create_role(RoleName="plain", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}))  # fmt: skip
    with pytest.raises(ClientError) as ordinary:
        iam.delete_service_linked_role(RoleName="plain")
    assert failure(ordinary)[:2] == (400, "InvalidInput")
    with pytest.raises(ClientError) as nobody:
        iam.delete_service_linked_role(RoleName="AWSServiceRoleForNothing")
    assert failure(nobody) == (404, "NoSuchEntity", "The role with name AWSServiceRoleForNothing cannot be found.")


def test_authorized_on_the_role_with_the_service_name(user_client: UserClient, acct: str) -> None:
    only_config = policy(allow("iam:CreateServiceLinkedRole", "*",
                               StringEquals={"iam:AWSServiceName": "config.amazonaws.com"}))  # fmt: skip
    me = user_client("slr-maker", only_config)
    assert me.create_service_linked_role(AWSServiceName="config.amazonaws.com")["Role"]["RoleName"] == (
        "AWSServiceRoleForConfig"
    )
    with pytest.raises(ClientError) as denied:
        me.create_service_linked_role(AWSServiceName="support.amazonaws.com")
    status, code, message = failure(denied)
    assert (status, code) == (403, "AccessDenied")
    assert "iam:CreateServiceLinkedRole on resource: role AWSServiceRoleForSupport" in message
