"""Health and Prometheus metrics: requests by action and code, decisions, latency."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.api.server import ROOT_KEY, ROOT_SECRET, running_server


def _get(url: str) -> str:
    with urllib.request.urlopen(url) as resp:
        return str(resp.read().decode())


def _sample(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{prefix} not in metrics")


def test_metrics_count_requests_and_decisions(tmp_path: Path) -> None:
    with running_server(tmp_path) as srv:
        assert '"status":"ok"' in _get(srv.endpoint + "/_iamd/health").replace(" ", "")
        iam = boto3.client(
            "iam", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
        )  # fmt: skip
        iam.create_user(UserName="bob")
        key = iam.create_access_key(UserName="bob")["AccessKey"]
        bob = boto3.client(
            "iam", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        )  # fmt: skip
        with pytest.raises(ClientError):
            bob.list_users()
        text = _get(srv.endpoint + "/metrics")
        assert _sample(text, 'iamd_requests_total{action="CreateUser",code="200"}') == 1
        assert _sample(text, 'iamd_requests_total{action="ListUsers",code="403"}') == 1
        assert _sample(text, 'iamd_decisions_total{decision="implicitDeny"}') == 1
        assert _sample(text, 'iamd_decisions_total{decision="allowed"}') >= 2
        assert _sample(text, 'iamd_request_seconds_count{action="CreateUser"}') == 1
        assert _sample(text, 'iamd_request_seconds_bucket{action="CreateUser",le="+Inf"}') == 1
        assert _sample(text, 'iamd_request_seconds_bucket{action="CreateUser",le="1.0"}') == 1  # cumulative
        assert 0 < _sample(text, 'iamd_request_seconds_sum{action="CreateUser"}') < 1
