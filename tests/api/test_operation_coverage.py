"""Every operation iamd implements has a boto3 contract test in this directory."""

from __future__ import annotations

import re
from pathlib import Path

from botocore import xform_name

from iamd.service.iam import OPERATIONS

HERE = Path(__file__).parent
KINDS = ("user", "group", "role")


def _calls_in_tests() -> set[str]:
    """boto3 method names called as ``.name(`` in the contract tests; ``{low}``-style
    f-string placeholders (``getattr(iam, f"put_{low}_policy")``) stand for each entity kind."""
    found: set[str] = set()
    for path in HERE.glob("test_*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"\.([a-z][a-z0-9_]*)\(", text))
        for template in re.findall(r'f"([a-z_]*\{[^}]+\}[a-z_]*)"', text):
            found |= {re.sub(r"\{[^}]+\}", kind, template) for kind in KINDS}
    return found


def test_every_implemented_operation_is_exercised() -> None:
    called = _calls_in_tests()
    missing = sorted(op for op in OPERATIONS if xform_name(op) not in called)
    assert missing == []


def test_every_implemented_organizations_operation_is_exercised() -> None:
    from iamd.service.organizations import OPERATIONS as ORGANIZATIONS

    called = _calls_in_tests()
    assert sorted(op for op in ORGANIZATIONS if xform_name(op) not in called) == []
