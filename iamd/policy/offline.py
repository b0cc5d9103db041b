"""The offline request format (docs/offline-evaluation.md) → ``Request`` + ``PolicySet``.

Used by ``iamd policy eval`` and by the conformance corpus. Bad input raises
:class:`InputError` listing every problem found, so nothing is guessed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .compile import Policy, PolicySet, PolicyType
from .document import PolicyValidationError, parse_policy
from .model import DocumentKind
from .request import Principal, PrincipalKind, Request, build_context

__all__ = ["InputError", "OfflineRequest", "parse_offline_request"]

_TOP = {"principal", "action", "resource", "context", "policies"}
_POLICY_KEYS = {"identity", "boundary", "session", "resource", "scp", "rcp"}
_RESOURCE_KINDS = {"resource": PolicyType.RESOURCE, "trust": PolicyType.TRUST, "key": PolicyType.KEY}
_DOC_KIND = {
    PolicyType.IDENTITY: DocumentKind.IDENTITY,
    PolicyType.BOUNDARY: DocumentKind.BOUNDARY,
    PolicyType.SESSION: DocumentKind.SESSION,
    PolicyType.RESOURCE: DocumentKind.RESOURCE,
    PolicyType.KEY: DocumentKind.RESOURCE,
    PolicyType.TRUST: DocumentKind.TRUST,
    PolicyType.SCP: DocumentKind.SCP,
    PolicyType.RCP: DocumentKind.RCP,
}


class InputError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class OfflineRequest:
    request: Request
    policies: PolicySet


def _scalar(v: object) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return v
    return None


def _tags(raw: object, where: str, problems: list[str]) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        problems.append(f"{where}.tags must be an object of strings")
        return []
    return [(str(k), v) for k, v in raw.items()]


def _principal(raw: object, problems: list[str]) -> Principal | None:
    try:
        if isinstance(raw, str):
            if raw == "anonymous":
                return Principal.anonymous()
            if raw.startswith("arn:"):
                return Principal.from_arn(raw)
            if raw.endswith(".amazonaws.com") or (":" not in raw and raw):
                return Principal.service_principal(raw)
        elif isinstance(raw, Mapping):
            unknown = set(raw) - {"arn", "id", "tags", "roleArn", "parentUserArn", "service", "federated",
                                  "account", "anonymous"}  # fmt: skip
            if unknown:
                problems.append(f"principal has unknown keys: {', '.join(sorted(unknown))}")
                return None
            if raw.get("anonymous") is True:
                return Principal.anonymous()
            if isinstance(raw.get("service"), str):
                return Principal.service_principal(raw["service"])
            if isinstance(raw.get("federated"), str):
                account = raw.get("account")
                return Principal.federated(raw["federated"], account if isinstance(account, str) else None)
            if isinstance(raw.get("arn"), str):
                return Principal.from_arn(
                    raw["arn"],
                    unique_id=raw.get("id") if isinstance(raw.get("id"), str) else None,
                    tags=_tags(raw.get("tags"), "principal", problems),
                    role_arn=raw.get("roleArn") if isinstance(raw.get("roleArn"), str) else None,
                    parent_user_arn=raw.get("parentUserArn") if isinstance(raw.get("parentUserArn"), str) else None,
                )
    except ValueError as e:
        problems.append(f"principal: {e}")
        return None
    problems.append(
        "principal must be an ARN, a service principal, 'anonymous', or an object with arn/service/federated"
    )
    return None


def _policy(raw: object, ptype: PolicyType, default_id: str, level: int, problems: list[str]) -> Policy | None:
    meta: Mapping[str, object] = {}
    doc: object = raw
    if isinstance(raw, Mapping) and "document" in raw:
        meta = raw
        doc = raw["document"]
        if ptype in (PolicyType.RESOURCE, PolicyType.TRUST, PolicyType.KEY) and "kind" in raw:
            kind_name = raw["kind"]
            if kind_name not in _RESOURCE_KINDS:
                problems.append(f"{default_id}: kind must be resource, trust or key")
                return None
            ptype = _RESOURCE_KINDS[str(kind_name)]
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
    pid = meta.get("id") if isinstance(meta.get("id"), str) else default_id
    try:
        document = parse_policy(text, _DOC_KIND[ptype])
    except PolicyValidationError as e:
        for p in e.problems:
            problems.append(f"{pid} ({ptype.value} policy) {p.position.line}:{p.position.column}: {p.describe()}")
        return None
    return Policy(
        str(pid), ptype, document, level,
        kind=str(meta["kind"]) if "kind" in meta and ptype is PolicyType.IDENTITY else None,
        owner=str(meta["owner"]) if "owner" in meta else None,
        arn=str(meta["arn"]) if "arn" in meta else None,
    )  # fmt: skip


def _policy_list(raw: object, ptype: PolicyType, prefix: str, level: int, problems: list[str]) -> list[Policy]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"policies.{prefix} must be a list")
        return []
    out = [_policy(p, ptype, f"{prefix}.{i + 1}", level, problems) for i, p in enumerate(raw)]
    return [p for p in out if p is not None]


def _levels(raw: object, ptype: PolicyType, problems: list[str]) -> list[list[Policy]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(level, list) for level in raw):
        problems.append(f"policies.{ptype.value} must be a list of levels, each a list of policies")
        return []
    return [_policy_list(level, ptype, f"{ptype.value}.{i + 1}", i, problems) for i, level in enumerate(raw)]


def parse_offline_request(data: object) -> OfflineRequest:
    """Read the offline request format; raise :class:`InputError` with every problem."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise InputError(["the request must be a JSON object"])
    unknown = set(data) - _TOP
    if unknown:
        problems.append(f"unknown keys: {', '.join(sorted(unknown))}")
    principal = _principal(data.get("principal"), problems)
    action = data.get("action")
    if not isinstance(action, str) or action.count(":") != 1:
        problems.append("action must be a string such as 's3:GetObject'")
    resource_raw = data.get("resource", "*")
    resource_tags: list[tuple[str, str]] = []
    resource_account: str | None = None
    if isinstance(resource_raw, Mapping):
        resource = resource_raw.get("arn", "*")
        acct = resource_raw.get("account")
        if acct is not None and not (isinstance(acct, str) and len(acct) == 12 and acct.isdigit()):
            problems.append("resource.account must be a 12-digit account id")
        resource_account = acct if isinstance(acct, str) else None
        resource_tags = _tags(resource_raw.get("tags"), "resource", problems)
    else:
        resource = resource_raw
    if not isinstance(resource, str) or not resource:
        problems.append("resource must be an ARN string, '*', or an object with arn/account/tags")
        resource = "*"
    if resource_account is None and resource.startswith("arn:"):
        parts = resource.split(":", 5)
        if len(parts) == 6 and len(parts[4]) == 12 and parts[4].isdigit():
            resource_account = parts[4]

    context_raw = data.get("context") or {}
    items: list[tuple[str, str | list[str]]] = []
    if not isinstance(context_raw, Mapping):
        problems.append("context must be an object")
    else:
        for key, value in context_raw.items():
            if isinstance(value, list):
                vals = [_scalar(v) for v in value]
                if any(v is None for v in vals):
                    problems.append(f"context[{key!r}] must be a string, number, boolean or a list of them")
                    continue
                items.append((key, [v for v in vals if v is not None]))
            else:
                text = _scalar(value)
                if text is None:
                    problems.append(f"context[{key!r}] must be a string, number, boolean or a list of them")
                    continue
                items.append((key, text))

    pol_raw = data.get("policies") or {}
    if not isinstance(pol_raw, Mapping):
        raise InputError([*problems, "policies must be an object"])
    unknown = set(pol_raw) - _POLICY_KEYS
    if unknown:
        problems.append(f"policies has unknown keys: {', '.join(sorted(unknown))}")
    identity = _policy_list(pol_raw.get("identity"), PolicyType.IDENTITY, "identity", 0, problems)
    boundary = None
    if pol_raw.get("boundary") is not None:
        boundary = _policy(pol_raw["boundary"], PolicyType.BOUNDARY, "boundary", 0, problems)
    session = _policy_list(pol_raw.get("session"), PolicyType.SESSION, "session", 0, problems)
    resource_policy = None
    if pol_raw.get("resource") is not None:
        resource_policy = _policy(pol_raw["resource"], PolicyType.RESOURCE, "resource", 0, problems)
    scp = _levels(pol_raw.get("scp"), PolicyType.SCP, problems)
    rcp = _levels(pol_raw.get("rcp"), PolicyType.RCP, problems)

    if principal is not None:
        if principal.kind in (PrincipalKind.ROOT, PrincipalKind.SERVICE, PrincipalKind.ANONYMOUS,
                              PrincipalKind.WEB_IDENTITY) and (identity or boundary or session):  # fmt: skip
            problems.append(f"a {principal.kind.value} principal has no identity, boundary or session policies")
        if session and not (principal.is_session or principal.kind is PrincipalKind.ROLE):
            problems.append("session policies apply only to role sessions and federated users")
    if problems or principal is None or not isinstance(action, str):
        raise InputError(problems)
    context = build_context(
        principal, items, resource_account=resource_account or principal.account, resource_tags=resource_tags
    )
    request = Request(principal, action, resource, context, resource_account)
    return OfflineRequest(request, PolicySet.of(identity, boundary, session, resource_policy, scp, rcp))
