"""Condition evaluation: every operator, IfExists, set operators, Null, variables.

A :class:`~iamd.policy.model.ConditionEntry` compiles once into a :class:`Condition`
whose :meth:`Condition.evaluate` answers True, False, or None when the request makes the
answer ambiguous (the same key given twice in different case); the caller fails closed.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .model import ConditionEntry
from .operators import (
    Family,
    parse_binary,
    parse_date,
    parse_ip_address,
    parse_ip_network,
    parse_number,
)
from .request import Context
from .variables import Template, parse_template
from .wildcard import compile_globs, compile_parts

__all__ = ["Condition", "ConditionResult", "compile_condition"]

Values = Mapping[str, tuple[str, ...]]
OneTest = Callable[[str, Values], bool]  # positive operator: one request value vs the policy values

_ORDER: dict[str, Callable[[float, float], bool]] = {
    "eq": operator.eq, "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """What the tracer records about one condition key."""

    operator: str
    key: str
    request_values: tuple[str, ...] | None  # None: absent
    policy_values: tuple[str | None, ...]  # after variable substitution (None: unresolved)
    result: bool | None


Parts = list[tuple[str, bool]]  # (text, is_pattern): see wildcard.compile_parts


def _split_arn(tokens: Parts) -> list[Parts] | None:
    """The 6 segments of an ARN pattern given as ``(text, is_pattern)`` runs, or None.

    Only colons the policy wrote separate segments; past the fifth they are literal.
    """
    segments: list[Parts] = [[]]
    for text, is_pattern in tokens:
        if not is_pattern:
            segments[-1].append((text, False))
            continue
        pieces = text.split(":")
        for i, piece in enumerate(pieces):
            if i:
                if len(segments) < 6:
                    segments.append([])
                else:
                    segments[-1].append((":", False))
            segments[-1].append((piece, True))
    if len(segments) != 6:
        return None
    return segments


def _arn_matcher(segments: list[Parts]) -> Callable[[str], bool]:
    tests = [compile_parts(s) for s in segments]

    def match(value: str) -> bool:
        parts = value.split(":", 5)
        if len(parts) != 6:
            return False
        return all(t(p) for t, p in zip(tests, parts, strict=True))

    return match


def _string_test(compare: str, templates: list[Template]) -> OneTest:
    static = not any(t.has_vars for t in templates)
    if compare == "eq":
        if static:
            exact = frozenset(t.raw for t in templates)
            return lambda r, ctx: r in exact
        if len(templates) == 1:
            one = templates[0]
            return lambda r, ctx: one.resolve_text(ctx) == r
        return lambda r, ctx: any(t.resolve_text(ctx) == r for t in templates)
    if compare == "eq_ci":
        if static:
            folded = frozenset(t.raw.lower() for t in templates)
            return lambda r, ctx: r.lower() in folded
        return lambda r, ctx: any((v := t.resolve_text(ctx)) is not None and v.lower() == r.lower() for t in templates)
    # like
    if static:
        like = compile_globs(t.raw for t in templates)
        return lambda r, ctx: bool(like(r))
    return lambda r, ctx: any(t.matches(r, ctx) for t in templates)


def _arn_test(templates: list[Template]) -> OneTest:
    static: list[Callable[[str], bool]] = []
    dynamic: list[Template] = []
    for t in templates:
        if t.raw == "*" and not t.has_vars:
            static.append(lambda v: True)
        elif t.has_vars:
            dynamic.append(t)
        else:
            segs = _split_arn([(t.raw, True)])
            if segs is not None:
                static.append(_arn_matcher(segs))

    def test(r: str, ctx: Values) -> bool:
        if any(m(r) for m in static):
            return True
        for t in dynamic:
            parts = t.resolve_parts(ctx)
            if parts is None:
                continue
            segs = _split_arn(parts)
            if segs is not None and _arn_matcher(segs)(r):
                return True
        return False

    return test


def _ordered_test(compare: str, parse: Callable[[str], float | None], raw: tuple[str, ...]) -> OneTest:
    bounds = [b for b in (parse(v) for v in raw) if b is not None]
    cmp_ = _ORDER[compare]

    def test(r: str, ctx: Values) -> bool:
        value = parse(r)
        return value is not None and any(cmp_(value, b) for b in bounds)

    return test


def _make_test(entry: ConditionEntry, variables: bool) -> OneTest:
    info = entry.operator.info
    fam = info.family
    if fam in (Family.STRING, Family.ARN, Family.BOOL):
        templates = [parse_template(v, variables and info.variables) for v in entry.values]
        if fam is Family.STRING:
            return _string_test(info.compare, templates)
        if fam is Family.ARN:
            return _arn_test(templates)
        if not any(t.has_vars for t in templates):
            wanted = frozenset(t.raw.lower() for t in templates)
            return lambda r, ctx: r.lower() in wanted
        return lambda r, ctx: any((v := t.resolve_text(ctx)) is not None and v.lower() == r.lower() for t in templates)
    if fam is Family.NUMERIC:
        return _ordered_test(info.compare, parse_number, entry.values)
    if fam is Family.DATE:
        return _ordered_test(info.compare, parse_date, entry.values)
    if fam is Family.IP:
        nets = [n for n in (parse_ip_network(v) for v in entry.values) if n is not None]

        def ip_test(r: str, ctx: Values) -> bool:
            addr = parse_ip_address(r)
            return addr is not None and any(addr.version == n.version and addr in n for n in nets)

        return ip_test
    if fam is Family.BINARY:
        blobs = frozenset(b for b in (parse_binary(v) for v in entry.values) if b is not None)
        return lambda r, ctx: parse_binary(r) in blobs
    raise AssertionError(f"no test for {fam}")  # pragma: no cover - Null is handled apart


class Condition:
    """One compiled condition key under one operator."""

    __slots__ = (
        "entry",
        "if_exists",
        "is_null",
        "key",
        "negated",
        "null_wants_absent",
        "same_as",
        "set_op",
        "templates",
        "test",
        "within",
    )  # fmt: skip

    def __init__(self, entry: ConditionEntry, variables: bool) -> None:
        op = entry.operator
        self.entry = entry
        self.key = entry.key_lower
        self.negated = op.info.negated
        self.set_op = op.set_op
        self.if_exists = op.if_exists
        self.is_null = op.info.family is Family.NULL
        self.null_wants_absent = frozenset(v.lower() == "true" for v in entry.values)
        self.templates = [parse_template(v, variables and op.info.variables) for v in entry.values]
        self.test: OneTest | None = None if self.is_null else _make_test(entry, variables)
        # Two common shapes of StringEquals/StringNotEquals, tested by check itself for a single
        # request value (no call of test): the policy's values without variables (``within``), or
        # one value with one variable, ``before${key}after`` (``same_as``, resolved as
        # Template.resolve_text does when the key has one value; otherwise test decides).
        self.within: frozenset[str] | None = None
        self.same_as: tuple[str, str, str | None, str] | None = None
        if op.info.family is Family.STRING and op.info.compare == "eq":
            if not any(t.has_vars for t in self.templates):
                self.within = frozenset(t.raw for t in self.templates)
            elif len(self.templates) == 1:
                self.same_as = self.templates[0]._one

    @property
    def referenced_keys(self) -> frozenset[str]:
        keys = {self.key}
        for t in self.templates:
            keys |= t.required_keys
        return frozenset(keys)

    def evaluate(self, ctx: Context) -> bool | None:
        return self.check(ctx.values, ctx.ambiguous)

    def check(self, cv: Values, ambiguous: frozenset[str]) -> bool | None:
        """:meth:`evaluate` on a context's values and ambiguous keys, read once by the caller."""
        values = cv.get(self.key)
        if self.is_null:
            return (not values) in self.null_wants_absent
        if not values:
            if self.if_exists or self.set_op == "ForAllValues":
                return True
            if self.set_op == "ForAnyValue":
                return False
            return self.negated
        test = self.test
        assert test is not None
        set_op = self.set_op
        if set_op is None:
            if ambiguous and self.key in ambiguous:
                return None
            if len(values) == 1:
                within = self.within
                if within is not None:
                    return (values[0] in within) != self.negated
                one = self.same_as
                if one is not None:
                    got = cv.get(one[1])
                    if got and len(got) == 1:
                        return (values[0] == one[0] + got[0] + one[3]) != self.negated
                return test(values[0], cv) != self.negated
            if self.negated:
                return not any(test(r, cv) for r in values)
            return any(test(r, cv) for r in values)
        if set_op == "ForAllValues":
            return all(test(r, cv) != self.negated for r in values)
        return any(test(r, cv) != self.negated for r in values)  # ForAnyValue

    def explain(self, ctx: Context) -> ConditionResult:
        resolved = tuple(t.resolve_text(ctx.values) for t in self.templates)
        return ConditionResult(
            self.entry.operator.name, self.entry.key, ctx.values.get(self.key) or None, resolved, self.evaluate(ctx)
        )


def compile_condition(entry: ConditionEntry, variables: bool) -> Condition:
    return Condition(entry, variables)
