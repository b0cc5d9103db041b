"""One S3 request as the handlers see it, and the service's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import Receive

from iamd.authz.client import Answer

from .errors import S3Error
from .route import Route
from .store import Store

__all__ = ["S3Request", "S3Settings"]

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Bounds and defaults (docs/s3.md, "Limits")."""

    max_object_size: int = 5 * GiB  # a single PUT (S3: 5 GiB)
    max_part_size: int = 5 * GiB
    min_part_size: int = 5 * MiB  # every part but the last (S3: 5 MiB)
    max_parts: int = 10_000
    max_xml_body: int = 2 * MiB  # DeleteObjects (1,000 keys), CompleteMultipartUpload
    max_object_size_total: int = 5 * 1024 * GiB  # a multipart object (S3: 5 TiB)
    region: str = "us-east-1"
    partition: str = "aws"  # the iamd server's, named by every ARN (docs/s3.md, "Partitions")


@dataclass(slots=True)
class S3Request:
    scope: dict[str, Any]
    receive: Receive
    route: Route
    query: dict[str, str]
    headers: dict[str, str]
    request_id: str
    answer: Answer | None
    store: Store
    settings: S3Settings

    @property
    def method(self) -> str:
        return str(self.scope.get("method", "GET"))

    @property
    def account(self) -> str:
        """The caller's account, as iamd authenticated it."""
        principal = self.answer.principal if self.answer is not None else {}
        account = principal.get("accountId")
        if not account or account == "ANONYMOUS_PRINCIPAL":
            raise S3Error("AccessDenied")  # anonymous callers own nothing and create nothing
        return str(account)

    @property
    def caller_arn(self) -> str:
        principal = self.answer.principal if self.answer is not None else {}
        return str(principal.get("arn") or "")

    def int_param(self, name: str, default: int, maximum: int) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit() or len(raw) > 10:
            raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range",
                          ArgumentName=name, ArgumentValue=raw[:32])  # fmt: skip
        return min(int(raw), maximum)
