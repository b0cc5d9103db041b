"""The credential report (AWS "Generate credential reports for your AWS account"): one CSV row per user, the root
account first.

GenerateCredentialReport builds the report synchronously, in its own request, and stores it
with its generation time; a report younger than 4 hours is not rebuilt (AWS's rule). So the
first call answers ``STARTED`` and the next ones ``COMPLETE`` — as AWS's clients expect —
and ``ReportInProgress`` never occurs. GetCredentialReport serves the stored report until
it is 4 hours old, then ``ReportExpired``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from iamd import errors as aws
from iamd.service.call import Call
from iamd.service.passwords import expires_at
from iamd.store import AccessKey, AssignmentStatus, KeyStatus, ReadTx, Tx, User
from iamd.store.user_credentials import SigningCertificate

from .login_profiles import account_policy

__all__ = ["COLUMNS", "REPORT_LIFETIME", "build_report", "generate_credential_report", "get_credential_report"]

REPORT_LIFETIME = timedelta(hours=4)
COLUMNS = (
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
    "password_next_rotation", "mfa_active",
    *(f"access_key_{n}_{f}" for n in (1, 2)
      for f in ("active", "last_rotated", "last_used_date", "last_used_region", "last_used_service")),
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
)  # fmt: skip
NA = "N/A"
NO_INFORMATION = "no_information"
NOT_SUPPORTED = "not_supported"


def _time(value: datetime | None, missing: str = NA) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat() if value else missing


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _keys(keys: tuple[AccessKey, ...]) -> list[str]:
    out: list[str] = []
    for slot in range(2):
        if slot < len(keys):
            k = keys[slot]
            used = k.last_used_date is not None
            out += [
                _bool(k.status is KeyStatus.ACTIVE),
                _time(k.create_date),
                _time(k.last_used_date),
                (k.last_used_region or NA) if used else NA,
                (k.last_used_service or NA) if used else NA,
            ]
        else:
            out += ["false", NA, NA, NA, NA]
    return out


def _certs(certs: Sequence[SigningCertificate]) -> list[str]:
    """cert_1_active, cert_1_last_rotated, cert_2_…: the signing certificates in upload order
    (last rotated = uploaded), ``false``/``N/A`` for an empty slot."""
    out: list[str] = []
    for i in range(2):
        cert = certs[i] if i < len(certs) else None
        out += ["false", NA] if cert is None else [_bool(cert.status == "Active"), _time(cert.upload_date)]
    return out


def _users(tx: ReadTx, account: str) -> Iterator[User]:
    marker = None
    while True:
        page = tx.list_users(account, marker=marker, max_items=1000)
        yield from page.items
        if page.marker is None:
            return
        marker = page.marker


def _users_with_mfa(tx: ReadTx, account: str) -> set[str]:
    """Ids of the users with an assigned (enabled) virtual MFA device, read in this transaction."""
    found: set[str] = set()
    marker = None
    while True:
        page = tx.list_virtual_mfa_devices(account, assignment=AssignmentStatus.ASSIGNED, marker=marker, max_items=1000)
        found.update(d.user.id for d in page.items if d.user is not None)
        if page.marker is None:
            return found
        marker = page.marker


def build_report(tx: ReadTx, account: str, partition: str = "aws") -> bytes:
    """The CSV, AWS's columns in AWS's order; ``N/A``, ``no_information`` and ``not_supported`` as AWS writes them.

    ``mfa_active``: the user has an enabled virtual MFA device; root MFA devices are not
    modelled, so root's is false.
    """
    policy = account_policy(tx, account)
    with_mfa = _users_with_mfa(tx, account)
    profiles = {p.user_id: p for p in tx.list_login_profiles(account)}
    acct = tx.get_account(account)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow([
        "<root_account>", f"arn:{partition}:iam::{account}:root", _time(acct.create_date), NOT_SUPPORTED,
        NO_INFORMATION, NOT_SUPPORTED, NOT_SUPPORTED, "false",  # mfa_active: root MFA is not modelled
        *_keys(tx.list_access_keys(account, None)), *_certs(tx.list_signing_certificates(account, None)),
    ])  # fmt: skip
    for user in _users(tx, account):
        profile = profiles.get(user.id)
        if profile is None:
            password = ["false", NA, NA, NA]
        else:
            rotation = expires_at(policy, profile.password_changed) if policy else None
            last_used = _time(user.password_last_used, NO_INFORMATION)
            password = ["true", last_used, _time(profile.password_changed), _time(rotation)]
        writer.writerow([
            user.name, user.arn, _time(user.create_date), *password, _bool(user.id in with_mfa),
            *_keys(tx.list_access_keys(account, user.name)),
            *_certs(tx.list_signing_certificates(account, user.name)),
        ])  # fmt: skip
    return out.getvalue().encode("utf-8")


def generate_credential_report(call: Call, tx: Tx) -> dict[str, Any]:
    existing = tx.get_credential_report(call.account)
    if existing is not None and call.now - existing.generated_time < REPORT_LIFETIME:
        return {"State": "COMPLETE"}
    tx.put_credential_report(call.account, call.now, build_report(tx, call.account, call.partition))
    return {"State": "STARTED", "Description": "No report exists. Starting a new report generation task"}


def get_credential_report(call: Call, tx: ReadTx) -> dict[str, Any]:
    report = tx.get_credential_report(call.account)
    if report is None:
        raise aws.ReportNotPresent("Credential report not present. Call GenerateCredentialReport to generate one.")
    if call.now - report.generated_time >= REPORT_LIFETIME:
        raise aws.ReportExpired(
            "The credential report has expired. Credential reports are kept for 4 hours; call "
            "GenerateCredentialReport to generate a new one."
        )
    return {"Content": report.content, "ReportFormat": "text/csv", "GeneratedTime": report.generated_time}
