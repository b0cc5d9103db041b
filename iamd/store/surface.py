"""Last-accessed report jobs, outbound web identity federation and its signing keys, and the
Organizations root-access features (docs/iam-api.md, "Last-accessed data", "Outbound web
identity federation", "Root access in member accounts")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb
from iamd.store.errors import NotFound

__all__ = ["AccessReportJob", "OutboundFederation", "SurfaceOps", "WebIdentityKey"]


@dataclass(frozen=True, slots=True)
class AccessReportJob:
    """A GenerateServiceLastAccessedDetails / GenerateOrganizationsAccessReport job and its report."""

    id: str
    account_id: str
    kind: str  # "service" | "organizations"
    creator_arn: str
    subject: str  # the entity's ARN, or the Organizations entity path
    granularity: str | None  # SERVICE_LEVEL | ACTION_LEVEL (service jobs)
    status: str  # IN_PROGRESS | COMPLETED | FAILED
    create_date: datetime
    completion_date: datetime | None
    report: str  # JSON: what the Get operation answers, computed when the job ran


@dataclass(frozen=True, slots=True)
class OutboundFederation:
    account_id: str
    issuer_id: str  # the account's part of its issuer URL
    enabled: bool
    create_date: datetime


@dataclass(frozen=True, slots=True)
class WebIdentityKey:
    kid: str
    account_id: str
    algorithm: str  # RS256 | ES384
    private_sealed: bytes  # the PKCS#8 private key, sealed by the service (context: the kid)
    public_jwk: str  # JSON
    create_date: datetime


def _job(r: Any) -> AccessReportJob:
    return AccessReportJob(
        r.id, r.account_id, r.kind, r.creator_arn, r.subject, r.granularity, r.status, r.create_date,
        r.completion_date, r.report,
    )  # fmt: skip


class SurfaceOps(Ops):
    # -- last-accessed report jobs --------------------------------------------------------
    def put_access_report_job(self, job: AccessReportJob) -> None:
        self._write()
        self._changed(Entity.ACCOUNT, job.account_id, job.account_id, Verb.UPDATED, "access report job")
        t = s.access_report_jobs
        self._conn.execute(
            insert(t).values(
                id=job.id, account_id=job.account_id, kind=job.kind, creator_arn=job.creator_arn, subject=job.subject,
                granularity=job.granularity, status=job.status, create_date=job.create_date,
                completion_date=job.completion_date, report=job.report,
            )
        )  # fmt: skip

    def get_access_report_job(self, account: str, job_id: str) -> AccessReportJob:
        t = s.access_report_jobs
        row = self._first(select(t).where(t.c.id == job_id, t.c.account_id == account))
        if row is None:
            raise NotFound("access report job", job_id)
        return _job(row)

    # -- outbound web identity federation -----------------------------------------------
    def get_outbound_federation(self, account: str) -> OutboundFederation | None:
        t = s.outbound_federation
        row = self._first(select(t).where(t.c.account_id == account))
        if row is None:
            return None
        return OutboundFederation(row.account_id, row.issuer_id, bool(row.enabled), row.create_date)

    def find_outbound_issuer(self, issuer_id: str) -> OutboundFederation | None:
        t = s.outbound_federation
        row = self._first(select(t).where(t.c.issuer_id == issuer_id))
        if row is None:
            return None
        return OutboundFederation(row.account_id, row.issuer_id, bool(row.enabled), row.create_date)

    def set_outbound_federation(self, account: str, issuer_id: str, enabled: bool) -> OutboundFederation:
        """Enable or disable; the issuer id is kept from the first enabling on."""
        self._write()
        self._changed(Entity.ACCOUNT, account, account, Verb.UPDATED, "outbound web identity federation")
        t = s.outbound_federation
        current = self.get_outbound_federation(account)
        if current is None:
            now = self._now()
            self._conn.execute(insert(t).values(account_id=account, issuer_id=issuer_id, enabled=enabled,
                                                create_date=now))  # fmt: skip
            return OutboundFederation(account, issuer_id, enabled, now)
        self._conn.execute(update(t).where(t.c.account_id == account).values(enabled=enabled))
        return OutboundFederation(account, current.issuer_id, enabled, current.create_date)

    def add_web_identity_key(self, key: WebIdentityKey) -> None:
        self._write()
        self._changed(Entity.ACCOUNT, key.account_id, key.account_id, Verb.UPDATED, "web identity signing key")
        t = s.web_identity_keys
        self._conn.execute(
            insert(t).values(
                kid=key.kid, account_id=key.account_id, algorithm=key.algorithm, private_sealed=key.private_sealed,
                public_jwk=key.public_jwk, create_date=key.create_date,
            )
        )  # fmt: skip

    def list_web_identity_keys(self, account: str) -> tuple[WebIdentityKey, ...]:
        t = s.web_identity_keys
        rows = self._conn.execute(select(t).where(t.c.account_id == account).order_by(t.c.create_date, t.c.kid))
        return tuple(
            WebIdentityKey(r.kid, r.account_id, r.algorithm, bytes(r.private_sealed), r.public_jwk, r.create_date)
            for r in rows
        )

    # -- Organizations: centralized root access ------------------------------------------
    def list_org_root_features(self, organization_id: str) -> tuple[str, ...]:
        t = s.org_root_features
        rows = self._conn.execute(
            select(t.c.feature).where(t.c.organization_id == organization_id).order_by(t.c.feature)
        )
        return tuple(r.feature for r in rows)

    def set_org_root_features(self, organization_id: str, features: Sequence[str]) -> None:
        self._write()
        self._changed(Entity.ORGANIZATION, "", organization_id, Verb.UPDATED, "root access features")
        t = s.org_root_features
        self._conn.execute(delete(t).where(t.c.organization_id == organization_id))
        for feature in dict.fromkeys(features):
            self._conn.execute(insert(t).values(organization_id=organization_id, feature=feature))
