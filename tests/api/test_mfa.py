"""Virtual MFA devices over a real socket with unmodified boto3 (AWS "AWS Multi-factor authentication in IAM").

Codes are real RFC 6238 codes computed by pyotp from the seed the server returned; the
server's clock is the injectable ``Backend.clock`` (a :class:`StepClock` close to real time,
so SigV4's 15-minute skew check still passes), never a sleep.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import png
import pyotp
import pytest
import zxingcpp
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.service.mfa_codes import (
    MfaCodeInvalid,
    MfaDeviceNotAssigned,
    verify_mfa_code,
)
from tests.api.clock import StepClock, installed
from tests.api.conftest import UserClient, allow, failure, policy
from tests.api.server import RunningServer

BAD_CODE = (403, "InvalidAuthenticationCode", "Authentication code for device is not valid.")


@pytest.fixture
def clock(api_server: RunningServer) -> Iterator[StepClock]:
    clock = StepClock()
    with installed(api_server.backend, clock):
        yield clock


class Device:
    """A device the server created: its serial and a pyotp generator on the returned seed."""

    def __init__(self, created: dict[str, Any], clock: StepClock) -> None:
        self.serial: str = created["SerialNumber"]
        self.seed: str = created["Base32StringSeed"].decode("ascii")
        self.totp = pyotp.TOTP(self.seed)
        self.clock = clock

    def code(self, steps: int) -> str:
        """The code the device shows ``steps`` steps after the clock's origin."""
        return str(self.totp.generate_otp(self.clock.origin + steps))

    def pair(self, second: int) -> dict[str, str]:
        """Two consecutive codes, the second for step ``second``."""
        return {"AuthenticationCode1": self.code(second - 1), "AuthenticationCode2": self.code(second)}


NewDevice = Callable[..., Device]


@pytest.fixture
def new_device(iam: BaseClient, clock: StepClock) -> NewDevice:
    def make(name: str, **kwargs: Any) -> Device:
        return Device(iam.create_virtual_mfa_device(VirtualMFADeviceName=name, **kwargs)["VirtualMFADevice"], clock)

    return make


def enable(iam: BaseClient, user: str, device: Device, second: int) -> None:
    iam.enable_mfa_device(UserName=user, SerialNumber=device.serial, **device.pair(second))


def decode_qr(png_bytes: bytes) -> str:
    width, height, rows, info = png.Reader(bytes=png_bytes).asDirect()
    maximum = (1 << info["bitdepth"]) - 1
    planes = info["planes"]
    pixels = bytearray()
    for row in rows:
        pixels.extend(255 * v // maximum for v in list(row)[::planes])
    image = memoryview(bytes(pixels)).cast("B", (height, width))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    return str(found[0].text)


# -- CreateVirtualMFADevice -------------------------------------------------------------------
def test_create_returns_the_seed_and_a_qr_code_of_the_otpauth_uri(iam: BaseClient, acct: str, clock: StepClock) -> None:
    created = iam.create_virtual_mfa_device(VirtualMFADeviceName="Phone", Path="/staff/")["VirtualMFADevice"]
    # AWS "Assign a virtual MFA device in the AWS Management Console": the serial is the ARN with the path; the seed is
    # Base32 text (64 characters as AWS's)
    assert created["SerialNumber"] == f"arn:aws:iam::{acct}:mfa/staff/Phone"
    assert set(created) == {"SerialNumber", "Base32StringSeed", "QRCodePNG"}
    seed = created["Base32StringSeed"].decode("ascii")
    assert re.fullmatch(r"[A-Z2-7]{64}", seed)
    assert len(base64.b32decode(seed)) * 8 >= 160  # RFC 4226 §4: at least 160 bits
    assert created["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    uri = decode_qr(created["QRCodePNG"])
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == f"/Amazon Web Services:Phone@{acct}"
    query = parse_qs(parts.query)
    assert query == {"secret": [seed], "issuer": ["Amazon Web Services"]}
    # the seed in the QR code generates the codes the server accepts
    device = Device(created, clock)
    iam.create_user(UserName="QrUser")
    totp = pyotp.parse_uri(uri)
    iam.enable_mfa_device(
        UserName="QrUser", SerialNumber=device.serial,
        AuthenticationCode1=totp.generate_otp(clock.origin - 1), AuthenticationCode2=totp.generate_otp(clock.origin),
    )  # fmt: skip
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName="QrUser")["MFADevices"]] == [device.serial]


def test_qr_code_names_the_account_alias_when_there_is_one(iam: BaseClient) -> None:
    iam.create_account_alias(AccountAlias="mfa-example")
    try:
        created = iam.create_virtual_mfa_device(VirtualMFADeviceName="AliasPhone")["VirtualMFADevice"]
    finally:
        iam.delete_account_alias(AccountAlias="mfa-example")
    assert unquote(urlsplit(decode_qr(created["QRCodePNG"])).path) == "/Amazon Web Services:AliasPhone@mfa-example"


def test_a_created_never_enabled_device_blocks_its_name(iam: BaseClient, acct: str) -> None:
    """IAM API "CreateVirtualMFADevice", "EnableMFADevice": the unassigned device keeps its name; IAM API each
    operation's Errors's message.
    """
    iam.create_virtual_mfa_device(VirtualMFADeviceName="Abandoned")
    for name, path in (("Abandoned", "/"), ("abandoned", "/"), ("Abandoned", "/other/")):
        with pytest.raises(ClientError) as e:
            iam.create_virtual_mfa_device(VirtualMFADeviceName=name, Path=path)
        assert failure(e) == (409, "EntityAlreadyExists", "MFADevice entity at the same path and name already exists.")
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert {"SerialNumber": f"arn:aws:iam::{acct}:mfa/Abandoned"} in unassigned
    iam.delete_virtual_mfa_device(SerialNumber=f"arn:aws:iam::{acct}:mfa/Abandoned")
    iam.create_virtual_mfa_device(VirtualMFADeviceName="Abandoned")  # free again


def test_create_validates_name_and_path(raw_iam: BaseClient) -> None:
    with pytest.raises(ClientError) as e:
        raw_iam.create_virtual_mfa_device(VirtualMFADeviceName="bad name")
    assert failure(e)[:2] == (400, "ValidationError")
    with pytest.raises(ClientError) as e:
        raw_iam.create_virtual_mfa_device(VirtualMFADeviceName="ok", Path="nopath")
    assert failure(e)[:2] == (400, "ValidationError")


# -- EnableMFADevice ----------------------------------------------------------------------------
def test_enable_needs_two_consecutive_codes_within_one_step(
    iam: BaseClient, acct: str, new_device: NewDevice, clock: StepClock
) -> None:
    iam.create_user(UserName="Enabler")
    device = new_device("Enabler")
    clock.at(0)
    refused = [
        {"AuthenticationCode1": device.code(0), "AuthenticationCode2": device.code(0)},  # not consecutive
        {"AuthenticationCode1": device.code(-1), "AuthenticationCode2": device.code(1)},  # a step skipped
        {"AuthenticationCode1": device.code(0), "AuthenticationCode2": device.code(-1)},  # wrong order
        device.pair(-2),  # the second code two steps old: outside the window
        device.pair(2),  # two steps ahead
        {"AuthenticationCode1": "000000", "AuthenticationCode2": "000000"},
    ]
    for codes in refused:
        if codes["AuthenticationCode1"] == codes["AuthenticationCode2"] == "000000" and device.code(0) == "000000":
            continue  # one chance in a million
        with pytest.raises(ClientError) as e:
            iam.enable_mfa_device(UserName="Enabler", SerialNumber=device.serial, **codes)
        assert failure(e) == BAD_CODE
    assert iam.list_mfa_devices(UserName="Enabler")["MFADevices"] == []
    enable(iam, "Enabler", device, -1)  # the window's older edge: code 2 one step old
    listed = iam.list_mfa_devices(UserName="Enabler")["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in listed] == [("Enabler", device.serial)]
    assert listed[0]["EnableDate"] == clock()

    newer = new_device("Enabler2")
    enable(iam, "Enabler", newer, 1)  # the newer edge: code 2 one step ahead
    assert len(iam.list_mfa_devices(UserName="Enabler")["MFADevices"]) == 2


def test_enable_errors(iam: BaseClient, acct: str, new_device: NewDevice, clock: StepClock) -> None:
    iam.create_user(UserName="Owner1")
    iam.create_user(UserName="Owner2")
    device = new_device("Owned")
    with pytest.raises(ClientError) as e:
        enable(iam, "Nobody", device, 0)
    assert failure(e) == (404, "NoSuchEntity", "The user with name Nobody cannot be found.")
    missing = f"arn:aws:iam::{acct}:mfa/Missing"
    with pytest.raises(ClientError) as e:
        iam.enable_mfa_device(UserName="Owner1", SerialNumber=missing, **device.pair(0))
    assert failure(e) == (404, "NoSuchEntity", f"VirtualMFADevice with serial number {missing} doesn't exist.")
    enable(iam, "Owner1", device, 0)
    clock.at(1)
    for user in ("Owner1", "Owner2"):  # assigned: to this user or another one
        with pytest.raises(ClientError) as e:
            enable(iam, user, device, 1)
        assert failure(e) == (409, "EntityAlreadyExists", "MFA device is already in use.")


def test_a_user_may_have_eight_devices(iam: BaseClient, new_device: NewDevice, clock: StepClock) -> None:
    """AWS "IAM identifiers": MFA devices in use per user: 8."""
    iam.create_user(UserName="Collector")
    for i in range(8):
        enable(iam, "Collector", new_device(f"Collector{i}"), 0)
    ninth = new_device("Collector8")
    with pytest.raises(ClientError) as e:
        enable(iam, "Collector", ninth, 0)
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for MFADevicesPerUser: 8")


def test_codes_are_never_accepted_twice(iam: BaseClient, new_device: NewDevice, clock: StepClock) -> None:
    """AWS "Secure API access with MFA": AWS refuses recently used codes; iamd remembers the newest accepted step."""
    iam.create_user(UserName="Replayer")
    device = new_device("Replayer")
    enable(iam, "Replayer", device, 0)
    iam.deactivate_mfa_device(UserName="Replayer", SerialNumber=device.serial)
    with pytest.raises(ClientError) as e:  # the same codes again, still inside the window
        enable(iam, "Replayer", device, 0)
    assert failure(e) == BAD_CODE
    with pytest.raises(ClientError) as e:  # or the pair before them
        enable(iam, "Replayer", device, -1)
    assert failure(e) == BAD_CODE
    clock.at(2)
    enable(iam, "Replayer", device, 2)  # fresh codes are fine


# -- ResyncMFADevice ------------------------------------------------------------------------------
def test_resync_records_the_drift_of_a_device_clock(
    api_server: RunningServer, iam: BaseClient, new_device: NewDevice, clock: StepClock
) -> None:
    backend = api_server.backend
    iam.create_user(UserName="Drifter")
    device = new_device("Drifter")
    enable(iam, "Drifter", device, 0)

    def verify(steps: int) -> None:
        with backend.store.transaction() as tx:
            verify_mfa_code(tx, backend.secret_box, backend.account_id, "Drifter", device.serial,
                            device.code(steps), clock())  # fmt: skip

    clock.at(1)
    with pytest.raises(MfaCodeInvalid):  # the device runs 5 steps (2.5 minutes) fast
        verify(6)
    with pytest.raises(ClientError) as e:  # resync searches ±10 steps, not more
        iam.resync_mfa_device(UserName="Drifter", SerialNumber=device.serial, **device.pair(12))
    assert failure(e) == BAD_CODE
    iam.resync_mfa_device(UserName="Drifter", SerialNumber=device.serial, **device.pair(6))
    with pytest.raises(ClientError) as e:  # a resync's codes are used up too
        iam.resync_mfa_device(UserName="Drifter", SerialNumber=device.serial, **device.pair(6))
    assert failure(e) == BAD_CODE
    clock.at(2)
    verify(7)  # now the fast device's code is accepted
    clock.at(3)
    with pytest.raises(MfaCodeInvalid):  # and a code for the server's own step is too old for it
        verify(3)
    # the device's clock is corrected: resync again, with codes newer than every used one
    clock.at(5)
    with pytest.raises(ClientError) as e:  # step 5 is older than the fast device's step 7, used above
        iam.resync_mfa_device(UserName="Drifter", SerialNumber=device.serial, **device.pair(5))
    assert failure(e) == BAD_CODE
    clock.at(9)
    iam.resync_mfa_device(UserName="Drifter", SerialNumber=device.serial, **device.pair(9))
    clock.at(10)
    verify(10)


def test_resync_errors(iam: BaseClient, acct: str, new_device: NewDevice, clock: StepClock) -> None:
    iam.create_user(UserName="Resyncer")
    iam.create_user(UserName="Stranger")
    device = new_device("Resyncer")
    with pytest.raises(ClientError) as e:  # not assigned yet
        iam.resync_mfa_device(UserName="Resyncer", SerialNumber=device.serial, **device.pair(0))
    assert failure(e) == (
        404, "NoSuchEntity", f"MFA Device with serial number {device.serial} not found for user Resyncer."
    )  # fmt: skip
    enable(iam, "Resyncer", device, 0)
    clock.at(1)
    with pytest.raises(ClientError) as e:  # another user's device
        iam.resync_mfa_device(UserName="Stranger", SerialNumber=device.serial, **device.pair(1))
    assert failure(e)[:2] == (404, "NoSuchEntity")
    with pytest.raises(ClientError) as e:
        iam.resync_mfa_device(
            UserName="Resyncer", SerialNumber=device.serial, AuthenticationCode1="123456",
            AuthenticationCode2=device.code(1),
        )  # fmt: skip
    assert failure(e) == BAD_CODE


# -- Deactivate / Delete ----------------------------------------------------------------------------
def test_deactivate_and_delete(iam: BaseClient, acct: str, new_device: NewDevice, clock: StepClock) -> None:
    iam.create_user(UserName="Leaver")
    device = new_device("Leaver")
    with pytest.raises(ClientError) as e:
        iam.deactivate_mfa_device(UserName="Leaver", SerialNumber=device.serial)
    assert failure(e) == (
        404,
        "NoSuchEntity",
        f"MFA Device with serial number {device.serial} not found for user Leaver.",
    )
    enable(iam, "Leaver", device, 0)
    # IAM API "CreateUser", "UpdateUser", "DeleteUser": DeleteUser refuses while a device is assigned
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="Leaver")
    assert failure(e) == (409, "DeleteConflict", "Cannot delete entity, must delete MFA device first.")
    # AWS "Assign a virtual MFA device in the AWS Management Console": only unassigned devices can be deleted
    with pytest.raises(ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=device.serial)
    assert failure(e) == (409, "DeleteConflict", "MFA device is still in use.")
    iam.deactivate_mfa_device(UserName="Leaver", SerialNumber=device.serial)
    assert iam.list_mfa_devices(UserName="Leaver")["MFADevices"] == []
    iam.delete_user(UserName="Leaver")  # the unassigned device stays
    assert {"SerialNumber": device.serial} in iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")[
        "VirtualMFADevices"
    ]
    iam.delete_virtual_mfa_device(SerialNumber=device.serial)
    with pytest.raises(ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=device.serial)
    assert failure(e) == (404, "NoSuchEntity", f"VirtualMFADevice with serial number {device.serial} doesn't exist.")
    # root has no API-managed MFA (AWS "Assign a virtual MFA device in the AWS Management Console")
    with pytest.raises(ClientError) as e:
        iam.deactivate_mfa_device(SerialNumber=device.serial)
    assert failure(e)[:2] == (404, "NoSuchEntity")


def test_a_user_manages_their_own_devices_without_naming_themselves(
    iam: BaseClient, user_client: UserClient, new_device: NewDevice, clock: StepClock
) -> None:
    """the operation's page in the IAM API Reference: ListMFADevices / DeactivateMFADevice / GetMFADevice default to the
    caller.
    """
    me = user_client("SelfService", policy(allow(["iam:*MFADevice*", "iam:ListMFADevices"])))
    device = new_device("SelfService")
    enable(iam, "SelfService", device, 0)
    assert [d["SerialNumber"] for d in me.list_mfa_devices()["MFADevices"]] == [device.serial]
    got = me.get_mfa_device(SerialNumber=device.serial)
    assert (got["UserName"], got["SerialNumber"], got["EnableDate"]) == ("SelfService", device.serial, clock())
    me.deactivate_mfa_device(SerialNumber=device.serial)
    assert me.list_mfa_devices()["MFADevices"] == []
    assert iam.list_mfa_devices()["MFADevices"] == []  # root: none through the API


# -- listings ------------------------------------------------------------------------------------
def test_list_virtual_devices_by_assignment_with_paging(
    iam: BaseClient, new_device: NewDevice, clock: StepClock
) -> None:
    iam.create_user(UserName="Lister")
    free = new_device("ListFree")
    used = new_device("ListUsed")
    enable(iam, "Lister", used, 0)
    user = iam.get_user(UserName="Lister")["User"]

    def everything(status: str | None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"AssignmentStatus": status} if status else {}
        items: list[dict[str, Any]] = []
        while True:
            page = iam.list_virtual_mfa_devices(MaxItems=2, **kwargs)
            items += page["VirtualMFADevices"]
            if not page["IsTruncated"]:
                return items
            kwargs["Marker"] = page["Marker"]

    assigned_item = {"SerialNumber": used.serial, "User": {k: user[k] for k in ("Path", "UserName", "UserId", "Arn",
                     "CreateDate")}, "EnableDate": clock()}  # fmt: skip
    anything = everything(None)
    assert {"SerialNumber": free.serial} in anything and assigned_item in anything
    assert [d["SerialNumber"] for d in anything] == sorted(d["SerialNumber"] for d in anything)
    assert everything("Any") == anything
    assigned = everything("Assigned")
    assert assigned_item in assigned and all("User" in d for d in assigned)
    unassigned = everything("Unassigned")
    assert {"SerialNumber": free.serial} in unassigned and all(set(d) == {"SerialNumber"} for d in unassigned)
    assert len(anything) == len(assigned) + len(unassigned)


def test_list_mfa_devices_and_get_mfa_device_errors(iam: BaseClient, new_device: NewDevice) -> None:
    with pytest.raises(ClientError) as e:
        iam.list_mfa_devices(UserName="NoSuchUser")
    assert failure(e) == (404, "NoSuchEntity", "The user with name NoSuchUser cannot be found.")
    iam.create_user(UserName="Getter")
    device = new_device("Getter")
    with pytest.raises(ClientError) as e:  # not assigned to Getter
        iam.get_mfa_device(UserName="Getter", SerialNumber=device.serial)
    assert failure(e)[:2] == (404, "NoSuchEntity")


# -- tags (AWS "Tags for AWS Identity and Access Management resources")
# --------------------------------------------------------------------------
def test_tags_on_virtual_mfa_devices(iam: BaseClient, acct: str, new_device: NewDevice) -> None:
    device = new_device("Tagged", Tags=[{"Key": "team", "Value": "blue"}])
    assert iam.list_mfa_device_tags(SerialNumber=device.serial)["Tags"] == [{"Key": "team", "Value": "blue"}]
    iam.tag_mfa_device(SerialNumber=device.serial, Tags=[{"Key": "Team", "Value": "red"}, {"Key": "a", "Value": ""}])
    tags = iam.list_mfa_device_tags(SerialNumber=device.serial)["Tags"]  # keys are case-sensitive here
    assert tags == [{"Key": "Team", "Value": "red"}, {"Key": "a", "Value": ""}, {"Key": "team", "Value": "blue"}]
    first = iam.list_mfa_device_tags(SerialNumber=device.serial, MaxItems=2)
    assert first["IsTruncated"] and len(first["Tags"]) == 2
    rest = iam.list_mfa_device_tags(SerialNumber=device.serial, Marker=first["Marker"])
    assert first["Tags"] + rest["Tags"] == tags
    iam.untag_mfa_device(SerialNumber=device.serial, TagKeys=["Team", "absent"])
    assert [t["Key"] for t in iam.list_mfa_device_tags(SerialNumber=device.serial)["Tags"]] == ["a", "team"]
    with pytest.raises(ClientError) as e:
        iam.tag_mfa_device(SerialNumber=device.serial, Tags=[{"Key": "aws:x", "Value": "1"}])
    assert failure(e) == (400, "InvalidInput", "User-defined tag keys can't start with 'aws:'.")
    with pytest.raises(ClientError) as e:
        iam.tag_mfa_device(SerialNumber=device.serial, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(49)])
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for TagsPerVirtualMFADevice: 50")
    missing = f"arn:aws:iam::{acct}:mfa/NoTags"
    for call in (
        lambda: iam.tag_mfa_device(SerialNumber=missing, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: iam.untag_mfa_device(SerialNumber=missing, TagKeys=["k"]),
        lambda: iam.list_mfa_device_tags(SerialNumber=missing),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert failure(e) == (404, "NoSuchEntity", f"VirtualMFADevice with serial number {missing} doesn't exist.")


def test_tag_conditions_apply_to_mfa_devices(
    iam: BaseClient, acct: str, user_client: UserClient, new_device: NewDevice
) -> None:
    """AWS "IAM JSON policy elements: Condition": aws:RequestTag / aws:TagKeys on Tag*, aws:ResourceTag on the device's
    tags.
    """
    tagger = user_client(
        "MfaTagger",
        policy(
            allow("iam:CreateVirtualMFADevice", f"arn:aws:iam::{acct}:mfa/*"),
            allow("iam:TagMFADevice", "*", StringEquals={"aws:RequestTag/team": "blue"}),
            allow("iam:ListMFADeviceTags", "*", StringEquals={"aws:ResourceTag/team": "blue"}),
        ),
    )
    blue = new_device("BlueDevice", Tags=[{"Key": "team", "Value": "blue"}])
    red = new_device("RedDevice", Tags=[{"Key": "team", "Value": "red"}])
    tagger.tag_mfa_device(SerialNumber=blue.serial, Tags=[{"Key": "team", "Value": "blue"}])
    with pytest.raises(ClientError) as e:
        tagger.tag_mfa_device(SerialNumber=blue.serial, Tags=[{"Key": "team", "Value": "red"}])
    assert failure(e)[:2] == (403, "AccessDenied")
    assert tagger.list_mfa_device_tags(SerialNumber=blue.serial)["Tags"] == [{"Key": "team", "Value": "blue"}]
    with pytest.raises(ClientError) as e:
        tagger.list_mfa_device_tags(SerialNumber=red.serial)
    assert failure(e) == (
        403, "AccessDenied",
        f"User: arn:aws:iam::{acct}:user/MfaTagger is not authorized to perform: iam:ListMFADeviceTags on "
        f"resource: {red.serial} because no identity-based policy allows the iam:ListMFADeviceTags action",
    )  # fmt: skip
    # creating with tags also needs iam:TagMFADevice for those tags (AWS "Tags for AWS Identity and Access Management
    # resources")
    tagger.create_virtual_mfa_device(VirtualMFADeviceName="TaggerBlue", Tags=[{"Key": "team", "Value": "blue"}])
    with pytest.raises(ClientError) as e:
        tagger.create_virtual_mfa_device(VirtualMFADeviceName="TaggerRed", Tags=[{"Key": "team", "Value": "red"}])
    assert failure(e)[:2] == (403, "AccessDenied")
    assert "iam:TagMFADevice" in failure(e)[2]


# -- the verifier other features call (STS, console sign-in) ------------------------------------------
def test_verify_mfa_code_outcomes(
    api_server: RunningServer, iam: BaseClient, acct: str, new_device: NewDevice, clock: StepClock
) -> None:
    backend = api_server.backend
    iam.create_user(UserName="Verified")
    iam.create_user(UserName="Other")
    device = new_device("Verified")
    unassigned = new_device("VerifiedSpare")
    enable(iam, "Verified", device, 0)

    def verify(user: str, serial: str, code: str) -> Any:
        with backend.store.transaction() as tx:
            return verify_mfa_code(tx, backend.secret_box, acct, user, serial, code, clock())

    clock.at(2)
    # AWS "Troubleshoot IAM" (AWS STS and MFA errors): the serial must name a device assigned to that user
    for user, serial in (
        ("Other", device.serial), ("Verified", unassigned.serial), ("Verified", f"arn:aws:iam::{acct}:mfa/None"),
    ):  # fmt: skip
        with pytest.raises(MfaDeviceNotAssigned) as not_assigned:
            verify(user, serial, device.code(2))
        assert (not_assigned.value.code, not_assigned.value.status) == ("AccessDenied", 403)
        assert not_assigned.value.message == (
            "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number "
            "is valid and associated with this user."
        )
    for code in ("12345", "abcdef", device.code(0), device.code(4)):  # malformed, used, out of the window
        with pytest.raises(MfaCodeInvalid) as invalid:
            verify("Verified", device.serial, code)
        assert invalid.value.message == "MultiFactorAuthentication failed with invalid MFA one time pass code. "
    done = verify("verified", device.serial, device.code(1))  # one step old: inside the window
    assert (done.serial_number, done.user_name, done.step, done.at) == (device.serial, "Verified",
                                                                       clock.origin + 1, clock())  # fmt: skip
    with pytest.raises(MfaCodeInvalid):  # consumed
        verify("Verified", device.serial, device.code(1))
    verify("Verified", device.serial, device.code(3))  # the newer edge
    with pytest.raises(MfaCodeInvalid):  # older than the newest accepted code
        verify("Verified", device.serial, device.code(2))


# -- secrets: never at rest in clear, never in the audit trail ------------------------------------------
def test_seeds_and_codes_never_reach_the_database_or_the_audit_trail(
    api_server: RunningServer, iam: BaseClient, data_dir: Path, new_device: NewDevice, clock: StepClock
) -> None:
    iam.create_user(UserName="Secretive2")
    device = new_device("Secretive2")
    codes = device.pair(0)
    enable(iam, "Secretive2", device, 0)
    clock.at(1)
    iam.deactivate_mfa_device(UserName="Secretive2", SerialNumber=device.serial)
    with pytest.raises(ClientError):  # a failed enable is audited too
        iam.enable_mfa_device(UserName="Secretive2", SerialNumber=device.serial, **device.pair(-5))
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    with api_server.backend.store.read() as tx:
        events = tx.list_audit_events(api_server.account_id, max_items=1000).items
    created = [
        json.loads(e.record) for e in events if e.event_name == "CreateVirtualMFADevice" and e.error_code is None
    ]
    assert created
    hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"
    for record in created:
        response = record["responseElements"]["virtualMFADevice"]
        assert (response["base32StringSeed"], response["qRCodePNG"]) == (hidden, hidden)
    enables = [json.loads(e.record) for e in events if e.event_name == "EnableMFADevice"]
    assert enables and all(
        (r["requestParameters"]["authenticationCode1"], r["requestParameters"]["authenticationCode2"])
        == (hidden, hidden)
        for r in enables
    )
    text = "\n".join(e.record for e in events)
    assert device.seed not in text
    files = sorted(data_dir.glob("iamd.db*"))
    assert files, "no SQLite files found"
    blob = b"".join(f.read_bytes() for f in files)
    assert device.seed.encode() not in blob
    assert base64.b32decode(device.seed) not in blob
    assert f"{codes['AuthenticationCode1']}{codes['AuthenticationCode2']}".encode() not in blob


def test_the_sealed_seed_is_bound_to_its_serial(api_server: RunningServer, new_device: NewDevice) -> None:
    """A sealed seed copied onto another device's row does not open (SecretBox context)."""
    from iamd.crypto import SecretBoxError
    from iamd.service.mfa_codes import mfa_seed_context

    one, two = new_device("BoundOne"), new_device("BoundTwo")
    backend = api_server.backend
    with backend.store.read() as tx:
        sealed = tx.get_virtual_mfa_device(backend.account_id, one.serial).seed_sealed.decode()
    assert backend.secret_box.open(sealed, context=mfa_seed_context(one.serial)) == one.seed
    with pytest.raises(SecretBoxError):
        backend.secret_box.open(sealed, context=mfa_seed_context(two.serial))


def test_account_summary_counts_devices(iam: BaseClient, new_device: NewDevice, clock: StepClock) -> None:
    before = iam.get_account_summary()["SummaryMap"]
    iam.create_user(UserName="Counted")
    enable(iam, "Counted", new_device("Counted"), 0)
    new_device("CountedSpare")
    after = iam.get_account_summary()["SummaryMap"]
    assert after["MFADevices"] == before["MFADevices"] + 2
    assert after["MFADevicesInUse"] == before["MFADevicesInUse"] + 1


def test_malformed_codes_and_serials_are_validation_errors(raw_iam: BaseClient, acct: str) -> None:
    """AWS "IAM and AWS STS quotas" (name requirements): codes are exactly 6 digits; serials 9-256 of [\\w+=/:,.@-]."""
    serial = f"arn:aws:iam::{acct}:mfa/Whatever"
    for codes in (("12345", "123456"), ("1234567", "123456"), ("12a456", "123456")):
        with pytest.raises(ClientError) as e:
            raw_iam.enable_mfa_device(
                UserName="Anyone", SerialNumber=serial, AuthenticationCode1=codes[0], AuthenticationCode2=codes[1]
            )
        assert failure(e)[:2] == (400, "ValidationError")
    for bad in ("short", "arn:aws:iam::1:mfa/with space"):
        with pytest.raises(ClientError) as e:
            raw_iam.delete_virtual_mfa_device(SerialNumber=bad)
        assert failure(e)[:2] == (400, "ValidationError")
