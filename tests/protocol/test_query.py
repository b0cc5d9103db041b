"""Query parsing: Action and Version, wire encodings, and AWS's ValidationError messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from iamd.errors import AwsError, InvalidAction, MissingAction, ValidationError
from iamd.protocol import Service, decode_form, parse_request
from iamd.protocol.query import INDEX_LIMIT
from iamd.protocol.scalars import CONVERTERS, Mismatch

IAM_VERSION, STS_VERSION = "2010-05-08", "2011-06-15"


def iam_call(iam: Service, action: str, **params: str) -> dict[str, Any]:
    return parse_request(iam, {"Action": action, "Version": IAM_VERSION, **params})[1]


def rejection(service: Service, action: str, **params: str) -> str:
    """The ValidationError message ``action`` with ``params`` gets."""
    with pytest.raises(ValidationError) as raised:
        parse_request(service, {"Action": action, "Version": service.api_version, **params})
    assert raised.value.status == 400 and raised.value.code == "ValidationError"
    return raised.value.message


# -- Action and Version ---------------------------------------------------------------------
@pytest.mark.parametrize("params", [{}, {"Version": IAM_VERSION}, {"Action": "", "Version": IAM_VERSION}])
def test_missing_action(iam: Service, params: dict[str, str]) -> None:
    with pytest.raises(MissingAction):
        parse_request(iam, params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Action": "GetUsers", "Version": IAM_VERSION}, "Could not find operation GetUsers for version 2010-05-08"),
        ({"Action": "getuser", "Version": IAM_VERSION}, "Could not find operation getuser for version 2010-05-08"),
        ({"Action": "GetUser", "Version": STS_VERSION}, "Could not find operation GetUser for version 2011-06-15"),
        ({"Action": "GetUser"}, "Could not find operation GetUser for version NO_VERSION_SPECIFIED"),
        ({"Action": "GetUser", "Version": ""}, "Could not find operation GetUser for version NO_VERSION_SPECIFIED"),
    ],
)
def test_invalid_action_or_version(iam: Service, params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidAction) as raised:
        parse_request(iam, params)
    assert raised.value.message == message and raised.value.status == 400


def test_sts_only_accepts_its_own_version(sts: Service) -> None:
    assert parse_request(sts, {"Action": "GetCallerIdentity", "Version": STS_VERSION})[1] == {}
    with pytest.raises(InvalidAction):
        parse_request(sts, {"Action": "GetCallerIdentity", "Version": IAM_VERSION})


# -- encodings -----------------------------------------------------------------------------
def test_unknown_parameters_are_ignored(iam: Service) -> None:
    params = {"UserName": "bob", "username": "x", "Bogus": "1", "UserName.member.1": "x", "X-Amz-Date": "now"}
    assert iam_call(iam, "GetUser", **params) == {"UserName": "bob"}


def test_lists_of_structures_maps_and_empty_lists(iam: Service, sts: Service) -> None:
    tags = {"Tags.member.2.Key": "b", "Tags.member.1.Key": "a", "Tags.member.1.Value": "", "Tags.member.2.Value": "2"}
    assert iam_call(iam, "CreateUser", UserName="bob", **tags) == {
        "UserName": "bob",
        "Tags": [{"Key": "a", "Value": ""}, {"Key": "b", "Value": "2"}],
    }
    assert iam_call(
        iam, "PutAccountProperties", **{"Properties.entry.1.key": "K", "Properties.entry.1.value": "v"}
    ) == {"Properties": {"K": "v"}}
    _, parsed = parse_request(
        sts,
        {
            "Action": "AssumeRole",
            "Version": STS_VERSION,
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "RoleSessionName": "s1",
            "PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "TransitiveTagKeys": "",
            "DurationSeconds": "+900",
        },
    )
    assert parsed["PolicyArns"] == [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]
    assert parsed["TransitiveTagKeys"] == [] and parsed["DurationSeconds"] == 900


def test_gaps_in_indexes_close_up_in_order(iam: Service) -> None:
    params = {"ActionNames.member.10": "s3:c", "ActionNames.member.2": "s3:b", "ActionNames.member.1": "s3:a"}
    parsed = iam_call(iam, "SimulateCustomPolicy", **{"PolicyInputList.member.1": "{}"}, **params)
    assert parsed["ActionNames"] == ["s3:a", "s3:b", "s3:c"]


def test_booleans_are_case_insensitive(iam: Service) -> None:
    parsed = iam_call(iam, "UpdateAccountPasswordPolicy", RequireSymbols="TRUE", HardExpiry="false")
    assert parsed == {"RequireSymbols": True, "HardExpiry": False}


def test_decode_form_handles_plus_percent_and_blank_values() -> None:
    assert decode_form(b"A=a+b%2Bc&B=&C&D=%E2%9C%93") == {"A": "a b+c", "B": "", "C": "", "D": "\u2713"}
    assert decode_form("A=1&B=1", b"B=2") == {"A": "1", "B": "2"}


# -- ValidationError messages (IAM API "Common Errors" (ValidationError))
# -------------------------------------------------
def test_missing_required_member(iam: Service) -> None:
    assert rejection(iam, "CreateUser") == (
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
    )


def test_user_name_too_long(iam: Service) -> None:
    name = "a" * 65
    assert rejection(iam, "CreateUser", UserName=name) == (
        f"1 validation error detected: Value '{name}' at 'userName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64"
    )


def test_bad_pattern(iam: Service) -> None:
    assert rejection(iam, "GetUser", UserName="bob smith") == (
        "1 validation error detected: Value 'bob smith' at 'userName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    )


def test_java_word_class_is_ascii_only(iam: Service) -> None:
    assert "regular expression pattern" in rejection(iam, "GetUser", UserName="björn")


def test_pattern_and_length_are_two_items(iam: Service) -> None:
    assert rejection(iam, "GetUser", UserName="") == (
        "2 validation errors detected: Value '' at 'userName' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [\\w+=,.@-]+; Value '' at 'userName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_enum_violation(iam: Service) -> None:
    assert rejection(iam, "UpdateAccessKey", AccessKeyId="AKIAIOSFODNN7EXAMPLE", Status="Enabled") == (
        "1 validation error detected: Value 'Enabled' at 'status' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Active, Inactive, Expired]"
    )


@pytest.mark.parametrize(
    ("value", "constraint"),
    [("0", "greater than or equal to 1"), ("1001", "less than or equal to 1000"), ("-5", "greater than or equal to 1")],
)
def test_max_items_out_of_range(iam: Service, value: str, constraint: str) -> None:
    assert rejection(iam, "ListUsers", MaxItems=value) == (
        f"1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy constraint: "
        f"Member must have value {constraint}"
    )


@pytest.mark.parametrize("value", ["abc", "", "1.5", "1e3", "0x10", " 5", "\uff15", "99999999999", "5" * 5000])
def test_max_items_not_an_integer(iam: Service, value: str) -> None:
    assert rejection(iam, "ListUsers", MaxItems=value) == (
        f"1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy constraint: "
        "Member must be a valid integer"
    )


def test_boolean_that_is_not_a_boolean(iam: Service) -> None:
    assert rejection(iam, "UpdateAccountPasswordPolicy", RequireSymbols="yes").endswith(
        "Value 'yes' at 'requireSymbols' failed to satisfy constraint: Member must be a valid boolean"
    )


def test_list_too_long(iam: Service) -> None:
    tags = {f"Tags.member.{index}.{part}": f"k{index}" for index in range(1, 52) for part in ("Key", "Value")}
    message = rejection(iam, "TagUser", UserName="bob", **tags)
    shown = ", ".join(f"{{Key=k{index}, Value=k{index}}}" for index in range(1, 52))
    assert message == (
        f"1 validation error detected: Value '[{shown}]' at 'tags' failed to satisfy constraint: "
        "Member must have length less than or equal to 50"
    )


def test_nested_tag_key_too_long_and_value_bad(iam: Service) -> None:
    key = "k" * 129
    message = rejection(iam, "TagRole", RoleName="r", **{"Tags.member.1.Key": key, "Tags.member.1.Value": "a#b"})
    assert message == (
        f"2 validation errors detected: Value '{key}' at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must have length less than or equal to 128; Value 'a#b' at 'tags.1.member.value' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*"
    )


def test_nested_required_member(iam: Service) -> None:
    assert rejection(iam, "TagUser", UserName="bob", **{"Tags.member.1.Value": "v"}) == (
        "1 validation error detected: Value null at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_unicode_tags_are_letters(iam: Service) -> None:
    parsed = iam_call(iam, "TagUser", UserName="bob", **{"Tags.member.1.Key": "Café 日本 ٣", "Tags.member.1.Value": ""})
    assert parsed["Tags"] == [{"Key": "Café 日本 ٣", "Value": ""}]


def test_list_of_scalars_reports_on_the_list(iam: Service) -> None:
    client_id = "c" * 256
    message = rejection(
        iam, "CreateOpenIDConnectProvider", Url="https://example.com", **{"ClientIDList.member.1": client_id}
    )
    assert message == (
        f"1 validation error detected: Value '[{client_id}]' at 'clientIDList' failed to satisfy constraint: "
        "Member must satisfy constraint: [Member must have length less than or equal to 255]"
    )


def test_map_keys_report_on_the_map(iam: Service) -> None:
    message = rejection(
        iam, "PutAccountProperties", **{"Properties.entry.1.key": "9x", "Properties.entry.1.value": "v"}
    )
    assert message == (
        "1 validation error detected: Value '{9x=v}' at 'properties' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: ^[A-Za-z][A-Za-z0-9/_-]*$]"
    )


def test_sensitive_values_are_never_echoed(iam: Service) -> None:
    message = rejection(iam, "ChangePassword", OldPassword="hunter2" * 40)
    assert "hunter2" not in message
    assert message == (
        "2 validation errors detected: Value at 'oldPassword' failed to satisfy constraint: Member must have "
        "length less than or equal to 128; Value at 'newPassword' failed to satisfy constraint: Member must "
        "not be null"
    )


def test_every_violation_is_reported(sts: Service) -> None:
    message = rejection(sts, "AssumeRole", RoleSessionName="a b", DurationSeconds="60")
    assert message.startswith("3 validation errors detected: Value null at 'roleArn' failed")
    assert message.count("; ") == 2
    assert (
        "Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or "
        "equal to 900" in message
    )


def test_index_limit_follows_the_model_when_larger(iam: Service) -> None:
    assert INDEX_LIMIT == 1000
    tags = {"Tags.member.1.Key": "k", "Tags.member.1.Value": "v", "Tags.member.1001.Key": "k"}
    message = rejection(iam, "TagUser", UserName="bob", **tags)
    assert message == (
        "1 validation error detected: Value '1001' at 'tags' failed to satisfy constraint: "
        "Member index must be between 1 and 1000"
    )


def test_timestamp_and_blob_converters() -> None:
    assert CONVERTERS["timestamp"]("2024-01-15T12:00:00Z") == datetime(2024, 1, 15, 12, tzinfo=UTC)
    assert CONVERTERS["timestamp"]("2024-01-15T12:00:00.5") == datetime(2024, 1, 15, 12, 0, 0, 500000, tzinfo=UTC)
    assert CONVERTERS["blob"]("aGk=") == b"hi"
    assert CONVERTERS["double"]("1.5e3") == 1500.0
    for kind, text in [("timestamp", "yesterday"), ("blob", "not base64!"), ("blob", "\u00e9"), ("double", "1.2.3")]:
        with pytest.raises(Mismatch):
            CONVERTERS[kind](text)


def test_only_aws_errors_escape(iam: Service) -> None:
    for params in ({"Action": "GetUser"}, {"Action": "CreateUser", "Version": IAM_VERSION, "UserName": "\ud800"}):
        with pytest.raises(AwsError):
            parse_request(iam, params)
