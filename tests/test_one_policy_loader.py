"""Every policy set is built by the one policy loader (docs/architecture.md, the policy loader).

The pure engine (``iamd/policy``) defines ``PolicySet`` and builds the offline format's sets;
anywhere else a request's policies are gathered, parsed and built only in
``iamd/service/policy_loader.py``, so caching by content and failing closed on unreadable
documents have one implementation.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "iamd"
ALLOWED = {PACKAGE / "service" / "policy_loader.py"}
_BUILDS = re.compile(r"\bPolicySet\s*(?:\(|\.of\s*\()")
_PARSES_STORED = re.compile(r"\.(?:assume_role_policy|document)\b")


def _outside_the_loader() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p not in ALLOWED and (PACKAGE / "policy") not in p.parents]


def test_policy_sets_are_built_only_by_the_loader_and_the_pure_core() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _outside_the_loader()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _BUILDS.search(line)
    ]
    assert not offenders, "build policy sets with iamd.service.policy_loader:\n" + "\n".join(offenders)


def test_stored_documents_are_parsed_only_by_the_loader() -> None:
    """Nothing outside the loader parses a stored policy document (a role's trust policy, a
    policy version's or an inline policy's document) for evaluation."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _outside_the_loader()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "parse_policy(" in line and _PARSES_STORED.search(line)
    ]
    assert not offenders, "read stored policies with iamd.service.policy_loader:\n" + "\n".join(offenders)
