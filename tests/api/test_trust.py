"""Trust policies store unique ids for named users and roles, and render ARNs back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamd.service.trust import render_trust_policy, store_trust_policy
from iamd.store import Store, migrate, open_store

ACCT = "111122223333"
DOC = """{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": ["arn:aws:iam::111122223333:user/dev/alice", "arn:aws:iam::111122223333:root"]},
    "Action": "sts:AssumeRole",
    "Condition": {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/dev/alice"}}
  }]
}"""


@pytest.fixture
def store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'db'}"
    migrate.upgrade(url)
    s = open_store(url)
    with s.transaction() as tx:
        tx.create_account(ACCT)
        tx.create_user(ACCT, "alice", path="/dev/")
    return s


def test_principals_become_ids_and_come_back(store: Store) -> None:
    with store.read() as tx:
        alice = tx.get_user(ACCT, "alice")
        stored = store_trust_policy(DOC, tx)
        shown = render_trust_policy(stored, tx)
    doc = json.loads(stored)
    assert doc["Statement"][0]["Principal"]["AWS"] == [alice.id, "arn:aws:iam::111122223333:root"]
    # a condition on aws:PrincipalArn is not converted: it survives delete and recreate
    assert doc["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"].endswith("user/dev/alice")
    assert shown == DOC  # formatting preserved


def test_deleted_entity_shows_its_raw_id_and_recreation_does_not_restore(store: Store) -> None:
    with store.read() as tx:
        stored = store_trust_policy(DOC, tx)
        old_id = tx.get_user(ACCT, "alice").id
    with store.transaction() as tx:
        tx.delete_user(ACCT, "alice")
        tx.create_user(ACCT, "alice", path="/dev/")
    with store.read() as tx:
        shown = json.loads(render_trust_policy(stored, tx))
    assert shown["Statement"][0]["Principal"]["AWS"][0] == old_id


def test_roles_over_the_api_render_ids_back(tmp_path: Path) -> None:
    import boto3

    from tests.api.server import ROOT_KEY, ROOT_SECRET, running_server

    with running_server(tmp_path) as srv:
        iam = boto3.client(
            "iam", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
        )  # fmt: skip
        user = iam.create_user(UserName="alice")["User"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}],
        }
        created = iam.create_role(RoleName="R", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        assert created["AssumeRolePolicyDocument"] == trust
        assert iam.get_role(RoleName="R")["Role"]["AssumeRolePolicyDocument"] == trust
        with srv.backend.store.read() as tx:
            stored = json.loads(tx.get_role(srv.account_id, "R").assume_role_policy)
        assert stored["Statement"][0]["Principal"]["AWS"] == user["UserId"]
        iam.delete_user(UserName="alice")
        iam.create_user(UserName="alice")  # a new alice is not trusted
        shown = iam.list_roles()["Roles"][0]["AssumeRolePolicyDocument"]
        assert shown["Statement"][0]["Principal"]["AWS"] == user["UserId"]
