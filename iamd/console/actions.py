"""The console's one door into IAM: :func:`run` an operation as the signed-in caller.

Every page that reads or changes IAM calls :func:`run`, never the store: the operation goes
through the same parameter validation (botocore's model), authorization (the policy engine,
with the caller's policies, boundary and MFA context), handler and audit trail as a Query
API request (docs/console.md, "One path for every action"). It is the single place to move
to the transport-neutral application core when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iamd import errors as aws
from iamd.api.backend import Backend
from iamd.core import CallContext, Core
from iamd.ids import new_uuid4
from iamd.protocol import parse_request
from iamd.service.call import Caller

__all__ = ["Outcome", "run", "run_json"]


@dataclass(frozen=True, slots=True)
class Outcome:
    request_id: str
    result: dict[str, Any] | None
    error: aws.AwsError | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def failure(self) -> dict[str, str] | None:
        """What a page shows of a failed call (the AWS message and the request id), or None."""
        return None if self.error is None else {"message": self.error.message, "request_id": self.request_id}


def run(
    backend: Backend,
    caller: Caller,
    operation: str,
    params: Mapping[str, str],
    *,
    client_ip: str,
    user_agent: str,
    secure: bool,
    service: str = "iam",
) -> Outcome:
    """IAM (or STS) ``operation`` with Query-style ``params`` (e.g. ``{"UserName": "ana"}``), as ``caller``.

    The call goes through the application core (:meth:`iamd.core.Core.invoke`), as a Query API
    request does: the same authorization, handler, audit event and cache invalidation. Answers
    the operation's result or the AWS error it failed with (AccessDenied with the engine's
    decision, ValidationError, NoSuchEntity, ...); a refused input is audited too.
    """
    context = CallContext(new_uuid4(), backend.clock(), client_ip, user_agent, secure, "us-east-1")
    try:
        model = backend.catalog.service(service)
        _, payload = parse_request(model, {**params, "Action": operation, "Version": model.api_version})
    except Exception as error:
        failure = Core.failure(error, context.request_id)
        backend.core.record_failure(service, operation, context, failure, caller=caller)
        return Outcome(context.request_id, None, failure)
    outcome = backend.core.invoke(caller, service, operation, payload, context)
    if outcome.error is not None:
        return Outcome(context.request_id, None, outcome.error)
    return Outcome(context.request_id, outcome.result or {}, None)


def run_json(
    backend: Backend,
    caller: Caller,
    service: str,
    operation: str,
    payload: Mapping[str, Any],
    *,
    client_ip: str,
    user_agent: str,
    secure: bool,
) -> Outcome:
    """An operation of iamd's own JSON services (``iamd``: ``Explain``) with its JSON input, as
    ``caller``, through the core like :func:`run` (authorized, handled and audited there)."""
    context = CallContext(new_uuid4(), backend.clock(), client_ip, user_agent, secure, backend.partition.iam_region)
    outcome = backend.core.invoke(caller, service, operation, dict(payload), context)
    if outcome.error is not None:
        return Outcome(context.request_id, None, outcome.error)
    return Outcome(context.request_id, outcome.result or {}, None)
