"""One AWS JSON 1.1 request (Organizations), from bytes to bytes: decode → authenticate → invoke → encode.

The same door as a Query request (:mod:`iamd.api.pipeline`), in AWS's order: the target
operation (``X-Amz-Target``), authentication (the pipeline's :func:`~iamd.api.pipeline.authenticate`),
the input (:func:`iamd.protocol.json_codec.parse_json_request`), then the application core
(:meth:`iamd.core.Core.invoke`), which authorizes (the engine on ``organizations:<Operation>``),
runs the handler in a read snapshot or a write transaction, records the audit event and drops
the caches a write touched. Only the codec differs from the Query door.
"""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.api.pipeline import MAX_BODY, HttpRequest, authenticate, refused_at_the_door
from iamd.auth import SignedRequest
from iamd.core import CallContext, Core
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
from iamd.service.call import Caller
from iamd.service.organizations import OPERATIONS

__all__ = ["TARGET_PREFIXES", "handle"]

# X-Amz-Target prefix -> service (botocore's model: metadata.targetPrefix).
TARGET_PREFIXES = {"AWSOrganizationsV20161128": "organizations"}


def handle(backend: Backend, request: HttpRequest) -> WireResponse:
    request_id = new_uuid4()
    now = backend.clock()
    service_name = "organizations"
    name: str | None = None
    caller: Caller | None = None
    payload: dict[str, Any] | None = None
    region = backend.partition.iam_region
    user_agent = request.header("user-agent")
    try:
        if len(request.body) > MAX_BODY:
            raise SerializationException(f"Request body too large: at most {MAX_BODY} bytes are accepted.")
        prefix, _, target = request.header("x-amz-target").partition(".")
        service_name = TARGET_PREFIXES.get(prefix, service_name)
        service = backend.catalog.service(service_name)
        operation = service.operation(target) if prefix in TARGET_PREFIXES else None
        if operation is None:
            raise UnknownOperationException(f"The operation {target or prefix!r} is not supported by this service.")
        name = target
        signed = SignedRequest(request.method, request.path, request.query, request.headers, request.body)
        caller, region = authenticate(backend, signed, now, service_name)
        if name not in OPERATIONS:  # answered before the input is read: whatever it is, iamd cannot serve it
            raise aws.NotImplementedOperation(
                f"iamd does not implement the Organizations operation {name} (see docs/organizations.md)."
            )
        payload = parse_json_request(service, operation, request.body)
    except Exception as error:
        context = CallContext(request_id, now, request.client_ip, user_agent, request.secure, region)
        failure = refused_at_the_door(backend, service_name, name, context, error, caller, payload)
        return json_error_response(failure, request_id)
    context = CallContext(request_id, now, request.client_ip, user_agent, request.secure, region)
    outcome = backend.core.invoke(caller, service_name, operation.name, payload, context)
    if outcome.error is not None:
        return json_error_response(outcome.error, request_id)
    try:
        body = serialize_json_result(service, operation, outcome.result)
    except Exception as error:  # the call is done and audited; its answer could not be written
        failure = Core.failure(error, request_id)
        backend.core.record_failure(service_name, name, context, failure, caller=caller, params=payload)
        return json_error_response(failure, request_id)
    return WireResponse(200, json_headers(request_id), body)
