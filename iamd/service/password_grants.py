"""``AllowUsersToChangePassword``: the password policy's implicit grant (AWS "Set an account password policy for IAM
users").

When the account password policy sets ``AllowUsersToChangePassword``, AWS lets every IAM
user call ``iam:ChangePassword`` on their own user and ``iam:GetAccountPasswordPolicy``
without any policy granting them. iamd applies the grant only where nothing but the
absence of an identity-based Allow denied the request: an explicit Deny, or a
permissions boundary that does not allow the action, still denies (fail closed; AWS's
interaction with boundaries is unconfirmed).
"""

from __future__ import annotations

import json

from iamd.policy import Decision, PolicyType, Verdict
from iamd.store import NotFound, ReadTx

from .call import Call

__all__ = ["SELF_SERVICE_ACTIONS", "password_self_service_allows"]

SELF_SERVICE_ACTIONS = frozenset({"ChangePassword", "GetAccountPasswordPolicy"})


def password_self_service_allows(call: Call, tx: ReadTx, operation: str, resource_arn: str, decision: Decision) -> bool:
    caller = call.caller
    if operation not in SELF_SERVICE_ACTIONS or caller.user is None:
        return False
    if decision.verdict is not Verdict.IMPLICIT_DENY:
        return False
    if any(b.explicit or b.type is not PolicyType.IDENTITY for b in decision.blocking):
        return False
    if operation == "ChangePassword" and resource_arn != caller.principal.arn:
        return False
    try:
        text = tx.get_account(call.account).password_policy
    except NotFound:
        return False
    return bool(text) and bool(json.loads(text or "{}").get("AllowUsersToChangePassword"))
