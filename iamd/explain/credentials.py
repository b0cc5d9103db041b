"""A refused credential, explained (docs/troubleshooting.md, the credential findings)."""

from __future__ import annotations

import json
from typing import Any

from iamd.store import NotFound, ReadTx

from .checklist import Finding
from .subject import Subject, as_mapping

__all__ = ["credential_findings"]

_HISTORY_SCAN = 1000  # trail events read at most


def credential_findings(tx: ReadTx, subject: Subject) -> list[Finding]:
    """Why a credential was refused (iamdAuthentication), with its status now and, for a deleted
    key, who deleted it and when (from the trail)."""
    auth = subject.authentication or {}
    key_id = str(auth.get("accessKeyId") or "")
    reason = str(auth.get("reason") or auth.get("errorCode") or "refused")
    evidence: dict[str, Any] = {k: v for k, v in auth.items() if k != "errorMessage"}
    code = "credential-refused"
    detail = f"The request was signed with access key {key_id}, which was refused: {reason}."
    if reason == "no such access key":
        deleted = _key_deleted(tx, subject, key_id)
        if deleted is not None:
            code = "credential-deleted"
            evidence["deletedBy"] = deleted
            detail = (
                f"Access key {key_id} was deleted at {deleted['eventTime']} by {deleted['by']} "
                f"(request {deleted['requestId']}); create a new key for the user."
            )
        else:
            code = "credential-unknown"
            detail += " iamd never issued it, or the trail no longer shows its deletion: check the profile in use."
    elif reason == "the access key is inactive":
        code = "credential-inactive"
        detail += " Reactivate it (UpdateAccessKey --status Active) or use another active key."
    elif "expired" in reason:
        code = "credential-expired"
        detail += " Temporary credentials cannot be renewed: request new ones (AssumeRole, GetSessionToken…)."
    elif "signature" in reason:
        code = "credential-signature"
        detail += " The secret used to sign does not belong to that key id, or the request changed in transit."
    if key_id and not key_id.startswith("ASIA"):
        try:
            key = tx.get_access_key(key_id)
            evidence["statusNow"] = key.status.value
        except NotFound:
            evidence["statusNow"] = "deleted or unknown"
    return [Finding(code, f"Credential refused: {reason}", detail, evidence)]


def _key_deleted(tx: ReadTx, subject: Subject, key_id: str) -> dict[str, Any] | None:
    account = str(subject.user_identity.get("accountId") or "") or _any_account(tx)
    if not key_id or not account:
        return None
    page = tx.list_audit_events(account, event_name="DeleteAccessKey", max_items=_HISTORY_SCAN)
    for event in page.items:
        record = json.loads(event.record)
        params = as_mapping(record.get("requestParameters"))
        if params.get("accessKeyId") == key_id and not record.get("errorCode"):
            return {
                "eventTime": record.get("eventTime"),
                "requestId": record.get("requestID"),
                "by": (record.get("userIdentity") or {}).get("arn"),
            }
    return None


def _any_account(tx: ReadTx) -> str:
    accounts = [a.id for a in tx.list_accounts() if a.id != "aws"]
    return accounts[0] if accounts else ""
