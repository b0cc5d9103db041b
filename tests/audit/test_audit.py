"""Audit records: CloudTrail's shape, and no secret in them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from iamd.audit import HIDDEN, CallEvent, camel, redact

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_camel_case_names() -> None:
    assert [camel(n) for n in ["UserName", "AccessKeyId", "MFA", "", "xYz"]] == [
        "userName", "accessKeyId", "mfa", "", "xYz",
    ]  # fmt: skip


def test_secrets_are_redacted_everywhere() -> None:
    value = {
        "AccessKey": {"AccessKeyId": "AKIA", "SecretAccessKey": SECRET},
        "Credentials": [{"SessionToken": "tok", "Expiration": datetime(2026, 1, 1, tzinfo=UTC)}],
        "Password": "hunter2",
    }
    out, hidden = redact(value)
    text = json.dumps(out)
    assert SECRET not in text and "hunter2" not in text and '"tok"' not in text
    assert out["accessKey"]["secretAccessKey"] == HIDDEN
    assert out["credentials"][0]["expiration"] == "2026-01-01T00:00:00Z"
    assert sorted(hidden) == ["accessKey.secretAccessKey", "credentials[0].sessionToken", "password"]


def test_record_shape() -> None:
    event = CallEvent(
        request_id="req-1",
        event_time=datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC),
        event_source="iam.amazonaws.com",
        event_name="CreateAccessKey",
        aws_region="us-east-1",
        source_ip="127.0.0.1",
        user_agent="Boto3/1.34",
        user_identity={"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
        account_id="111122223333",
        request_parameters={"UserName": "alice"},
        response_elements={"AccessKey": {"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": SECRET}},
    )
    rec = event.record()
    assert rec["eventTime"] == "2026-11-27T10:00:00Z"
    assert rec["requestParameters"] == {"userName": "alice"}
    assert rec["responseElements"]["accessKey"] == {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": HIDDEN}
    assert rec["readOnly"] is False and rec["requestID"] == "req-1" and "errorCode" not in rec
    assert SECRET not in json.dumps(rec)


def test_reads_and_errors() -> None:
    event = CallEvent(
        "r", datetime.now(UTC), "iam.amazonaws.com", "GetUser", "us-east-1", "::1", "aws-cli", {}, "1",
        response_elements={"User": {"UserName": "x"}}, error_code="NoSuchEntity", error_message="m" * 2000,
    )  # fmt: skip
    rec = event.record()
    assert rec["readOnly"] is True and rec["responseElements"] is None
    assert rec["errorCode"] == "NoSuchEntity" and len(rec["errorMessage"]) == 1024
