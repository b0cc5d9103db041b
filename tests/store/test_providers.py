"""OIDC and SAML identity providers and their tags, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from iamd.store import AlreadyExists, NotFound, Store, Tag, TagTarget
from tests.store.helpers import OTHER_ACCOUNT, START

OIDC_ARN = "arn:aws:iam::{}:oidc-provider/token.example.com/id/A1"


def test_oidc_provider_lifecycle(store: Store, account: str) -> None:
    arn = OIDC_ARN.format(account)
    with store.transaction() as tx:
        created = tx.create_oidc_provider(
            account, "token.example.com/id/A1", client_ids=["b", "a"], thumbprints=["0" * 40], tags=[Tag("K", "v")]
        )
    assert created.arn == arn and created.client_ids == ("b", "a") and created.thumbprints == ("0" * 40,)
    assert created.create_date >= START and created.id.startswith("OIDC")
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_oidc_provider(account, "token.example.com/id/A1")
    with store.transaction() as tx:
        # One provider per URL per account: the other account may hold the same URL.
        tx.create_oidc_provider(OTHER_ACCOUNT, "token.example.com/id/A1")
        tx.create_oidc_provider(account, "a.example.com")
        updated = tx.update_oidc_provider(account, arn, client_ids=["c"])
        assert updated.client_ids == ("c",) and updated.thumbprints == ("0" * 40,)
        assert tx.update_oidc_provider(account, arn, thumbprints=[]).thumbprints == ()
    with store.read() as r:
        assert [p.url for p in r.list_oidc_providers(account)] == ["a.example.com", "token.example.com/id/A1"]
        assert r.find_oidc_provider(account, "nope.example.com") is None
        assert r.list_tags(TagTarget.OIDC_PROVIDER, account, arn) == (Tag("K", "v"),)
        with pytest.raises(NotFound):  # an ARN of another account names nothing here
            r.get_oidc_provider(account, OIDC_ARN.format(OTHER_ACCOUNT))
        with pytest.raises(NotFound):
            r.get_oidc_provider(account, "not-an-arn")
    with store.transaction() as tx:
        tx.delete_oidc_provider(account, arn)
    with store.read() as r:
        with pytest.raises(NotFound):
            r.get_oidc_provider(account, arn)
        with pytest.raises(NotFound):
            r.list_tags(TagTarget.OIDC_PROVIDER, account, arn)


def test_saml_provider_lifecycle(store: Store, account: str) -> None:
    arn = f"arn:aws:iam::{account}:saml-provider/Corp"
    with store.transaction() as tx:
        created = tx.create_saml_provider(account, "Corp", "<md/>", valid_until=START, tags=[Tag("a", "1")])
    assert created.arn == arn and created.metadata_document == "<md/>" and created.valid_until == START
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_saml_provider(account, "CORP", "<md/>")
    with store.transaction() as tx:
        updated = tx.update_saml_provider(account, arn, "<md2/>")
        assert updated.metadata_document == "<md2/>" and updated.valid_until is None
        tx.tag_resource(TagTarget.SAML_PROVIDER, account, arn, [Tag("A", "2")])  # keys are case-sensitive
        tx.create_saml_provider(account, "alpha", "<md/>")
    with store.read() as r:
        assert [p.name for p in r.list_saml_providers(account)] == ["alpha", "Corp"]
        assert r.list_tags(TagTarget.SAML_PROVIDER, account, arn) == (Tag("A", "2"), Tag("a", "1"))
    with store.transaction() as tx:
        tx.untag_resource(TagTarget.SAML_PROVIDER, account, arn, ["a"])
        assert tx.list_tags(TagTarget.SAML_PROVIDER, account, arn) == (Tag("A", "2"),)
        tx.delete_saml_provider(account, arn)
        with pytest.raises(NotFound):
            tx.get_saml_provider(account, arn)
        with pytest.raises(NotFound):
            tx.delete_saml_provider(account, arn)


def test_a_failed_provider_write_leaves_nothing(store: Store, account: str) -> None:
    with pytest.raises(ValueError), store.transaction() as tx:
        tx.create_oidc_provider(account, "dup.example.com", tags=[Tag("k", "1"), Tag("k", "2")])
    with store.read() as r:
        assert r.list_oidc_providers(account) == ()
