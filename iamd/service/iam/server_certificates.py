"""Server certificates (IAM API "UploadServerCertificate" and its neighbours): an X.509
certificate, its private key and chain for services that terminate TLS.

On upload the certificate must parse and be valid now, the private key must be an
unencrypted PEM key of the certificate's public key (``KeyPairMismatch`` otherwise), and the
chain, when given, must start with the certificate's issuer, each certificate signed by the
next (``iamd/service/iam/certificates.py``; the ``cryptography`` library). The private key is
sealed with the server's master key, bound to the certificate's id, and never answered.
"""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.crypto import new_unique_id
from iamd.service.call import Call
from iamd.store import ReadTx, TagTarget, Tx
from iamd.store.server_certificates import ServerCertificate

from .certificates import check_chain, keys_match, load_certificate, load_private_key, not_after
from .checks import check_tags, tags_of
from .shapes import page, tags_shape

__all__ = ["MAX_PER_ACCOUNT", "key_context"]

MAX_PER_ACCOUNT = 20  # AWS "IAM and AWS STS quotas": server certificates per account (default)
MISMATCH = "The request was rejected because the public key certificate and the private key do not match."


def key_context(cert_id: str) -> bytes:
    """What binds a sealed private key to its certificate."""
    return f"server-certificate:{cert_id}".encode()


def _metadata(c: ServerCertificate) -> dict[str, Any]:
    return {
        "Path": c.path, "ServerCertificateName": c.name, "ServerCertificateId": c.id, "Arn": c.arn,
        "UploadDate": c.upload_date, "Expiration": c.expiration,
    }  # fmt: skip


def upload_server_certificate(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    tags = tags_of(p)
    check_tags(TagTarget.SERVER_CERTIFICATE, tags)
    body, chain = str(p["CertificateBody"]).strip(), p.get("CertificateChain")
    cert = load_certificate(body, call.now)
    key = load_private_key(str(p["PrivateKey"]))
    if not keys_match(cert, key):
        raise aws.KeyPairMismatch(MISMATCH)
    if chain is not None:
        check_chain(str(chain), cert)
    if tx.count_server_certificates(call.account) >= MAX_PER_ACCOUNT:
        raise aws.LimitExceeded(f"Cannot exceed quota for ServerCertificatesPerAccount: {MAX_PER_ACCOUNT}")
    cert_id = new_unique_id("ASCA")
    sealed = call.env.secret_box.seal(str(p["PrivateKey"]).strip(), context=key_context(cert_id)).encode()
    stored = tx.create_server_certificate(
        call.account, cert_id, str(p["ServerCertificateName"]), path=p.get("Path") or "/", body=body,
        chain=str(chain).strip() if chain is not None else None, private_key_sealed=sealed,
        expiration=not_after(cert), tags=tags,
    )  # fmt: skip
    out: dict[str, Any] = {"ServerCertificateMetadata": _metadata(stored)}
    if tags:
        out["Tags"] = tags_shape(tags)
    return out


def get_server_certificate(call: Call, tx: ReadTx) -> dict[str, Any]:
    c = tx.get_server_certificate(call.account, str(call.params["ServerCertificateName"]))
    shown: dict[str, Any] = {"ServerCertificateMetadata": _metadata(c), "CertificateBody": c.body}
    if c.chain is not None:
        shown["CertificateChain"] = c.chain
    tags = tx.list_tags(TagTarget.SERVER_CERTIFICATE, call.account, c.name)
    if tags:
        shown["Tags"] = tags_shape(tags)
    return {"ServerCertificate": shown}


def list_server_certificates(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    found = tx.list_server_certificates(
        call.account, path_prefix=p.get("PathPrefix") or "/", marker=p.get("Marker"), max_items=p.get("MaxItems", 100)
    )
    return page({"ServerCertificateMetadataList": [_metadata(c) for c in found.items]}, found)


def update_server_certificate(call: Call, tx: Tx) -> None:
    p = call.params
    tx.update_server_certificate(
        call.account, str(p["ServerCertificateName"]), new_name=p.get("NewServerCertificateName"),
        new_path=p.get("NewPath"),
    )  # fmt: skip


def delete_server_certificate(call: Call, tx: Tx) -> None:
    tx.delete_server_certificate(call.account, str(call.params["ServerCertificateName"]))
