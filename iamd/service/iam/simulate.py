"""The policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy (AWS "Testing IAM policies with the IAM policy
simulator").

Each action and resource is evaluated by the engine with the entity's policies (or only the
given ones), the boundary, an optional resource policy and Organizations levels. Context
comes only from ``ContextEntries``; keys a condition needed but did not get are listed in
``MissingContextValues``. One result per action and resource (AWS's legacy behaviour,
which clients expect; the newer per-action aggregation is not used).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iamd import errors as aws
from iamd.policy import (
    Context,
    Decision,
    DocumentKind,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    Request,
    Verdict,
    evaluate,
)
from iamd.service.call import Call
from iamd.service.policy_loader import PolicyLoader
from iamd.store import EntityKind, Group, NotFound, ReadTx, Role, User

from .checks import check_document

_ARN_KIND = {"user": EntityKind.USER, "group": EntityKind.GROUP, "role": EntityKind.ROLE}


def _source_type(policy: Policy) -> str:
    if policy.type is PolicyType.RESOURCE:
        return "resource"
    if policy.arn:
        return "aws-managed" if ":iam::aws:policy/" in policy.arn else "user-managed"
    return policy.owner or "none"


def _inputs(call: Call, member: str, kind: DocumentKind, ptype: PolicyType) -> list[Policy]:
    out = []
    for i, text in enumerate(call.params.get(member) or (), start=1):
        try:
            doc = check_document(text, kind, member)
        except aws.MalformedPolicyDocument as e:
            raise aws.InvalidInput(f"{member}.{i}: {e.message}") from None
        out.append(Policy(f"{member}.{i}", ptype, doc, owner="none"))
    return out


def _context(call: Call) -> Context:
    items: list[tuple[str, str | Sequence[str]]] = []
    for i, entry in enumerate(call.params.get("ContextEntries") or (), start=1):
        name = entry.get("ContextKeyName")
        if name is None:  # optional in the model, but an entry names its key (docs/iam-api.md)
            raise aws.ValidationError(
                f"1 validation error detected: Value null at 'contextEntries.{i}.member.contextKeyName' failed to "
                "satisfy constraint: Member must not be null"
            )
        values = [str(v) for v in entry.get("ContextKeyValues") or ()]
        key_type = str(entry.get("ContextKeyType", "string"))
        items.append((str(name), values if key_type.endswith("List") else values[:1]))
    return Context.build(items)


def _excluded(call: Call) -> set[str]:
    """The policies ``PolicyExclusionList`` names: ARNs and inline policy names.

    Older botocore models send plain strings, current ones ``PolicyIdentifier`` structures
    (an ARN, or an inline policy's name and where it is attached); both are accepted.
    """
    out: set[str] = set()
    for item in call.params.get("PolicyExclusionList") or ():
        if isinstance(item, str):
            out.add(item)
            continue
        if item.get("PolicyArn"):
            out.add(str(item["PolicyArn"]))
        inline = item.get("InlinePolicyIdentifier") or {}
        if inline.get("PolicyName"):
            out.add(str(inline["PolicyName"]))
    return out


def _caller(arn: str) -> Principal:
    try:
        return Principal.from_arn(arn)
    except ValueError:
        raise aws.InvalidInput(f"Invalid ARN for CallerArn: {arn}") from None


def _result(action: str, resource: str, decision: Decision, has_boundary: bool, has_orgs: bool) -> dict[str, Any]:
    matched = [
        {
            "SourcePolicyId": cs.policy.id,
            "SourcePolicyType": _source_type(cs.policy),
            "StartPosition": {"Line": cs.statement.start.line, "Column": cs.statement.start.column},
            "EndPosition": {"Line": cs.statement.end.line, "Column": cs.statement.end.column},
        }
        for cs in decision.matched
        if cs.ptype not in (PolicyType.SCP, PolicyType.RCP)  # AWS never lists SCP statements
    ]
    blocked = {b.type for b in decision.blocking}
    out: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": decision.verdict.value,
        "MatchedStatements": matched,
        "MissingContextValues": list(decision.missing_context_keys),
    }
    if has_orgs:
        out["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": PolicyType.SCP not in blocked}
    if has_boundary:
        out["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": PolicyType.BOUNDARY not in blocked}
    return out


def _simulate(call: Call, principal: Principal, policies: PolicySet, owner: str, in_org: bool) -> dict[str, Any]:
    """``in_org``: the simulated principal's account is in an organization (or the custom simulation
    was given SCP levels), so each result says whether Organizations allowed it."""
    p = call.params
    context = _context(call)
    results = []
    for action in p["ActionNames"]:
        if "*" in action or "?" in action:
            raise aws.InvalidInput(f"Action names may not contain wildcards: {action}")
        for resource in p.get("ResourceArns") or ["*"]:
            request = Request(principal, action, resource, context, owner)
            decision = evaluate(request, policies)
            results.append(_result(action, resource, decision, policies.boundary is not None, in_org))
    return {"EvaluationResults": results, "IsTruncated": False}


def _resource_policy(call: Call) -> Policy | None:
    text = call.params.get("ResourcePolicy")
    if text is None:
        return None
    try:
        doc = check_document(text, DocumentKind.RESOURCE, "ResourcePolicy")
    except aws.MalformedPolicyDocument as e:
        raise aws.InvalidInput(f"ResourcePolicy: {e.message}") from None
    return Policy("ResourcePolicy", PolicyType.RESOURCE, doc)


def _owner(call: Call, default: str) -> str:
    owner = call.params.get("ResourceOwner")
    if owner is None:
        return default
    parts = str(owner).split(":")
    return parts[4] if len(parts) == 6 and parts[4].isdigit() else default


def simulate_principal_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    source = str(call.params["PolicySourceArn"])
    parts = source.split(":", 5)
    kind_name, _, rest = parts[5].partition("/") if len(parts) == 6 else ("", "", "")
    kind = _ARN_KIND.get(kind_name)
    if kind is None or parts[2] != "iam":
        raise aws.InvalidInput(f"Invalid ARN for PolicySourceArn: {source}")
    name = rest.rsplit("/", 1)[-1]
    account = parts[4]
    loader = call.env.policies.loader
    entity: User | Group | Role
    try:
        if kind is EntityKind.USER:
            entity = tx.get_user(account, name)
        elif kind is EntityKind.GROUP:
            entity = tx.get_group(account, name)
        else:
            entity = tx.get_role(account, name)
    except NotFound:
        raise aws.NoSuchEntity(f"The {kind.value} with name {name} cannot be found.") from None
    excluded = _excluded(call)
    if isinstance(entity, User):
        identity = loader.user_identity(tx, entity)
    else:
        identity = loader.identity(tx, kind, entity.name, account)
    identity = [p for p in identity if p.arn not in excluded and p.id not in excluded]
    identity += _inputs(call, "PolicyInputList", DocumentKind.IDENTITY, PolicyType.IDENTITY)
    boundaries = _inputs(call, "PermissionsBoundaryPolicyInputList", DocumentKind.BOUNDARY, PolicyType.BOUNDARY)
    boundary = boundaries[0] if boundaries else None
    entity_boundary = getattr(entity, "permissions_boundary", None)
    if boundary is None and entity_boundary:
        boundary = loader.boundary(tx, entity_boundary, f"{kind.value} {entity.name}")
    caller_arn = call.params.get("CallerArn") or (entity.arn if kind is not EntityKind.GROUP else None)
    principal = _caller(caller_arn) if caller_arn else Principal.from_arn(f"arn:{call.partition}:iam::{account}:root")
    scp, rcp = loader.organizations(tx, account)
    policies = loader.build(identity, boundary, resource=_resource_policy(call), scp=scp, rcp=rcp)
    # OrganizationsDecisionDetail for any account of an organization (IAM API "EvaluationResult");
    # the management account's is always allowed: SCPs never restrict it (docs/organizations.md).
    in_org = call.env.policies.org_membership(tx, account) is not None
    return _simulate(call, principal, policies, _owner(call, account), in_org)


def simulate_custom_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    identity = _inputs(call, "PolicyInputList", DocumentKind.IDENTITY, PolicyType.IDENTITY)
    boundaries = _inputs(call, "PermissionsBoundaryPolicyInputList", DocumentKind.BOUNDARY, PolicyType.BOUNDARY)
    levels = []
    for i, level in enumerate(call.params.get("OrderedOrganizationPolicyInputList") or (), start=1):
        level_policies = []
        for j, text in enumerate(level.get("ServiceControlPolicyInputList") or (), start=1):
            doc = check_document(text, DocumentKind.SCP, "OrderedOrganizationPolicyInputList")
            level_policies.append(Policy(f"OrderedOrganizationPolicyInputList.{i}.{j}", PolicyType.SCP, doc, i - 1))
        levels.append(level_policies)
    caller_arn = call.params.get("CallerArn") or call.arn("user/SimulatedUser")
    principal = _caller(caller_arn)
    policies = PolicyLoader.build(
        identity, boundaries[0] if boundaries else None, resource=_resource_policy(call), scp=levels
    )
    return _simulate(call, principal, policies, _owner(call, principal.account or call.account), bool(levels))


__all__ = ["Verdict", "simulate_custom_policy", "simulate_principal_policy"]
