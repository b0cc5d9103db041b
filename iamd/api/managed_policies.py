"""AWS managed policies (``arn:aws:iam::aws:policy/…``), shipped as package data.

The common ones come with iamd (``iamd/data/aws_managed_policies.json``); they are
installed on start when missing, under the pseudo-account ``aws``. ReadOnlyAccess is
derived from AWS's Service Authorization Reference (``scripts/derive_readonly_access.py``;
its entry's ``Provenance`` says from what and when), not copied: see docs/iam-api.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any
from urllib.parse import unquote

from iamd.policy import DocumentKind, parse_policy
from iamd.store import NotFound, Store

__all__ = ["in_partition", "install_managed_policies", "load_authorization_details", "shipped_managed_policies"]


def shipped_managed_policies() -> dict[str, dict[str, Any]]:
    text = resources.files("iamd.data").joinpath("aws_managed_policies.json").read_text(encoding="utf-8")
    data: dict[str, dict[str, Any]] = json.loads(text)
    return data


def in_partition(document: str, partition: str) -> str:
    """An AWS managed policy's document as the partition has it: AWS writes each partition's own
    name into the ARNs of its managed policies (``arn:aws-cn:iam::*:user/${aws:username}``), and a
    document naming ``arn:aws:`` would match nothing there (docs/iam-api.md, "Regions and
    partitions")."""
    return document if partition == "aws" else document.replace('"arn:aws:', f'"arn:{partition}:')


def install_managed_policies(store: Store, partition: str = "aws") -> int:
    """Put every shipped policy that the store lacks; return how many were added.

    ``partition`` is the store's: AWS managed policies are ``arn:<partition>:iam::aws:policy/…``
    there, and their documents name that partition (the documents are shipped as the ``aws``
    partition has them and rewritten here; a database made before this was done is mended)."""
    added = 0
    for name, spec in shipped_managed_policies().items():
        arn = f"arn:{partition}:iam::aws:policy{spec['Path']}{name}"
        document = in_partition(spec["Document"], partition)
        with store.read() as tx:
            try:
                policy = tx.get_policy(arn)
            except NotFound:
                policy = None
            stale = None
            if policy is not None and partition != "aws":
                current = tx.get_policy_version(arn, policy.default_version_id)
                if in_partition(current.document, partition) != current.document:
                    stale = (policy.default_version_id, in_partition(current.document, partition))
        if policy is not None and stale is None:
            continue
        parse_policy(document, DocumentKind.IDENTITY)  # shipped data must be valid
        with store.transaction() as tx:
            if stale is not None:  # the shipped document once installed unchanged in this partition
                tx.put_aws_managed_policy(name, stale[1], path=spec["Path"], description=spec["Description"],
                                          version_id=stale[0])  # fmt: skip
                continue
            tx.put_aws_managed_policy(
                name, document, path=spec["Path"], description=spec["Description"],
                version_id=spec.get("VersionId", "v1"),
            )  # fmt: skip
        added += 1
    return added


def load_authorization_details(store: Store, data: Mapping[str, Any], partition: str = "aws") -> int:
    """Load AWS managed policies from a ``GetAccountAuthorizationDetails`` dump.

    ``aws iam get-account-authorization-details --filter AWSManagedPolicy > dump.json``
    on a real account gives the full current set; each policy's default version is
    installed (documents may be JSON objects, as the CLI prints them, or URL-encoded
    text, as the raw API returns them). Returns how many policies were put.

    ``partition`` is the store's: a dump from it is taken as is, one from the ``aws`` partition
    is rewritten to it as the shipped set is (:func:`in_partition`); others' policies are skipped.
    """
    count = 0
    for entry in data.get("Policies") or ():
        arn = str(entry.get("Arn", ""))
        if not arn.startswith((f"arn:{partition}:iam::aws:policy/", "arn:aws:iam::aws:policy/")):
            continue
        default = next((v for v in entry.get("PolicyVersionList") or () if v.get("IsDefaultVersion")), None)
        if default is None:
            raise ValueError(f"{arn}: no default version in the dump")
        document = default["Document"]
        text = json.dumps(document, indent=4) if isinstance(document, Mapping) else unquote(str(document))
        text = in_partition(text, partition) if arn.startswith("arn:aws:") else text
        parse_policy(text, DocumentKind.IDENTITY)  # refuse what iamd could not evaluate
        with store.transaction() as tx:
            tx.put_aws_managed_policy(
                str(entry["PolicyName"]), text, path=str(entry.get("Path", "/")),
                description=entry.get("Description"), version_id=str(default.get("VersionId", "v1")),
            )  # fmt: skip
        count += 1
    return count
