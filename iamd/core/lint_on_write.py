"""Lint findings of the policy documents a write stores, when the caller asks for them
(docs/policy-validation.md, "Lint on write").

A write is never refused for a finding: the document was validated as AWS does, and the
findings (``iamd lint``'s, :mod:`iamd.lint`) come back beside AWS's answer, never in it. Only
the operations below carry a document; at most :data:`MAX_FINDINGS` are returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iamd.policy import DocumentKind

__all__ = ["LINTED", "MAX_FINDINGS", "lint_written"]

MAX_FINDINGS = 20

# (service, operation) -> (input member with the document, what the document is)
LINTED: dict[tuple[str, str], tuple[str, DocumentKind]] = {
    ("iam", "CreatePolicy"): ("PolicyDocument", DocumentKind.IDENTITY),
    ("iam", "CreatePolicyVersion"): ("PolicyDocument", DocumentKind.IDENTITY),
    ("iam", "PutUserPolicy"): ("PolicyDocument", DocumentKind.IDENTITY),
    ("iam", "PutGroupPolicy"): ("PolicyDocument", DocumentKind.IDENTITY),
    ("iam", "PutRolePolicy"): ("PolicyDocument", DocumentKind.IDENTITY),
    ("iam", "CreateRole"): ("AssumeRolePolicyDocument", DocumentKind.TRUST),
    ("iam", "UpdateAssumeRolePolicy"): ("PolicyDocument", DocumentKind.TRUST),
}


def lint_written(service: str, operation: str, input: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The findings of the document ``operation`` wrote (empty: none, or not a policy write)."""
    linted = LINTED.get((service, operation))
    if linted is None or not isinstance(input.get(linted[0]), str):
        return ()
    from iamd.lint import lint_policy

    findings = lint_policy(input[linted[0]], linted[1])
    return tuple(f.to_json() for f in findings[:MAX_FINDINGS])
