"""One Query request, from bytes to bytes: decode, authenticate, invoke the core, encode.

The order is AWS's (IAM API "Common Errors"): the Action first (MissingAction / InvalidAction),
then authentication, then parameter validation; then the core (``iamd.core``) authorizes and
runs the operation. Every outcome, success or failure, becomes one audit event: the core
records the calls it runs, and this module has it record the ones refused before it
(docs/architecture.md, "A request").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.auth import Presented, SignedRequest, carries_signature
from iamd.core import CallContext, Core
from iamd.frozen import fast_init
from iamd.ids import new_uuid4
from iamd.policy import Principal
from iamd.protocol import WireResponse, decode_form, error_response, parse_request, response_headers, serialize_result
from iamd.service.call import Caller

__all__ = ["MAX_BODY", "HttpRequest", "handle", "receive_request"]

log = logging.getLogger("iamd.api")

MAX_BODY = 1 << 20  # AWS's largest IAM parameter is 131,072 characters; a MiB is plenty
# STS operations a request may call without SigV4 (the token / assertion is the credential).
UNSIGNED_STS_OPERATIONS = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})
_NAMESPACES = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}


@fast_init
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

    def access_key_id(self) -> str | None:
        """The access key id the request is signed with (header or query string), if any: a
        cheap look, not a parse (the verifier parses and checks the signature)."""
        auth = self.header("authorization")
        if "Credential=" in auth:
            return auth.split("Credential=", 1)[1].split("/", 1)[0]
        if "X-Amz-Credential=" in self.query:
            return self.query.split("X-Amz-Credential=", 1)[1].split("%2F", 1)[0].split("/", 1)[0]
        return None

    @classmethod
    def of_scope(cls, scope: Mapping[str, Any], body: bytes) -> HttpRequest:
        """The request of an ASGI HTTP scope and the body read from it; the path as the client
        spelled it (``raw_path``: what its signature covers)."""
        client = scope.get("client")
        return cls(
            method=scope["method"],
            path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            body=body,
            client_ip=client[0] if client else "127.0.0.1",
            secure=scope.get("scheme") == "https",
        )


async def receive_request(
    scope: Mapping[str, Any], receive: Callable[[], Awaitable[Mapping[str, Any]]], limit: int
) -> HttpRequest | None:
    """An ASGI HTTP request whole, its body read until it ends or passes ``limit`` bytes (the
    caller refuses what is over); None when the client went away before the end."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: nobody to answer
            return None
        body += message.get("body", b"")
        if not message.get("more_body", False) or len(body) > limit:
            return HttpRequest.of_scope(scope, body)


def _service_name(request: SignedRequest, params: Mapping[str, str]) -> str:
    """IAM or STS: from the signature's scope, else from the API version."""
    auth = request.first_value("authorization")
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0] if "Credential=" in auth else ""
    scope = scope or params.get("X-Amz-Credential", "")
    parts = scope.split("/")
    if len(parts) == 5 and parts[3] in _NAMESPACES:
        return parts[3]
    return "sts" if params.get("Version") == "2011-06-15" else "iam"


def handle(backend: Backend, request: HttpRequest) -> WireResponse:
    """Decode → authenticate → invoke the core → encode."""
    # HttpRequest headers are already (str, str) pairs: no copy through SignedRequest.of. Made
    # first: its headers by lower-case name answer the two looked for here (``HttpRequest.header``
    # lowers every header's name at each look: bench/README.md, "Session 18: iamd's CPU per
    # write, the request's small costs").
    signed = SignedRequest(request.method, request.path, request.query, request.headers, request.body)
    if signed.first_value("x-amz-target"):  # the AWS JSON 1.1 protocol (Organizations): iamd.api.json_api
        from iamd.api import json_api

        return json_api.handle(backend, request)
    request_id = new_uuid4()
    now = backend.clock()
    service_name = "iam"
    action: str | None = None
    caller: Caller | None = None
    payload: dict[str, Any] | None = None
    region = "us-east-1"
    try:
        if len(request.body) > MAX_BODY:
            raise aws.ValidationError(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
        params = decode_form(request.query, request.body)
        service_name = _service_name(signed, params)
        service = backend.catalog.service(service_name)
        action = params.get("Action")
        if not action:
            raise aws.MissingAction("The request must contain the parameter Action.")
        if service.operation(action) is None or params.get("Version") != service.api_version:
            raise aws.InvalidAction(
                f"Could not find operation {action} for version {params.get('Version') or 'NO_VERSION_SPECIFIED'}"
            )
        if service_name == "sts" and action in UNSIGNED_STS_OPERATIONS and not carries_signature(signed):
            # AssumeRoleWithWebIdentity / AssumeRoleWithSAML need no SigV4 (STS API "AssumeRoleWithWebIdentity"
            # and "AssumeRoleWithSAML"): the token or assertion is the credential, and the operation verifies it.
            caller = Caller(backend.account_id, Principal.anonymous(), None, None)
        else:
            caller, region = authenticate(backend, signed, now, service_name)
        operation, payload = parse_request(service, params)
    except Exception as error:
        context = CallContext(request_id, now, request.client_ip, request.header("user-agent"), request.secure, region)
        failure = refused_at_the_door(backend, service_name, action, context, error, caller, payload)
        return error_response(failure, _NAMESPACES[service_name], request_id)
    user_agent = signed.first_value("user-agent")
    lint = signed.first_value("x-iamd-lint").lower() in ("1", "true")  # docs/policy-validation.md
    context = CallContext(request_id, now, request.client_ip, user_agent, request.secure, region, lint)
    outcome = backend.core.invoke(caller, service_name, operation.name, payload, context)
    if outcome.error is not None:
        return error_response(outcome.error, _NAMESPACES[service_name], request_id)
    try:
        body = serialize_result(service, operation, outcome.result or {}, request_id)
    except Exception as error:  # the call is done and audited; its answer could not be written
        failure = Core.failure(error, request_id)
        backend.core.record_failure(service_name, action, context, failure, caller=caller, params=payload)
        return error_response(failure, _NAMESPACES[service_name], request_id)
    headers = response_headers(request_id)
    if lint:  # the findings beside AWS's answer, never in it (iamd.core.lint_on_write)
        headers += (("x-iamd-lint-findings", json.dumps(outcome.lint, separators=(",", ":"), ensure_ascii=True)),)
    return WireResponse(200, headers, body)


def authenticate(backend: Backend, signed: SignedRequest, now: datetime, service_name: str) -> tuple[Caller, str]:
    """SigV4 for ``service_name``: the caller and the signing region; a long-term key's last use is recorded."""
    verified = backend.verifier.verify(signed, now=now, lookup=backend.lookup, service=service_name)
    assert backend.audit is not None
    if not verified.access_key_id.startswith("ASIA"):  # sessions are not stored: nothing to update
        backend.audit.key_used(verified.access_key_id, now, service_name, verified.region)
    return verified.principal, verified.region


def refused_at_the_door(
    backend: Backend,
    service: str,
    operation: str | None,
    context: CallContext,
    error: BaseException,
    caller: Caller | None,
    params: Mapping[str, Any] | None,
) -> aws.AwsError:
    """A request refused before it reached the core (not decoded, authenticated or valid): the
    AWS error to answer, its audit event stored durably (``Core.record_failure``), with the
    refused credential described when authentication refused it. Every door ends its failures here."""
    failure = Core.failure(error, context.request_id)
    refused = _refused(backend, context, failure) if caller is None else None
    backend.core.record_failure(
        service, operation, context, failure, caller=caller, params=params, authentication=refused
    )
    return failure


def _refused(backend: Backend, context: CallContext, error: aws.AwsError) -> dict[str, Any] | None:
    """The ``iamdAuthentication`` member of a refused credential, or None (not an authentication error)."""
    if error.code not in _AUTHENTICATION_ERRORS:
        return None
    try:
        return _refused_credential(backend, context.now, error)
    except Exception:
        log.exception("could not describe the refused credential of request %s", context.request_id)
        return None


def _refused_credential(backend: Backend, now: datetime, error: aws.AwsError) -> dict[str, Any] | None:
    """The ``iamdAuthentication`` member of a request whose credential was refused: the key id
    presented, the error answered, and why, in iamd's words (the answer itself says only
    "invalid"); for a session token iamd could open (e.g. expired), who issued the session and
    when it expired. ``None`` when the request names no readable access key.

    Built from what authentication learned before it refused (``iamd.auth.Presented``, on the
    error): the located signature and what the credential lookup answered. Only a request
    refused before its lookup (a scope or time error) is looked up here (cached, like any).
    """
    presented = error.presented
    if not isinstance(presented, Presented):  # no readable credential: nothing more to say than the error
        return None
    located = presented.located
    key_id = located.access_key_id
    token = located.session_token
    credential = presented.credential if presented.looked_up else backend.lookup(key_id, token)
    info: dict[str, Any] = {"accessKeyId": key_id, "errorCode": error.code, "errorMessage": error.message}
    reason = _REASONS.get(error.code, error.code)
    if key_id.startswith("ASIA"):
        claims = None
        if token is None:
            reason = "the temporary access key came without its session token"
        elif credential is None:  # the lookup opens the token: it did not open
            reason = "the session token cannot be opened: tampered with, or not issued for this access key id"
        else:
            claims = cast(Caller, credential.principal).session
        if claims is not None:
            issuer = claims.role_arn or claims.user_arn or f"arn:{claims.partition}:iam::{claims.account}:root"
            info.update(sessionArn=claims.arn, sessionIssuer=issuer, sessionExpiration=claims.expires_at)
            if now >= claims.expires_at:
                reason = "the session expired"
    elif credential is None:
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
