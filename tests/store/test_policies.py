"""Managed policies, versions, attachments, boundaries, AWS managed policies."""

from __future__ import annotations

import pytest

from iamd.store import (
    AWS_ACCOUNT,
    Conflict,
    ConflictReason,
    EntityKind,
    LimitExceeded,
    NotFound,
    PolicyEntity,
    PolicyScope,
    PolicyUsage,
    Store,
    Tag,
    TagTarget,
)
from tests.store.helpers import DOC, OTHER_ACCOUNT, TRUST, all_pages

ODD_DOC = '{ "Version":"2012-10-17" ,\t"Statement" : [ ] , "Sid": "é\\u00e9 ✓" }\r\n'


def test_create_policy(store: Store, account: str) -> None:
    with store.transaction() as tx:
        policy = tx.create_policy(account, "ReadAll", ODD_DOC, path="/team/", description="d", tags=[Tag("a", "b")])
    assert policy.id.startswith("ANPA")
    assert policy.arn == f"arn:aws:iam::{account}:policy/team/ReadAll"
    assert (policy.default_version_id, policy.attachment_count, policy.permissions_boundary_usage_count) == ("v1", 0, 0)
    assert policy.description == "d" and policy.is_attachable and not policy.is_aws_managed
    assert policy.create_date == policy.update_date
    with store.read() as r:
        version = r.get_policy_version(policy.arn, "v1")
        assert version.document == ODD_DOC  # stored exactly as submitted
        assert version.is_default and version.policy_arn == policy.arn
        assert r.get_policy(f"arn:aws:iam::{account}:policy/team/readall") == policy
        assert r.list_tags(TagTarget.POLICY, account, policy.arn) == (Tag("a", "b"),)
        assert r.count_policies(account) == 1
        for wrong in (
            f"arn:aws:iam::{account}:policy/ReadAll",  # path differs
            f"arn:aws-cn:iam::{account}:policy/team/ReadAll",  # partition differs
            f"arn:aws:iam::{OTHER_ACCOUNT}:policy/team/ReadAll",
            "ReadAll",
        ):
            with pytest.raises(NotFound):
                r.get_policy(wrong)
    with pytest.raises(Exception, match="already exists"), store.transaction() as tx:
        tx.create_policy(account, "READALL", DOC)


def test_versions(store: Store, account: str) -> None:
    with store.transaction() as tx:
        arn = tx.create_policy(account, "p", "v1 doc").arn
        for n in range(2, 6):
            version = tx.create_policy_version(arn, f"v{n} doc")
            assert (version.version_id, version.is_default) == (f"v{n}", False)
        with pytest.raises(LimitExceeded):
            tx.create_policy_version(arn, "sixth")
        assert [v.version_id for v in tx.list_policy_versions(arn)] == ["v5", "v4", "v3", "v2", "v1"]
        policy = tx.set_default_policy_version(arn, "v3")
        assert policy.default_version_id == "v3" and policy.update_date > policy.create_date
        with pytest.raises(Conflict) as info:
            tx.delete_policy_version(arn, "v3")
        assert info.value.reason is ConflictReason.DEFAULT_VERSION
        tx.delete_policy_version(arn, "v1")
        with pytest.raises(NotFound):
            tx.delete_policy_version(arn, "v1")
        with pytest.raises(NotFound):
            tx.set_default_policy_version(arn, "v9")
        again = tx.create_policy_version(arn, "newest", set_as_default=True)
        assert again.version_id == "v6"  # never reused
        assert tx.get_policy(arn).default_version_id == "v6"
        assert [v.is_default for v in tx.list_policy_versions(arn)] == [True, False, False, False, False]
        with pytest.raises(NotFound):
            tx.get_policy_version(arn, "v1")


def test_delete_policy_refusals(store: Store, account: str) -> None:
    with store.transaction() as tx:
        arn = tx.create_policy(account, "p", DOC).arn
        tx.create_user(account, "u")
        tx.create_role(account, "r", assume_role_policy=TRUST)
        tx.attach_policy(EntityKind.USER, account, "u", arn)
    with pytest.raises(Conflict) as info, store.transaction() as tx:
        tx.delete_policy(arn)
    assert info.value.reason is ConflictReason.POLICY_ATTACHED
    with store.transaction() as tx:
        tx.detach_policy(EntityKind.USER, account, "u", arn)
        tx.put_permissions_boundary(EntityKind.ROLE, account, "r", arn)
    with pytest.raises(Conflict) as info, store.transaction() as tx:
        tx.delete_policy(arn)
    assert info.value.reason is ConflictReason.POLICY_USED_AS_BOUNDARY
    with store.transaction() as tx:
        tx.delete_permissions_boundary(EntityKind.ROLE, account, "r")
        tx.create_policy_version(arn, "second")
    with pytest.raises(Conflict) as info, store.transaction() as tx:
        tx.delete_policy(arn)
    assert info.value.reason is ConflictReason.POLICY_HAS_VERSIONS
    with store.transaction() as tx:
        tx.delete_policy_version(arn, "v2")
        tx.tag_resource(TagTarget.POLICY, account, arn, [Tag("k", "v")])
        tx.delete_policy(arn)
    with store.read() as r:
        with pytest.raises(NotFound):
            r.get_policy(arn)
        assert r.count_policies(account) == 0


def test_attachments(store: Store, account: str) -> None:
    with store.transaction() as tx:
        p1 = tx.create_policy(account, "Zeta", DOC)
        p2 = tx.create_policy(account, "alpha", DOC, path="/x/")
        tx.create_user(account, "u")
        tx.create_group(account, "g")
        tx.create_role(account, "r", assume_role_policy=TRUST)
        for kind, name in ((EntityKind.USER, "u"), (EntityKind.GROUP, "g"), (EntityKind.ROLE, "r")):
            assert tx.attach_policy(kind, account, name.upper(), p1.arn) is True
            assert tx.attach_policy(kind, account, name, p1.arn) is False
        tx.attach_policy(EntityKind.USER, account, "u", p2.arn)
    with store.read() as r:
        assert r.get_policy(p1.arn).attachment_count == 3
        attached, pages = all_pages(
            lambda m: r.list_attached_policies(EntityKind.USER, account, "u", marker=m, max_items=1)
        )
        assert [(a.name, a.arn) for a in attached] == [("alpha", p2.arn), ("Zeta", p1.arn)] and pages == 2
        only_x = r.list_attached_policies(EntityKind.USER, account, "u", path_prefix="/x/")
        assert [a.name for a in only_x.items] == ["alpha"]
        entities, _ = all_pages(lambda m: r.list_entities_for_policy(p1.arn, marker=m, max_items=2))
        assert [(e.kind, e.name) for e in entities] == [
            (EntityKind.GROUP, "g"),
            (EntityKind.ROLE, "r"),
            (EntityKind.USER, "u"),
        ]
        roles_only = r.list_entities_for_policy(p1.arn, entity_filter=EntityKind.ROLE)
        assert [e.name for e in roles_only.items] == ["r"]
        assert r.list_entities_for_policy(p1.arn, usage=PolicyUsage.PERMISSIONS_BOUNDARY).items == ()
        attached_only = r.list_policies(account, scope=PolicyScope.LOCAL, only_attached=True)
        assert {p.name for p in attached_only.items} == {"alpha", "Zeta"}
    with store.transaction() as tx:
        tx.detach_policy(EntityKind.GROUP, account, "g", p1.arn)
        with pytest.raises(NotFound):
            tx.detach_policy(EntityKind.GROUP, account, "g", p1.arn)
        with pytest.raises(NotFound):
            tx.attach_policy(EntityKind.GROUP, account, "missing", p1.arn)
        assert tx.get_policy(p1.arn).attachment_count == 2


def test_policies_of_other_accounts_cannot_be_attached(store: Store, account: str) -> None:
    with store.transaction() as tx:
        theirs = tx.create_policy(OTHER_ACCOUNT, "theirs", DOC)
        tx.create_user(account, "u")
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.attach_policy(EntityKind.USER, account, "u", theirs.arn)


def test_boundary_usage(store: Store, account: str) -> None:
    with store.transaction() as tx:
        policy = tx.create_policy(account, "b", DOC)
        tx.create_user(account, "u", permissions_boundary=policy.arn)
        tx.create_role(account, "r", assume_role_policy=TRUST)
        tx.put_permissions_boundary(EntityKind.ROLE, account, "r", policy.arn)
    with store.read() as r:
        assert r.get_policy(policy.arn).permissions_boundary_usage_count == 2
        assert r.get_policy(policy.arn).attachment_count == 0
        used = r.list_entities_for_policy(policy.arn, usage=PolicyUsage.PERMISSIONS_BOUNDARY)
        assert [(e.kind, e.name) for e in used.items] == [(EntityKind.ROLE, "r"), (EntityKind.USER, "u")]
        bounding = r.list_policies(account, usage=PolicyUsage.PERMISSIONS_BOUNDARY)
        assert [p.name for p in bounding.items] == ["b"]
        assert r.list_policies(account, usage=PolicyUsage.PERMISSIONS_POLICY).items == ()


def test_aws_managed_policies(store: Store, account: str) -> None:
    with store.transaction() as tx:
        admin = tx.put_aws_managed_policy("AdministratorAccess", DOC, description="admin")
        lambda_role = tx.put_aws_managed_policy("AWSLambdaBasicExecutionRole", DOC, path="/service-role/")
        local = tx.create_policy(account, "AdministratorAccess", DOC)  # same name, other owner: fine
    assert admin.arn == "arn:aws:iam::aws:policy/AdministratorAccess" and admin.is_aws_managed
    assert admin.account_id == AWS_ACCOUNT
    assert lambda_role.arn == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    with store.read() as r:
        everything = r.list_policies(account).items
        assert [p.arn for p in everything] == [local.arn, admin.arn, lambda_role.arn]
        assert [p.arn for p in r.list_policies(account, scope=PolicyScope.AWS).items] == [admin.arn, lambda_role.arn]
        assert [p.arn for p in r.list_policies(account, scope=PolicyScope.LOCAL).items] == [local.arn]
        assert r.list_policies(account, scope=PolicyScope.AWS, path_prefix="/service-role/").items == (lambda_role,)
    with store.transaction() as tx:
        tx.create_user(account, "u")
        tx.create_user(OTHER_ACCOUNT, "v")
        tx.attach_policy(EntityKind.USER, account, "u", admin.arn)
        tx.attach_policy(EntityKind.USER, OTHER_ACCOUNT, "v", admin.arn)
        for refused in (
            lambda: tx.delete_policy(admin.arn),
            lambda: tx.create_policy_version(admin.arn, DOC),
            lambda: tx.set_default_policy_version(admin.arn, "v1"),
            lambda: tx.delete_policy_version(admin.arn, "v1"),
            lambda: tx.create_policy(AWS_ACCOUNT, "Mine", DOC),
        ):
            with pytest.raises(Conflict) as info:
                refused()
            assert info.value.reason is ConflictReason.AWS_MANAGED
    with store.read() as r:
        mine = r.list_entities_for_policy(admin.arn, account=account).items
        assert [e.name for e in mine] == ["u"]
        assert r.list_entities_for_policy(admin.arn, account=OTHER_ACCOUNT).items == (
            PolicyEntity(EntityKind.USER, r.get_user(OTHER_ACCOUNT, "v").id, "v"),
        )


def test_aws_managed_policy_refresh_keeps_at_most_five_versions(store: Store, account: str) -> None:
    with store.transaction() as tx:
        first = tx.put_aws_managed_policy("ReadOnlyAccess", "d1")
        for n in range(2, 8):
            tx.put_aws_managed_policy("ReadOnlyAccess", f"d{n}", version_id=f"v{n}")
        refreshed = tx.put_aws_managed_policy("ReadOnlyAccess", "d7 fixed", version_id="v7", description="ro")
    assert refreshed.id == first.id and refreshed.default_version_id == "v7" and refreshed.description == "ro"
    with store.read() as r:
        versions = r.list_policy_versions(refreshed.arn)
        assert [v.version_id for v in versions] == ["v7", "v6", "v5", "v4", "v3"]
        assert versions[0].document == "d7 fixed"
    with pytest.raises(ValueError), store.transaction() as tx:
        tx.put_aws_managed_policy("Bad", DOC, version_id="1")
