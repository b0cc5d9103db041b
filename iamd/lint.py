"""``iamd lint``: findings about a valid policy, in the style of IAM Access Analyzer's ValidatePolicy
(docs/policy-validation.md, "Lint").

A document must first be valid (:func:`iamd.policy.validate_policy`); its problems are
reported as ``ERROR`` findings and nothing else is checked. A valid document is then read
again with the position-keeping JSON reader (:func:`iamd.policy.source.parse_json`, a
linear tokenizer, no backtracking) so that every finding points at the exact string it is
about, and checked against AWS's Service Authorization Reference (the snapshot of
:mod:`iamd.explain.catalog`): unknown actions and condition keys, keys that do not apply to
the statement's actions, resource ARNs that match no resource type of the actions, policy
variables without Version 2012-10-17, keys that differ only by case, ``NotAction`` or
``NotResource`` with Allow, ``iam:PassRole`` on ``*``, and redundant or shadowed statements.

Bounded work: at most :data:`MAX_TEXT` characters of policy; wildcard actions are expanded
against one service's actions (never ``*``); the statement comparisons are quadratic in the
statement count, which the validator already bounds by the policy's size.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from iamd.explain.catalog import Catalog, catalog, key_applies
from iamd.policy import DocumentKind, parse_policy, validate_policy
from iamd.policy.source import Node, Position, parse_json
from iamd.policy.wildcard import compile_glob, has_wildcard

__all__ = ["MAX_TEXT", "LintFinding", "Severity", "lint_policy", "worst"]

MAX_TEXT = 131_072  # characters: the largest policy AWS accepts anywhere is far smaller
_MAX_EXPANDED = 2_000  # actions compared per statement for key and resource checks


class Severity(enum.StrEnum):
    """Access Analyzer's finding types, most severe first."""

    ERROR = "ERROR"
    SECURITY_WARNING = "SECURITY_WARNING"
    WARNING = "WARNING"
    SUGGESTION = "SUGGESTION"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@dataclass(frozen=True, slots=True)
class LintFinding:
    severity: Severity
    code: str  # issue code, Access Analyzer's style (UPPER_SNAKE)
    detail: str  # plain words
    position: Position
    path: tuple[str | int, ...] = ()  # where in the document: ("Statement", 0, "Action", 1)
    statement: int | None = None
    sid: str | None = None
    suggestion: str | None = None  # the nearest known name, when there is one

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "findingType": self.severity.value,
            "issueCode": self.code,
            "findingDetails": self.detail,
            "locations": [
                {
                    "path": [{"index": p} if isinstance(p, int) else {"value": p} for p in self.path],
                    "span": {"start": self.position.to_json()},
                }
            ],
        }
        if self.statement is not None:
            out["statementIndex"] = self.statement
        if self.sid is not None:
            out["sid"] = self.sid
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        return out


def worst(findings: list[LintFinding]) -> Severity | None:
    return min((f.severity for f in findings), key=lambda s: s.rank, default=None)


# -- the document's strings with their positions ----------------------------------------------------
@dataclass(slots=True)
class _Stmt:
    index: int
    node: Node
    sid: str | None
    effect: str
    path: tuple[str | int, ...]
    elements: dict[str, list[tuple[str, Node, tuple[str | int, ...]]]] = field(default_factory=dict)
    # Condition: (operator, key, key node, value nodes)
    conditions: list[tuple[str, str, Node, list[Node]]] = field(default_factory=list)
    principal: object = None


def _strings(node: Node, path: tuple[str | int, ...]) -> list[tuple[str, Node, tuple[str | int, ...]]]:
    if isinstance(node.value, str):
        return [(node.value, node, path)]
    if isinstance(node.value, list):
        return [(n.value, n, (*path, i)) for i, n in enumerate(node.value) if isinstance(n.value, str)]
    return []


def _statements(root: Node) -> Iterator[_Stmt]:
    assert isinstance(root.value, dict)
    body = root.value["Statement"]
    nodes = list(enumerate(body.value)) if isinstance(body.value, list) else [(None, body)]
    for i, node in nodes:
        assert isinstance(node.value, dict)
        path: tuple[str | int, ...] = ("Statement",) if i is None else ("Statement", i)
        values = node.value
        sid = values["Sid"].value if "Sid" in values and isinstance(values["Sid"].value, str) else None
        effect = values["Effect"].value
        stmt = _Stmt(0 if i is None else i, node, sid, str(effect), path)
        for element in ("Action", "NotAction", "Resource", "NotResource"):
            if element in values:
                stmt.elements[element] = _strings(values[element], (*path, element))
        if "Principal" in values:
            stmt.principal = values["Principal"].plain()
        if "NotPrincipal" in values:
            stmt.principal = ("not", values["NotPrincipal"].plain())
        condition = values.get("Condition")
        if condition is not None and isinstance(condition.value, dict):
            for operator, block in condition.value.items():
                if not isinstance(block.value, dict):
                    continue
                key_nodes = {k.value: k for k in block.keys}
                for key, value in block.value.items():
                    vals = value.value if isinstance(value.value, list) else [value]
                    stmt.conditions.append((operator, key, key_nodes.get(key, value), list(vals)))
        yield stmt


# -- the checks ---------------------------------------------------------------------------------------
class _Linter:
    def __init__(self, kind: DocumentKind, known: Catalog, version: str | None) -> None:
        self.kind = kind
        self.known = known
        self.version = version
        self.findings: list[LintFinding] = []

    def add(
        self, severity: Severity, code: str, detail: str, node: Node, path: tuple[str | int, ...], stmt: _Stmt,
        suggestion: str | None = None,
    ) -> None:  # fmt: skip
        self.findings.append(LintFinding(severity, code, detail, node.start, path, stmt.index, stmt.sid, suggestion))

    def statement(self, stmt: _Stmt) -> list[str]:
        """Checks one statement; returns the known actions its Action element names (expanded)."""
        expanded: list[str] = []
        unbounded = False  # an action the catalog cannot enumerate ("*", an unknown service)
        for name, node, path in stmt.elements.get("Action", []) + stmt.elements.get("NotAction", []):
            actions = self.action(name, node, path, stmt)
            if path[len(stmt.path)] == "Action":
                if actions is None:
                    unbounded = True
                else:
                    expanded += actions
        expanded = sorted(set(expanded))[:_MAX_EXPANDED]
        self.redundant(stmt, "Action", "action")
        self.redundant(stmt, "Resource", "resource")
        if stmt.effect == "Allow":
            for element, code in (("NotAction", "ALLOW_WITH_NOT_ACTION"), ("NotResource", "ALLOW_WITH_NOT_RESOURCE")):
                for _, node, path in stmt.elements.get(element, [])[:1]:
                    self.add(
                        Severity.SECURITY_WARNING, code,
                        f"Allow with {element} allows everything except what it lists, including actions and "
                        f"resources AWS adds later; list what is allowed in {element[3:]} instead.",
                        node, path[: len(stmt.path) + 1], stmt,
                    )  # fmt: skip
            self.pass_role(stmt)
        self.conditions(stmt, expanded, unbounded)
        if "Action" in stmt.elements and not unbounded:
            self.resources(stmt, expanded)
        return expanded

    def action(self, name: str, node: Node, path: tuple[str | int, ...], stmt: _Stmt) -> list[str] | None:
        if name == "*":
            return None
        prefix = name.partition(":")[0]
        if not self.known.knows_service(prefix):
            if has_wildcard(prefix):
                return None
            near = self.known.nearest_action(name)
            self.add(
                Severity.ERROR, "INVALID_SERVICE_IN_ACTION",
                f"The service prefix {prefix!r} of action {name} is not one AWS defines"
                + (f"; did you mean {near}?" if near else "."),
                node, path, stmt, near,
            )  # fmt: skip
            return []
        actions = self.known.expand(name)
        if not actions:
            near = None if has_wildcard(name) else self.known.nearest_action(name)
            what = "matches no action of" if has_wildcard(name) else "is not an action of"
            self.add(
                Severity.ERROR, "INVALID_ACTION",
                f"{name} {what} service {prefix.lower()}" + (f"; did you mean {near}?" if near else "."),
                node, path, stmt, near,
            )  # fmt: skip
        return actions

    def redundant(self, stmt: _Stmt, element: str, what: str) -> None:
        """An entry another entry of the same element covers. Entries are compared within a group (the action's
        service; a resource's service segment), each pattern compiled once: linear in the entries of a group
        times the group's wildcard patterns."""
        fold = element == "Action"
        groups: dict[str, list[tuple[int, str, Node, tuple[str | int, ...]]]] = {}
        wild: list[tuple[int, str]] = []  # patterns that may cover entries of any group ("*", "*:Get*", "arn:*")
        for i, (name, node, path) in enumerate(stmt.elements.get(element, [])):
            text = name.lower() if fold else name
            group = text.split(":", 3)[2] if not fold and text.count(":") >= 3 else text.partition(":")[0]
            if has_wildcard(group) or text == "*":
                wild.append((i, text))
                group = "*"
            groups.setdefault(group, []).append((i, text, node, path))
        compiled: dict[int, Any] = {}
        for group, entries in groups.items():
            coverers = [(i, t) for i, t, _, _ in entries if has_wildcard(t)] + [w for w in wild if group != "*"]
            seen: dict[str, int] = {}
            for i, text, node, path in entries:
                if fold and not has_wildcard(text) and not self.known.knows_action(text):
                    continue  # reported as unknown
                by = None
                if text in seen:
                    by = seen[text]
                else:
                    for j, pattern in coverers:
                        if j == i:
                            continue
                        match = compiled.setdefault(j, compile_glob(pattern))
                        if match(text) and not (j > i and compile_glob(text)(pattern)):
                            by = j
                            break
                seen.setdefault(text, i)
                if by is not None:
                    other = stmt.elements[element][by][0]
                    self.add(
                        Severity.SUGGESTION, f"REDUNDANT_{what.upper()}",
                        f"The {what} {stmt.elements[element][i][0]} is redundant: {other} in the same statement "
                        "already covers it.",
                        node, path, stmt,
                    )  # fmt: skip

    def pass_role(self, stmt: _Stmt) -> None:
        resources = stmt.elements.get("Resource", [])
        star = next(((n, p) for r, n, p in resources if r == "*"), None)
        if star is None and "NotResource" not in stmt.elements:
            return
        for name, _, _ in stmt.elements.get("Action", []):
            low = name.lower()
            if low.startswith("iam:") and compile_glob(low)("iam:passrole"):
                node, path = star if star is not None else stmt.elements["NotResource"][0][1:]
                self.add(
                    Severity.SECURITY_WARNING, "PASS_ROLE_WITH_STAR_IN_RESOURCE",
                    f"{name} on every resource lets the principal pass any role, and so gain that role's "
                    "permissions through a service; name the roles (arn:aws:iam::<account>:role/<name>) and, "
                    "with iam:PassedToService, the service.",
                    node, path, stmt,
                )  # fmt: skip
                return

    def conditions(self, stmt: _Stmt, expanded: list[str], unbounded: bool) -> None:
        seen: dict[tuple[str, str], str] = {}
        for operator, key, node, values in stmt.conditions:
            path = (*stmt.path, "Condition", operator, key)
            low = key.lower()
            if (operator, low) in seen and seen[(operator, low)] != key:
                self.add(
                    Severity.ERROR, "DUPLICATE_KEYS_WITH_DIFFERENT_CASE",
                    f"{key} and {seen[(operator, low)]} under {operator} are one key (condition keys are "
                    "case-insensitive): the two tests are both applied; merge them into one.",
                    node, path, stmt,
                )  # fmt: skip
            seen.setdefault((operator, low), key)
            spelled = self.known.spelled_key(key)
            if spelled is None:
                near = self.known.nearest_key(key)
                glob = low.startswith("aws:")
                self.add(
                    Severity.ERROR, "INVALID_GLOBAL_CONDITION_KEY" if glob else "INVALID_SERVICE_CONDITION_KEY",
                    f"The condition key {key} is not one AWS defines"
                    + (f"; did you mean {near}?" if near else "")
                    + " A condition on a key no request carries is never true (and …IfExists always is).",
                    node, path, stmt, near,
                )  # fmt: skip
            else:
                if spelled != key:
                    self.add(
                        Severity.SUGGESTION, "CONDITION_KEY_CASE",
                        f"AWS spells this key {spelled}; keys match case-insensitively, but writing them as AWS "
                        "does keeps policies searchable.",
                        node, path, stmt, spelled,
                    )  # fmt: skip
                if not self.known.is_global_key(key) and expanded and not unbounded:
                    known = [a for a in expanded if self.known.has_details(a)]
                    if known and not any(key_applies(key, self.known.action_keys(a)) for a in known):
                        self.add(
                            Severity.WARNING, "UNSUPPORTED_CONDITION_KEY_FOR_ACTIONS",
                            f"None of the statement's actions ({_few(known)}) supports the condition key "
                            f"{spelled}: requests for them never carry it, so the condition "
                            + ("never matches." if "IfExists" not in operator else "is always true."),
                            node, path, stmt,
                        )  # fmt: skip
            if self.version != "2012-10-17":
                for value in values:
                    if isinstance(value.value, str) and "${" in value.value:
                        self.variables(value, (*path,), stmt)
                        break

    def variables(self, node: Node, path: tuple[str | int, ...], stmt: _Stmt) -> None:
        self.add(
            Severity.WARNING, "POLICY_VARIABLES_WITHOUT_VERSION",
            f"{node.value} is compared as written: policy variables are substituted only in policies with "
            '"Version": "2012-10-17".',
            node, path, stmt,
        )  # fmt: skip

    def resources(self, stmt: _Stmt, expanded: list[str]) -> None:
        resources = stmt.elements.get("Resource", [])
        if self.version != "2012-10-17":
            for name, node, path in resources:
                if "${" in name:
                    self.variables(node, path, stmt)
        if not resources or any(r == "*" for r, _, _ in resources) or not expanded:
            return
        detailed = [a for a in expanded if self.known.has_details(a)]
        if not detailed:
            return
        formats = {a: self.known.resource_types(a) for a in detailed}
        fitting = 0
        for name, node, path in resources:
            if any(_arn_fits(name, f) for types in formats.values() for _, f in types):
                fitting += 1
            else:
                types = sorted({t for ts in formats.values() for t, _ in ts})
                self.add(
                    Severity.ERROR, "UNSUPPORTED_RESOURCE_ARN_IN_POLICY",
                    f"{name} matches no resource type of the statement's actions"
                    + (f" ({', '.join(types[:8])})" if types else " (they are authorized only on \"*\")")
                    + ": the statement allows or denies nothing on it.",
                    node, path, stmt,
                )  # fmt: skip
        named = {n.lower() for n, _, _ in stmt.elements.get("Action", []) if not has_wildcard(n)}
        unmatched = [
            a for a in detailed
            if a.lower() in named and not any(_arn_fits(r, f) for r, _, _ in resources for _, f in formats[a])
        ]  # fmt: skip
        if unmatched and fitting:
            first = resources[0]
            only_star = [a for a in unmatched if not formats[a]]
            typed = [a for a in unmatched if formats[a]]
            if only_star:
                self.add(
                    Severity.WARNING, "MISSING_STAR_RESOURCE_FOR_ACTION",
                    f"{_few(only_star)} can only be authorized on \"*\" (no resource type): with the statement's "
                    "resources it is never allowed or denied.",
                    first[1], (*stmt.path, "Resource"), stmt,
                )  # fmt: skip
            if typed:
                self.add(
                    Severity.WARNING, "MISSING_ARN_FOR_ACTION",
                    f"No resource of the statement is of a type {_few(typed)} is authorized on: the statement does "
                    "nothing for it.",
                    first[1], (*stmt.path, "Resource"), stmt,
                )  # fmt: skip

    def across(self, stmts: list[_Stmt]) -> None:
        """Redundant statements (covered by another of the same effect) and shadowed Allows (covered by a Deny)."""
        for j, later in enumerate(stmts):
            for i, other in enumerate(stmts):
                if i == j or not _statement_covers(other, later):
                    continue
                if other.effect == later.effect:
                    if _statement_covers(later, other) and i > j:
                        continue  # two equal statements: report the later one only
                    self.add(
                        Severity.WARNING, "REDUNDANT_STATEMENT",
                        f"Statement {later.index}{_sid(later)} is redundant: statement {other.index}{_sid(other)} "
                        "already covers every action and resource it names, without conditions.",
                        later.node, later.path, later,
                    )  # fmt: skip
                    break
                if other.effect == "Deny" and later.effect == "Allow":
                    self.add(
                        Severity.WARNING, "SHADOWED_STATEMENT",
                        f"Statement {later.index}{_sid(later)} never allows anything: the unconditional Deny of "
                        f"statement {other.index}{_sid(other)} covers every action and resource it names.",
                        later.node, later.path, later,
                    )  # fmt: skip
                    break


def _sid(stmt: _Stmt) -> str:
    return f" ({stmt.sid})" if stmt.sid else ""


def _few(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _covers(pattern: str, other: str, *, fold: bool) -> bool:
    """Whether every string glob ``other`` matches is matched by glob ``pattern`` (``*``-globs: ``pattern``
    matches ``other``'s text, its wildcards taken as characters; a ``?`` in ``other`` is not covered unless
    ``pattern`` matches it as text too)."""
    if fold:
        pattern, other = pattern.lower(), other.lower()
    return bool(compile_glob(pattern)(other))


def _statement_covers(big: _Stmt, small: _Stmt) -> bool:
    if big.conditions or big.principal != small.principal:
        return False
    for element in ("Action", "Resource"):
        if element not in big.elements or element not in small.elements:
            if element == "Resource" and "Resource" not in big.elements and "Resource" not in small.elements:
                if "NotResource" in big.elements or "NotResource" in small.elements:
                    return False
                continue  # resource policies without Resource: the resource they are attached to
            return False
        fold = element == "Action"
        if not all(any(_covers(b, s, fold=fold) for b, _, _ in big.elements[element])
                   for s, _, _ in small.elements[element]):  # fmt: skip
            return False
    return True


def _arn_fits(resource: str, fmt: str) -> bool:
    """Whether a policy's resource ARN can name a resource of the type whose ARN format is ``fmt``.

    A resource without wildcards is matched against the format as a glob (each ``${…}`` any text); one with
    wildcards needs the same service and a resource part whose fixed beginning agrees with the format's
    (``role/*`` fits ``role/${RoleNameWithPath}``, ``user/*`` does not)."""
    parts = resource.split(":", 5)
    fparts = fmt.split(":", 5)
    if len(parts) != 6 or len(fparts) != 6:
        return True  # not an ARN the check understands: no finding
    if not _slashes_fit(parts[5], fparts[5]):
        return False
    if not has_wildcard(resource):
        glob = _format_glob(fmt)
        return bool(compile_glob(glob)(resource))
    if not has_wildcard(parts[2]) and parts[2].lower() != fparts[2].lower():
        return False
    head = _fixed_head(parts[5])
    fhead = fparts[5].split("${", 1)[0]
    return head.lower().startswith(fhead.lower()) or fhead.lower().startswith(head.lower())


_PATH_LIKE = ("path", "objectname", "key", "prefix", "resource")


def _slashes_fit(part: str, fmt: str) -> bool:
    """Whether the resource parts can have as many ``/`` as each other: a format variable names one path
    segment unless it is path-like (``${RoleNameWithPath}``, ``${ObjectName}``…), and a wildcard of the policy
    may stand for more segments."""
    fixed = fmt.count("/")
    low = fmt.lower()
    extendable = any(
        any(tag in low[start : low.find("}", start) + 1] for tag in _PATH_LIKE) for start in _variable_starts(low)
    )
    given = part.count("/")
    if given > fixed and not extendable and not has_wildcard(fmt):
        return False
    return given >= fixed or has_wildcard(part)


def _variable_starts(text: str) -> list[int]:
    out: list[int] = []
    at = text.find("${")
    while at >= 0:
        out.append(at)
        at = text.find("${", at + 2)
    return out


def _fixed_head(text: str) -> str:
    cut = len(text)
    for c in "*?$":
        at = text.find(c)
        if at >= 0:
            cut = min(cut, at)
    return text[:cut]


def _format_glob(fmt: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        start = fmt.find("${", i)
        if start < 0:
            out.append(fmt[i:])
            break
        end = fmt.find("}", start)
        if end < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:start])
        out.append("*")
        i = end + 1
    return "".join(out).replace("?", "*")


# -- entry point ----------------------------------------------------------------------------------------
def lint_policy(text: str, kind: DocumentKind, known: Catalog | None = None) -> list[LintFinding]:
    """Every lint finding of ``text`` as a ``kind`` policy, in document order (most severe first at a place)."""
    if len(text) > MAX_TEXT:
        return [
            LintFinding(Severity.ERROR, "POLICY_SIZE", f"The policy is over {MAX_TEXT} characters.", Position(1, 1))
        ]
    problems = validate_policy(text, kind)
    if problems:
        return [
            LintFinding(Severity.ERROR, "POLICY_VALIDATION", p.describe(), p.position)
            for p in problems
        ]  # fmt: skip
    doc = parse_policy(text, kind)
    root = parse_json(text)
    linter = _Linter(kind, known or catalog(), doc.version)
    stmts = list(_statements(root))
    for stmt in stmts:
        linter.statement(stmt)
    linter.across(stmts)
    return sorted(linter.findings, key=lambda f: (f.position.line, f.position.column, f.severity.rank, f.code))
