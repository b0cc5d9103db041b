"""AWS managed policies (``arn:aws:iam::aws:policy/…``), shipped as package data.

The common ones come with iamd (``iamd/data/aws_managed_policies.json``); they are
installed on start when missing, under the pseudo-account ``aws``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from iamd.policy import DocumentKind, parse_policy
from iamd.store import NotFound, Store

__all__ = ["install_managed_policies", "shipped_managed_policies"]


def shipped_managed_policies() -> dict[str, dict[str, Any]]:
    text = resources.files("iamd.data").joinpath("aws_managed_policies.json").read_text(encoding="utf-8")
    data: dict[str, dict[str, Any]] = json.loads(text)
    return data


def install_managed_policies(store: Store) -> int:
    """Put every shipped policy that the store lacks; return how many were added."""
    added = 0
    for name, spec in shipped_managed_policies().items():
        arn = f"arn:aws:iam::aws:policy{spec['Path']}{name}"
        with store.read() as tx:
            try:
                tx.get_policy(arn)
                continue
            except NotFound:
                pass
        parse_policy(spec["Document"], DocumentKind.IDENTITY)  # shipped data must be valid
        with store.transaction() as tx:
            tx.put_aws_managed_policy(name, spec["Document"], path=spec["Path"], description=spec["Description"])
        added += 1
    return added
