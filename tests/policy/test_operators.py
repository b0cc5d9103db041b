"""Operator names and value parsing (AWS "IAM JSON policy elements: Condition operators")."""

from __future__ import annotations

import calendar
import copy
import json

import pytest

from iamd.policy import DocumentKind, Policy, PolicyType, parse_policy
from iamd.policy.operators import Family, parse_date, parse_ip_address, parse_ip_network, parse_number, parse_operator


@pytest.mark.parametrize(
    ("name", "base", "set_op", "if_exists"),
    [
        ("StringEquals", "StringEquals", None, False),
        ("ForAnyValue:StringLikeIfExists", "StringLike", "ForAnyValue", True),
        ("ForAllValues:NumericLessThan", "NumericLessThan", "ForAllValues", False),
        ("ArnNotLikeIfExists", "ArnNotLike", None, True),
        ("Null", "Null", None, False),
    ],
)
def test_operator_parts(name: str, base: str, set_op: str | None, if_exists: bool) -> None:
    op = parse_operator(name)
    assert op is not None
    assert (op.base, op.set_op, op.if_exists) == (base, set_op, if_exists)


@pytest.mark.parametrize(
    "name", ["stringequals", "NullIfExists", "ForAnyValue:Null", "StringEqual", "NotBool", "ForSomeValues:StringLike"]
)
def test_unknown_operators(name: str) -> None:
    assert parse_operator(name) is None


def test_families_and_negation() -> None:
    ops = {n: parse_operator(n) for n in ["StringNotLike", "NotIpAddress", "DateNotEquals", "Bool", "ArnLike"]}
    assert all(o is not None for o in ops.values())
    assert [o.info.negated for o in ops.values() if o] == [True, True, True, False, False]
    assert ops["Bool"] is not None and ops["Bool"].info.family is Family.BOOL


def _utc(*parts: int) -> float:
    return float(calendar.timegm((*parts, 0, 0, 0)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026", _utc(2026, 1, 1, 0, 0, 0)),
        ("2026-11", _utc(2026, 11, 1, 0, 0, 0)),
        ("2026-11-27", _utc(2026, 11, 27, 0, 0, 0)),
        ("2026-11-27T10:30Z", _utc(2026, 11, 27, 10, 30, 0)),
        ("2026-11-27T10:30:15Z", _utc(2026, 11, 27, 10, 30, 15)),
        ("2026-11-27T10:30:15.5Z", _utc(2026, 11, 27, 10, 30, 15) + 0.5),
        ("2026-11-27T12:30:15+02:00", _utc(2026, 11, 27, 10, 30, 15)),
        ("2026-11-27T10:30:15", _utc(2026, 11, 27, 10, 30, 15)),
        ("1764239415", 1764239415.0),
    ],
)
def test_dates(text: str, expected: float) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2026-13-01", "2026-02-30", "27/11/2026", "2026-11-27T25:00Z", "yesterday", ""])
def test_bad_dates(text: str) -> None:
    assert parse_date(text) is None


def test_numbers_and_ips() -> None:
    assert parse_number("10") == parse_number("10.0") == 10.0
    assert parse_number("ten") is None and parse_number("nan") is None and parse_number("inf") is None
    net = parse_ip_network("2001:DB8:1234:5678::/64")
    addr = parse_ip_address("2001:db8:1234:5678::1")
    assert net is not None and addr is not None and addr in net
    single = parse_ip_network("203.0.113.7")
    assert single is not None and single.num_addresses == 1
    assert parse_ip_address("300.1.1.1") is None


@pytest.mark.parametrize("op", ["StringEquals", "StringNotEquals", "StringEqualsIfExists", "ForAnyValue:StringEquals"])
@pytest.mark.parametrize(
    "policy_values",
    [["red"], ["red", "blue"], ["${aws:PrincipalTag/team}"], ["t-${aws:PrincipalTag/team}-x"],
     ["${aws:PrincipalTag/team, 'red'}"], ["${aws:PrincipalTag/team}", "blue"]],
)  # fmt: skip
def test_string_equals_shortcuts_decide_as_the_operator_test(op: str, policy_values: list[str]) -> None:
    # Condition.check tests two StringEquals shapes itself (within: static values; same_as: one value with one
    # variable) instead of calling the operator's test: both ways must give the same answer on every context.
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
           "Condition": {op: {"aws:ResourceTag/team": policy_values}}}]}  # fmt: skip
    compiled = Policy("p", PolicyType.IDENTITY, parse_policy(json.dumps(doc), DocumentKind.IDENTITY)).compiled
    cond = compiled[0].conditions[0]
    if len(policy_values) == 1 or "${" not in "".join(policy_values):
        assert cond.within is not None or cond.same_as is not None  # the shortcut is taken
    general = copy.copy(cond)
    general.within = general.same_as = None
    checked = 0
    for request_value in [("red",), ("blue",), ("t-red-x",), ("red", "blue"), ()]:
        for team in [("red",), ("blue",), ("red", "blue"), ()]:
            cv = {k: v for k, v in (("aws:resourcetag/team", request_value), ("aws:principaltag/team", team)) if v}
            assert cond.check(cv, frozenset()) == general.check(cv, frozenset()), (request_value, team)
            checked += 1
    assert checked == 20
