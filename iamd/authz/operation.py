"""``iamd:Authorize``: iamd decides for your own service whether its client's request is allowed.

An operation of the ``iamd`` service in the application core (docs/authorization-api.md). The
calling service is an iamd principal with its own credentials; the core authenticated it and
completed it as for every call. The handler:

1. authorizes the service itself: ``iamd:Authorize`` on ``arn:<partition>:iamd::<account>:service/<Service>``
   (a denial is the call's ``AccessDenied``);
2. verifies the *client's* SigV4 signature, forwarded by the service (header or presigned URL,
   any region of the partition, the clock skew and expiry as iamd's own endpoints apply them),
   on the service's behalf, and resolves who the client is (a user, a role or federated-user
   session, a root user, of any account iamd serves), or takes an unsigned request as anonymous
   when the service allows it. A refused signature is an answer, not an error: every check is
   denied with the error the service should return (:mod:`iamd.authz.errors`);
3. evaluates each check with the engine (:func:`iamd.policy.evaluate`): the client's identity
   policies, boundary, session policies and its account's SCP levels, the resource policy given
   and the RCP levels of the resource's account; same-account and cross-account as the engine
   decides them (docs/evaluation-semantics.md);
4. records each check as a trail event of the service (``eventSource`` ``<service>.amazonaws.com``,
   ``eventName`` the action's name) with the client as ``userIdentity``, the decision and who
   asked; the core records the ``Authorize`` call itself.

Input: the body as :func:`iamd.authz.input.read_body` checked it (bounded sizes, AWS-shaped errors).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from iamd import errors as aws
from iamd.audit import Check, CheckEvents, Summary, summary_without_resource
from iamd.auth import SignedRequest, SigV4Verifier, carries_signature
from iamd.auth.canonical import EMPTY_SHA256, UNSIGNED_PAYLOAD
from iamd.auth.locate import locate
from iamd.auth.request import new_signed_request
from iamd.frozen import maker
from iamd.ids import new_uuid4
from iamd.moment import whole_second_utc
from iamd.policy import (
    Context,
    Decision,
    DocumentKind,
    OrgMembership,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    Request,
    Verdict,
    build_context,
    evaluate,
)
from iamd.policy.decision import make_decision
from iamd.policy.request import make_request
from iamd.service.authorize import _time_keys as time_keys
from iamd.service.call import Call, Caller
from iamd.service.policy_loader import EMPTY
from iamd.service.sessions import resolve_caller, session_context_items
from iamd.store import ReadTx

from .errors import client_error, missing_signature
from .input import CALLER, MAX_BODY, MAX_CHECKS, MAX_POLICY, audited_input, check_input, invalid, read_body

__all__ = [
    "ACTION",
    "MAX_BODY",
    "MAX_CHECKS",
    "MAX_POLICY",
    "audited_input",
    "authorize_operation",
    "invoke_local",
    "read_body",
]

ACTION = "iamd:Authorize"

# _ALLOWED: an enum member read through its class costs a call through EnumType.__getattr__'s hook
# on Python 3.11, about ten times a module constant's (bench/README.md, "Session 18: the single
# check's ids, time and enum members"): read for each check on every authorization.
_ALLOWED = Verdict.ALLOWED


# -- the operation -----------------------------------------------------------------------------


def authorize_operation(call: Call, tx: ReadTx) -> dict[str, Any]:
    """Answer the checks of ``call.params`` for the forwarded request (module doc)."""
    data = call.params
    service = data.get("Service") or str(data["Checks"][0]["Action"]).split(":", 1)[0].lower()
    call.decisions.append(_authorize_service(call, tx, service))
    signed = _signed_request(data)
    client, error, region = _authenticate(call, tx, signed, service, bool(data.get("AllowAnonymous")))
    identity = _identity(client, signed)
    results: list[dict[str, Any]] = []
    resolved: dict[str, Any] = {}
    user_agent = signed.first_value("user-agent") if signed is not None else ""
    memo = _Memo(call, tx, client, region, user_agent) if client is not None else None
    # The trail events are submitted once every check is answered: nothing is recorded by a try
    # abandoned for the database (iamd/store/guard.py) and run again on a worker thread.
    checks: list[Check] = []
    last_context: Context | None = None
    messages: dict[tuple[int, int], tuple[bool, str]] = {}  # each distinct denial's text rendered once per call
    client_account = client.principal.account if client is not None else None
    service_account = call.caller.account_id
    many = len(data["Checks"]) > 1
    for check in data["Checks"]:
        resource = str(check["Resource"])
        owner = _owner(check, resource, client_account, service_account)
        if error is not None:
            code, message, status = error
            why: dict[str, Any] = {"decision": "implicitDeny", "authentication": code}
            results.append(_result(check, "Deny", message, why, (code, message, status)))
            checks.append(_check(check, resource, owner, None, (code, message)))
            continue
        assert client is not None and memo is not None
        decision = _decide(memo, check, resource, owner)
        context = decision.request.context
        if context is not last_context:  # each distinct context merged once
            last_context = context
            if not resolved:  # the first (a single check's only one): taken whole
                resolved = {
                    key: values[0] if len(values) == 1 else list(values) for key, values in context.values.items()
                }
            else:
                for key, values in context.values.items():
                    resolved.setdefault(key, values[0] if len(values) == 1 else list(values))
        why, summary, _ = _why(decision)
        if decision.verdict is _ALLOWED:  # (not the property: a call from C per check)
            results.append(_result(check, "Allow", "", why, None))
            checks.append(_check(check, resource, owner, summary, None))
            continue
        # The outcome by its Why (one object per outcome, which `results` holds for the whole call,
        # so its id is not reused meanwhile): two ints to hash, not the outcome's nested key twice.
        message = (
            _denial_message(decision, service, client, (id(why), id(context)), messages)
            if many
            else _message(decision, service, client)  # a single check's: no text to share with another
        )
        denial = ("AccessDenied", message or "Access Denied", 403)
        results.append(_result(check, "Deny", message, why, denial))
        checks.append(_check(check, resource, owner, summary, denial[:2]))
    submit = call.env.submit_event
    if submit is not None:
        submit(_events(call, service, identity, user_agent, checks))
    return {"Principal": identity, "Results": results, "Context": resolved}  # made here for this answer: no copy


def _service_context(caller: Caller, now: datetime, secure: bool, source_ip: str) -> Context:
    """The context of the service's own ``iamd:Authorize``: built only if a statement on it reads it."""
    moment = now.astimezone(UTC)
    current, epoch = time_keys(int(moment.timestamp()))
    items: list[tuple[str, str | Sequence[str]]] = [
        ("aws:CurrentTime", current),
        ("aws:EpochTime", epoch),
        ("aws:SecureTransport", "true" if secure else "false"),
        ("aws:SourceIp", source_ip),
        *session_context_items(caller, moment),
    ]
    return build_context(caller.principal, items, resource_account=caller.account_id)


def _authorize_service(call: Call, tx: ReadTx, service: str) -> Decision:
    """``iamd:Authorize`` for the calling service, on its authorizer ARN in its own account."""
    caller = call.caller
    target = f"arn:{call.env.partition.name}:iamd::{caller.account_id}:service/{service}"

    # The builder holds what it reads, not the call: the decision goes into call.decisions, and a
    # builder holding the call would make a reference cycle (call → decision → request → context
    # → builder → call) that keeps each call's objects (its parsed body, its checks, its answer)
    # alive until the cyclic GC finds them, which then has every call's leftovers to scan.
    context = Context.deferred(functools.partial(_service_context, caller, call.now, call.secure, call.source_ip))
    request = make_request(caller.principal, ACTION, target, context, caller.account_id)
    policies = call.env.policies.for_caller(tx, caller)
    entry = (target, caller.principal.arn)
    known = _SERVICE_ALLOWS.get(entry)
    # (The principal compared by identity first: a cached caller's is the same object each call,
    # and the dataclass's __eq__ builds a tuple of every field on both sides.)
    if known is not None and known[0] is policies and (known[1] is caller.principal or known[1] == caller.principal):
        # The same principal, action and resource against the very same policy set (the cache
        # builds a new one when anything in it changes), decided without reading the context.
        return make_decision(known[2].verdict, request, known[2].matched, (), known[2].missing_context_keys, ())
    decision = evaluate(request, policies)
    if not decision.allowed:
        raise aws.AccessDenied(decision.message or "Access denied", decision)
    if context.unread and not decision.errors:
        if len(_SERVICE_ALLOWS) >= _SERVICE_ALLOWS_MAX:
            _SERVICE_ALLOWS.clear()
        _SERVICE_ALLOWS[entry] = (policies, caller.principal, decision)
    return decision


# The services' own iamd:Authorize allows that read no condition key, by (target, service ARN),
# with the policy set they were decided against: used only for that very set (compared by
# identity) and principal (by value). The policy cache builds a new set when anything in it
# changes (the change feed drops the old one), so an entry outlives no change in iamd; the next
# decision against the new set replaces it. It only saves evaluating an unchanged question again
# (docs/architecture.md, "Caches and invalidation").
_SERVICE_ALLOWS: dict[tuple[str, str], tuple[PolicySet, Principal, Decision]] = {}
_SERVICE_ALLOWS_MAX = 1024


def _signed_request(data: Mapping[str, Any]) -> SignedRequest:
    if "PresignedUrl" in data:
        try:
            url = urlsplit(str(data["PresignedUrl"]))
        except ValueError:  # e.g. an unclosed [IPv6] host
            raise invalid("PresignedUrl must be an http:// or https:// URL.") from None
        if url.scheme not in ("http", "https") or not url.netloc:
            raise invalid("PresignedUrl must be an http:// or https:// URL.")
        return new_signed_request("GET", url.path or "/", url.query, (("host", url.netloc),))
    request = data["Request"]
    # check_input made sure every header is a [name, value] pair of strings (and the method, path
    # and query strings): no str() of each; each pair made a tuple in C (no Python loop).
    headers = tuple(map(tuple, request["Headers"]))
    return new_signed_request(request["Method"], request["Path"], request.get("Query", ""), headers)


def _authenticate(
    call: Call, tx: ReadTx, signed: SignedRequest, service: str, allow_anonymous: bool
) -> tuple[Caller | None, tuple[str, str, int] | None, str]:
    """The client (None for a refused signature, with its error), and the signing region."""
    region = call.env.partition.iam_region
    if not carries_signature(signed):
        if allow_anonymous:
            return Caller("", Principal.anonymous(), None, None), None, region
        return None, missing_signature(service), region
    lookup = call.env.lookup
    if lookup is None:
        raise aws.ServiceUnavailable("This iamd process cannot authenticate forwarded requests.")
    made = call.env.client_verifier
    verifier: SigV4Verifier = (
        made(service) if made is not None else SigV4Verifier({service: call.env.partition.regions})
    )
    try:
        verified = verifier.verify(signed, now=call.now, lookup=lookup, payload_hash=_payload_hash(call.params, signed))
    except aws.AwsError as refused:
        return None, client_error(refused, service), region
    client: Caller = verified.principal
    if client.session is not None:
        client = resolve_caller(client, tx)
    return client, None, verified.region


def _payload_hash(data: Mapping[str, Any], signed: SignedRequest) -> str:
    """The hashed-payload line: given, else the client's x-amz-content-sha256, else an empty body's;
    a presigned URL's is UNSIGNED-PAYLOAD (AWS "Authenticating Requests: Using Query Parameters")."""
    request = data.get("Request")
    if type(request) is dict or isinstance(request, Mapping):  # parsed JSON's dict: no ABC check
        given = request.get("PayloadHash")
        if given:
            return str(given)
    declared = signed.header_values("x-amz-content-sha256")
    if declared:
        return ",".join(declared)
    if "PresignedUrl" in data or (signed.query and "x-amz-signature=" in signed.query.lower()):
        return UNSIGNED_PAYLOAD if _unsigned_presigned(signed) else EMPTY_SHA256
    return EMPTY_SHA256  # an empty body's, as a constant: not hashed on every call


def _unsigned_presigned(signed: SignedRequest) -> bool:
    # S3's presigned URLs sign UNSIGNED-PAYLOAD; other services' the empty body's hash.
    credential = next((v for k, v in _pairs(signed.query) if k.lower() == "x-amz-credential"), "")
    parts = credential.split("/")
    return len(parts) == 5 and parts[3] == "s3"


def _pairs(query: str) -> Iterable[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


class _Memo:
    """What every check of one call shares: the time keys, the client's policies, each resource
    policy compiled once (by content, in the loader's caches), each account's organization."""

    def __init__(self, call: Call, tx: ReadTx, client: Caller, region: str, user_agent: str) -> None:
        self.call, self.tx, self.client = call, tx, client
        # (an aware time's timestamp and differences need no conversion to UTC first)
        current, epoch = time_keys(int(call.now.timestamp()))
        self.base: list[tuple[str, str | Sequence[str]]] = [
            ("aws:CurrentTime", current),
            ("aws:EpochTime", epoch),
            ("aws:RequestedRegion", region),
            *session_context_items(client, call.now),
        ]
        if user_agent:
            self.base.append(("aws:UserAgent", user_agent))
        cache = call.env.policies
        self.identity = EMPTY if client.principal.account is None else cache.for_caller(tx, client)
        self._orgs: dict[str, OrgMembership | None] = {}
        self._sets: dict[tuple[str, str], PolicySet] = {}
        self.contexts: dict[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, Any], ...]], Context] = {}

    def org(self, account: str | None) -> OrgMembership | None:
        """The organization membership of ``account`` (None: in none), cached per account by the
        policy cache: an Organizations write to the account or its organization drops it
        (docs/architecture.md, "Caches")."""
        if not account:
            return None
        if account not in self._orgs:
            self._orgs[account] = self.call.env.policies.org_membership(self.tx, account)
        return self._orgs[account]

    def policies(self, check: Mapping[str, Any], owner: str) -> PolicySet:
        text = str(check.get("ResourcePolicy") or "")
        known = self._sets.get((text, owner))
        if known is not None:
            return known
        cache = self.call.env.policies
        resource_policy: Policy | None = None
        if text:
            document = cache.loader.documents.get(text, DocumentKind.RESOURCE)
            if isinstance(document, str):
                where = str(check["Resource"])[:256]
                raise aws.MalformedPolicyDocument(f"ResourcePolicy of {where}: {document}")
            resource_policy = cache.loader.stored(text, PolicyType.RESOURCE, "ResourcePolicy", "resource policy")
        base = self.identity
        rcp = cache.resource_levels(self.tx, owner)
        if resource_policy is None and not rcp and base.resource is None and not base.rcp:
            built = base  # a principal's set as it is cached: no resource side to add
        else:
            built = cache.with_resource(base, resource_policy, rcp)
        self._sets[(text, owner)] = built
        return built


def _decide(memo: _Memo, check: Mapping[str, Any], resource: str, owner: str) -> Decision:
    """The engine's decision on one check (``owner``: the resource's account, :func:`_owner`)."""
    principal = memo.client.principal
    given_tags, given_context = check.get("ResourceTags"), check.get("Context")
    tags = tuple((str(k), str(v)) for k, v in given_tags.items()) if given_tags else ()
    given = (
        tuple((str(k), v if isinstance(v, str) else tuple(str(x) for x in v)) for k, v in given_context.items())
        if given_context
        else ()
    )
    # Checks of one request that name the same account, tags and keys share one context (it is
    # immutable): a batch over one bucket's objects builds it once.
    key = (owner, tags, given)
    context = memo.contexts.get(key)
    if context is None:
        context = build_context(
            principal,
            [*memo.base, *given],
            resource_account=owner,
            resource_tags=tags,
            principal_org=memo.org(principal.account),
            resource_org=memo.org(owner),
        )
        memo.contexts[key] = context
    return evaluate(
        make_request(principal, str(check["Action"]), resource, context, owner), memo.policies(check, owner)
    )


def _owner(check: Mapping[str, Any], resource: str, client_account: str | None, service_account: str) -> str:
    """The resource's account: ``ResourceAccount`` as given (``"Caller"``: the client's own, for a
    resource the request creates, as S3 makes the account that creates a bucket its owner), else
    the ARN's account, else the service's (docs/authorization-api.md)."""
    given = check.get("ResourceAccount")
    if given == CALLER:
        return client_account or service_account
    return str(given) if given else _arn_account(resource) or service_account


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return None
    account = parts[4]
    # ACCOUNT's [0-9]{12}, without the regex (once per check): isdigit alone would take other scripts' digits.
    return account if len(account) == 12 and account.isascii() and account.isdigit() else None


def _message(decision: Decision, service: str, client: Caller) -> str:
    """AWS's text: S3 names the resource in quotes, and tells callers of other accounts and
    anonymous callers only "Access Denied" (docs/authorization-api.md)."""
    if service != "s3":
        return decision.message or "Access Denied"
    request = decision.request
    principal = request.principal
    if principal.account is None or principal.account != request.owner_account:
        return "Access Denied"
    quoted = Request(principal, request.action, request.resource, request.context, request.resource_account,
                     f'"{request.resource}"')  # fmt: skip
    return Decision(decision.verdict, quoted, decision.matched, decision.blocking).message or "Access Denied"


def _denial_message(
    decision: Decision,
    service: str,
    client: Caller,
    key: tuple[int, int],
    known: dict[tuple[int, int], tuple[bool, str]],
) -> str:
    """:func:`_message`, rendered once per call for each distinct outcome and context (``key``):
    the checks decided alike differ only by the resource the text names, which is spliced into
    the text rendered for the first of them (the rest of it names the principal, the action, the
    blocking type and, for an SCP or RCP, the denying policy: all fixed by ``key``)."""
    request = decision.request
    shown = f'"{request.resource}"' if service == "s3" else request.resource
    got = known.get(key)
    if got is None:
        message = _message(decision, service, client)
        head = f"User: {request.principal.arn} is not authorized to perform: {request.action} on resource: {shown}"
        # AWS's text names the resource right after the head; S3's "Access Denied" names none.
        known[key] = (True, message[len(head) :]) if message.startswith(head) else (False, message)
        return message
    spliced, text = got
    if not spliced:
        return text
    return f"User: {request.principal.arn} is not authorized to perform: {request.action} on resource: {shown}{text}"


def _why(decision: Decision) -> tuple[dict[str, Any], Summary, tuple[Any, ...]]:
    """The decision's explanation (its JSON without the message, which is the result's own), its
    trail summary without the resource (:func:`iamd.audit.summary_without_resource`; the check's
    event carries the resource), and the outcome's key: built once for each distinct outcome
    (verdict, action, the deciding statements, blocks, keys and errors), which is all they are
    made of, and kept in a bounded table (``_OUTCOMES``) for the calls after. The table holds the
    compiled statements it is keyed by, so their identities stay theirs; a changed policy is
    compiled anew, a new key. It keeps renderings, never a decision: every check is evaluated."""
    key = (decision.verdict, decision.request.action, decision.matched, decision.blocking,
           decision.missing_context_keys, decision.errors)  # fmt: skip
    got = _OUTCOMES.get(key)
    if got is None:
        block = decision.decisive_block
        why = decision.to_json(message=False)
        why["blockingPolicyType"] = block.type.value if block is not None else None
        if len(_OUTCOMES) >= _OUTCOMES_MAX:
            _OUTCOMES.clear()
        got = _OUTCOMES[key] = (why, summary_without_resource(decision), key)
    return got


# The explanations and trail summaries of the outcomes seen, by _why's key (a few per policy set:
# the statements that decide the checks of one action). Read and written without a lock: one
# dict operation is atomic, and two threads building the same entry build equal values.
_OUTCOMES: dict[tuple[Any, ...], tuple[dict[str, Any], Summary, tuple[Any, ...]]] = {}
_OUTCOMES_MAX = 4096


def _result(
    check: Mapping[str, Any], decision: str, message: str, why: Mapping[str, Any], error: tuple[str, str, int] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Action": check["Action"], "Resource": check["Resource"], "Decision": decision, "Message": message,
        "Why": why,  # shared by the checks decided alike, and encoded as it is (invoke_local copies it)
    }  # fmt: skip
    if error is not None:
        out["Error"] = {"Code": error[0], "Message": error[1], "Status": error[2]}
    return out


def _identity(client: Caller | None, signed: SignedRequest) -> dict[str, Any]:
    if client is None:  # refused: the access key id presented, as CloudTrail records a failed sign-in's
        try:
            return {"type": "Unknown", "accessKeyId": locate(signed).access_key_id[:128]}
        except aws.AwsError:
            return {"type": "Unknown"}
    if client.principal.account is None:
        return {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}  # CloudTrail: anonymous
    identity = client.user_identity()
    # A session's is one dictionary kept by its Caller (copied here); any other caller's is made anew.
    return identity if client.session is None else dict(identity)


def _check(
    check: Mapping[str, Any], resource: str, owner: str, decision: Summary | None, error: tuple[str, str] | None
) -> Check:
    """What one check's trail event needs beyond what the call's checks share."""
    action = str(check["Action"])
    given = check.get("Context")
    given_ip = given.get("aws:SourceIp") if given else None  # the client's address, as the service saw it
    return (action.partition(":")[2], resource, owner, error[0] if error else None, error[1] if error else None,
            decision, given_ip if isinstance(given_ip, str) else None)  # fmt: skip


_new_check_events = maker(CheckEvents)  # CheckEvents(...) made cheaper (iamd.frozen.maker)


def _events(call: Call, service: str, identity: Mapping[str, Any], user_agent: str, checks: list[Check]) -> CheckEvents:
    """One trail event per check: the client's request to the service, as the service's own event."""
    return _new_check_events(
        call.request_id, whole_second_utc(call.now), f"{service}.amazonaws.com", call.region,
        call.source_ip, user_agent[:1024], identity,
        call.caller.principal.arn, tuple(checks), new_uuid4(),
    )  # fmt: skip


# -- in process ---------------------------------------------------------------------------------


def invoke_local(backend: Any, caller: Caller, body: Mapping[str, Any], user_agent: str) -> dict[str, Any]:
    """The Authorize operation through ``backend``'s core (``LocalAuthorizationClient``): the
    same checks, authorization, answer and audit events as ``POST /iamd/authorize``."""
    from iamd.authz.client import AuthorizationError
    from iamd.core import CallContext
    from iamd.ids import new_uuid4

    context = CallContext(new_uuid4(), backend.clock(), "127.0.0.1", user_agent, True, backend.partition.iam_region)
    try:
        data = check_input(body)
    except aws.AwsError as error:
        backend.core.record_failure("iamd", "Authorize", context, error, caller=caller)
        raise AuthorizationError(error.code, error.message, error.status) from None
    outcome = backend.core.invoke(caller, "iamd", "Authorize", data, context)
    if outcome.error is not None:
        raise AuthorizationError(outcome.error.code, outcome.error.message, outcome.error.status)
    result = dict(outcome.result or {})
    # Each result's own Why: the operation shares one object between the checks decided alike
    # (and across calls, _OUTCOMES), which the door only encodes but an in-process caller may change.
    result["Results"] = [{**r, "Why": copy.deepcopy(r["Why"])} for r in result.get("Results") or ()]
    return {"RequestId": context.request_id, **result}
