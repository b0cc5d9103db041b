"""``iamd explain --apply``: write a verified fix through the normal IAM API, as the operator
(docs/troubleshooting.md, "Applying the fix").

Nothing here reads or writes the store: each change of the fix names the IAM operation that
makes it (``apply``), and :func:`apply_fix` calls it with the operator's own client (their
profile's credentials), so the write is authorized, validated and audited like any other.
Documents are read back from the server first and the fix's statement added to what is there
now, so a change made since the explanation is kept. Only a fix whose re-evaluation allowed
the request is applied, and only when every change is one iamd can make (an SCP, an RCP or a
session policy is not: the first two are the organization administrator's, the last is passed
when a session is made).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

__all__ = ["ApplyError", "apply_fix", "plan"]

Call = Callable[..., dict[str, Any]]  # call(operation_name, **params) -> the response


class ApplyError(Exception):
    """The fix cannot be applied (not verified, or a change iamd cannot make)."""


def plan(fix: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The changes to make, in order; ApplyError when the fix cannot be applied."""
    if fix is None:
        raise ApplyError("there is no fix to apply (the request is allowed, or nothing iamd can change would allow it)")
    if fix.get("kind") != "add-allow":
        raise ApplyError(
            f"a {fix.get('kind')} fix is a decision for a person (meet the condition, or change a Deny "
            "deliberately): nothing is applied"
        )
    if not fix.get("verified"):
        raise ApplyError("the fix did not turn the decision to allowed when re-evaluated: nothing is applied")
    changes = list(fix.get("changes", ()))
    cannot = [c for c in changes if "apply" not in c]
    if cannot:
        raise ApplyError(
            "part of the fix is not iamd's to write ("
            + "; ".join(str(c.get("where")) for c in cannot)
            + "): apply it there, then the rest; nothing is applied"
        )
    return changes


def _document(raw: Any) -> dict[str, Any]:
    text = unquote(raw) if isinstance(raw, str) and raw.startswith("%7B") else raw
    doc = json.loads(text) if isinstance(text, str) else text
    if not isinstance(doc, dict):
        raise ApplyError("the server returned a policy document that is not a JSON object")
    return doc


def _with(doc: dict[str, Any], statement: dict[str, Any]) -> str:
    existing = doc.get("Statement", [])
    statements = existing if isinstance(existing, list) else [existing]
    if statement not in statements:
        statements = [*statements, statement]
    return json.dumps({**doc, "Statement": statements})


def apply_fix(fix: dict[str, Any] | None, call: Call) -> list[str]:
    """Make every change of ``fix`` with ``call``; returns what was done, one line each."""
    done: list[str] = []
    for change in plan(fix):
        target = dict(change["apply"])
        operation = target.pop("operation")
        statement = change["statement"]
        if operation in ("PutUserPolicy", "PutRolePolicy"):
            who = {k: v for k, v in target.items() if k in ("UserName", "RoleName")}
            getter = "GetUserPolicy" if operation == "PutUserPolicy" else "GetRolePolicy"
            try:
                current = _document(call(getter, PolicyName=target["PolicyName"], **who)["PolicyDocument"])
            except LookupError:
                current = {"Version": "2012-10-17", "Statement": []}
            call(operation, PolicyDocument=_with(current, statement), **target)
            done.append(f"{operation} {next(iter(who.values()))} {target['PolicyName']}")
        elif operation == "CreatePolicyVersion":
            arn = target["PolicyArn"]
            version = call("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"]
            current = _document(call("GetPolicyVersion", PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])
            document = _with(current, statement)
            created = call("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
            done.append(f"CreatePolicyVersion {arn} {created['PolicyVersion']['VersionId']} (default)")
        elif operation == "UpdateAssumeRolePolicy":
            role = call("GetRole", RoleName=target["RoleName"])["Role"]
            current = _document(role["AssumeRolePolicyDocument"])
            call("UpdateAssumeRolePolicy", RoleName=target["RoleName"], PolicyDocument=_with(current, statement))
            done.append(f"UpdateAssumeRolePolicy {target['RoleName']}")
        else:  # pragma: no cover - fix.py names only the operations above
            raise ApplyError(f"unknown operation {operation}")
    return done
