"""Resource-based policies imported with a real AWS account (``iamd import --resource-policy``), read
by the troubleshooter to evaluate a request on such a resource as AWS did (docs/troubleshooting.md,
"Troubleshooting a real AWS account")."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from iamd.store import schema as s
from iamd.store.base import Ops
from iamd.store.changes import Entity, Verb

__all__ = ["ResourcePolicyOps"]


class ResourcePolicyOps(Ops):
    def put_imported_resource_policy(self, account: str, resource_arn: str, document: str) -> None:
        """Keep ``document`` as the resource policy of ``resource_arn`` (replacing one kept before)."""
        self._write()
        self._changed(Entity.ACCOUNT, account, account, Verb.UPDATED, "imported resource policy")
        t = s.imported_resource_policies
        self._conn.execute(delete(t).where(t.c.account_id == account, t.c.resource_arn == resource_arn))
        self._conn.execute(insert(t).values(account_id=account, resource_arn=resource_arn, document=document,
                                            import_date=self._now()))  # fmt: skip

    def imported_resource_policy(self, account: str, resource_arn: str) -> str | None:
        """The document imported for exactly ``resource_arn`` in ``account``, or None."""
        t = s.imported_resource_policies
        row = self._first(select(t.c.document).where(t.c.account_id == account, t.c.resource_arn == resource_arn))
        return None if row is None else str(row.document)
