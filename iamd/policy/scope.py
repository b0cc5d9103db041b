"""Questions over a resource pattern: is the request allowed for all, some or none of the
resources a pattern names ("may X do s3:GetObject on every object under
``arn:aws:s3:::bucket/logs/*``?"), docs/offline-evaluation.md, "Resource patterns".

Pure, like the evaluator it drives. AWS's evaluation is monotone in the statements that apply:
one more Allow never turns an allowed request into a denied one, one more Deny never the
reverse. So two evaluations bound every resource of the pattern at once:

* **all**: Allow statements apply only when they apply to *every* resource of the pattern, Deny
  statements whenever they may apply to *some*. Allowed then: allowed for every resource.
* **none**: Allow statements apply whenever they may apply to some resource, Deny statements
  only when they apply to every one. Denied then: denied for every resource.

Otherwise the answer is **some** when concrete resources of the pattern prove it (one allowed,
one denied, each evaluated exactly), else **undetermined** (neither bound holds and no pair of
examples was found: treat it as not allowed for all). Resource patterns use IAM's ``*`` and
``?``, case-sensitively; a statement whose Resource has policy variables is bounded
conservatively (it is never counted as applying everywhere or nowhere).
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import cast

from .compile import CompiledStatement, Policy, PolicySet
from .decision import Decision
from .evaluate import evaluate
from .request import Request
from .wildcard import Matcher

__all__ = ["Scope", "ScopeAnswer", "covers", "evaluate_scope", "intersects"]

# Longer patterns are related conservatively (may meet; never covers): the tables are n by m.
MAX_PATTERN = 512
MAX_WITNESSES = 64  # concrete resources evaluated to prove "some"


class Scope(enum.Enum):
    ALL = "all"
    SOME = "some"
    NONE = "none"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True, slots=True)
class ScopeAnswer:
    scope: Scope
    pattern: str
    # the bounds: every resource allowed when ``upper`` is allowed; none when ``lower`` is denied
    upper: Decision
    lower: Decision
    allowed_example: str | None = None
    denied_example: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "scope": self.scope.value,
            "resourcePattern": self.pattern,
            "ifAllApply": self.upper.to_json(),
            "ifAnyApplies": self.lower.to_json(),
        }
        if self.allowed_example is not None:
            out["allowedExample"] = self.allowed_example
        if self.denied_example is not None:
            out["deniedExample"] = self.denied_example
        return out


# -- glob relations ----------------------------------------------------------------------------
def intersects(a: str, b: str) -> bool:
    """Whether two ``*``/``?`` patterns match a common string (exact; O(len(a) by len(b)))."""
    if len(a) > MAX_PATTERN or len(b) > MAX_PATTERN:
        return True
    return _meet(a, b) is not None


def covers(outer: str, inner: str) -> bool:
    """Whether every string ``inner`` matches is matched by ``outer`` (sound: True only when it is so;
    it may say False for exotic pairs such as ``*?`` over ``?*``, which costs precision, never safety)."""
    if len(outer) > MAX_PATTERN or len(inner) > MAX_PATTERN:
        return False
    return _covers(outer, inner)


def _covers(s: str, p: str) -> bool:
    n, m = len(s), len(p)
    # reach[i][j]: s[i:] symbolically matches p[j:] (s's * absorbs any of p's tokens)
    reach = [[False] * (m + 1) for _ in range(n + 1)]
    reach[n][m] = True
    for i in range(n - 1, -1, -1):
        for j in range(m, -1, -1):
            c = s[i]
            if c == "*":
                reach[i][j] = reach[i + 1][j] or (j < m and reach[i][j + 1])
            elif j < m and p[j] != "*" and (c == "?" or (p[j] != "?" and p[j] == c)):
                reach[i][j] = reach[i + 1][j + 1]
    return reach[0][0]


def _meet(a: str, b: str) -> str | None:
    """A string both patterns match, or None."""
    n, m = len(a), len(b)
    ok = [[False] * (m + 1) for _ in range(n + 1)]
    ok[n][m] = True
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n and j == m:
                continue
            x = a[i] if i < n else None
            y = b[j] if j < m else None
            hit = (x == "*" and ok[i + 1][j]) or (y == "*" and ok[i][j + 1])
            if not hit and x is not None and y is not None:
                if x == "*":
                    hit = ok[i][j + 1]  # y is one character: a's star takes it
                elif y == "*":
                    hit = ok[i + 1][j]
                elif x == "?" or y == "?" or x == y:
                    hit = ok[i + 1][j + 1]
            ok[i][j] = bool(hit)
    if not ok[0][0]:
        return None
    out: list[str] = []
    i = j = 0
    while (i, j) != (n, m):  # follow a path, emptying stars first
        x = a[i] if i < n else None
        y = b[j] if j < m else None
        if x == "*" and ok[i + 1][j]:
            i += 1
        elif y == "*" and ok[i][j + 1]:
            j += 1
        elif x == "*" and y is not None and ok[i][j + 1]:
            out.append("x" if y == "?" else y)
            j += 1
        elif y == "*" and x is not None and ok[i + 1][j]:
            out.append("x" if x == "?" else x)
            i += 1
        else:  # two single characters that agree
            out.append(x if x is not None and x != "?" else y if y is not None and y != "?" else "x")
            i += 1
            j += 1
    return "".join(out)


# -- the two bounds ----------------------------------------------------------------------------
def _patterns(cs: CompiledStatement) -> tuple[str, ...] | None:
    """The statement's Resource or NotResource patterns (None: variables, bounded conservatively)."""
    st = cs.statement
    if cs.resource_test is None:
        return None
    listed = st.resources if st.resources is not None else st.not_resources
    return ("*",) if listed is None else tuple(listed)


def _applies(cs: CompiledStatement, pattern: str, everywhere: bool) -> bool:
    """Whether ``cs`` applies to every (``everywhere``) or to some resource of ``pattern``, by its
    resource element alone (the action, principal and conditions are the evaluator's)."""
    listed = _patterns(cs)
    if listed is None:
        return not everywhere  # variables: never "everywhere", always "maybe somewhere"
    if cs.resource_negated:  # NotResource: applies to r when no listed pattern matches r
        if everywhere:
            return not any(intersects(p, pattern) for p in listed)
        return not any(covers(p, pattern) for p in listed)
    if everywhere:
        return any(covers(p, pattern) for p in listed)
    return any(intersects(p, pattern) for p in listed)


def _constant(value: bool) -> Matcher:
    return cast(Matcher, (lambda _resource: True) if value else (lambda _resource: False))


def _bound(policies: PolicySet, pattern: str, allow_everywhere: bool) -> PolicySet:
    """``policies`` with every statement's resource test replaced by its bound: Allow statements
    apply when they do everywhere (``allow_everywhere``) or somewhere; Deny statements the other way."""
    swapped: dict[int, Policy] = {}

    def view(policy: Policy) -> Policy:
        found = swapped.get(id(policy))
        if found is not None:
            return found
        statements = []
        for cs in policy.compiled:
            everywhere = allow_everywhere if not cs.deny else not allow_everywhere
            applies = _applies(cs, pattern, everywhere)
            bounded = copy.copy(cs)
            test = _constant(applies != cs.resource_negated)  # matches_resource negates it back
            bounded.resource_test = test
            bounded.resource_templates = ()
            bounded.resource_template = None
            bounded.fast_resource = None if cs.resource_negated else test
            statements.append(bounded)
        copied = copy.copy(policy)
        object.__setattr__(copied, "compiled", tuple(statements))
        swapped[id(policy)] = copied
        return copied

    return PolicySet.of(
        [view(p) for p in policies.identity],
        view(policies.boundary) if policies.boundary is not None else None,
        [view(p) for p in policies.session],
        view(policies.resource) if policies.resource is not None else None,
        [[view(p) for p in level] for level in policies.scp],
        [[view(p) for p in level] for level in policies.rcp],
    )


# -- witnesses ---------------------------------------------------------------------------------
def _instances(pattern: str, hints: Iterable[str]) -> list[str]:
    """Concrete resources of ``pattern``: its wildcards filled plainly, and strings it shares with
    each statement pattern (``hints``)."""
    found: list[str] = []
    for filler in ("", "x", "zz-9"):
        found.append(pattern.replace("*", filler).replace("?", "x"))
    for hint in hints:
        if len(found) >= MAX_WITNESSES or len(pattern) > MAX_PATTERN or len(hint) > MAX_PATTERN:
            break
        common = _meet(pattern, hint)
        if common is not None:
            found.append(common)
    return list(dict.fromkeys(found))


def evaluate_scope(request: Request, policies: PolicySet) -> ScopeAnswer:
    """Whether ``request`` is allowed for all, some or none of the resources its ``resource``
    pattern names (module doc). The request's context applies to every resource alike."""
    pattern = request.resource
    upper = evaluate(request, _bound(policies, pattern, allow_everywhere=True))
    lower = evaluate(request, _bound(policies, pattern, allow_everywhere=False))
    if upper.allowed:
        return ScopeAnswer(Scope.ALL, pattern, upper, lower)
    if not lower.allowed:
        return ScopeAnswer(Scope.NONE, pattern, upper, lower)
    hints = [p for cs in policies.statements for p in (_patterns(cs) or ())]
    allowed_example = denied_example = None
    for resource in _instances(pattern, hints):
        decision = evaluate(replace(request, resource=resource), policies)
        if decision.allowed and allowed_example is None:
            allowed_example = resource
        elif not decision.allowed and denied_example is None:
            denied_example = resource
        if allowed_example is not None and denied_example is not None:
            return ScopeAnswer(Scope.SOME, pattern, upper, lower, allowed_example, denied_example)
    return ScopeAnswer(Scope.UNDETERMINED, pattern, upper, lower, allowed_example, denied_example)
