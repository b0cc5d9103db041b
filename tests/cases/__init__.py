"""The conformance corpus: language-neutral JSON cases, read by every test layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load(kind: str) -> list[dict[str, Any]]:
    """Every case under ``tests/cases/<kind>/``, each tagged with its file."""
    cases: list[dict[str, Any]] = []
    for path in sorted((HERE / kind).glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8"))["cases"]:
            case["_file"] = path.name
            cases.append(case)
    return cases
