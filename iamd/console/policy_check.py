"""Findings on a policy document at their line and column, for the console's JSON editor.

:func:`findings` runs the validator of ``iamd policy validate`` (:func:`iamd.policy.validate_policy`,
AWS's MalformedPolicyDocument checks) and then every registered linter. The hook for lint
findings: :func:`add_linter` with a function ``(text, kind) -> list[Finding]``; its findings are
shown as warnings after the errors. ``iamd lint``'s checks (:func:`access_analyzer_lint`) are
registered from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from iamd.policy import DocumentKind, validate_policy

__all__ = ["MAX_DOCUMENT", "Finding", "access_analyzer_lint", "add_linter", "findings"]

MAX_DOCUMENT = 131_072  # characters: larger than any IAM policy AWS accepts
MAX_FINDINGS = 100


@dataclass(frozen=True, slots=True)
class Finding:
    line: int
    column: int
    severity: str  # "error" (AWS would refuse the document) or "warning" (a linter's advice)
    message: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


Linter = Callable[[str, DocumentKind], list[Finding]]


def access_analyzer_lint(text: str, kind: DocumentKind) -> list[Finding]:
    """``iamd lint``'s findings (docs/policy-validation.md), each a warning with its type and issue code."""
    from iamd.lint import lint_policy

    return [
        Finding(f.position.line, f.position.column, "warning", f"{f.severity.value} {f.code}: {f.detail}")
        for f in lint_policy(text, kind)
    ]


_LINTERS: list[Linter] = [access_analyzer_lint]


def add_linter(linter: Linter) -> Callable[[], None]:
    """Register a linter whose findings the editor shows as warnings (a valid document only); answers
    the function that removes it again."""
    if linter not in _LINTERS:
        _LINTERS.append(linter)

    def remove() -> None:
        if linter in _LINTERS:
            _LINTERS.remove(linter)

    return remove


def findings(text: str, kind: DocumentKind) -> list[Finding]:
    """The validator's problems, in AWS's check order; when there is none, the linters' advice."""
    if len(text) > MAX_DOCUMENT:
        return [Finding(1, 1, "error", f"The document is longer than {MAX_DOCUMENT} characters.")]
    found = [Finding(p.position.line, p.position.column, "error", p.describe()) for p in validate_policy(text, kind)]
    if not found:
        for linter in _LINTERS:
            found += linter(text, kind)
    return found[:MAX_FINDINGS]
