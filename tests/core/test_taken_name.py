"""A create by name is authorized without reading the entity that may have its name; that
entity (in another spelling or path) is authorized only once the create failed
(``iamd.service.targets.taken_target``; docs/architecture.md, "Session 13: the taken name
authorized when the create fails")."""

from __future__ import annotations

from collections.abc import Callable

from iamd.service.targets import Target, creates_by_name, iam_target, taken_target

ACCOUNT = "123456789012"
STORED = {("user", "admin"): f"arn:aws:iam::{ACCOUNT}:user/ops/Admin"}


def _stored(asked: list[tuple[str, str]]) -> Callable[[str, str], str | None]:
    def stored_arn(kind: str, ident: str) -> str | None:
        asked.append((kind, ident))
        return STORED.get((kind, ident.lower()))

    return stored_arn


def test_the_target_of_a_create_leaves_the_taken_name_out_only_when_asked() -> None:
    asked: list[tuple[str, str]] = []
    full = iam_target("CreateUser", {"UserName": "admin"}, ACCOUNT, None, _stored(asked))
    assert asked == [("user", "admin")]
    existing = Target(STORED["user", "admin"], STORED["user", "admin"])
    assert full.arn == f"arn:aws:iam::{ACCOUNT}:user/admin" and full.also == (("CreateUser", existing),)
    asked.clear()
    tags = [{"Key": "team", "Value": "red"}]
    lean = iam_target(
        "CreateUser", {"UserName": "admin", "Tags": tags}, ACCOUNT, None, _stored(asked), taken_name=False
    )
    assert asked == []  # no read: nothing stored is needed to authorize the create itself
    assert lean.arn == full.arn and [op for op, _ in lean.also] == ["TagUser"]


def test_the_taken_name_is_the_stored_entity_under_another_spelling_or_path() -> None:
    asked: list[tuple[str, str]] = []
    stored = _stored(asked)
    taken = taken_target("CreateUser", {"UserName": "ADMIN", "Path": "/"}, ACCOUNT, None, stored)
    assert taken is not None and taken.arn == STORED["user", "admin"] and taken.display == taken.arn
    same = {"UserName": "Admin", "Path": "/ops/"}  # the request's own ARN: authorized as the target already
    assert taken_target("CreateUser", same, ACCOUNT, None, stored) is None
    assert taken_target("CreateUser", {"UserName": "free"}, ACCOUNT, None, stored) is None
    asked.clear()
    assert taken_target("DeleteUser", {"UserName": "admin"}, ACCOUNT, None, stored) is None
    assert taken_target("CreatePolicy", {"PolicyName": "admin"}, ACCOUNT, None, stored) is None
    assert asked == []
    assert creates_by_name("CreateRole") and not creates_by_name("CreatePolicy")
