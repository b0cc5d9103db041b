"""The console's one door into IAM: :func:`run` an operation as the signed-in caller.

Every page that reads or changes IAM calls :func:`run`, never the store: the operation goes
through the same parameter validation (botocore's model), authorization (the policy engine,
with the caller's policies, boundary and MFA context), handler and audit trail as a Query
API request (docs/console.md, "One path for every action"). It is the single place to move
to the transport-neutral application core when there is one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iamd import errors as aws
from iamd.api import pipeline
from iamd.api.backend import Backend
from iamd.ids import new_uuid4
from iamd.protocol import parse_request
from iamd.service.call import Caller
from iamd.service.errors import aws_error
from iamd.store import StoreError

__all__ = ["Outcome", "run"]

log = logging.getLogger("iamd.console")


@dataclass(frozen=True, slots=True)
class Outcome:
    request_id: str
    result: dict[str, Any] | None
    error: aws.AwsError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def run(
    backend: Backend,
    caller: Caller,
    operation: str,
    params: Mapping[str, str],
    *,
    client_ip: str,
    user_agent: str,
    secure: bool,
) -> Outcome:
    """IAM ``operation`` with Query-style ``params`` (e.g. ``{"UserName": "ana"}``), as ``caller``.

    Answers the operation's result or the AWS error it failed with (AccessDenied with the
    engine's decision, ValidationError, NoSuchEntity, ...); both are audited as the API's are.
    """
    request_id = new_uuid4()
    now = backend.clock()
    http = pipeline.HttpRequest(
        "POST", "/console", "", (("user-agent", user_agent),), b"", client_ip, secure
    )  # fmt: skip
    state: dict[str, Any] = {"action": operation, "caller": caller, "region": "us-east-1"}
    try:
        service = backend.catalog.service("iam")
        _, payload = parse_request(service, {**params, "Action": operation, "Version": service.api_version})
        state["params"] = payload
        result = pipeline._run(backend, "iam", operation, payload, caller, http, user_agent, request_id, now)
        return Outcome(request_id, result or {}, None)
    except Exception as error:
        if isinstance(error, StoreError):
            error = aws_error(error)
        elif not isinstance(error, aws.AwsError):
            log.exception("console request %s failed", request_id)
        pipeline._audit_failure(backend, "iam", state, http, request_id, now, error)
        failure = error if isinstance(error, aws.AwsError) else aws.InternalFailure("internal failure")
        return Outcome(request_id, None, failure)
