"""The smallest safe fix of a denial, checked by evaluating the request again with it
(docs/troubleshooting.md, the fix). Never applied: proposed, with where and how."""

from __future__ import annotations

import json
from typing import Any

from iamd.policy import Decision, Policy, PolicySet, PolicyType, PrincipalKind, Request, evaluate
from iamd.service.policy_loader import PolicyLoader
from iamd.store import Role, User

from .catalog import Catalog
from .checklist import TYPE_NAMES, Traced, guard_rail, level_name, org_levels, protects_mfa, statement_evidence

__all__ = ["FIX_NAME", "RADIUS_ACTIONS", "blast_radius", "propose_fix", "radius_sample"]

FIX_NAME = "iamd-explain-fix"
RADIUS_ACTIONS = 120  # actions of the service sampled for the blast radius (bounded work: 2 evaluations each)


def radius_sample(request: Request, known: Catalog) -> tuple[list[str], list[str]]:
    """The actions and resources the blast radius is measured on: the service's actions (all, or an even
    sample of :data:`RADIUS_ACTIONS` with the requested one), and the requested resource, ``*`` and siblings
    of the resource (another name in its path, another account's)."""
    prefix = request.action.partition(":")[0].lower()
    actions = sorted(known.actions_of(prefix), key=str.lower)
    if len(actions) > RADIUS_ACTIONS:
        step = len(actions) / RADIUS_ACTIONS
        actions = [actions[int(i * step)] for i in range(RADIUS_ACTIONS)]
    if request.action.lower() not in {a.lower() for a in actions}:
        actions.append(request.action)
    resources = [request.resource, "*"]
    parts = request.resource.split(":", 5)
    if len(parts) == 6 and parts[5] not in ("", "*"):
        head, slash, _ = parts[5].rpartition("/")
        sibling = f"{head}{slash}iamd-radius-other" if slash else f"{parts[5]}-iamd-radius-other"
        resources.append(":".join([*parts[:5], sibling]))
        resources.append(":".join([*parts[:5], f"{parts[5]}/iamd-radius-child"]))
        if parts[4].isdigit():
            other_account = "000000000000" if parts[4] != "000000000000" else "999999999999"
            resources.append(":".join([*parts[:4], other_account, parts[5]]))
    return actions, list(dict.fromkeys(resources))


def blast_radius(request: Request, before: PolicySet, after: PolicySet, known: Catalog) -> dict[str, Any]:
    """What the fixed policies allow that the policies before did not, on the sample of :func:`radius_sample`
    (the same principal and context): the request itself excluded."""
    actions, resources = radius_sample(request, known)
    newly: list[dict[str, str]] = []
    for action in actions:
        for resource in resources:
            if action.lower() == request.action.lower() and resource == request.resource:
                continue
            probe = Request(request.principal, action, resource, request.context, request.resource_account)
            if evaluate(probe, after).allowed and not evaluate(probe, before).allowed:
                newly.append({"action": action, "resource": resource})
    return {
        "sampledActions": actions,
        "sampledResources": resources,
        "newlyAllowed": newly,
        "summary": (
            "nothing else on the sample: the fix allows exactly the request"
            if not newly
            else f"{len(newly)} other action/resource pair(s) of the sample become allowed"
        ),
    }


def propose_fix(
    loader: PolicyLoader,
    request: Request,
    policies: PolicySet,
    decision: Decision,
    user: User | None,
    entity_role: Role | None,
    role: Role | None,
    traced: list[Traced],
    known: Catalog | None = None,
) -> dict[str, Any] | None:
    block = decision.decisive_block
    if block is None or block.type is PolicyType.PROTECTED:
        return None
    if decision.verdict.value == "explicitDeny":
        denies = [cs for cs in decision.matched if cs.deny]
        guards = [cs for cs in denies if cs.ptype in (PolicyType.SCP, PolicyType.RCP)]
        if guards and len(guards) == len(denies):
            cs = guards[0]
            levels = policies.scp if cs.ptype is PolicyType.SCP else policies.rcp
            where = level_name(len(levels), cs.policy.level)
            kind = cs.ptype.value.upper()
            return {
                "kind": "explicit-deny",
                "level": cs.ptype.value,
                "levelName": where,
                "guardRail": True,
                "summary": f"The Deny is in the {TYPE_NAMES[cs.ptype.value]} {cs.policy.id} attached at the "
                f"organization's {where} level: a guard rail of the organization, which no policy of this account "
                f"can lift. The fix is at the {kind} level, by the organization's administrator (exempt this "
                f"principal or action in the {kind}'s Deny, or move the account out of its reach) — if the guard "
                "rail should not apply at all.",
                "statements": [statement_evidence(c) for c in denies],
                "verified": False,
            }
        summary = (
            "An explicit Deny wins over every Allow: adding an Allow cannot fix this. Look at the "
            "statement(s) below; the narrowest change excludes exactly this action and resource from the Deny "
            f"(remove {request.action} from its Action, or list {request.resource} in a NotResource), or meets "
            "its condition."
        )
        guard = any(guard_rail(cs) for cs in denies)
        if any(protects_mfa(cs) for cs in denies):
            # AWS's MFA self-service policies deny everything but setting up MFA until the caller signs in with it
            # (IAM User Guide, "Troubleshoot IAM", "I am not authorized to perform: iam:DeleteVirtualMFADevice").
            summary = (
                "The Deny protects the account until the caller uses MFA: it is a guard rail, keep it. Sign in "
                "with MFA (sts get-session-token --serial-number … --token-code …) and repeat the request."
            )
            if request.action.lower() == "iam:deletevirtualmfadevice":
                summary += (
                    " A device that was created but never enabled (an abandoned setup) cannot be deleted by its "
                    "user without MFA: an administrator deletes it (aws iam list-virtual-mfa-devices "
                    f"--assignment-status Unassigned, then aws iam delete-virtual-mfa-device --serial-number "
                    f"{request.resource}), and the user starts the setup again."
                )
        elif guard:
            summary += " It looks like a deliberate guard rail: ask whoever owns it before changing it."
        return {
            "kind": "explicit-deny",
            "guardRail": guard,
            "summary": summary,
            "statements": [statement_evidence(cs) for cs in denies],
            "verified": False,
        }
    # A statement that matched but for a condition: meet the condition, don't bypass it.
    conditional = [
        (cs, t)
        for cs, t in traced
        if not cs.deny
        and t.action_matched
        and t.principal_matched is not False
        and t.resource_matched
        and not t.applied
        and any(b.type is cs.ptype for b in decision.blocking)
    ]
    if conditional:
        cs, t = conditional[0]
        failed = [c for c in t.conditions if c.result is not True]
        return {
            "kind": "meet-condition",
            "summary": f"{statement_evidence(cs)['policyName']} already allows {request.action} on "
            f"{request.resource} under conditions this request did not meet: meet them (the safe fix) rather "
            "than add an unconditional Allow.",
            "statement": statement_evidence(cs),
            "conditions": [
                {
                    "operator": c.operator,
                    "key": c.key,
                    "policyValues": list(c.policy_values),
                    "requestValues": list(c.request_values) if c.request_values is not None else None,
                }
                for c in failed
            ],
            "verified": False,
        }
    statement: dict[str, Any] = {
        "Sid": "IamdExplainFix",
        "Effect": "Allow",
        "Action": request.action,
        "Resource": request.resource,
    }
    changes: list[dict[str, Any]] = []
    identity = list(policies.identity)
    boundary, session, resource = policies.boundary, list(policies.session), policies.resource
    blocked = {b.type for b in decision.blocking}
    if PolicyType.IDENTITY in blocked:
        identity.append(_fix_policy(loader, [statement], PolicyType.IDENTITY))
        changes.append(_identity_change(user, entity_role, statement))
    if PolicyType.BOUNDARY in blocked and boundary is not None:
        boundary = _extended(loader, boundary, statement, PolicyType.BOUNDARY)
        changes.append(
            {
                "policyType": "boundary",
                "where": f"the permissions boundary {boundary.arn}",
                "how": "CreatePolicyVersion --set-as-default with this statement added",
                "statement": statement,
                "apply": {"operation": "CreatePolicyVersion", "PolicyArn": boundary.arn},
            }
        )
    if PolicyType.SESSION in blocked:
        session.append(_fix_policy(loader, [statement], PolicyType.SESSION))
        changes.append(
            {
                "policyType": "session",
                "where": "the session policy passed when the session is made (AssumeRole --policy / --policy-arns)",
                "how": "request a new session with it",
                "statement": statement,
            }
        )
    if PolicyType.TRUST in blocked and resource is not None and role is not None:
        trusted = request.principal.entity_arn or request.principal.arn
        if request.principal.kind is PrincipalKind.ROOT:
            trusted = request.principal.arn
        trust_statement = {
            "Sid": "IamdExplainFix",
            "Effect": "Allow",
            "Principal": {"AWS": trusted},
            "Action": request.action,
        }
        resource = _extended(loader, resource, trust_statement, PolicyType.TRUST)
        changes.append(
            {
                "policyType": "trust",
                "where": f"the trust policy of role {role.arn}",
                "how": "UpdateAssumeRolePolicy with this statement added",
                "statement": trust_statement,
                "apply": {"operation": "UpdateAssumeRolePolicy", "RoleName": role.name},
            }
        )
    for org in (PolicyType.SCP, PolicyType.RCP):
        if org in blocked:
            missing = org_levels(policies, traced, org)
            at = (
                "; ".join(
                    f"the {lv['levelName']} level ({', '.join(p['policyName'] for p in lv['policies']) or 'none'})"
                    for lv in missing
                )
                or "every level"
            )
            changes.append(
                {
                    "policyType": org.value,
                    "where": f"a {TYPE_NAMES[org.value]} of the organization at {at}",
                    "how": f"ask the organization's administrator: a change at the {org.value.upper()} level",
                    "statement": statement,
                    "levels": missing,
                    "guardRail": True,
                }
            )
    if not changes:
        return None
    fixed = loader.build(identity, boundary, session, resource, policies.scp, policies.rcp)
    after = evaluate(request, fixed)
    radius = blast_radius(request, policies, fixed, known) if known is not None else None
    return {
        "kind": "add-allow",
        "summary": "Add the least-privilege statement(s) below (exactly this action on exactly this resource); "
        + (
            "re-evaluated with them, the request is allowed."
            if after.allowed
            else f"re-evaluated with them, the request is still denied ({after.verdict.value}): see the findings."
        ),
        "changes": changes,
        "verified": after.allowed,
        "decisionWithFix": after.verdict.value,
        **({"blastRadius": radius} if radius is not None else {}),
    }


def _fix_policy(loader: PolicyLoader, statements: list[dict[str, Any]], ptype: PolicyType) -> Policy:
    text = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
    return loader.stored(text, ptype, FIX_NAME, "the proposed fix")


def _extended(loader: PolicyLoader, policy: Policy, statement: dict[str, Any], ptype: PolicyType) -> Policy:
    doc = json.loads(policy.document.text)
    existing = doc.get("Statement")
    doc["Statement"] = [*(existing if isinstance(existing, list) else [existing]), statement]
    return loader.stored(
        json.dumps(doc, indent=2),
        ptype,
        policy.id,
        f"{policy.id} with the proposed fix",
        kind=policy.kind,
        owner=policy.owner,
        arn=policy.arn,
    )


def _identity_change(user: User | None, role: Role | None, statement: dict[str, Any]) -> dict[str, Any]:
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    if user is not None:
        who, flag, op = f"user {user.name}", f"--user-name {user.name}", "put-user-policy"
        target = {"operation": "PutUserPolicy", "UserName": user.name, "PolicyName": FIX_NAME}
    elif role is not None:
        who, flag, op = f"role {role.name}", f"--role-name {role.name}", "put-role-policy"
        target = {"operation": "PutRolePolicy", "RoleName": role.name, "PolicyName": FIX_NAME}
    else:
        return {"policyType": "identity", "where": "an identity-based policy of the principal", "statement": statement}
    return {
        "policyType": "identity",
        "where": f"an inline policy of {who} (or a managed policy attached to it)",
        "how": f"aws iam {op} {flag} --policy-name {FIX_NAME} --policy-document '{document}'",
        "statement": statement,
        "apply": target,
    }
