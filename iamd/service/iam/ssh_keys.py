"""SSH public keys of IAM users (for CodeCommit): Upload, Get, List, Update, Delete
(IAM API "UploadSSHPublicKey" and its neighbours).

A key is parsed with the ``cryptography`` library: OpenSSH (``ssh-rsa AAAA… comment``) or PEM
(``-----BEGIN PUBLIC KEY-----``), RSA of at least 2048 bits, as AWS requires. Its fingerprint
is AWS's: the MD5 digest of the key's OpenSSH wire encoding, as colon-separated hex
(``ssh-keygen -l -E md5``). The key is kept in OpenSSH form; GetSSHPublicKey answers it in
that form or as PEM (SubjectPublicKeyInfo).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iamd import errors as aws
from iamd.crypto import new_unique_id
from iamd.service.call import Call
from iamd.store import AlreadyExists, NotFound, ReadTx, Tx
from iamd.store.user_credentials import SshPublicKey

from .shapes import page, page_of

__all__ = ["credential_status", "parse_ssh_public_key", "ssh_fingerprint"]

MAX_KEYS_PER_USER = 5  # AWS "IAM and AWS STS quotas": SSH public keys per user
MIN_RSA_BITS = 2048
INVALID = "The request was rejected because the public key is malformed or otherwise invalid."
UNRECOGNIZED = "The request was rejected because the public key encoding format is unsupported or unrecognized."
DUPLICATE = "The request was rejected because the SSH public key is already associated with the specified IAM user."


def parse_ssh_public_key(body: str) -> rsa.RSAPublicKey:
    """The RSA key in ``body`` (OpenSSH or PEM), or AWS's error."""
    text = body.strip()
    try:
        if text.startswith("-----BEGIN"):
            key: Any = serialization.load_pem_public_key(text.encode("ascii"))
        elif text.startswith(("ssh-", "ecdsa-", "sk-")):  # an OpenSSH key of some type
            key = serialization.load_ssh_public_key(text.encode("ascii"))
        else:
            raise aws.UnrecognizedPublicKeyEncoding(UNRECOGNIZED)
    except (ValueError, UnicodeEncodeError, TypeError):
        raise aws.InvalidPublicKey(INVALID) from None
    except Exception as e:  # cryptography's UnsupportedAlgorithm (an unknown key type)
        if isinstance(e, aws.AwsError):
            raise
        raise aws.InvalidPublicKey(INVALID) from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        raise aws.InvalidPublicKey(INVALID)
    return key


def _openssh(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def ssh_fingerprint(key: rsa.RSAPublicKey) -> str:
    blob = base64.b64decode(_openssh(key).split()[1])
    return ":".join(f"{b:02x}" for b in hashlib.md5(blob, usedforsecurity=False).digest())


def _shape(key: SshPublicKey, body: str | None = None) -> dict[str, Any]:
    return {
        "UserName": key.user_name, "SSHPublicKeyId": key.id, "Fingerprint": key.fingerprint,
        "SSHPublicKeyBody": key.body if body is None else body, "Status": key.status, "UploadDate": key.upload_date,
    }  # fmt: skip


def _get(call: Call, tx: ReadTx) -> SshPublicKey:
    try:
        return tx.get_ssh_public_key(call.account, call.params["UserName"], call.params["SSHPublicKeyId"])
    except NotFound as e:
        if e.entity == "user":
            raise
        raise aws.NoSuchEntity(f"The Public Key with id {call.params['SSHPublicKeyId']} cannot be found.") from None


def upload_ssh_public_key(call: Call, tx: Tx) -> dict[str, Any]:
    user_name = str(call.params["UserName"])
    tx.get_user(call.account, user_name)  # NoSuchEntity before the key is judged
    key = parse_ssh_public_key(str(call.params["SSHPublicKeyBody"]))
    body = str(call.params["SSHPublicKeyBody"]).strip()
    if body.startswith("-----BEGIN"):
        body = _openssh(key)
    if len(tx.list_ssh_public_keys(call.account, user_name)) >= MAX_KEYS_PER_USER:
        raise aws.LimitExceeded(f"Cannot exceed quota for PublicKeysPerUser: {MAX_KEYS_PER_USER}")
    try:
        stored = tx.add_ssh_public_key(call.account, user_name, new_unique_id("APKA"), body, ssh_fingerprint(key))
    except AlreadyExists:
        raise aws.DuplicateSSHPublicKey(DUPLICATE) from None
    return {"SSHPublicKey": _shape(stored)}


def get_ssh_public_key(call: Call, tx: ReadTx) -> dict[str, Any]:
    key = _get(call, tx)
    if call.params["Encoding"] == "SSH":
        return {"SSHPublicKey": _shape(key)}
    pem = parse_ssh_public_key(key.body).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"SSHPublicKey": _shape(key, pem.decode())}


def list_ssh_public_keys(call: Call, tx: ReadTx) -> dict[str, Any]:
    user_name = call.params.get("UserName") or (call.caller.user.name if call.caller.user else None)
    if user_name is None:  # the root user has no SSH keys: AWS lists none
        return page({"SSHPublicKeys": []}, page_of([], call.params, "ssh-public-keys"))
    keys = page_of(tx.list_ssh_public_keys(call.account, str(user_name)), call.params, "ssh-public-keys")
    shapes = [{"UserName": k.user_name, "SSHPublicKeyId": k.id, "Status": k.status, "UploadDate": k.upload_date}
              for k in keys.items]  # fmt: skip
    return page({"SSHPublicKeys": shapes}, keys)


def update_ssh_public_key(call: Call, tx: Tx) -> None:
    key = _get(call, tx)
    tx.set_ssh_public_key_status(call.account, key.user_name, key.id, credential_status(call))


def delete_ssh_public_key(call: Call, tx: Tx) -> None:
    key = _get(call, tx)
    tx.delete_ssh_public_key(call.account, key.user_name, key.id)


def credential_status(call: Call) -> str:
    status = str(call.params["Status"])
    if status not in ("Active", "Inactive"):  # the model's enum has "Expired", which no one can set
        raise aws.ValidationError(
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Active, Inactive]"
        )
    return status
