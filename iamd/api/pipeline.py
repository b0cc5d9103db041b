"""One Query request, from bytes to bytes: parse, authenticate, authorize, run, audit.

The order is AWS's (IAM API "Common Errors"): the Action first (MissingAction / InvalidAction),
then authentication, then parameter validation, then authorization, then the operation.
Every outcome, success or failure, becomes one audit event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.api.reads import CachedReads
from iamd.audit import CallEvent as Record
from iamd.audit import is_read_only
from iamd.auth import SignedRequest, carries_signature
from iamd.auth.locate import locate
from iamd.ids import new_uuid4
from iamd.policy import Decision, Principal
from iamd.protocol import WireResponse, decode_form, error_response, parse_request, response_headers, serialize_result
from iamd.protocol.models import Service
from iamd.service.authorize import authorize_iam
from iamd.service.call import Call, Caller
from iamd.service.errors import aws_error
from iamd.service.iam import OPERATIONS
from iamd.service.iam.checks import check_request
from iamd.service.sessions import check_iam_allowed, check_sts_allowed, resolve_caller
from iamd.service.sts import STS_OPERATIONS
from iamd.service.sts.audit_identity import federated_user_identity
from iamd.service.targets import iam_target
from iamd.sessions import TokenError, open_session_token
from iamd.store import NotFound, StoreError, stored_audit_event

__all__ = ["MAX_BODY", "HttpRequest", "handle"]

log = logging.getLogger("iamd.api")

MAX_BODY = 1 << 20  # AWS's largest IAM parameter is 131,072 characters; a MiB is plenty
# STS operations a request may call without SigV4 (the token / assertion is the credential).
UNSIGNED_STS_OPERATIONS = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})
_NAMESPACES = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_ip: str
    secure: bool

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return ""


def _service_name(request: SignedRequest, params: Mapping[str, str]) -> str:
    """IAM or STS: from the signature's scope, else from the API version."""
    auth = (request.header_values("authorization") or ("",))[0]
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0] if "Credential=" in auth else ""
    scope = scope or params.get("X-Amz-Credential", "")
    parts = scope.split("/")
    if len(parts) == 5 and parts[3] in _NAMESPACES:
        return parts[3]
    return "sts" if params.get("Version") == "2011-06-15" else "iam"


def handle(backend: Backend, request: HttpRequest) -> WireResponse:
    request_id = new_uuid4()
    now = backend.clock()
    service_name = "iam"
    state: dict[str, Any] = {}
    try:
        if len(request.body) > MAX_BODY:
            raise aws.ValidationError(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
        params = decode_form(request.query, request.body)
        # HttpRequest headers are already (str, str) pairs: no copy through SignedRequest.of.
        signed = SignedRequest(request.method, request.path, request.query, request.headers, request.body)
        service_name = _service_name(signed, params)
        service = backend.catalog.service(service_name)
        action = params.get("Action")
        if not action:
            raise aws.MissingAction("The request must contain the parameter Action.")
        state["action"] = action
        if service.operation(action) is None or params.get("Version") != service.api_version:
            raise aws.InvalidAction(
                f"Could not find operation {action} for version {params.get('Version') or 'NO_VERSION_SPECIFIED'}"
            )
        region = "us-east-1"
        if service_name == "sts" and action in UNSIGNED_STS_OPERATIONS and not carries_signature(signed):
            # AssumeRoleWithWebIdentity / AssumeRoleWithSAML need no SigV4 (STS API "AssumeRoleWithWebIdentity"
            # and "AssumeRoleWithSAML"): the token or assertion is the credential, and the operation verifies it.
            caller = Caller(backend.account_id, Principal.anonymous(), None, None)
        else:
            verified = backend.verifier.verify(signed, now=now, lookup=backend.lookup, service=service_name)
            caller = verified.principal
            state["key"] = verified.access_key_id
            region = verified.region
            assert backend.audit is not None
            if not verified.access_key_id.startswith("ASIA"):  # sessions are not stored: nothing to update
                backend.audit.key_used(verified.access_key_id, now, service_name, verified.region)
        state["caller"] = caller
        state["region"] = region
        operation, payload = parse_request(service, params)
        state["params"] = payload
        user_agent = (signed.header_values("user-agent") or ("",))[0]
        result = _run(backend, service_name, operation.name, payload, caller, request, user_agent, request_id, now,
                      region)  # fmt: skip
        body = serialize_result(service, operation, result or {}, request_id)
        return WireResponse(200, response_headers(request_id), body)
    except Exception as error:
        if isinstance(error, StoreError):
            error = aws_error(error)
        elif not isinstance(error, aws.AwsError):
            log.exception("request %s failed", request_id)
        response = error_response(error, _NAMESPACES[service_name], request_id)
        _audit_failure(backend, service_name, state, request, request_id, now, error)
        return response


def _run(
    backend: Backend,
    service_name: str,
    operation: str,
    params: dict[str, Any],
    caller: Caller,
    request: HttpRequest,
    user_agent: str,
    request_id: str,
    now: datetime,
    region: str = "us-east-1",
) -> dict[str, Any] | None:
    if service_name == "sts":
        return _run_sts(backend, operation, params, caller, request, user_agent, request_id, now, region)
    op = OPERATIONS.get(operation)
    if op is None:
        raise aws.NotImplementedOperation(f"iamd does not implement the IAM operation {operation} yet.")
    check_iam_allowed(caller)
    if caller.session is not None:
        with CachedReads(backend.cache, backend.store) as reads:
            caller = resolve_caller(caller, reads)
    call = Call(
        request_id, service_name, operation, params, caller, now, request.client_ip, user_agent, request.secure,
        backend.env,
    )  # fmt: skip
    user = caller.user
    caller_user = (user.path, user.name) if user is not None else None
    check_request(operation, params)
    if not op.writes:
        with CachedReads(backend.cache, backend.store) as tx:
            target = iam_target(
                operation, params, call.account, caller_user, _stored(tx, call.account), _key_owner(tx, call.account)
            )
            decision = authorize_iam(call, tx, target, backend.policies, backend.decisions)
            result = op.handler(call, tx)
        _audit(backend, call, result, None, decision)
        return result
    with backend.store.transaction() as wtx:
        target = iam_target(
            operation, params, call.account, caller_user, _stored(wtx, call.account), _key_owner(wtx, call.account)
        )
        decision = authorize_iam(call, wtx, target, backend.policies, backend.decisions)
        result = op.handler(call, wtx)
        wtx.add_audit_event(stored_audit_event(_event(call, result, None, decision)))
    # Committed: the store has published wtx.changes, and the backend's cache dropped what they touched.
    return result


def _run_sts(
    backend: Backend,
    operation: str,
    params: dict[str, Any],
    caller: Caller,
    request: HttpRequest,
    user_agent: str,
    request_id: str,
    now: datetime,
    region: str = "us-east-1",
) -> dict[str, Any] | None:
    handler = STS_OPERATIONS.get(operation)
    if handler is None:
        raise aws.NotImplementedOperation(f"iamd does not implement the STS operation {operation} yet.")
    if operation != "GetCallerIdentity":  # answered for every credential (STS API "GetCallerIdentity")
        check_sts_allowed(caller, operation)
    with CachedReads(backend.cache, backend.store) as tx:
        caller = resolve_caller(caller, tx)
        call = Call(
            request_id, "sts", operation, params, caller, now, request.client_ip, user_agent, request.secure,
            backend.env, region,
        )  # fmt: skip
        result = handler(call, tx)
    _audit(backend, call, result, None)
    return result


_NAME_GETTERS = {
    "user": "get_user", "group": "get_group", "role": "get_role", "instance-profile": "get_instance_profile",
}  # fmt: skip
_ARN_GETTERS = {"oidc-provider": "get_oidc_provider", "saml-provider": "get_saml_provider"}


def _stored(tx: Any, account: str) -> Any:
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


def _key_owner(tx: Any, account: str) -> Any:
    def key_owner(key_id: str) -> str | None:
        try:
            key = tx.get_access_key(key_id)
        except NotFound:
            return None
        if key.account_id != account:
            return None
        return str(key.user_name or "")

    return key_owner


def _event(
    call: Call, result: Mapping[str, Any] | None, error: aws.AwsError | None, decision: Decision | None = None
) -> Record:
    """The CloudTrail-shaped record of a call (AWS "Logging IAM and AWS STS API calls with AWS CloudTrail"); read-only
    calls carry no responseElements.
    """
    # Positional, in field order (a frozen dataclass built from keywords costs twice as much):
    # request id, time, source, name, region, source IP, user agent, identity, account,
    # request parameters, response elements, error code, error message, decision (summarized
    # when the record is built, off the request path).
    return Record(
        call.request_id, call.now.astimezone(UTC).replace(microsecond=0), f"{call.service}.amazonaws.com",
        call.operation, call.region if call.service == "sts" else "us-east-1", call.source_ip, call.user_agent,
        federated_user_identity(call.operation, result, call.account) or call.caller.user_identity(),
        call.account, dict(call.params) or None,
        dict(result) if result and not is_read_only(call.operation) else None,
        error.code if error else None, error.message if error else None, decision,
    )  # fmt: skip


def _audit(
    backend: Backend,
    call: Call,
    result: Mapping[str, Any] | None,
    error: aws.AwsError | None,
    decision: Decision | None = None,
) -> None:
    """Queue the event of a successful call not audited in its own transaction: turned into
    JSON by the writer (successful reads may be lost with a crashed writer; failures are not)."""
    assert backend.audit is not None
    backend.audit.submit(_event(call, result, error, decision))


def _audit_failure(
    backend: Backend,
    service_name: str,
    state: Mapping[str, Any],
    request: HttpRequest,
    request_id: str,
    now: datetime,
    error: BaseException,
) -> None:
    """Every failed call is recorded too, with whatever was known when it failed, durably.

    A denial carries the engine's decision; a refused credential, the key id presented and
    why it was refused (never the secret or the token). The event is stored before the
    response is sent, in its own small transaction, so that no denial or failure is lost with
    a crashed audit writer (docs/architecture.md, audit trail); only if that fails is it queued.
    """
    aws_err = error if isinstance(error, aws.AwsError) else aws.InternalFailure("internal failure")
    caller: Caller | None = state.get("caller")
    identity: dict[str, Any] = caller.user_identity() if caller else {"type": "Unknown"}
    refused: dict[str, Any] | None = None
    if caller is None and aws_err.code in _AUTHENTICATION_ERRORS:
        try:
            refused = _refused_credential(backend, request, now, aws_err)
        except Exception:
            log.exception("could not describe the refused credential of request %s", request_id)
        if refused is not None:
            identity = {"type": "Unknown", "accessKeyId": refused["accessKeyId"]}
    decision = getattr(error, "decision", None)
    record = Record(
        request_id=request_id,
        event_time=now,
        event_source=f"{service_name}.amazonaws.com",
        event_name=str(state.get("action") or "Unknown"),
        aws_region=str(state.get("region") or "us-east-1") if service_name == "sts" else "us-east-1",
        source_ip=request.client_ip,
        user_agent=request.header("user-agent"),
        user_identity=identity,
        account_id=caller.account_id if caller else backend.account_id,
        request_parameters=state.get("params"),
        error_code=aws_err.code,
        error_message=aws_err.message,
        decision=decision if isinstance(decision, Decision) else None,
        authentication=refused,
    )
    try:
        event = stored_audit_event(record, untrusted=True)
    except Exception:
        log.exception("could not build the audit event of request %s", request_id)
        return
    try:
        backend.store.append_audit_event(event)
    except Exception:
        log.exception("could not store the audit event of request %s; queued instead", request_id)
        try:
            assert backend.audit is not None
            backend.audit.submit(event)
        except Exception:
            log.exception("could not queue the audit event of request %s", request_id)


def _refused_credential(
    backend: Backend, request: HttpRequest, now: datetime, error: aws.AwsError
) -> dict[str, Any] | None:
    """The ``iamdAuthentication`` member of a request whose credential was refused: the key id
    presented, the error answered, and why, in iamd's words (the answer itself says only
    "invalid"); for a session token iamd can still open (e.g. expired), who issued the
    session and when it expired. ``None`` when the request names no access key."""
    signed = SignedRequest(request.method, request.path, request.query, request.headers, request.body)
    try:
        located = locate(signed)
    except Exception:  # no readable credential: nothing more to say than the error itself
        return None
    key_id = located.access_key_id
    info: dict[str, Any] = {"accessKeyId": key_id, "errorCode": error.code, "errorMessage": error.message}
    reason = _REASONS.get(error.code, error.code)
    token = located.session_token
    if key_id.startswith("ASIA"):
        claims = None
        if token is None:
            reason = "the temporary access key came without its session token"
        else:
            try:
                claims = open_session_token(backend.secret_box, key_id, token)
            except TokenError:
                reason = "the session token cannot be opened: tampered with, or not issued for this access key id"
        if claims is not None:
            issuer = claims.role_arn or claims.user_arn or f"arn:aws:iam::{claims.account}:root"
            info.update(sessionArn=claims.arn, sessionIssuer=issuer, sessionExpiration=claims.expires_at)
            if now >= claims.expires_at:
                reason = "the session expired"
    else:
        credential = backend.lookup(key_id)
        if credential is None:
            reason = "no such access key"
        elif not credential.active:
            reason = "the access key is inactive"
        elif token is not None:
            reason = "a session token was sent with a long-term access key"
    info["reason"] = reason
    return info


# The errors of a credential that was refused (AWS "Common Errors"; SigV4 verification).
_AUTHENTICATION_ERRORS = frozenset(
    {"InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch", "IncompleteSignature", "RequestExpired"}
)
_REASONS = {
    "SignatureDoesNotMatch": "the signature does not match (wrong secret, or a request changed on the way)",
    "IncompleteSignature": "the signature is incomplete",
    "RequestExpired": "the presigned request has expired",
}


__all__ += ["Service"]
