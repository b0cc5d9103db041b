"""The Organizations store on SQLite and PostgreSQL: one organization read whole, row-level writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from iamd.store import (
    AlreadyExists,
    CreateAccountStatus,
    NotFound,
    OrgAccount,
    Organization,
    OrgPolicy,
    OrgRoot,
    OrgUnit,
    Store,
)
from tests.store.helpers import ACCOUNT, OTHER_ACCOUNT

WHEN = datetime(2026, 12, 1, tzinfo=UTC)
ORG = Organization("o-abcdefghij", ACCOUNT, "ALL", WHEN)
ROOT = OrgRoot("r-abcd", ORG.id, "Root", ("SERVICE_CONTROL_POLICY",))


def _organization(store: Store) -> None:
    with store.transaction() as tx:
        tx.create_account(ACCOUNT)
        tx.create_account(OTHER_ACCOUNT, created_by_organization=ORG.id)
        tx.create_organization(
            ORG, ROOT, OrgAccount(ACCOUNT, ORG.id, ROOT.id, "mgmt", "m@example.com", "INVITED", WHEN)
        )


def test_an_organization_is_read_whole(store: Store) -> None:
    _organization(store)
    unit = OrgUnit("ou-abcd-11111111", ORG.id, ROOT.id, "Prod", WHEN)
    policy = OrgPolicy("p-12345678", ORG.id, "SERVICE_CONTROL_POLICY", "Deny", "", "{}", WHEN)
    with store.transaction() as tx:
        tx.put_org_unit(unit)
        tx.put_org_account(OrgAccount(OTHER_ACCOUNT, ORG.id, unit.id, "dev", "d@example.com", "CREATED", WHEN))
        tx.put_org_policy(policy)
        tx.attach_org_policy(ORG.id, unit.id, policy.id)
        tx.attach_org_policy(ORG.id, ROOT.id, "p-FullAWSAccess")
        tx.set_org_tags(ORG.id, unit.id, [("b", "2"), ("a", "1")])
        tx.put_create_account_status(CreateAccountStatus("car-12345678", ORG.id, "dev", "SUCCEEDED", WHEN, WHEN,
                                                         OTHER_ACCOUNT))  # fmt: skip
    with store.read() as r:
        assert r.organization_of(OTHER_ACCOUNT) == ORG and r.organization_of("999999999999") is None
        tree = r.org_tree(ORG.id)
        assert tree.root == ROOT and tree.units == {unit.id: unit} and tree.policies == {policy.id: policy}
        assert tree.parent_chain(OTHER_ACCOUNT) == [ROOT.id, unit.id, OTHER_ACCOUNT]
        assert tree.attached(unit.id) == [policy.id]
        assert r.list_org_tags(ORG.id, unit.id) == (("a", "1"), ("b", "2"))
        assert r.org_email_taken("d@example.com") and not r.org_email_taken("x@example.com")
        assert r.get_create_account_status(ORG.id, "car-12345678").account_id == OTHER_ACCOUNT
        assert r.get_account(OTHER_ACCOUNT).created_by_organization == ORG.id
        assert r.get_account(ACCOUNT).created_by_organization is None
        with pytest.raises(NotFound):
            r.get_create_account_status(ORG.id, "car-00000000")
    with store.transaction() as tx:  # leaving takes the account's attachments and tags with it
        tx.attach_org_policy(ORG.id, OTHER_ACCOUNT, policy.id)
        tx.delete_org_account(OTHER_ACCOUNT)
        tx.delete_org_unit(unit.id)
    with store.read() as r:
        tree = r.org_tree(ORG.id)
        assert (
            set(tree.accounts) == {ACCOUNT} and tree.units == {} and tree.attachments == {(ROOT.id, "p-FullAWSAccess")}
        )
        assert r.list_org_tags(ORG.id, unit.id) == ()
    with store.transaction() as tx:
        tx.delete_organization(ORG.id)
    with store.read() as r:
        assert r.organization_of(ACCOUNT) is None
        with pytest.raises(NotFound):
            r.org_tree(ORG.id)


def test_an_account_belongs_to_one_organization(store: Store) -> None:
    _organization(store)
    with pytest.raises(AlreadyExists), store.transaction() as tx:
        tx.create_organization(Organization("o-zzzzzzzzzz", ACCOUNT, "ALL", WHEN), OrgRoot("r-zzzz", "o-zzzzzzzzzz",
                               "Root", ()), OrgAccount(ACCOUNT, "o-zzzzzzzzzz", "r-zzzz", "m", "z@example.com",
                               "INVITED", WHEN))  # fmt: skip
    with pytest.raises(IntegrityError), store.transaction() as tx:  # emails are unique among all accounts
        tx.put_org_account(OrgAccount(OTHER_ACCOUNT, ORG.id, ROOT.id, "dev", "m@example.com", "CREATED", WHEN))
