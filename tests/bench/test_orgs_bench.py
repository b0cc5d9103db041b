"""bench/server/orgs.py measures what it says: the member account's reader is governed by five
levels of five SCPs (the guardrails bite), the management account's reader by none."""

from __future__ import annotations

import tempfile
from pathlib import Path

import boto3

from bench.server.orgs import prepare
from bench.server.servers import start_iamd


def test_the_member_reader_is_governed_by_every_level_and_the_management_reader_by_none() -> None:
    with tempfile.TemporaryDirectory(prefix="iamd-orgs-test-") as tmp:
        server = start_iamd("iamd-orgs-test", Path(tmp) / "data")
        try:
            made = prepare(server)
            assert (made["levels"], made["scps_per_level"]) == (5, 5)
            for who, governed in (("member", True), ("management", False)):
                key = made[who]
                iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1",
                                   aws_access_key_id=key.access_key_id,
                                   aws_secret_access_key=key.secret_access_key)  # fmt: skip
                me = iam.get_user()["User"]
                result = iam.simulate_principal_policy(PolicySourceArn=me["Arn"], ActionNames=["iam:GetUser"],
                                                       ResourceArns=["arn:aws:iam::*:user/admin/x"])  # fmt: skip
                detail = result["EvaluationResults"][0]["OrganizationsDecisionDetail"]
                assert detail == {"AllowedByOrganizations": not governed}, who
        finally:
            server.stop()
