"""The troubleshooter: re-evaluate a request with the policies in force now, walk the checklist,
propose the smallest fix and check it (docs/troubleshooting.md).

``Explainer.explain(tx, subject, now)`` reads what the request needs from the store (the
principal, its policies through the one policy loader, the role's trust policy, the tags),
rebuilds the request's context from the event (time, source IP, user agent, MFA, the
operation's own keys), evaluates with the tracer, compares with the decision iamd recorded
at the time, and returns an :class:`Explanation`. Reads only.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from iamd.policy import (
    Decision,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    PrincipalKind,
    Request,
    Tracer,
    build_context,
    evaluate,
)
from iamd.service.policy_loader import EMPTY, Levels, PolicyLoader
from iamd.service.targets import iam_target
from iamd.store import NotFound, ReadTx, Role, TagTarget, User

from .catalog import Catalog, catalog
from .checklist import Finding, Traced, walk
from .credentials import credential_findings
from .explanation import Explanation, changed_outcome, recorded_verdict, replay_differs, verdict_of
from .fix import propose_fix
from .replay import replay
from .subject import InputError, Subject, as_mapping, from_event

__all__ = ["Explainer", "Explanation", "subjects_for_request_id"]

_HISTORY_SCAN = 1000  # trail events read at most when looking for a session's origin or later changes
_SESSION_ORIGINS = ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetFederationToken")


def subjects_for_request_id(
    tx: ReadTx, request_id: str, account: str | None = None, *, reach: int | None = None
) -> list[Subject]:
    """The trail's events of ``request_id`` (of ``account``, when given) as subjects; ``reach``:
    a request whose only events are successful reads is looked for among the newest ``reach``
    events (None: the whole trail; docs/audit.md, "Indexes")."""
    rid = request_id.strip()
    if not rid or len(rid) > 128:
        raise InputError("a request id is 1 to 128 characters")
    found = [e for e in tx.find_audit_events(rid, reach=reach) if account is None or e.account_id == account]
    return [dataclasses.replace(from_event(json.loads(e.record), "request-id"), sequence=e.sequence) for e in found]


# -- the principal as it is now ----------------------------------------------------------------
@dataclass(slots=True)
class _Side:
    principal: Principal
    policies: PolicySet
    user: User | None = None
    role: Role | None = None
    session_policies: list[Policy] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _tags(tx: ReadTx, target: TagTarget, account: str, name: str) -> list[tuple[str, str]]:
    try:
        return [(t.key, t.value) for t in tx.list_tags(target, account, name)]
    except NotFound:
        return []


# The services whose resources RCPs govern (AWS Organizations User Guide, "Resource control policies";
# docs/organizations.md): in a served account the roles STS issues sessions for; in an imported
# account also these services' resources.
RCP_SERVICES = frozenset({"s3", "sts", "kms", "sqs", "secretsmanager"})


def _service_of(arn: str) -> str:
    parts = arn.split(":", 3)
    return parts[2] if len(parts) > 3 and parts[0] == "arn" else ""


def _gone(what: str, arn: str) -> Finding:
    return Finding(
        "principal-missing",
        f"The {what} {arn} does not exist now",
        f"No {what} of that name exists in the account now: it was deleted (or renamed) since, or the ARN is "
        "misspelled. A deleted principal has no permissions; one recreated under the same name is another principal "
        "(a trust or resource policy that named the old one by ARN does not name the new one).",
        {"arn": arn},
    )


class Explainer:
    """Explains subjects against one store, with the server's (or a private) policy loader."""

    def __init__(self, loader: PolicyLoader, known: Catalog | None = None) -> None:
        self.loader = loader
        self._catalog = known

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = catalog()
        return self._catalog

    # -- entry point -----------------------------------------------------------------------------
    def explain(self, tx: ReadTx, subject: Subject, now: datetime) -> Explanation:
        findings: list[Finding] = []
        notes: list[str] = []
        if subject.authentication is not None:
            findings += credential_findings(tx, subject)
        recorded = recorded_verdict(subject)
        if subject.principal is None or subject.action is None:
            verdict = findings[0].detail if findings else "The input names no principal and action to evaluate."
            return Explanation(subject, verdict, None, recorded, findings, None, [], notes)
        try:
            side = self._side(tx, subject)
        except ValueError as e:
            findings.append(
                Finding(
                    "principal-unknown", "Not a principal iamd can evaluate", str(e), {"principal": subject.principal}
                )
            )
            return Explanation(subject, str(e), None, recorded, findings, None, [], notes)
        findings += side.findings
        notes += side.notes
        principal = side.principal
        resource = self._resource(tx, subject, principal)
        resource_account = _arn_account(resource) or principal.account
        policies = side.policies
        role_trusted: Role | None = None
        if subject.action.lower().startswith("sts:assumerole") and ":role/" in resource:
            role_trusted = _role_of(tx, resource)
            # the RCPs of the role's account govern it, as when the server authorized the call
            _, role_rcp = self.loader.organizations(tx, resource_account or "")
            policies = self.loader.with_resource(policies, self.loader.trust(role_trusted), role_rcp)
            if role_trusted is None:
                findings.append(_gone("role", resource))
        else:
            imported = _imported_resource_policy(tx, resource_account, resource) if resource_account else None
            governing: Policy | None = None
            if imported is not None:
                governed, document = imported
                name = f"resource policy of {governed}"
                governing = self.loader.stored(document, PolicyType.RESOURCE, name, name, arn=governed)
                notes.append(
                    f"Evaluated with the imported resource policy of {governed} (iamd import --resource-policy)."
                )
            resource_rcp = None
            if resource_account and _service_of(resource) in RCP_SERVICES:
                # an (imported) account's S3, KMS, SQS, Secrets Manager resources: its RCPs govern them
                resource_rcp = self.loader.organizations(tx, resource_account)[1]
            if governing is not None or resource_rcp:
                policies = self.loader.with_resource(policies, governing, resource_rcp)
        context_items, resource_tags = self._context(tx, subject, side, resource, now)
        context = build_context(
            principal, context_items, resource_account=resource_account, resource_tags=resource_tags,
            principal_org=self.loader.org_membership(tx, principal.account) if principal.account else None,
            resource_org=self.loader.org_membership(tx, resource_account) if resource_account else None,
        )  # fmt: skip
        request = Request(principal, subject.action, resource, context, resource_account)
        tracer = Tracer()
        decision = evaluate(request, policies, tracer)
        traced: list[Traced] = list(zip(policies.statements, tracer.statements, strict=False))
        findings += walk(request, policies, decision, traced, self.catalog)
        if recorded is not None and recorded != decision.verdict.value:
            findings.insert(0, changed_outcome(subject, recorded, decision))
        findings += self._changes_since(tx, subject, side, role_trusted)
        then = self._as_it_was(
            tx, subject, side, role_trusted, request, recorded, decision, findings, notes, (policies.scp, policies.rcp)
        )
        fix = None
        if not decision.allowed:
            fix = propose_fix(
                self.loader, request, policies, decision, side.user, side.role, role_trusted, traced, self.catalog
            )
        explanation = Explanation(subject, "", decision, recorded, findings, fix, tracer.to_json(), notes, then)
        explanation.verdict = verdict_of(explanation)
        return explanation

    # -- the principal and its policies ----------------------------------------------------------
    def _side(self, tx: ReadTx, subject: Subject) -> _Side:
        arn = subject.principal or ""
        probe = Principal.from_arn(arn)  # ValueError: not a principal ARN
        account = probe.account or ""
        kind = probe.kind
        if kind is PrincipalKind.ROOT:
            return _Side(probe, EMPTY)
        if kind is PrincipalKind.USER:
            name = arn.rsplit("/", 1)[1]
            try:
                user = tx.get_user(account, name)
            except NotFound:
                return _Side(probe, EMPTY, findings=[_gone("user", arn)])
            tags = _tags(tx, TagTarget.USER, account, user.name)
            principal = Principal.from_arn(user.arn, unique_id=user.id, tags=tags)
            side = _Side(principal, self.loader.for_user(tx, user), user=user)
            if user.arn != arn:
                side.notes.append(f"the user is stored as {user.arn}; the request named {arn}")
            return side
        if kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE):
            role_arn = probe.entity_arn or arn
            role = _role_of(tx, role_arn)
            if role is None:
                return _Side(probe, EMPTY, findings=[_gone("role", role_arn)])
            tags = _tags(tx, TagTarget.ROLE, account, role.name)
            base = self.loader.for_role(tx, role)
            session_tags: list[tuple[str, str]] = []
            side = _Side(probe, base, role=role)
            if kind is PrincipalKind.ASSUMED_ROLE:
                origin = self._session_origin(tx, subject, account)
                if origin is not None:
                    side.session_policies = self._session_policies(tx, origin)
                    session_tags = _origin_tags(origin)
                    side.notes.append(
                        f"session policies and tags read from the {origin.get('eventName')} that issued the session "
                        f"(request {origin.get('requestID')})"
                    )
                elif subject.user_identity.get("accessKeyId"):
                    side.notes.append(
                        "the request that issued the session is not in the trail: its session policies "
                        "(if any) are not known and were not applied"
                    )
            merged = {k.lower(): (k, v) for k, v in tags}
            merged.update({k.lower(): (k, v) for k, v in session_tags})
            side.principal = Principal.from_arn(arn, unique_id=role.id, tags=list(merged.values()), role_arn=role.arn)
            side.policies = self.loader.build(
                base.identity, base.boundary, side.session_policies, None, base.scp, base.rcp
            )
            return side
        if kind is PrincipalKind.FEDERATED_USER:
            issuer = as_mapping(as_mapping(subject.user_identity.get("sessionContext")).get("sessionIssuer"))
            parent = issuer.get("userName")
            if not isinstance(parent, str):
                raise ValueError(f"{arn} is a federated user; the event does not say which IAM user issued it")
            try:
                user = tx.get_user(account, parent)
            except NotFound:
                return _Side(
                    probe, EMPTY, findings=[_gone("user", f"arn:{probe.partition}:iam::{account}:user/{parent}")]
                )
            base = self.loader.for_user(tx, user)
            origin = self._session_origin(tx, subject, account)
            session = self._session_policies(tx, origin) if origin is not None else []
            principal = Principal.from_arn(arn, parent_user_arn=user.arn)
            policies = self.loader.build(base.identity, base.boundary, session, None, base.scp, base.rcp)
            side = _Side(principal, policies, user=user, session_policies=session)
            if origin is None:
                side.notes.append(
                    "the GetFederationToken that issued the session is not in the trail: without its "
                    "session policy the federated user is evaluated with none (it may do nothing)"
                )
            return side
        raise ValueError(f"{arn}: iamd explains requests of users, roles, role sessions, federated users and root")

    def _session_origin(self, tx: ReadTx, subject: Subject, account: str) -> dict[str, Any] | None:
        """The trail's record of the AssumeRole* / GetFederationToken that issued the session's key."""
        key_id = subject.user_identity.get("accessKeyId")
        if not isinstance(key_id, str) or not key_id.startswith("ASIA"):
            return None
        for name in _SESSION_ORIGINS:
            page = tx.list_audit_events(account, event_name=name, end=None, max_items=_HISTORY_SCAN)
            for event in page.items:
                if event.error_code is not None or key_id not in event.record:
                    continue
                record: dict[str, Any] = json.loads(event.record)
                credentials = as_mapping(as_mapping(record.get("responseElements")).get("credentials"))
                if credentials.get("accessKeyId") == key_id:
                    return record
        return None

    def _session_policies(self, tx: ReadTx, origin: Mapping[str, Any]) -> list[Policy]:
        params = as_mapping(origin.get("requestParameters"))
        out: list[Policy] = []
        inline = params.get("policy")
        if isinstance(inline, str) and inline:
            out.append(
                self.loader.stored(
                    inline, PolicyType.SESSION, "SessionPolicy", f"session policy passed to {origin.get('eventName')}"
                )
            )
        for entry in params.get("policyArns") or ():
            arn = entry.get("arn") if isinstance(entry, Mapping) else None
            if isinstance(arn, str):
                found = self.loader.managed(tx, arn, PolicyType.SESSION)
                if found is not None:
                    out.append(found)
        return out

    # -- the resource and the context ------------------------------------------------------------
    def _resource(self, tx: ReadTx, subject: Subject, principal: Principal) -> str:
        """The resource ARN; IAM's display forms in messages ("user Bob", "policy arn:…") resolved."""
        raw = (subject.resource or "*").strip()
        kind, space, name = raw.partition(" ")
        if not space or raw.startswith("arn:"):
            return raw
        account = principal.account or ""
        if kind in ("user", "group", "role"):
            found = _stored_arn(tx, account)(kind, name)
            if found is not None:
                return str(found)
            return f"arn:{principal.partition}:iam::{account}:{kind}/{name}"
        if kind == "policy" and name.startswith("arn:"):
            return name
        return "*"  # "policy path /": ListPolicies is authorized on "*"

    def _context(
        self, tx: ReadTx, subject: Subject, side: _Side, resource: str, now: datetime
    ) -> tuple[list[tuple[str, str | Sequence[str]]], list[tuple[str, str]]]:
        when = (subject.event_time or now).astimezone(UTC)
        items: list[tuple[str, str | Sequence[str]]] = [
            ("aws:CurrentTime", when.strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("aws:EpochTime", str(int(when.timestamp()))),
        ]
        if subject.source_ip:
            items.append(("aws:SourceIp", subject.source_ip))
        if subject.user_agent:
            items.append(("aws:UserAgent", subject.user_agent))
        if subject.event_source == "iam.amazonaws.com":
            items.append(("aws:RequestedRegion", "us-east-1"))  # IAM's one endpoint
        attributes = as_mapping(as_mapping(subject.user_identity.get("sessionContext")).get("attributes"))
        if attributes:
            if attributes.get("mfaAuthenticated") in ("true", "false"):
                items.append(("aws:MultiFactorAuthPresent", str(attributes["mfaAuthenticated"])))
            if isinstance(attributes.get("creationDate"), str):
                items.append(("aws:TokenIssueTime", attributes["creationDate"]))
        resource_tags: list[tuple[str, str]] = []
        params = _pascal(subject.request_parameters)
        if subject.event_source == "iam.amazonaws.com" and subject.event_name:
            account = side.principal.account or ""
            caller_user = (side.user.path, side.user.name) if side.user is not None else None
            try:
                target = iam_target(subject.event_name, params, account, caller_user, _stored_arn(tx, account))
            except Exception:  # a record iamd could not have authorized: no extra keys
                target = None
            if target is not None:
                items += list(target.context)
                if target.kind in _TAGGABLE and target.name:
                    resource_tags = _tags(tx, TagTarget(target.kind), account, target.name)
                    items += [(f"iam:ResourceTag/{k}", v) for k, v in resource_tags]
        if subject.action is not None and subject.action.lower().startswith("sts:assumerole"):
            if isinstance(params.get("RoleSessionName"), str):
                items.append(("sts:RoleSessionName", params["RoleSessionName"]))
            if isinstance(params.get("ExternalId"), str):
                items.append(("sts:ExternalId", params["ExternalId"]))
            tags = [
                (str(t["Key"]), str(t["Value"]))
                for t in params.get("Tags") or ()
                if isinstance(t, Mapping) and isinstance(t.get("Key"), str) and isinstance(t.get("Value"), str)
            ]
            if tags:
                items += [(f"aws:RequestTag/{k}", v) for k, v in tags]
                items.append(("aws:TagKeys", [k for k, _ in tags]))
            role = _role_of(tx, resource)
            if role is not None:
                resource_tags = _tags(tx, TagTarget.ROLE, role.account_id, role.name)
        given = {k.lower() for k, _ in subject.context}  # what the caller gave replaces what iamd derived
        items = [(k, v) for k, v in items if k.lower() not in given] + list(subject.context)
        return items, resource_tags

    # -- as it was ----------------------------------------------------------------------------------
    def _as_it_was(
        self,
        tx: ReadTx,
        subject: Subject,
        side: _Side,
        role: Role | None,
        request: Request,
        recorded: str | None,
        now: Decision,
        findings: list[Finding],
        notes: list[str],
        org: tuple[Levels, Levels],
    ) -> Decision | None:
        """The request evaluated with the policies in force at the event's time (replay.py); the SCP and
        RCP levels are today's (``org``): their history is not kept, and leaving them out would report
        an outcome as changed when only the organization's policies explain it."""
        when = subject.event_time
        if when is None:
            return None
        identity = subject.user_identity
        user_id = side.user.id if side.user is not None else None
        role_id = side.role.id if side.role is not None else None
        if user_id is None and role_id is None and identity.get("type") == "IAMUser":
            principal_id = identity.get("principalId")
            user_id = principal_id if isinstance(principal_id, str) else None
        horizon = tx.policy_history_horizon()
        if horizon is not None and when < horizon:
            findings.append(
                Finding(
                    "history-retention",
                    "The event is older than the kept policy history",
                    f"The event ({when:%Y-%m-%dT%H:%M:%SZ}) is older than the policy history iamd keeps (complete "
                    f"from {horizon:%Y-%m-%dT%H:%M:%SZ}; the server's --history-retention): it is not replayed as it "
                    "was, only evaluated with the policies in force now.",
                    {"eventTime": when.isoformat(), "historyFrom": horizon.isoformat()},
                )
            )
            return None
        assuming = request.action.lower().startswith("sts:assumerole") and role is not None
        replayed = replay(
            tx,
            self.loader,
            when,
            user_id=user_id,
            role_id=role_id if user_id is None else None,
            session=side.session_policies,
            trusting_role_id=role.id if assuming and role is not None else None,
            org=org,
        )
        if replayed is None:
            notes.append(
                "the policy history does not reach back to the event (the principal predates it): the request is "
                "evaluated as it is now only"
            )
            return None
        notes += replayed.notes
        if org[0] or org[1]:
            notes.append("as it was uses the organization's SCPs and RCPs as they are now (their history is not kept)")
        then = evaluate(request, replayed.policies)
        if recorded is not None and then.verdict.value != recorded:
            findings.append(replay_differs(then.verdict.value, recorded, replayed.recent))
        if then.verdict is not now.verdict and not any(f.code == "outcome-changed" for f in findings):
            findings.insert(0, changed_outcome(subject, then.verdict.value, now))
        for f in findings:
            if f.code == "outcome-changed":
                f.evidence["asItWas"] = then.verdict.value
        return then

    # -- what changed since ----------------------------------------------------------------------
    def _changes_since(self, tx: ReadTx, subject: Subject, side: _Side, role: Role | None) -> list[Finding]:
        """Writes after the event that touched the principal, its groups, its policies or the role."""
        if subject.event_time is None:
            return []
        account = side.principal.account or ""
        names: set[str] = set()
        if side.user is not None:
            names.add(side.user.name.lower())
            groups = tx.list_groups_for_user(account, side.user.name, max_items=1000).items
            names |= {g.name.lower() for g in groups}
        if side.role is not None:
            names.add(side.role.name.lower())
        if role is not None:
            names.add(role.name.lower())
        arns = {p.arn for p in side.policies.all_policies() if p.arn}
        when = subject.event_time
        # successful writes only, filtered by the store: the trail's reads never crowd them out of the scan
        page = tx.list_audit_events(account, start=when, writes_only=True, max_items=_HISTORY_SCAN)
        changes: list[dict[str, Any]] = []
        for event in page.items:
            if event.request_id == subject.request_id:
                continue
            if (event.sequence or 0) <= (subject.sequence or 0) if subject.sequence else event.event_time <= when:
                continue  # the same second as the event: only what the trail stored after it
            record = json.loads(event.record)
            params = as_mapping(record.get("requestParameters"))
            touched = {str(params.get(k, "")).lower() for k in ("userName", "groupName", "roleName")} & names
            if touched or params.get("policyArn") in arns:
                changes.append(
                    {
                        "eventTime": record.get("eventTime"),
                        "eventName": event.event_name,
                        "requestId": event.request_id,
                        "by": event.user_arn,
                    }
                )
        if not changes:
            return []
        changes.reverse()  # oldest first
        return [
            Finding(
                "changed-since",
                f"{len(changes)} change(s) to the policies involved since the event",
                "These writes came after the request and may explain an outcome that differs from the one recorded: "
                + "; ".join(f"{c['eventTime']} {c['eventName']}" for c in changes[:10])
                + ".",
                {"changes": changes[:50]},
            )
        ]


# -- helpers --------------------------------------------------------------------------------------
def _pascal(value: Any) -> Any:
    """CloudTrail's lowerCamelCase parameters back to the API's member names (``userName`` → ``UserName``)."""
    if isinstance(value, Mapping):
        return {(k[:1].upper() + k[1:]) if isinstance(k, str) else k: _pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


def _stored_arn(tx: ReadTx, account: str) -> Any:
    def stored_arn(kind: str, ident: str) -> str | None:
        try:
            if kind == "user":
                return str(tx.get_user(account, ident).arn)
            if kind == "group":
                return str(tx.get_group(account, ident).arn)
            if kind == "role":
                return str(tx.get_role(account, ident).arn)
            if kind == "policy":
                return str(tx.get_policy(ident).arn)
        except NotFound:
            return None
        return None

    return stored_arn


_TAGGABLE = frozenset(t.value for t in TagTarget)


def _role_of(tx: ReadTx, arn: str) -> Role | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        return None
    try:
        return tx.get_role(parts[4], parts[5].rsplit("/", 1)[1])
    except NotFound:
        return None


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) == 6 and len(parts[4]) == 12 and parts[4].isdigit():
        return parts[4]
    return None


def _origin_tags(origin: Mapping[str, Any]) -> list[tuple[str, str]]:
    params = as_mapping(origin.get("requestParameters"))
    out: list[tuple[str, str]] = []
    for tag in params.get("tags") or ():
        if isinstance(tag, Mapping) and isinstance(tag.get("key"), str) and isinstance(tag.get("value"), str):
            out.append((tag["key"], tag["value"]))
    return out


def _imported_resource_policy(tx: ReadTx, account: str, resource: str) -> tuple[str, str] | None:
    """The resource policy imported for ``resource`` (exactly), or for an S3 object its bucket's (a
    bucket policy governs the bucket's objects): the governed ARN and the document, or None."""
    candidates = [resource]
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[2] == "s3" and "/" in parts[5]:
        candidates.append(":".join(parts[:5]) + ":" + parts[5].split("/", 1)[0])
    for arn in candidates:
        document = tx.imported_resource_policy(account, arn)
        if document is not None:
            return arn, document
    return None
