"""Calls of the core in this process, without HTTP: the command line's ``iamd admin call``, tests.

A :class:`LocalClient` is a door like the HTTP endpoint: it validates the input against the
same botocore model (botocore's own parameter validation first, as boto3 does before it
sends anything, then the input written as the Query protocol carries it and parsed by
``protocol.parse_request``, so a value the HTTP door refuses is refused here too, as a
ValidationError), names its caller, and hands the call to
:meth:`iamd.core.Core.invoke`: the same authorization, the same audit event (with this door's
user agent and source address), the same cache invalidation.

Who the caller is, is the door's business: the command line acts as the account's root or,
with ``--as``, as one of its IAM users (``caller_for_user``), read from the store it was
given; whoever can open the data directory holds its master key and database already.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ParamValidationError  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]

from iamd import errors as aws
from iamd.ids import new_uuid4
from iamd.policy import Principal
from iamd.protocol import Catalog, parse_request
from iamd.service.call import Caller
from iamd.store import ReadTx, TagTarget

from .invoke import CallContext, Core, Outcome

__all__ = ["LocalClient", "caller_for_user", "root_caller"]


def root_caller(account_id: str, partition: str = "aws") -> Caller:
    """The account's root user, as a door that stands for it names it (no access key)."""
    return Caller(account_id, Principal.from_arn(f"arn:{partition}:iam::{account_id}:root"), None, None)


def caller_for_user(tx: ReadTx, account_id: str, user_name: str) -> Caller:
    """An IAM user of the account, as stored (its ARN, unique id and tags), without an access key."""
    user = tx.get_user(account_id, user_name)
    tags = [(t.key, t.value) for t in tx.list_tags(TagTarget.USER, account_id, user.name)]
    return Caller(account_id, Principal.from_arn(user.arn, unique_id=user.id, tags=tags), None, user)


class LocalClient:
    """In-process calls as one caller: ``client.call("iam", "CreateUser", UserName="alice")``."""

    def __init__(
        self,
        core: Core,
        catalog: Catalog,
        caller: Caller,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        user_agent: str = "iamd-local",
        source_ip: str = "127.0.0.1",
        region: str = "us-east-1",
    ) -> None:
        self.core = core
        self.catalog = catalog
        self.caller = caller
        self._clock = clock
        self._user_agent = user_agent
        self._source_ip = source_ip
        self._region = region

    def invoke(self, service: str, operation: str, params: Mapping[str, Any] | None = None) -> Outcome:
        """The outcome of one call; a refused input is audited as HTTP audits it."""
        context = CallContext(new_uuid4(), self._clock(), self._source_ip, self._user_agent, True, self._region)
        try:
            payload = self.validated(service, operation, params or {})
        except Exception as error:
            failure = Core.failure(error, context.request_id)
            event = self.core.record_failure(service, operation, context, failure, caller=self.caller)
            return Outcome(None, None, None, event, failure)
        return self.core.invoke(self.caller, service, operation, payload, context)

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """The result of one call, or its AWS error raised."""
        return self.invoke(service, operation, params).value()

    def validated(self, service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` (as boto3 takes them) checked against the model exactly as the HTTP door checks them."""
        try:
            model = self.catalog.service(service)
        except KeyError:
            raise aws.InvalidAction(f"Could not find service {service}") from None
        op = model.operation(operation)
        if op is None:
            raise aws.InvalidAction(f"Could not find operation {operation} for version {model.api_version}")
        if model.protocol != "query":
            raise aws.InvalidAction(f"iamd cannot call the {model.protocol} protocol service {service} in process yet.")
        try:
            request = create_serializer("query", include_validation=True).serialize_to_request(dict(params), op)
        except ParamValidationError as error:
            raise aws.ValidationError(str(error.kwargs.get("report", error))) from None
        form = {str(k): v if isinstance(v, str) else str(v) for k, v in request["body"].items()}
        return parse_request(model, form)[1]
