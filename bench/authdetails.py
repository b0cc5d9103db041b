"""A generated ``aws iam get-account-authorization-details`` dump (for ``iamd import``'s tests and bench).

``dump(users, roles, groups)`` is shaped as the AWS CLI prints it (documents decoded to objects):
customer managed policies with two versions, groups with inline and attached policies, users in
groups with inline policies, tags and some permissions boundaries, roles with trust policies,
inline and attached policies and instance profiles. Deterministic for given sizes.
"""

from __future__ import annotations

from typing import Any

ACCOUNT = "444455556666"
_DATE = "2025-03-01T10:00:00Z"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def dump(users: int, roles: int, groups: int = 20, policies: int = 30, account: str = ACCOUNT) -> dict[str, Any]:
    arn = f"arn:aws:iam::{account}"
    policy_list = []
    for i in range(policies):
        versions = [
            {
                "Document": _doc(_allow("s3:Get*", f"arn:aws:s3:::bucket-{i}/*")),
                "VersionId": "v1",
                "IsDefaultVersion": False,
                "CreateDate": _DATE,
            },
            {
                "Document": _doc(_allow(["s3:Get*", "s3:List*"], f"arn:aws:s3:::bucket-{i}*")),
                "VersionId": "v2",
                "IsDefaultVersion": True,
                "CreateDate": _DATE,
            },
        ]
        policy_list.append(
            {
                "PolicyName": f"team-{i}",
                "PolicyId": f"ANPA{i:017d}",
                "Arn": f"{arn}:policy/teams/team-{i}",
                "Path": "/teams/",
                "DefaultVersionId": "v2",
                "AttachmentCount": 1,
                "IsAttachable": True,
                "CreateDate": _DATE,
                "UpdateDate": _DATE,
                "PolicyVersionList": versions,
            }
        )
    boundary = f"{arn}:policy/teams/team-0"
    group_list = [
        {
            "Path": "/",
            "GroupName": f"group-{g}",
            "GroupId": f"AGPA{g:017d}",
            "Arn": f"{arn}:group/group-{g}",
            "CreateDate": _DATE,
            "GroupPolicyList": [{"PolicyName": "read", "PolicyDocument": _doc(_allow("iam:Get*"))}],
            "AttachedManagedPolicies": [
                {"PolicyName": f"team-{g % policies}", "PolicyArn": f"{arn}:policy/teams/team-{g % policies}"}
            ],
        }
        for g in range(groups)
    ]
    user_list = []
    for u in range(users):
        entry: dict[str, Any] = {
            "Path": "/people/",
            "UserName": f"user-{u}",
            "UserId": f"AIDA{u:017d}",
            "Arn": f"{arn}:user/people/user-{u}",
            "CreateDate": _DATE,
            "UserPolicyList": [
                {"PolicyName": "own", "PolicyDocument": _doc(_allow("iam:*AccessKey*", f"{arn}:user/people/user-{u}"))}
            ],
            "GroupList": [f"group-{u % groups}"] if groups else [],
            "AttachedManagedPolicies": [
                {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
            ]
            if u % 7 == 0
            else [],
            "Tags": [{"Key": "team", "Value": f"t{u % 13}"}],
        }
        if u % 11 == 0:
            entry["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}
        user_list.append(entry)
    role_list = []
    for r in range(roles):
        trust = _doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
        role_list.append(
            {
                "Path": "/service/",
                "RoleName": f"role-{r}",
                "RoleId": f"AROA{r:017d}",
                "Arn": f"{arn}:role/service/role-{r}",
                "CreateDate": _DATE,
                "AssumeRolePolicyDocument": trust,
                "InstanceProfileList": [
                    {
                        "Path": "/",
                        "InstanceProfileName": f"profile-{r}",
                        "InstanceProfileId": f"AIPA{r:017d}",
                        "Arn": f"{arn}:instance-profile/profile-{r}",
                        "CreateDate": _DATE,
                        "Roles": [],
                    }
                ]
                if r % 3 == 0
                else [],
                "RolePolicyList": [
                    {
                        "PolicyName": "work",
                        "PolicyDocument": _doc(_allow("sqs:SendMessage", f"arn:aws:sqs:*:{account}:q-{r}")),
                    }
                ],
                "AttachedManagedPolicies": [
                    {"PolicyName": f"team-{r % policies}", "PolicyArn": f"{arn}:policy/teams/team-{r % policies}"}
                ],
                "Tags": [],
                "RoleLastUsed": {},
                "MaxSessionDuration": 3600,
            }
        )
    return {
        "UserDetailList": user_list,
        "GroupDetailList": group_list,
        "RoleDetailList": role_list,
        "Policies": policy_list,
        "IsTruncated": False,
    }
