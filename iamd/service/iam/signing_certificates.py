"""X.509 signing certificates of IAM users and of the root user: Upload, List, Update, Delete
(IAM API "UploadSigningCertificate" and its neighbours). At most two per user; the same
certificate at most once in the account. The credential report shows them (cert_1_*, cert_2_*).
"""

from __future__ import annotations

import secrets
from typing import Any

from iamd import errors as aws
from iamd.service.call import Call
from iamd.store import AlreadyExists, NotFound, ReadTx, Tx
from iamd.store.user_credentials import SigningCertificate

from .certificates import load_certificate, sha256_fingerprint
from .checks import target_user_name
from .shapes import page, page_of
from .ssh_keys import credential_status

__all__ = ["MAX_PER_USER"]

MAX_PER_USER = 2  # AWS "IAM and AWS STS quotas": signing certificates per user
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
DUPLICATE = "The request was rejected because the same certificate is associated with an IAM user in the account."


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))  # the model: 24-128 word characters


def _shape(cert: SigningCertificate, call: Call) -> dict[str, Any]:
    # The root user's certificates carry the account's root name, as its access keys do.
    name = cert.user_name if cert.user_name is not None else call.account
    return {"UserName": name, "CertificateId": cert.id, "CertificateBody": cert.body, "Status": cert.status,
            "UploadDate": cert.upload_date}  # fmt: skip


def _get(call: Call, tx: ReadTx, user_name: str | None) -> SigningCertificate:
    cert_id = str(call.params["CertificateId"])
    try:
        return tx.get_signing_certificate(call.account, user_name, cert_id)
    except NotFound as e:
        if e.entity == "user":
            raise
        raise aws.NoSuchEntity(f"The Certificate with id {cert_id} cannot be found.") from None


def upload_signing_certificate(call: Call, tx: Tx) -> dict[str, Any]:
    user_name = target_user_name(call)
    if user_name is not None:
        tx.get_user(call.account, user_name)
    body = str(call.params["CertificateBody"])
    cert = load_certificate(body, call.now)
    if len(tx.list_signing_certificates(call.account, user_name)) >= MAX_PER_USER:
        raise aws.LimitExceeded(f"Cannot exceed quota for SigningCertificatesPerUser: {MAX_PER_USER}")
    try:
        stored = tx.add_signing_certificate(call.account, user_name, _new_id(), body.strip(), sha256_fingerprint(cert))
    except AlreadyExists:
        raise aws.DuplicateCertificate(DUPLICATE) from None
    return {"Certificate": _shape(stored, call)}


def list_signing_certificates(call: Call, tx: ReadTx) -> dict[str, Any]:
    certs = page_of(tx.list_signing_certificates(call.account, target_user_name(call)), call.params, "signing-certs")
    return page({"Certificates": [_shape(c, call) for c in certs.items]}, certs)


def update_signing_certificate(call: Call, tx: Tx) -> None:
    user_name = target_user_name(call)
    cert = _get(call, tx, user_name)
    tx.set_signing_certificate_status(call.account, user_name, cert.id, credential_status(call))


def delete_signing_certificate(call: Call, tx: Tx) -> None:
    user_name = target_user_name(call)
    cert = _get(call, tx, user_name)
    tx.delete_signing_certificate(call.account, user_name, cert.id)
