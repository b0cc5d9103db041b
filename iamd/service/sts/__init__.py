"""The STS operations iamd implements so far (issue 4 builds the rest on these)."""

from __future__ import annotations

from typing import Any

from iamd.service.call import Call
from iamd.store import ReadTx

__all__ = ["STS_OPERATIONS", "get_caller_identity"]


def get_caller_identity(call: Call, tx: ReadTx) -> dict[str, Any]:
    """Who signed the request; never denied, whatever the policies say (evaluation.md §2.3)."""
    caller = call.caller
    user_id = caller.user.id if caller.user is not None else caller.account_id
    return {"UserId": user_id, "Account": caller.account_id, "Arn": caller.principal.arn}


STS_OPERATIONS = {"GetCallerIdentity": get_caller_identity}
