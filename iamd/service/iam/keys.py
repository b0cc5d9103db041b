"""Access keys (AWS "Manage access keys for IAM users").

At most 2 per user; the secret is returned once and stored sealed.
"""

from __future__ import annotations

from typing import Any

from iamd import errors as aws
from iamd.crypto import access_key_context, new_access_key_id, new_secret_access_key
from iamd.service.call import Call
from iamd.store import KeyStatus, NotFound, ReadTx, Tx
from iamd.store.bulk import MAX_KEYS_PER_USER

from .checks import target_user_name
from .shapes import access_key_metadata, page, page_of

MAX_KEYS = MAX_KEYS_PER_USER  # one definition with the bulk load's (iamd db load)


def create_access_key(call: Call, tx: Tx) -> dict[str, Any]:
    owner = target_user_name(call)
    if owner is not None:
        owner = tx.get_user(call.account, owner).name
    if len(tx.list_access_keys(call.account, owner)) >= MAX_KEYS:
        raise aws.LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}")
    key_id = new_access_key_id(account_id=call.account)
    secret = new_secret_access_key()
    sealed = call.env.secret_box.seal(secret, context=access_key_context(key_id)).encode()
    key = tx.create_access_key(call.account, owner, key_id, sealed)
    out = access_key_metadata(key)
    out["SecretAccessKey"] = secret
    if owner is None:
        out["UserName"] = ""
    return {"AccessKey": out}


def list_access_keys(call: Call, tx: ReadTx) -> dict[str, Any]:
    owner = target_user_name(call)
    if owner is not None:
        owner = tx.get_user(call.account, owner).name
    result = page_of(tx.list_access_keys(call.account, owner), call.params, "access-keys")
    return page({"AccessKeyMetadata": [access_key_metadata(k) for k in result.items]}, result)


def _known_key(call: Call, tx: ReadTx, owner: str | None) -> str:
    key_id = str(call.params["AccessKeyId"])
    for key in tx.list_access_keys(call.account, owner):
        if key.id == key_id:
            return key_id
    raise aws.NoSuchEntity(f"The Access Key with id {key_id} cannot be found")


def update_access_key(call: Call, tx: Tx) -> None:
    owner = target_user_name(call)
    if owner is not None:
        owner = tx.get_user(call.account, owner).name
    key_id = _known_key(call, tx, owner)
    tx.update_access_key(call.account, owner, key_id, KeyStatus(call.params["Status"]))


def delete_access_key(call: Call, tx: Tx) -> None:
    owner = target_user_name(call)
    if owner is not None:
        owner = tx.get_user(call.account, owner).name
    key_id = _known_key(call, tx, owner)
    tx.delete_access_key(call.account, owner, key_id)


def get_access_key_last_used(call: Call, tx: ReadTx) -> dict[str, Any]:
    key_id = str(call.params["AccessKeyId"])
    try:
        key = tx.get_access_key(key_id)
    except NotFound:
        raise aws.AccessDenied(
            f"User: {call.caller.principal.arn} is not authorized to perform: iam:GetAccessKeyLastUsed on "
            f"resource: access key {key_id}"
        ) from None
    if key.account_id != call.account:
        raise aws.AccessDenied(
            f"User: {call.caller.principal.arn} is not authorized to perform: iam:GetAccessKeyLastUsed on "
            f"resource: access key {key_id}"
        )
    last: dict[str, Any] = {"ServiceName": key.last_used_service or "N/A", "Region": key.last_used_region or "N/A"}
    if key.last_used_date:
        last["LastUsedDate"] = key.last_used_date
    out: dict[str, Any] = {"AccessKeyLastUsed": last}
    if key.user_name:
        out["UserName"] = key.user_name
    return out
