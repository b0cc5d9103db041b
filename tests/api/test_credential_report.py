"""The credential report (AWS "Generate credential reports for your AWS account"), with unmodified boto3 and a movable
server clock.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.service.signin import SigninAttempt
from tests.api.clock import MovableClock
from tests.api.conftest import client_for, failure
from tests.api.server import RunningServer

# AWS's columns, in AWS's order (AWS "Generate credential reports for your AWS account")
HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
    "access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
ISO = "%Y-%m-%dT%H:%M:%S+00:00"


def _rows(report: dict[str, object]) -> tuple[str, dict[str, dict[str, str]]]:
    content = report["Content"]
    assert isinstance(content, bytes)  # boto3 decodes the base64 blob
    text = content.decode()
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(text))}
    return text.splitlines()[0], rows


def test_report_lifecycle(api_server: RunningServer, iam: BaseClient, server_clock: MovableClock, acct: str) -> None:
    with pytest.raises(ClientError) as e:
        iam.get_credential_report()
    assert failure(e)[:2] == (410, "ReportNotPresent")

    iam.create_user(UserName="Carol")
    iam.create_login_profile(UserName="Carol", Password="Car0l-pass!")
    iam.update_account_password_policy(MaxPasswordAge=90)
    assert api_server.backend.sign_in(SigninAttempt(acct, "Carol", "Car0l-pass!")).ok
    key = iam.create_access_key(UserName="Carol")["AccessKey"]
    with pytest.raises(ClientError):  # denied, but the key is used
        client_for(api_server, key["AccessKeyId"], key["SecretAccessKey"]).get_user()
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()  # key use is recorded by the audit writer
    iam.create_user(UserName="Dave")

    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"  # < 4 h old: not regenerated
    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv" and isinstance(report["GeneratedTime"], datetime)
    header, rows = _rows(report)
    assert header == HEADER
    assert list(rows) == ["<root_account>", "Carol", "Dave"]
    root = rows["<root_account>"]
    assert root["arn"] == f"arn:aws:iam::{acct}:root"
    assert (root["password_enabled"], root["password_last_changed"], root["password_next_rotation"]) == (
        "not_supported", "not_supported", "not_supported",
    )  # fmt: skip
    assert root["access_key_1_active"] == "true"  # the server's root key

    carol = rows["Carol"]
    assert carol["arn"] == f"arn:aws:iam::{acct}:user/Carol"
    assert carol["password_enabled"] == "true" and carol["mfa_active"] == "false"
    used = datetime.strptime(carol["password_last_used"], ISO).replace(tzinfo=UTC)
    changed = datetime.strptime(carol["password_last_changed"], ISO).replace(tzinfo=UTC)
    assert datetime.strptime(carol["password_next_rotation"], ISO).replace(tzinfo=UTC) == changed + timedelta(days=90)
    assert abs(used - datetime.now(UTC)) < timedelta(minutes=5)
    assert carol["access_key_1_active"] == "true" and carol["access_key_1_last_rotated"] != "N/A"
    assert (carol["access_key_1_last_used_service"], carol["access_key_1_last_used_region"]) == ("iam", "us-east-1")
    assert carol["access_key_2_active"] == "false" and carol["access_key_2_last_rotated"] == "N/A"
    assert carol["cert_1_active"] == "false" and carol["cert_1_last_rotated"] == "N/A"

    dave = rows["Dave"]
    assert [dave[c] for c in ("password_enabled", "password_last_used", "password_last_changed")] == [
        "false", "N/A", "N/A",
    ]  # fmt: skip
    assert dave["access_key_1_last_used_date"] == "N/A" and dave["access_key_1_last_used_service"] == "N/A"

    with server_clock.moved(timedelta(hours=4, minutes=1)):
        with pytest.raises(ClientError) as e:
            iam.get_credential_report()
        assert failure(e)[:2] == (410, "ReportExpired")
        assert iam.generate_credential_report()["State"] == "STARTED"
        iam.create_user(UserName="Erin")
        assert "Erin" not in _rows(iam.get_credential_report())[1]  # the stored report, until regenerated
    iam.delete_account_password_policy()


def test_a_user_password_never_used_is_no_information(iam: BaseClient, server_clock: MovableClock) -> None:
    iam.create_user(UserName="Fresh")
    iam.create_login_profile(UserName="Fresh", Password="Fr3sh-pass!")
    with server_clock.moved(timedelta(hours=9)):
        iam.generate_credential_report()
        fresh = _rows(iam.get_credential_report())[1]["Fresh"]
    assert fresh["password_last_used"] == "no_information" and fresh["password_next_rotation"] == "N/A"
