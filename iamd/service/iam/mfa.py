"""Virtual MFA devices (AWS "AWS Multi-factor authentication in IAM").

CreateVirtualMFADevice returns the TOTP seed once (Base32 text and a QR code of the
``otpauth://`` URI); it is stored sealed, bound to the serial number. Enable and Resync
check two consecutive codes, every accepted time-step is remembered so no code is accepted
twice (:mod:`iamd.service.mfa_codes`). Decisions are in docs/mfa.md.
"""

from __future__ import annotations

import io
from typing import Any

import segno

from iamd import errors as aws
from iamd.service.call import Call
from iamd.service.mfa_codes import (
    ENABLE_WINDOW,
    RESYNC_WINDOW,
    VERIFY_WINDOW,
    find_consecutive,
    mfa_seed_context,
    new_seed,
    open_seed,
    provisioning_uri,
    time_step,
)
from iamd.store import AssignmentStatus, NotFound, ReadTx, TagTarget, Tx, VirtualMfaDevice

from .checks import ENTITY_QUOTAS, check_mfa_serial_length, check_tags, tags_of, target_user_name
from .shapes import page, tags_shape, user_shape

__all__ = [
    "MAX_DEVICES_PER_USER",
    "create_virtual_mfa_device",
    "deactivate_mfa_device",
    "delete_virtual_mfa_device",
    "enable_mfa_device",
    "get_mfa_device",
    "list_mfa_devices",
    "list_virtual_mfa_devices",
    "resync_mfa_device",
]

MAX_DEVICES_PER_USER = 8  # AWS "IAM identifiers" "MFA devices in use per user"
MAX_VIRTUAL_DEVICES = ENTITY_QUOTAS["Users"]  # IAM quotas: virtual MFA devices (assigned or not) = user quota
INVALID_CODE = "Authentication code for device is not valid."


def _serial(call: Call, path: str, name: str) -> str:
    return call.arn(f"mfa{path}{name}")


def _qr_png(uri: str) -> bytes:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="png", scale=4, border=4)
    return out.getvalue()


def create_virtual_mfa_device(call: Call, tx: Tx) -> dict[str, Any]:
    p = call.params
    name, path = str(p["VirtualMFADeviceName"]), p.get("Path") or "/"
    check_mfa_serial_length(name, path, call.partition)  # the serial carries the partition's name
    tags = tags_of(p)
    check_tags(TagTarget.MFA_DEVICE, tags)
    if tx.count_virtual_mfa_devices(call.account) >= MAX_VIRTUAL_DEVICES:
        raise aws.LimitExceeded(f"Cannot exceed quota for VirtualMFADevicesPerAccount: {MAX_VIRTUAL_DEVICES}")
    serial = _serial(call, path, name)
    seed = new_seed()
    sealed = call.env.secret_box.seal(seed, context=mfa_seed_context(serial)).encode("ascii")
    device = tx.create_virtual_mfa_device(call.account, name, serial=serial, seed_sealed=sealed, path=path, tags=tags)
    account_name = tx.get_account(call.account).alias or call.account
    out: dict[str, Any] = {
        "SerialNumber": device.serial,
        "Base32StringSeed": seed.encode("ascii"),
        "QRCodePNG": _qr_png(provisioning_uri(seed, name, account_name)),
    }
    if tags:
        out["Tags"] = tags_shape(tags)
    return {"VirtualMFADevice": out}


def _device(call: Call, tx: ReadTx) -> VirtualMfaDevice:
    return tx.get_virtual_mfa_device(call.account, str(call.params["SerialNumber"]))


def _codes(call: Call) -> tuple[str, str]:
    return str(call.params["AuthenticationCode1"]), str(call.params["AuthenticationCode2"])


def enable_mfa_device(call: Call, tx: Tx) -> None:
    user = tx.get_user(call.account, str(call.params["UserName"]))
    device = _device(call, tx)
    if device.user is not None:
        raise aws.EntityAlreadyExists("MFA device is already in use.")
    if len(tx.list_mfa_devices(call.account, user.name, max_items=1000).items) >= MAX_DEVICES_PER_USER:
        raise aws.LimitExceeded(f"Cannot exceed quota for MFADevicesPerUser: {MAX_DEVICES_PER_USER}")
    seed = open_seed(call.env.secret_box, device)
    step = find_consecutive(seed, *_codes(call), time_step(call.now), ENABLE_WINDOW, device.last_step)
    if step is None:
        raise aws.InvalidAuthenticationCode(INVALID_CODE)
    tx.enable_mfa_device(call.account, device.serial, user.name, step=step, drift=0, when=call.now)


def _assigned_to(call: Call, tx: ReadTx, user_name: str | None) -> VirtualMfaDevice:
    """The named device if it is assigned to ``user_name`` (None: root, who has none via the API)."""
    serial = str(call.params["SerialNumber"])
    if user_name is not None:
        user_name = tx.get_user(call.account, user_name).name
    try:
        device = tx.get_virtual_mfa_device(call.account, serial)
    except NotFound:
        device = None
    if device is None or device.user is None or user_name is None or device.user.name != user_name:
        raise aws.NoSuchEntity(f"MFA Device with serial number {serial} not found for user {user_name or 'root'}.")
    return device


def resync_mfa_device(call: Call, tx: Tx) -> None:
    device = _assigned_to(call, tx, str(call.params["UserName"]))
    seed = open_seed(call.env.secret_box, device)
    now_step = time_step(call.now)
    step = find_consecutive(seed, *_codes(call), now_step, RESYNC_WINDOW, device.last_step)
    if step is None:
        raise aws.InvalidAuthenticationCode(INVALID_CODE)
    drift = step - now_step
    if abs(drift) <= VERIFY_WINDOW:  # within the normal window: latency, not a drifting clock
        drift = 0
    if not tx.record_mfa_step(call.account, device.serial, step, drift=drift):
        raise aws.InvalidAuthenticationCode(INVALID_CODE)


def deactivate_mfa_device(call: Call, tx: Tx) -> None:
    device = _assigned_to(call, tx, target_user_name(call))
    assert device.user is not None
    tx.deactivate_mfa_device(call.account, device.serial, device.user.name)


def delete_virtual_mfa_device(call: Call, tx: Tx) -> None:
    tx.delete_virtual_mfa_device(call.account, str(call.params["SerialNumber"]))


def list_virtual_mfa_devices(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    result = tx.list_virtual_mfa_devices(
        call.account,
        assignment=AssignmentStatus(p.get("AssignmentStatus") or "Any"),
        marker=p.get("Marker"),
        max_items=p.get("MaxItems", 100),
    )
    items: list[dict[str, Any]] = []
    for d in result.items:
        item: dict[str, Any] = {"SerialNumber": d.serial}
        if d.user is not None:
            item["User"] = user_shape(d.user)
            item["EnableDate"] = d.enable_date
        items.append(item)
    return page({"VirtualMFADevices": items}, result)


def _mfa_device_shape(device: VirtualMfaDevice) -> dict[str, Any]:
    assert device.user is not None
    return {"UserName": device.user.name, "SerialNumber": device.serial, "EnableDate": device.enable_date}


def list_mfa_devices(call: Call, tx: ReadTx) -> dict[str, Any]:
    p = call.params
    name = target_user_name(call)
    # root: its MFA is managed in the console only (AWS "Assign a virtual MFA device in the AWS Management Console")
    if name is None:
        return {"MFADevices": [], "IsTruncated": False}
    user = tx.get_user(call.account, name)
    result = tx.list_mfa_devices(call.account, user.name, marker=p.get("Marker"), max_items=p.get("MaxItems", 100))
    return page({"MFADevices": [_mfa_device_shape(d) for d in result.items]}, result)


def get_mfa_device(call: Call, tx: ReadTx) -> dict[str, Any]:
    """AWS documents this for FIDO keys; iamd answers for a virtual device assigned to the user."""
    device = _assigned_to(call, tx, target_user_name(call))
    return _mfa_device_shape(device)
