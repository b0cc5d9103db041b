"""Hostile requests: always a 4xx AWS error that botocore can read, quickly and in little memory."""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.errors import AwsError, ValidationError
from iamd.protocol import Catalog, Service, decode_form, error_response, parse_request

CATALOG = Catalog()
PARSER = create_parser("query")
IAM = {"Version": "2010-05-08"}


def answer(service: Service, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """What the edge would answer: (status, botocore's reading of the body)."""
    try:
        parse_request(service, params)
    except Exception as error:
        response = error_response(error, service.namespace or "", "rid")
        parsed = PARSER.parse({"body": response.body, "headers": {}, "status_code": response.status}, None)
        return response.status, parsed
    return 200, {}


def bounded(run: Callable[[], object], *, seconds: float = 1.0, megabytes: float = 16) -> None:
    """Run ``run`` and check it stays within a CPU-time and peak-memory budget.

    CPU time of this process, not the wall clock: a busy machine makes the run wait for a core,
    not do more work, so the bound says how much work the parser did (a quadratic or
    backtracking parse of these inputs costs minutes), whatever else the machine is doing."""
    tracemalloc.start()
    started = time.process_time()
    with contextlib.suppress(AwsError):
        run()
    elapsed = time.process_time() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f}s"
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.1f} MiB"


def rejected(service: Service, params: dict[str, str]) -> str:
    with pytest.raises(ValidationError) as raised:
        parse_request(service, params)
    return raised.value.message


@pytest.mark.parametrize("index", ["999999999", "99999999999999999999999999", "0", "00", "1001"])
def test_huge_or_zero_list_index(index: str) -> None:
    params = {**IAM, "Action": "TagUser", "UserName": "bob", f"Tags.member.{index}.Key": "k"}
    assert "Member index must be between 1 and 1000" in rejected(CATALOG.iam, params)
    bounded(lambda: parse_request(CATALOG.iam, params), megabytes=1)


@pytest.mark.parametrize("index", ["-1", "+1", "1.5", "x", "", "\u0661"])
def test_index_that_is_not_a_number_is_an_unknown_parameter(index: str) -> None:
    params = {**IAM, "Action": "TagUser", "UserName": "bob", f"Tags.member.{index}.Key": "k"}
    assert "Value null at 'tags' failed" in rejected(CATALOG.iam, params)


def test_huge_map_index() -> None:
    params = {**IAM, "Action": "PutAccountProperties", "Properties.entry.4294967296.key": "K"}
    assert "Member index must be between 1 and 1000" in rejected(CATALOG.iam, params)


def test_deep_nesting_is_ignored_cheaply() -> None:
    deep = "ContextEntries.member.1.ContextKeyValues.member.1" + ".member.1" * 200_000
    params = {**IAM, "Action": "SimulateCustomPolicy", "PolicyInputList.member.1": "{}", "ActionNames.member.1": "s3:x"}
    params[deep] = "x"
    params["." * 100_000] = "x"
    params["ActionNames" + ".member" * 100_000] = "x"
    bounded(lambda: parse_request(CATALOG.iam, params), seconds=0.5)
    assert parse_request(CATALOG.iam, params)[1] == {"PolicyInputList": ["{}"], "ActionNames": ["s3:x"]}


def test_many_parameters() -> None:
    params = {**IAM, "Action": "TagUser", "UserName": "bob"}
    params.update({f"Junk{index}.member.{index}": "x" for index in range(50_000)})
    params.update({f"Tags.member.{index}.Key": "k" for index in range(1, 1001)})
    params.update({f"Tags.member.{index}.Value": "v" for index in range(1, 1001)})
    bounded(lambda: parse_request(CATALOG.iam, params), seconds=2.0, megabytes=32)
    assert "Member must have length less than or equal to 50" in rejected(CATALOG.iam, params)


def test_huge_value_is_reported_not_processed_forever() -> None:
    params = {**IAM, "Action": "CreateUser", "UserName": "a b" * 500_000}
    bounded(lambda: parse_request(CATALOG.iam, params), seconds=1.0, megabytes=64)


def test_non_utf8_body_is_a_validation_error_naming_the_member() -> None:
    params = decode_form(b"Action=CreateUser&Version=2010-05-08&UserName=bob%FF%FE&Path=/\xff/")
    message = rejected(CATALOG.iam, params)
    assert "at 'userName' failed to satisfy constraint: Member must be valid UTF-8" in message
    assert "at 'path' failed to satisfy constraint: Member must be valid UTF-8" in message
    status, parsed = answer(CATALOG.iam, params)
    assert status == 400 and parsed["Error"]["Code"] == "ValidationError"
    assert "bob\ufffd\ufffd" in parsed["Error"]["Message"]


def test_non_utf8_action_is_an_invalid_action_that_still_renders() -> None:
    status, parsed = answer(CATALOG.iam, decode_form(b"Action=Get%FFUser&Version=2010-05-08"))
    assert status == 400 and parsed["Error"]["Code"] == "InvalidAction"
    assert parsed["Error"]["Message"] == "Could not find operation Get\ufffdUser for version 2010-05-08"


def test_markup_and_control_characters_in_echoed_values_render() -> None:
    status, parsed = answer(CATALOG.iam, {**IAM, "Action": "CreateUser", "UserName": "</Message><x>\x00\x1b]]>"})
    assert status == 400
    assert parsed["Error"]["Message"].startswith("1 validation error detected: Value '</Message><x>\ufffd\ufffd]]>'")


def _junk_keys(service: Service) -> Iterator[str]:
    yield from ("Action", "Version", "UserName", "Tags", "Tags.member", "Tags.member.1", "Tags.member.1.Key")
    yield from ("Properties.entry.1.key", "Properties.entry.1", "ContextEntries.member.1.ContextKeyValues.member.1")
    yield from ("MaxItems", "DurationSeconds", "PolicyArns.member.1.arn", "ReplacementValues.entry.1.value.Values")


KEYS = st.one_of(
    st.sampled_from(list(_junk_keys(CATALOG.iam))), st.text(alphabet="Tags.member.entry.key1", max_size=30)
)
VALUES = st.one_of(st.text(max_size=20), st.sampled_from(["", "true", "1", "-1", "99999999999", "\ud800", "\x00"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    service=st.sampled_from(["iam", "sts"]),
    action=st.one_of(st.sampled_from(sorted(CATALOG.iam.operation_names | CATALOG.sts.operation_names)), st.text()),
    version=st.sampled_from(["2010-05-08", "2011-06-15", "", "x"]),
    params=st.dictionaries(KEYS, VALUES, max_size=8),
)
def test_fuzzed_requests_never_fail_on_the_server_side(
    service: str, action: str, version: str, params: dict[str, str]
) -> None:
    status, parsed = answer(CATALOG.service(service), {**params, "Action": action, "Version": version})
    assert status < 500, parsed
    if status != 200:
        assert parsed["Error"]["Code"] in ("MissingAction", "InvalidAction", "ValidationError")
