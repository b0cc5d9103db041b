"""Service-specific credentials (IAM API "CreateServiceSpecificCredential" and its
neighbours): a user name and generated password for one AWS service (CodeCommit's Git over
HTTPS, Amazon Keyspaces), at most two per user and service.

The password is a secret: it is answered once (on create and on reset) and only its
argon2id hash is stored (docs/iam-api.md, "Other credentials").
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from iamd import errors as aws
from iamd.crypto import new_unique_id
from iamd.service.call import Call
from iamd.service.passwords import hash_password
from iamd.store import NotFound, ReadTx, Tx
from iamd.store.user_credentials import ServiceCredential

from .checks import target_user_name
from .shapes import page, page_of
from .ssh_keys import credential_status

__all__ = ["MAX_PER_SERVICE", "SUPPORTED_SERVICES"]

MAX_PER_SERVICE = 2  # AWS "IAM and AWS STS quotas": service-specific credentials per user per service
SUPPORTED_SERVICES = frozenset({"codecommit.amazonaws.com", "cassandra.amazonaws.com"})


def _password() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()  # 44 characters, as AWS's


def _metadata(c: ServiceCredential) -> dict[str, Any]:
    return {
        "UserName": c.user_name, "Status": c.status, "ServiceUserName": c.service_user_name,
        "CreateDate": c.create_date, "ServiceSpecificCredentialId": c.id, "ServiceName": c.service_name,
    }  # fmt: skip


def _with_password(c: ServiceCredential, password: str) -> dict[str, Any]:
    return {"ServiceSpecificCredential": {**_metadata(c), "ServicePassword": password}}


def _user(call: Call) -> str:
    name = target_user_name(call)
    if name is None:  # the root user cannot have them
        raise aws.ValidationError("Must specify userName when calling with non-User credentials")
    return name


def _get(call: Call, tx: ReadTx, user_name: str) -> ServiceCredential:
    cred_id = str(call.params["ServiceSpecificCredentialId"])
    try:
        return tx.get_service_credential(call.account, user_name, cred_id)
    except NotFound as e:
        if e.entity == "user":
            raise
        raise aws.NoSuchEntity(f"No such credential {cred_id} exists.") from None


def create_service_specific_credential(call: Call, tx: Tx) -> dict[str, Any]:
    user = tx.get_user(call.account, str(call.params["UserName"]))
    service = str(call.params["ServiceName"])
    if service not in SUPPORTED_SERVICES:
        raise aws.NotSupportedService(f"No such service {service} is supported for Service-Specific Credentials")
    if len(tx.list_service_credentials(call.account, user.name, service)) >= MAX_PER_SERVICE:
        raise aws.LimitExceeded(
            f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {MAX_PER_SERVICE}"
        )
    password = _password()
    cred = tx.add_service_credential(
        call.account, user.name, new_unique_id("ACCA"), service, f"{user.name}-at-{call.account}",
        hash_password(password),
    )  # fmt: skip
    return _with_password(cred, password)


def list_service_specific_credentials(call: Call, tx: ReadTx) -> dict[str, Any]:
    service = call.params.get("ServiceName")
    if service is not None and service not in SUPPORTED_SERVICES:
        raise aws.NotSupportedService(f"No such service {service} is supported for Service-Specific Credentials")
    user = None if call.params.get("AllUsers") and "UserName" not in call.params else _user(call)
    found = page_of(tx.list_service_credentials(call.account, user, service), call.params, "service-credentials")
    return page({"ServiceSpecificCredentials": [_metadata(c) for c in found.items]}, found)


def reset_service_specific_credential(call: Call, tx: Tx) -> dict[str, Any]:
    cred = _get(call, tx, _user(call))
    password = _password()
    cred = tx.update_service_credential(call.account, cred.user_name, cred.id, password_hash=hash_password(password))
    return _with_password(cred, password)


def update_service_specific_credential(call: Call, tx: Tx) -> None:
    cred = _get(call, tx, _user(call))
    tx.update_service_credential(call.account, cred.user_name, cred.id, status=credential_status(call))


def delete_service_specific_credential(call: Call, tx: Tx) -> None:
    cred = _get(call, tx, _user(call))
    tx.delete_service_credential(call.account, cred.user_name, cred.id)
