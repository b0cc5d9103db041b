"""A Deny on an entity holds however the request spells its name (docs/security.md, names and case).

IAM finds users, groups, roles, instance profiles, managed policies and SAML providers by
name case-insensitively, while policies match resource ARNs case-sensitively: a request is
authorized against the ARN of the entity as stored. Driven by botocore's IAM model: every
operation whose input names an entity is called by a principal allowed ``*`` on ``*`` and
denied ``iam:*`` on the real entities' ARNs, with the names in other cases (and the ARNs
with other paths); each call must be refused and change nothing. An operation that gains
a member naming an entity fails ``test_every_entity_member_is_classified`` until it is
classified here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.model import ServiceModel, Shape, StructureShape

from iamd.protocol.patterns import compile_pattern
from iamd.service.iam import OPERATIONS
from tests.api.conftest import UserClient, deny, policy
from tests.api.server import RunningServer
from tests.federation.idp import SamlIdp

MODEL: ServiceModel = botocore.session.get_session().get_service_model("iam")

# The stored spellings (mixed case, under a path) of the entities the principal is denied.
USER, GROUP, ROLE, PROFILE, POLICY = "Admin", "Admins", "AdminRole", "AdminProfile", "AdminPolicy"
SAML, MFA = "CorpIdP", "AdminMFA"
OIDC_URL = "https://idp.example.com/Tenant"
PATH = "/ops/"

# Deletes AWS documents as idempotent (IAM API Reference): deleting what does not exist succeeds.
IDEMPOTENT_DELETES = frozenset({"DeleteOpenIDConnectProvider"})

# Input members that name an existing entity the request acts on or authorizes against.
ENTITY_MEMBERS = {
    "UserName": "user",
    "GroupName": "group",
    "RoleName": "role",
    "InstanceProfileName": "instance-profile",
    "PolicyArn": "policy",
    "PermissionsBoundary": "policy",
    "SerialNumber": "mfa",
    "OpenIDConnectProviderArn": "oidc-provider",
    "SAMLProviderArn": "saml-provider",
    "PolicySourceArn": "user-arn",
    "Arn": "user-arn",
    "EntityArn": "user-arn",
    "ServerCertificateName": "server-certificate",
}
# Members whose names look like entity references but are not the resource of the call.
NOT_ENTITY = {
    "PolicyName": "an inline policy's name (or CreatePolicy's new name), part of its owner's resource",
    "Path": "the path of a new entity",
    "NewPath": "the new path of a rename (tests/security/test_case_scenarios.py)",
    "NewUserName": "the new name of a rename (tests/security/test_case_scenarios.py)",
    "NewGroupName": "the new name of a rename (tests/security/test_case_scenarios.py)",
    "NewServerCertificateName": "the new name of a rename",
    "Name": "a new SAML provider's or template's name",
    "VirtualMFADeviceName": "a new device's name",
    "CallerArn": "the simulated caller, not a resource",
    "AWSServiceName": "an AWS service principal",
    "ServiceName": "an AWS service",
    "IdentityCenterInstanceArn": "an IAM Identity Center instance",
    "ProviderName": "a new workload identity provider's name",
    "TemplateArn": "a workload identity template (not implemented)",
    "WorkloadIdentityProviderArn": "a workload identity provider (not implemented)",
    "WorkloadIdentityTemplateArn": "a workload identity template (not implemented)",
    "EntityPath": "an Organizations entity path",
    "OrganizationsPolicyId": "an Organizations policy",
    "AccountName": "not an IAM entity",
}
_LOOKS_LIKE_ENTITY = ("Arn", "Name", "Boundary", "SerialNumber")


def _variants(name: str) -> list[str]:
    return [v for v in dict.fromkeys((name.lower(), name.upper(), name.swapcase())) if v != name]


def _entity_values(kind: str, acct: str) -> list[tuple[str, bool]]:
    """(value, strict) per variant: strict when the store finds the real entity by that spelling,
    so the answer must be AccessDenied; otherwise any refusal will do (NoSuchEntity…)."""
    arn = f"arn:aws:iam::{acct}:"
    if kind in ("user", "group", "role", "instance-profile"):
        name = {"user": USER, "group": GROUP, "role": ROLE, "instance-profile": PROFILE}[kind]
        return [(v, True) for v in _variants(name)]
    if kind == "server-certificate":
        return [(v, False) for v in _variants("AdminCert")]
    if kind == "policy":
        # Names are case-insensitive; the path in a policy ARN is exact (another path: not found).
        return [(f"{arn}policy{PATH}{v}", True) for v in _variants(POLICY)] + [
            (f"{arn}policy/{POLICY}", False),
            (f"{arn}policy/OPS/{POLICY.lower()}", False),
        ]
    if kind == "user-arn":  # found by name whatever the path (SimulatePrincipalPolicy)
        return [(f"{arn}user{PATH}{v}", True) for v in _variants(USER)] + [
            (f"{arn}user/{USER.lower()}", True),
            (f"{arn}user/OPS/{USER.upper()}", True),
        ]
    if kind == "saml-provider":
        return [(f"{arn}saml-provider/{v}", True) for v in _variants(SAML)]
    if kind == "oidc-provider":  # URLs are compared exactly
        return [(f"{arn}oidc-provider/{v}", False) for v in _variants("idp.example.com/Tenant")]
    assert kind == "mfa"  # serial numbers are compared exactly
    return [(f"{arn}mfa{PATH}{v}", False) for v in _variants(MFA)] + [(f"{arn}mfa/{MFA}", False)]


# -- filling the other members with values the model accepts -------------------------------------
_DOC = policy({"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"})
_TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
)
_KNOWN: dict[str, Any] = {
    "PolicyDocument": _DOC,
    "AssumeRolePolicyDocument": _TRUST,
    "NewUserName": "renamed-by-hank",
    "NewGroupName": "renamed-by-hank",
    "AuthenticationCode1": "123456",
    "AuthenticationCode2": "654321",
    "Password": "Pa55word!Pa55word!",
    "OldPassword": "Pa55word!Pa55word!",
    "NewPassword": "Pa55word!Pa55word!",
    "Url": "https://other.example.com",
    "ClientID": "client",
    "ThumbprintList": ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
    "ActionNames": ["iam:GetUser"],
    "VersionId": "v1",
}
_CANDIDATES = ("x1", "/", "1" * 6, "Active", "a" * 20, "arn:aws:iam::123456789012:user/nobody", _DOC)


def _value(shape: Shape, member: str) -> Any:
    if member in _KNOWN:
        return _KNOWN[member]
    if shape.type_name == "structure":
        assert isinstance(shape, StructureShape)
        return {k: _value(s, k) for k, s in shape.members.items() if k in shape.required_members}
    if shape.type_name == "list":
        return [_value(shape.member, member)]  # type: ignore[attr-defined]
    if shape.type_name in ("integer", "long"):
        return int(shape.metadata.get("min", 1))
    if shape.type_name == "boolean":
        return False
    if shape.type_name == "blob":
        return b"x" * int(shape.metadata.get("min", 1))
    if shape.enum:
        return shape.enum[0]
    low, high = int(shape.metadata.get("min", 1)), int(shape.metadata.get("max", 10_000))
    pattern = compile_pattern(shape.metadata["pattern"]) if "pattern" in shape.metadata else None
    for base in _CANDIDATES:
        value = (base * low)[: max(low, len(base))][:high]
        if len(value) >= low and (pattern is None or pattern.fullmatch(value)):
            return value
    raise AssertionError(f"no value for {member} ({shape.name}); add one to _KNOWN")


def _entity_operations() -> list[str]:
    out = []
    for name in MODEL.operation_names:
        shape = MODEL.operation_model(name).input_shape
        if shape is not None and any(m in ENTITY_MEMBERS for m in shape.members):
            out.append(name)
    return sorted(out)


def test_every_entity_member_is_classified() -> None:
    """A member that may name an entity is either authorized on the stored entity or explained."""
    unknown = set()
    for name in MODEL.operation_names:
        shape = MODEL.operation_model(name).input_shape
        for member in shape.members if shape is not None else ():
            if member.endswith(_LOOKS_LIKE_ENTITY) and member not in ENTITY_MEMBERS and member not in NOT_ENTITY:
                unknown.add(f"{name}.{member}")
    assert not unknown, f"classify these members in ENTITY_MEMBERS or NOT_ENTITY: {sorted(unknown)}"


# -- the server's entities and the principal ----------------------------------------------------
@pytest.fixture(scope="module")
def hank(iam: BaseClient, acct: str, user_client: UserClient) -> BaseClient:
    """Allowed everything, denied ``iam:*`` on each real entity's ARN (as stored)."""
    iam.create_user(UserName=USER, Path=PATH)
    iam.create_access_key(UserName=USER)
    iam.create_login_profile(UserName=USER, Password="Pa55word!Pa55word!")
    iam.create_group(GroupName=GROUP, Path=PATH)
    iam.add_user_to_group(GroupName=GROUP, UserName=USER)
    iam.create_role(RoleName=ROLE, Path=PATH, AssumeRolePolicyDocument=_TRUST)
    iam.create_instance_profile(InstanceProfileName=PROFILE, Path=PATH)
    iam.add_role_to_instance_profile(InstanceProfileName=PROFILE, RoleName=ROLE)
    policy_arn = iam.create_policy(PolicyName=POLICY, Path=PATH, PolicyDocument=_DOC)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=USER, PolicyArn=policy_arn)
    saml = iam.create_saml_provider(Name=SAML, SAMLMetadataDocument=SamlIdp().metadata())["SAMLProviderArn"]
    oidc = iam.create_open_id_connect_provider(Url=OIDC_URL, ThumbprintList=_KNOWN["ThumbprintList"])
    mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName=MFA, Path=PATH)["VirtualMFADevice"]["SerialNumber"]
    arn = f"arn:aws:iam::{acct}:"
    denied = [
        f"{arn}user{PATH}{USER}", f"{arn}group{PATH}{GROUP}", f"{arn}role{PATH}{ROLE}",
        f"{arn}instance-profile{PATH}{PROFILE}", policy_arn, saml, oidc["OpenIDConnectProviderArn"], mfa,
        f"{arn}server-certificate/AdminCert",
    ]  # fmt: skip
    return user_client("hank", policy({"Effect": "Allow", "Action": "*", "Resource": "*"}, deny("iam:*", denied)))


def _snapshot(iam: BaseClient, acct: str) -> dict[str, Any]:
    """Everything a refused call on the entities could have changed."""
    details = iam.get_account_authorization_details()
    for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"):
        details[key] = [d for d in details[key] if d.get("UserName") != "hank"]
    saml = f"arn:aws:iam::{acct}:saml-provider/{SAML}"
    oidc = f"arn:aws:iam::{acct}:oidc-provider/idp.example.com/Tenant"
    mfa = f"arn:aws:iam::{acct}:mfa{PATH}{MFA}"
    state = {
        "details": details,
        "keys": iam.list_access_keys(UserName=USER)["AccessKeyMetadata"],
        "login": iam.get_login_profile(UserName=USER)["LoginProfile"],
        "mfa": iam.list_mfa_devices(UserName=USER)["MFADevices"],
        "devices": iam.list_virtual_mfa_devices()["VirtualMFADevices"],
        "mfa_tags": iam.list_mfa_device_tags(SerialNumber=mfa)["Tags"],
        "saml": iam.get_saml_provider(SAMLProviderArn=saml),
        "oidc": iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc),
        "profile_tags": iam.list_instance_profile_tags(InstanceProfileName=PROFILE)["Tags"],
        "policy_tags": iam.list_policy_tags(PolicyArn=f"arn:aws:iam::{acct}:policy{PATH}{POLICY}")["Tags"],
    }
    for value in state.values():
        if isinstance(value, dict):
            value.pop("ResponseMetadata", None)
    return state


def _calls(operation: str, acct: str) -> Iterator[tuple[dict[str, Any], bool]]:
    """The operation's parameters once per spelling variant (every entity member varied at once)."""
    shape = MODEL.operation_model(operation).input_shape
    base = {k: _value(s, k) for k, s in shape.members.items() if k in shape.required_members}
    members = [m for m in shape.members if m in ENTITY_MEMBERS]
    spellings = {m: _entity_values(ENTITY_MEMBERS[m], acct) for m in members}
    for i in range(max(len(v) for v in spellings.values())):
        params = dict(base)
        strict = True
        for m, values in spellings.items():
            value, member_strict = values[i % len(values)]
            params[m] = value
            strict = strict and member_strict
        yield params, strict


def _call(client: BaseClient, operation: str, params: dict[str, Any]) -> ClientError | None:
    method: Callable[..., Any] = getattr(client, botocore.xform_name(operation))
    try:
        method(**params)
    except ClientError as error:
        return error
    return None


@pytest.mark.parametrize("operation", _entity_operations())
def test_case_variants_of_a_denied_entity_are_denied(
    operation: str, iam: BaseClient, acct: str, hank: BaseClient, api_server: RunningServer
) -> None:
    before = _snapshot(iam, acct)
    for params, strict in _calls(operation, acct):
        error = _call(hank, operation, params)
        if error is None and operation in IDEMPOTENT_DELETES and not strict:
            continue  # a spelling that names no entity: AWS's idempotent delete succeeds, and changes nothing (below)
        assert error is not None, f"{operation}({params}) succeeded for a principal denied on the entity"
        code = error.response["Error"]["Code"]
        if operation not in OPERATIONS:
            assert code == "NotImplemented", f"{operation}: {error}"
        elif strict:
            assert code == "AccessDenied", f"{operation}({params}): {error}"
    assert _snapshot(iam, acct) == before, f"{operation} changed a denied entity"
