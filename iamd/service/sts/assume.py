"""The shared core of AssumeRole, AssumeRoleWithWebIdentity and AssumeRoleWithSAML.

:func:`assume_role_session` runs STS API "AssumeRole" from step 2 on for any *trusting principal*:

* ``AssumeRole``: the caller's own principal (an IAM user, a user's GetSessionToken session,
  or a role session — role chaining); the caller's identity policies (+ boundary + session
  policies) are the identity side of the decision (AWS "Cross-account policy evaluation logic").
* ``AssumeRoleWithWebIdentity`` / ``AssumeRoleWithSAML`` (engineer P): a federated principal
  (``Principal.federated(provider_arn_or_host, account)``), which has no identity side: only
  the role's trust policy decides. Pass the provider's condition keys (``<provider>:aud``,
  ``saml:sub``…) as ``extra_context``, the IdP's session tags / transitive keys / source
  identity / duration inside :class:`AssumeRoleParams`, and ``federated_provider`` (it becomes
  ``aws:FederatedProvider`` of the session) and ``denial_message`` ("Not authorized to perform
  sts:AssumeRoleWithWebIdentity") as keywords.

Steps, in order (each raises AWS's error):
 1. root → AccessDenied "Roles may not be assumed by root accounts."
 2. parameters: RoleArn shape (ValidationError "<arn> is invalid"), inline policy (≤ 2,048
    characters, MalformedPolicyDocument), ≤ 10 policy ARNs, tags (duplicate keys, transitive
    keys ⊆ tag keys, no override of an inherited transitive key), SourceIdentity not ``aws:…``
    and not changed within a chain.
 3. MFA (SerialNumber + TokenCode) through :func:`iamd.service.sts.mfa.verify_mfa_code`.
 4. the role (unknown role: answered exactly like a trust policy that allows nothing, so
    existence is not revealed);
 5. ``action`` authorized against trust policy + identity side; ``sts:TagSession`` when tags
    are passed or inherited, ``sts:SetSourceIdentity`` when a source identity is set.
 6. duration: role chaining ≤ 3600, else ≤ the role's MaxSessionDuration.
 7. managed session policies exist (role's account or AWS managed); packed size ≤ 100 %.
 8. credentials issued (sealed token, iamd.sessions), the role's last use recorded.

Returns the response members shared by the three operations: ``Credentials``,
``AssumedRoleUser``, ``PackedPolicySize`` (when policies or tags were given) and
``SourceIdentity`` (when set). The signature is stable; add keywords only with defaults.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from iamd import errors as aws
from iamd.policy import Decision, DocumentKind, Principal, PrincipalKind, Request, build_context, evaluate
from iamd.service.authorize import request_context
from iamd.service.call import Call
from iamd.service.iam.checks import check_document
from iamd.service.policy_loader import EMPTY
from iamd.service.sts import mfa
from iamd.sessions import SessionClaims, SessionKind, issue_credentials
from iamd.store import NotFound, ReadTx, Role, TagTarget

__all__ = [
    "MAX_CHAINED_DURATION",
    "PACKED_LIMIT",
    "AssumeRoleParams",
    "assume_role_session",
    "check_session_policies",
    "check_tags",
    "packed_policy_size",
]

MAX_CHAINED_DURATION = 3600
DEFAULT_DURATION = 3600
MAX_SESSION_POLICY_CHARS = 2048
MAX_POLICY_ARNS = 10
PACKED_LIMIT = 2048  # bytes of compressed session policies + tags that make 100 % (docs/sts.md)
ROOT_REFUSED = "Roles may not be assumed by root accounts."
# The path is empty or printable text ending in '/'. Written as one optional component, not
# a repeated one: a repeated component that may itself contain '/' can split a path in
# exponentially many ways, and the regex engine tries them all before failing.
_ROLE_ARN = re.compile(r"arn:(aws[a-z-]*):iam::(\d{12}):role/((?:[\x21-\x7e]+/)?)([\w+=,.@-]{1,64})")


@dataclass(frozen=True, slots=True)
class AssumeRoleParams:
    """The AssumeRole-style parameters (already validated against the botocore model)."""

    role_arn: str
    session_name: str
    duration: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    transitive_keys: tuple[str, ...] = ()
    external_id: str | None = None
    source_identity: str | None = None
    serial_number: str | None = None
    token_code: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AssumeRoleParams:
        return cls(
            role_arn=params["RoleArn"],
            session_name=params["RoleSessionName"],
            duration=params.get("DurationSeconds"),
            policy=params.get("Policy"),
            policy_arns=_policy_arns(params),
            tags=tuple((t["Key"], t.get("Value", "")) for t in params.get("Tags") or ()),
            transitive_keys=tuple(params.get("TransitiveTagKeys") or ()),
            external_id=params.get("ExternalId"),
            source_identity=params.get("SourceIdentity"),
            serial_number=params.get("SerialNumber"),
            token_code=params.get("TokenCode"),
        )

    @classmethod
    def federated(
        cls,
        params: Mapping[str, Any],
        *,
        session_name: str,
        tags: tuple[tuple[str, str], ...],
        transitive_keys: tuple[str, ...],
        source_identity: str | None,
    ) -> AssumeRoleParams:
        """AssumeRoleWithWebIdentity/SAML: the request's RoleArn, DurationSeconds and session
        policies; the session name, tags and source identity the verified token or assertion gave."""
        return cls(
            role_arn=str(params["RoleArn"]),
            session_name=session_name,
            duration=params.get("DurationSeconds"),
            policy=params.get("Policy"),
            policy_arns=_policy_arns(params),
            tags=tags,
            transitive_keys=transitive_keys,
            source_identity=source_identity,
        )


def _policy_arns(params: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(p.get("arn", "") for p in params.get("PolicyArns") or ())


def assume_role_session(
    call: Call,
    tx: ReadTx,
    trusting: Principal,
    params: AssumeRoleParams,
    *,
    action: str = "sts:AssumeRole",
    extra_context: Sequence[tuple[str, str | Sequence[str]]] = (),
    federated_provider: str | None = None,
    denial_message: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Authorize ``trusting`` to assume ``params.role_arn`` and issue the session (module doc)."""
    caller = call.caller
    if trusting.kind is PrincipalKind.ROOT:
        raise aws.AccessDenied(ROOT_REFUSED)
    m = _ROLE_ARN.fullmatch(params.role_arn)
    if m is None:
        raise aws.ValidationError(f"{params.role_arn} is invalid")
    role_account, role_name = m.group(2), m.group(4)
    check_session_policies(params.policy, params.policy_arns)

    source = caller.session if trusting.has_account_side else None  # the calling session, if any
    inherited_keys = source.transitive_keys if source is not None else ()
    inherited_lower = {k.lower() for k in inherited_keys}
    inherited = tuple((k, v) for k, v in (source.tags if source else ()) if k.lower() in inherited_lower)
    check_tags(params.tags, params.transitive_keys, inherited_lower)
    source_identity = _source_identity(params.source_identity, source.source_identity if source else None)

    mfa_time: datetime | None = None
    if params.serial_number is not None or params.token_code is not None:
        if params.serial_number is None or params.token_code is None:
            raise aws.AccessDenied(mfa.INVALID_CODE)
        mfa_time = mfa.verify_mfa_code(call, caller.user, params.serial_number, params.token_code)

    role = _find_role(tx, role_account, role_name, params.role_arn)
    loader = call.env.policies.loader
    role_tags = _role_tags(tx, role)
    identity_side = call.env.policies.for_caller(tx, caller) if trusting.has_account_side else EMPTY
    # The RCPs of the role's account govern it, whoever asks (docs/organizations.md, enforcement).
    policies = loader.with_resource(
        identity_side, loader.trust(role), call.env.policies.resource_levels(tx, role_account)
    )

    context: list[tuple[str, str | Sequence[str]]] = list(request_context(call))
    context.append(("sts:RoleSessionName", params.session_name))
    if params.external_id is not None:
        context.append(("sts:ExternalId", params.external_id))
    if params.source_identity is not None:
        context.append(("sts:SourceIdentity", params.source_identity))
    if params.transitive_keys:
        context.append(("sts:TransitiveTagKeys", list(params.transitive_keys)))
    if params.tags:
        context += [(f"aws:RequestTag/{k}", v) for k, v in params.tags]
        context.append(("aws:TagKeys", [k for k, _ in params.tags]))
    if mfa_time is not None:
        context += [("aws:MultiFactorAuthPresent", "true"), ("aws:MultiFactorAuthAge", "0")]
    context += list(extra_context)
    resource_tags = _overlay(role_tags, inherited)
    # The organization keys: the caller's account's organization and the role's account's.
    memberships = call.env.policies
    principal_org = memberships.org_membership(tx, trusting.account) if trusting.account else None
    role_org = memberships.org_membership(tx, role_account)

    def authorize(act: str) -> None:
        built = build_context(trusting, context, resource_account=role_account, resource_tags=resource_tags,
                              principal_org=principal_org, resource_org=role_org)  # fmt: skip
        decision = evaluate(Request(trusting, act, params.role_arn, built, role_account), policies)
        if not decision.allowed:
            raise aws.AccessDenied(denial_message or _message(decision), decision)
        call.decisions.append(decision)  # the audit event's iamdDecision (iamd.core)

    authorize(action)
    if role is None:  # unreachable: a role that does not exist trusts nobody
        raise aws.AccessDenied(denial_message or f"User: {trusting.arn} is not authorized to perform: {action}")
    if params.tags or params.transitive_keys or inherited:
        authorize("sts:TagSession")
    if source_identity is not None:
        authorize("sts:SetSourceIdentity")

    chained = source is not None and source.kind is SessionKind.ASSUMED_ROLE
    duration = params.duration if params.duration is not None else DEFAULT_DURATION
    if chained and duration > MAX_CHAINED_DURATION:
        raise aws.ValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
        )
    if duration > role.max_session_duration:
        raise aws.ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")

    resolve_policy_arns(tx, params.policy_arns, role_account)
    session_tags = params.tags + inherited
    packed = packed_policy_size(params.policy, params.policy_arns, session_tags)

    transitive = tuple(dict.fromkeys((*params.transitive_keys, *inherited_keys)))
    claims = SessionClaims(
        kind=SessionKind.ASSUMED_ROLE, account=role_account, issued_at=call.now,
        expires_at=call.now + timedelta(seconds=duration), secret_access_key="", session_name=params.session_name,
        role_arn=role.arn, role_id=role.id, policy=params.policy, policy_arns=params.policy_arns,
        tags=session_tags, transitive_keys=transitive, source_identity=source_identity,
        mfa=mfa_time is not None, mfa_time=mfa_time, chained=chained, federated_provider=federated_provider,
        extra=dict(extra_claims or {}), partition=call.partition,
    )  # fmt: skip
    issued, claims = issue_credentials(call.env.secret_box, claims)
    if call.env.role_used is not None:
        call.env.role_used(role.account_id, role.name, role.id, call.now, call.region)
    result: dict[str, Any] = {
        "Credentials": issued.response(),
        "AssumedRoleUser": {"AssumedRoleId": claims.user_id_string, "Arn": claims.arn},
    }
    if params.policy is not None or params.policy_arns or session_tags:
        result["PackedPolicySize"] = packed
    if source_identity is not None:
        result["SourceIdentity"] = source_identity
    return result


# -- pieces shared with GetFederationToken --------------------------------------------------------


def check_session_policies(policy: str | None, policy_arns: Sequence[str]) -> None:
    """Session-policy parameters as AWS validates them (STS API "AssumeRole" step 8)."""
    if policy is not None:
        if len(policy) > MAX_SESSION_POLICY_CHARS:
            raise aws.ValidationError(
                "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_SESSION_POLICY_CHARS}"
            )
        check_document(policy, DocumentKind.SESSION, "Policy")
    if len(policy_arns) > MAX_POLICY_ARNS:
        raise aws.ValidationError(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_POLICY_ARNS}"
        )


def resolve_policy_arns(tx: ReadTx, policy_arns: Sequence[str], account: str) -> None:
    """Managed session policies must exist, in ``account`` or AWS managed."""
    for arn in policy_arns:
        try:
            found = tx.get_policy(arn)
        except NotFound:
            found = None
        if found is None or found.account_id not in (account, "aws"):
            raise aws.InvalidParameterValue(f"Policy {arn} does not exist or is not attachable.")


def check_tags(tags: Sequence[tuple[str, str]], transitive: Sequence[str], inherited_lower: set[str]) -> None:
    seen: set[str] = set()
    for key, _ in tags:
        low = key.lower()
        if low in seen:
            raise aws.InvalidParameterValue("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        if low in inherited_lower:
            raise aws.InvalidParameterValue(
                f"One or more of the specified session tag keys ({key}) is already set as a transitive tag key "
                "by the calling session and cannot be overridden."
            )
        seen.add(low)
    for key in transitive:
        if key.lower() not in seen:
            raise aws.InvalidParameterValue("The specified transitive tag key must be included in the requested tags.")


def packed_policy_size(policy: str | None, policy_arns: Sequence[str], tags: Sequence[tuple[str, str]]) -> int:
    """The percentage of the packed limit the session policies and tags use (docs/sts.md).

    AWS's packing is undocumented; iamd compresses the minified inline policy, the policy
    ARNs and the tags together and compares with :data:`PACKED_LIMIT`. Over 100 % is
    PackedPolicyTooLarge.
    """
    parts: list[str] = []
    if policy is not None:
        try:
            parts.append(json.dumps(json.loads(policy), separators=(",", ":")))
        except ValueError:
            parts.append(policy)
    parts += list(policy_arns)
    parts += [f"{k}\x1f{v}" for k, v in tags]
    if not parts:
        return 0
    size = len(zlib.compress("\x1e".join(parts).encode(), 9))
    percent = math.ceil(size * 100 / PACKED_LIMIT)
    if percent > 100:
        raise aws.PackedPolicyTooLarge(f"Packed policy consumes {percent}% of allotted space")
    return percent


# -- helpers --------------------------------------------------------------------------------------


def _source_identity(passed: str | None, inherited: str | None) -> str | None:
    if passed is not None and passed.lower().startswith("aws:"):
        raise aws.ValidationError("SourceIdentity must not start with 'aws:'.")
    if inherited is not None and passed is not None and passed != inherited:
        raise aws.AccessDenied("The source identity of a role chain cannot be changed once it is set.")
    return passed if passed is not None else inherited


def _find_role(tx: ReadTx, account: str, name: str, arn: str) -> Role | None:
    try:
        role = tx.get_role(account, name)
    except NotFound:
        return None
    return role if role.arn == arn else None  # a wrong path names another (absent) role


def _role_tags(tx: ReadTx, role: Role | None) -> list[tuple[str, str]]:
    if role is None:
        return []
    return [(t.key, t.value) for t in tx.list_tags(TagTarget.ROLE, role.account_id, role.name)]


def _overlay(base: Sequence[tuple[str, str]], over: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    low = {k.lower() for k, _ in over}
    return [(k, v) for k, v in base if k.lower() not in low] + list(over)


def _message(decision: Decision) -> str:
    return decision.message or "Access denied"
