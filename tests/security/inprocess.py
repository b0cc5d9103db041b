"""An in-process iamd (real SQLite store) with the fuzz's fixtures, for the tests of this package (import `target`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.fuzz import VERSIONS, Target


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    target = Target.open(Path(tmp_path_factory.mktemp("iamd-security")))
    try:
        target.setup()
        yield target
    finally:
        target.close()


def answer(
    target: Target, params: dict[str, str], *, identity: str = "root", service: str = "iam"
) -> tuple[int, str, str]:
    """``(status, error code or "OK", message)`` of one well-formed request."""
    status, body = target.call(identity, service, {"Version": VERSIONS[service], **params})
    if status == 200:
        return status, "OK", ""
    root = ET.fromstring(body)
    code = next((e.text or "" for e in root.iter() if e.tag.endswith("}Code")), "")
    message = next((e.text or "" for e in root.iter() if e.tag.endswith("}Message")), "")
    return status, code, message
