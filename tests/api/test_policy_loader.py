"""The policy loader parses and compiles each stored document once, cached by content
(docs/architecture.md, the policy loader)."""

from __future__ import annotations

import pytest
from botocore.client import BaseClient

from iamd.service.policy_loader import PolicyLoader
from tests.api.conftest import allow, deny, policy
from tests.api.server import RunningServer


def test_a_shared_managed_policy_is_parsed_once_for_many_principals(
    iam: BaseClient, acct: str, api_server: RunningServer
) -> None:
    shared = policy(allow("iam:Get*"), deny("iam:DeleteUser"))
    arn = iam.create_policy(PolicyName="SharedByMany", PolicyDocument=shared)["Policy"]["Arn"]
    names = [f"many-{i}" for i in range(30)]
    for name in names:
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        iam.put_user_policy(UserName=name, PolicyName="same-inline", PolicyDocument=policy(allow("iam:List*")))

    loader = PolicyLoader()
    with api_server.backend.store.read() as tx:
        sets = [loader.for_user(tx, tx.get_user(acct, name)) for name in names]
    assert loader.documents.parses == 2  # the managed policy and the (identical) inline one
    assert len({id(p) for s in sets for p in s.identity}) == 2  # and the two compiled policies
    assert len({id(s) for s in sets}) == 1  # and one set for the thirty of them, its memos shared
    iam.put_user_policy(UserName="many-3", PolicyName="own", PolicyDocument=policy(allow("iam:Tag*")))
    with api_server.backend.store.read() as tx:
        other = loader.for_user(tx, tx.get_user(acct, "many-3"))
        again = loader.for_user(tx, tx.get_user(acct, "many-4"))
    assert other is not sets[0] and len(other.identity) == 3 and again is sets[0]

    iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("iam:Get*")), SetAsDefault=True)
    with api_server.backend.store.read() as tx:
        changed = [loader.for_user(tx, tx.get_user(acct, name)) for name in names]
    assert loader.documents.parses == 4  # a changed document is another key: parsed once more
    assert changed[0] is not sets[0] and changed[0] is changed[1]  # a new shared set, with the new version
    assert "iam:DeleteUser" not in str([cs.statement.actions for cs in changed[0].statements])


def test_a_new_principal_reads_no_managed_policy_another_one_loaded(
    iam: BaseClient, acct: str, api_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's loader keeps each managed policy's compiled default version in the cache
    (dropped when the policy changes): a caller's first request reads only its own
    attachments, not the policy documents every other principal already loaded."""
    arn = iam.create_policy(PolicyName="SharedFirst", PolicyDocument=policy(allow("iam:Get*")))["Policy"]["Arn"]
    for name in ("first-a", "first-b"):
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    backend = api_server.backend
    with backend.store.read() as tx:
        backend.policies.for_user(tx, tx.get_user(acct, "first-a"))
        reads: list[str] = []
        real = type(tx).get_policy_version
        monkeypatch.setattr(type(tx), "get_policy_version", lambda self, *a: reads.append(a[0]) or real(self, *a))
        second = backend.policies.for_user(tx, tx.get_user(acct, "first-b"))
    assert reads == []
    assert [p.arn for p in second.identity] == [arn]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy(allow("iam:List*")), SetAsDefault=True)
    reads.clear()  # the server's own reads (the patch is on the class)
    with backend.store.read() as tx:
        third = backend.policies.for_user(tx, tx.get_user(acct, "first-b"))
    assert reads == [arn] and third is not second  # the new default version, read once
