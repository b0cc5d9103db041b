"""One AWS JSON 1.1 request (Organizations), from bytes to bytes.

The same steps as a Query request (:mod:`iamd.api.pipeline`), in AWS's order: the target
operation (``X-Amz-Target``), authentication (the pipeline's :func:`~iamd.api.pipeline.authenticate`),
the input (:func:`iamd.protocol.json_codec.parse_json_request`), authorization (the engine
on ``organizations:<Operation>``), the handler from :data:`iamd.service.organizations.OPERATIONS`
in a read snapshot or a write transaction, and one audit event for every outcome (the
pipeline's). Only the codec and the operations table differ.

A committed Organizations write may change what any account's SCPs and RCPs say, so it
drops every cache (``Backend.changed``): the next request of every principal is evaluated
with the new levels.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.api.pipeline import (
    MAX_BODY,
    HttpRequest,
    _audit,
    _audit_failure,
    _CachedReads,
    _event,
    authenticate,
)
from iamd.auth import SignedRequest
from iamd.ids import new_uuid4
from iamd.protocol import WireResponse
from iamd.protocol.json_codec import (
    SerializationException,
    UnknownOperationException,
    json_error_response,
    json_headers,
    parse_json_request,
    serialize_json_result,
)
from iamd.service.call import Call, Caller
from iamd.service.errors import aws_error
from iamd.service.organizations import OPERATIONS
from iamd.service.organizations.authorize import authorize_organizations
from iamd.service.sessions import resolve_caller
from iamd.store import ReadTx, StoreError, stored_audit_event

__all__ = ["TARGET_PREFIXES", "handle"]

log = logging.getLogger("iamd.api")

# X-Amz-Target prefix -> service (botocore's model: metadata.targetPrefix).
TARGET_PREFIXES = {"AWSOrganizationsV20161128": "organizations"}


def handle(backend: Backend, request: HttpRequest) -> WireResponse:
    request_id = new_uuid4()
    now = backend.clock()
    service_name = "organizations"
    state: dict[str, Any] = {"region": "us-east-1"}
    try:
        if len(request.body) > MAX_BODY:
            raise SerializationException(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
        prefix, _, name = request.header("x-amz-target").partition(".")
        service_name = TARGET_PREFIXES.get(prefix, service_name)
        service = backend.catalog.service(service_name)
        operation = service.operation(name) if prefix in TARGET_PREFIXES else None
        if operation is None:
            raise UnknownOperationException(f"The operation {name or prefix!r} is not supported by this service.")
        state["action"] = name
        signed = SignedRequest(request.method, request.path, request.query, request.headers, request.body)
        caller, region = authenticate(backend, signed, now, service_name, state)
        state["caller"] = caller
        if name not in OPERATIONS:  # answered before the input is read: whatever it is, iamd cannot serve it
            raise aws.NotImplementedOperation(
                f"iamd does not implement the Organizations operation {name} (see docs/organizations.md)."
            )
        payload = parse_json_request(service, operation, request.body)
        state["params"] = payload
        user_agent = (signed.header_values("user-agent") or ("",))[0]
        call = Call(request_id, service_name, name, payload, caller, now, request.client_ip, user_agent,
                    request.secure, backend.env, region)  # fmt: skip
        result = _run(backend, call)
        return WireResponse(200, json_headers(request_id), serialize_json_result(service, operation, result))
    except Exception as error:
        if isinstance(error, StoreError):
            error = aws_error(error)
        elif not isinstance(error, aws.AwsError):
            log.exception("request %s failed", request_id)
        response = json_error_response(error, request_id)
        _audit_failure(backend, service_name, state, request, request_id, now, error)
        return response


def _run(backend: Backend, call: Call) -> dict[str, Any] | None:
    op = OPERATIONS[call.operation]
    caller: Caller = call.caller
    if caller.session is not None:
        with _CachedReads(backend) as reads:
            caller = resolve_caller(caller, cast(ReadTx, reads))
        call = _with_caller(call, caller)
    if not op.writes:
        with backend.store.read() as tx:
            decision = authorize_organizations(call, tx, op, backend.policies, backend.decisions)
            result = op.handler(call, tx)
        _audit(backend, call, result, None, decision)
        return result
    with backend.store.transaction() as wtx:
        decision = authorize_organizations(call, wtx, op, backend.policies, backend.decisions)
        result = op.handler(call, wtx)
        wtx.add_audit_event(stored_audit_event(_event(call, result, None, decision)))
        generation = wtx.bumped_generation() if backend.watcher is not None else None
    backend.changed()
    if generation is not None and backend.watcher is not None:
        backend.watcher.own(generation)
    return result


def _with_caller(call: Call, caller: Caller) -> Call:
    return Call(call.request_id, call.service, call.operation, call.params, caller, call.now, call.source_ip,
                call.user_agent, call.secure, call.env, call.region)  # fmt: skip
