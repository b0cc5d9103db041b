"""docs/organizations.md lists every operation of botocore's Organizations model: the implemented
ones in its table of the API, every other one, by its full name, among those answered
``NotImplemented``, with why."""

from __future__ import annotations

import re
from pathlib import Path

from iamd.protocol import Catalog
from iamd.service.organizations import OPERATIONS

DOC = Path(__file__).parent.parent / "docs" / "organizations.md"


def _names(text: str, start: str, end: str) -> set[str]:
    at = text.index(start)
    return set(re.findall(r"\b[A-Z][A-Za-z]+\b", text[at : text.index(end, at)]))


def test_every_model_operation_is_in_the_docs_as_implemented_or_not() -> None:
    text = DOC.read_text(encoding="utf-8")
    implemented = _names(text, "| Area | Operations |", "Every other operation of the model")
    refused = _names(text, "Every other operation of the model", "### Identifiers")
    model = set(Catalog().organizations.operation_names)
    assert set(OPERATIONS) <= model
    assert sorted(set(OPERATIONS) - implemented) == []
    assert sorted(model - set(OPERATIONS) - refused) == [], "answered NotImplemented but not named in the docs"
    assert sorted(set(OPERATIONS) & refused) == [], "implemented but listed as not implemented"
