"""Authorizing IAM calls with the engine: the caller's policies, compiled and cached.

Policy data is read from the store once and kept compiled in memory, so a decision never
queries the database in steady state. The policies are gathered and built by the policy
loader (:mod:`iamd.service.policy_loader`, which also holds :class:`PolicyCache`, re-exported
here; see docs/architecture.md, the policy loader and caches).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from iamd import errors as aws
from iamd.policy import (
    Context,
    Decision,
    OrgMembership,
    PolicyType,
    Request,
    Verdict,
    build_context,
    evaluate,
)
from iamd.store import NotFound, ReadTx, TagTarget

from .call import Call
from .password_grants import password_self_service_allows
from .policy_loader import PolicyCache, unreadable
from .sessions import session_context_items
from .targets import KeyOwner, StoredArn, Target, creates_by_name, iam_target, taken_target

__all__ = [
    "DecisionCounter",
    "PolicyCache",
    "authorize_action",
    "authorize_iam",
    "authorize_iam_call",
    "authorize_iam_taken",
    "protected_role_message",
    "request_context",
    "unreadable",
]


@functools.lru_cache(maxsize=8)
def _time_keys(epoch_second: int) -> tuple[str, str]:
    """``aws:CurrentTime`` and ``aws:EpochTime`` of one second: formatted once per second."""
    moment = datetime.fromtimestamp(epoch_second, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), str(epoch_second)


def request_context(call: Call) -> list[tuple[str, str | Sequence[str]]]:
    """The keys every request carries (AWS "AWS global condition context keys" (properties of the network and the
    request)), and the caller's credential keys
    (token issue time, MFA, source identity) when it signed with temporary credentials."""
    now = call.now.astimezone(UTC)
    current, epoch = _time_keys(int(now.timestamp()))
    return [
        ("aws:CurrentTime", current),
        ("aws:EpochTime", epoch),
        ("aws:SecureTransport", "true" if call.secure else "false"),
        ("aws:SourceIp", call.source_ip),
        ("aws:UserAgent", call.user_agent),
        ("aws:RequestedRegion", call.env.partition.iam_region if call.service == "iam" else call.region),
        *session_context_items(call.caller, now),
    ]


def _iam_context(call: Call, resource: Target, tags: list[tuple[str, str]], org: OrgMembership | None) -> Context:
    """The request context of an IAM call on one resource (AWS "AWS global condition context keys").

    IAM resources are the caller's account's: ``aws:ResourceAccount`` and the resource
    organization keys are the caller's own (``org``: its account's organization, if any).
    """
    items = request_context(call) + list(resource.context)
    items += [(f"iam:ResourceTag/{k}", v) for k, v in tags]
    return build_context(call.caller.principal, items, resource_account=call.account, resource_tags=tags,
                         principal_org=org, resource_org=org)  # fmt: skip


def _tagged_context(call: Call, tx: ReadTx, resource: Target, org: OrgMembership | None) -> Context:
    """:func:`_iam_context` with the tags of ``resource`` as stored, read from ``tx`` (in the
    authorization's transaction: :func:`authorize_iam` builds it before it returns, or never)."""
    return _iam_context(call, resource, _resource_tags(call, tx, resource), org)


def _resource_tags(call: Call, tx: ReadTx, target: Target) -> list[tuple[str, str]]:
    """Tags of the existing resource a request names, for ``aws:ResourceTag`` / ``iam:ResourceTag``."""
    if not target.name or target.kind not in _TAGGABLE:
        return []
    kind = TagTarget(target.kind)
    try:
        if kind is TagTarget.POLICY:
            policy = tx.get_policy(target.name)
            found = tx.list_tags(kind, policy.account_id, policy.arn)
        else:
            found = tx.list_tags(kind, call.account, target.name)
    except NotFound:
        return []
    return [(t.key, t.value) for t in found]


_TAGGABLE = frozenset(t.value for t in TagTarget)


class DecisionCounter:
    """How many decisions ended allowed, explicitDeny and implicitDeny (for /metrics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {v.value: 0 for v in Verdict}

    def add(self, verdict: Verdict) -> None:
        with self._lock:
            self.counts[verdict._value_] += 1  # (not ``.value``: iamd/audit.py, compact_decision)


def authorize_iam(
    call: Call, tx: ReadTx, target: Target, cache: PolicyCache, counter: DecisionCounter | None = None
) -> Decision | None:
    """Raise AWS's AccessDenied unless the engine allows the call (and every action it implies).

    Returns the decision on the call's own action (for the audit trail; ``None`` when the
    password self-service grant allowed it); a denial carries its decision on the error.
    """
    caller = call.caller
    account = caller.account_id  # ``call.account``, a property: read once (and each decision's ``allowed``)
    allowed: Decision | None = None
    policies = cache.for_caller(tx, caller)
    org = cache.org_membership(tx, account)
    for operation, resource in ((call.operation, target), *target.also):
        # Built only if a statement that matches the action reads it (Context.deferred), and
        # the resource's tags read from ``tx`` only then: a write whose policies read no
        # condition key is authorized without its target's tag reads (one or two statements).
        context = Context.deferred(functools.partial(_tagged_context, call, tx, resource, org))
        request = Request(caller.principal, f"iam:{operation}", resource.arn, context, account, resource.display)
        decision = evaluate(request, policies)
        if counter is not None:
            counter.add(decision.verdict)
        ok = decision.allowed
        if not ok and context.unread:
            # A denial's message may read the context later (an RCP's ARN), after ``tx`` is
            # done: built now, from the resource as stored in this transaction.
            context.values  # noqa: B018
        if not ok and password_self_service_allows(call, tx, operation, resource.arn, decision):
            continue  # AllowUsersToChangePassword's implicit grant (iamd.service.password_grants)
        if resource is target:
            allowed = decision
        if not ok:
            block = decision.decisive_block
            if block is not None and block.type is PolicyType.PROTECTED and resource.kind == "role":
                # The engine refuses changes to service-linked and /aws-reserved/ roles whatever
                # the policies say; IAM reports that as UnmodifiableEntity (IAM API "CreateRole", "UpdateRole",
                # "DeleteRole").
                raise aws.UnmodifiableEntity(protected_role_message(resource.name or ""))
            raise aws.AccessDenied(_legacy_mfa_denial(decision.message or "Access denied", resource.arn), decision)
    return allowed


_EXPLICIT = " with an explicit deny"


def _legacy_mfa_denial(message: str, resource_arn: str) -> str:
    """Denials on virtual MFA device resources keep IAM's older text.

    AWS's published text for this case (IAM API "CreateVirtualMFADevice", "EnableMFADevice", the "created but never
    activated"
    device) ends with ``with an explicit deny`` and names no policy type; other IAM denials
    use the newer ``with an explicit deny in <type>`` form (AWS "Troubleshoot access denied error messages").
    docs/mfa.md.
    """
    if ":mfa/" in resource_arn and _EXPLICIT in message:
        return message[: message.index(_EXPLICIT) + len(_EXPLICIT)]
    return message


def protected_role_message(name: str) -> str:
    return f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"


def authorize_iam_call(call: Call, tx: ReadTx, counter: DecisionCounter | None = None) -> Decision | None:
    """The authorization rule of IAM calls (``iamd.core``): the resource the call acts on, as
    stored (``targets.iam_target``), authorized by :func:`authorize_iam`. A create by name is
    authorized against the requested ARN only: the entity that may have the name already (in
    another spelling or path) is authorized by :func:`authorize_iam_taken`, only if the create
    fails, in its transaction (a create that succeeds found none: names are unique; its read
    was spent for nothing on every successful create: docs/architecture.md, "Session 13: the
    taken name authorized when the create fails")."""
    account = call.caller.account_id  # (``call.account``, a property: read once)
    caller_user, stored, key_owner = _lookups(call, tx)
    if call.operation == "DeleteUser":  # its target unread if its delete checks it (Tx.assume_user)
        stored = _unread_user(tx, account, str(call.params.get("UserName", "")), stored)
    target = iam_target(
        call.operation, call.params, account, caller_user, stored, key_owner, partition=call.partition,
        taken_name=False,
    )  # fmt: skip
    return authorize_iam(call, tx, target, call.env.policies, counter)


def _unread_user(tx: Any, account: str, name: str, stored: StoredArn) -> StoredArn:
    """``stored``, but the user ``name`` not read if the write transaction ``tx`` takes it as
    stored at ``/`` and spelled as given (``Tx.assume_user``): no stored ARN, so the target is
    the ARN so spelled, as for a user not found (``targets._named``). DeleteUser's statement
    checks the assumption under the writers' lock; the caller authorizes it again, read, if it
    was wrong or denied (iamd.core.invoke)."""
    assume = getattr(tx, "assume_user", None)  # a write transaction's (a read's has none)
    if assume is None or not assume(account, name):
        return stored
    return lambda kind, ident: None if kind == "user" and ident == name else stored(kind, ident)


def authorize_iam_taken(call: Call, tx: ReadTx, counter: DecisionCounter | None = None) -> Decision | None:
    """After the handler of an IAM write failed (inside its transaction, under the writers' lock):
    a create by name whose name is taken, in another spelling or path, is authorized against the
    entity as stored; a Deny on it raises AccessDenied, which the core answers instead of the
    handler's error (EntityAlreadyExists, or any other). None: nothing to authorize, or allowed."""
    if not creates_by_name(call.operation):
        return None
    existing = taken_target(call.operation, call.params, call.account, *_lookups(call, tx), partition=call.partition)
    if existing is None:
        return None
    return authorize_iam(call, tx, existing, call.env.policies, counter)


def _lookups(call: Call, tx: ReadTx) -> tuple[tuple[str, str] | None, StoredArn, KeyOwner]:
    """What :func:`iam_target` and :func:`taken_target` take after the account: the calling IAM
    user's path and name (None for anyone else), and the stored entities' lookups in ``tx``."""
    caller = call.caller
    user = caller.user
    caller_user = (user.path, user.name) if user is not None else None
    return caller_user, _stored(tx, caller.account_id), _key_owner(tx, caller.account_id)


def authorize_action(
    call: Call, tx: ReadTx, action: str, resource: str, extra: Sequence[tuple[str, str | Sequence[str]]] = ()
) -> Decision:
    """The caller's identity side must allow ``action`` on ``resource`` (no resource policy).

    For operations that authorize inside their handler (STS): the decision is kept on the call
    (``call.decisions``) so that the call's audit event carries it; a denial carries it on the error.
    """
    caller = call.caller
    items = request_context(call) + list(extra)
    org = call.env.policies.org_membership(tx, call.account)
    context = build_context(caller.principal, items, resource_account=call.account, principal_org=org,
                            resource_org=org)  # fmt: skip
    policies = call.env.policies.for_caller(tx, caller)
    decision = evaluate(Request(caller.principal, action, resource, context, call.account), policies)
    if not decision.allowed:
        raise aws.AccessDenied(decision.message or "Access denied", decision)
    call.decisions.append(decision)
    return decision


_NAME_GETTERS = {
    "user": "get_user", "group": "get_group", "role": "get_role", "instance-profile": "get_instance_profile",
    "server-certificate": "get_server_certificate",
}  # fmt: skip
_ARN_GETTERS = {"oidc-provider": "get_oidc_provider", "saml-provider": "get_saml_provider"}


def _stored(tx: Any, account: str) -> Callable[[str, str], str | None]:
    """``targets.StoredArn`` over ``tx``: the ARN of the entity as stored (its path and name)."""

    def stored_arn(kind: str, ident: str) -> str | None:
        try:
            if kind in _NAME_GETTERS:
                return str(getattr(tx, _NAME_GETTERS[kind])(account, ident).arn)
            if kind == "policy":
                return str(tx.get_policy(ident).arn)
            if kind in _ARN_GETTERS:
                return str(getattr(tx, _ARN_GETTERS[kind])(account, ident).arn)
            if kind == "mfa":
                return str(tx.get_virtual_mfa_device(account, ident).serial)
        except NotFound:
            return None
        return None

    return stored_arn


def _key_owner(tx: Any, account: str) -> Callable[[str], str | None]:
    def key_owner(key_id: str) -> str | None:
        try:
            key = tx.get_access_key(key_id)
        except NotFound:
            return None
        if key.account_id != account:
            return None
        return str(key.user_name or "")

    return key_owner
