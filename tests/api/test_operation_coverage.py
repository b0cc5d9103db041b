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


def test_every_model_operation_is_implemented_or_its_absence_explained() -> None:
    """An operation of the pinned IAM or STS model that iamd does not implement is named, with
    its reason, in docs/iam-api.md's table of operations answered NotImplemented."""
    import botocore.session

    from iamd.service.sts import STS_OPERATIONS

    docs = (HERE.parent.parent / "docs" / "iam-api.md").read_text(encoding="utf-8")
    start = docs.index("| Operations | Why not |")
    table = docs[start : docs.index("\n\n", start)]
    named = set(re.findall(r"[A-Z][A-Za-z]+", table))
    session = botocore.session.get_session()
    missing = []
    for service, implemented in (("iam", OPERATIONS), ("sts", STS_OPERATIONS)):
        for op in session.get_service_model(service).operation_names:
            if op not in implemented and op not in named:
                missing.append(f"{service}:{op}")
    assert missing == []
