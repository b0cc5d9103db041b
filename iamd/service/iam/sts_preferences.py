"""SetSecurityTokenServicePreferences: which session tokens STS's global endpoint issues.

``v1Token`` tokens are valid only in regions enabled by default, ``v2Token`` in every
region (and longer); GetAccountSummary reports the choice as ``GlobalEndpointTokenVersion``
1 or 2 (IAM API "SetSecurityTokenServicePreferences"). iamd's session tokens are the same
whatever the choice (docs/iam-api.md, "STS preferences"): the setting is kept and reported.
"""

from __future__ import annotations

from iamd.service.call import Call
from iamd.store import ReadTx, Tx

__all__ = ["DEFAULT_TOKEN_VERSION", "global_endpoint_token_version", "set_security_token_service_preferences"]

DEFAULT_TOKEN_VERSION = 1  # AWS's default for the global endpoint
_VERSIONS = {"v1Token": 1, "v2Token": 2}


def set_security_token_service_preferences(call: Call, tx: Tx) -> None:
    tx.set_sts_token_version(call.account, _VERSIONS[str(call.params["GlobalEndpointTokenVersion"])])


def global_endpoint_token_version(tx: ReadTx, account: str) -> int:
    return tx.get_sts_token_version(account) or DEFAULT_TOKEN_VERSION
