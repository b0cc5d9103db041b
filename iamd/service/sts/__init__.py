"""The STS operations: name → handler ``(call, tx) -> response members``.

Handlers run on cached reads (the core, ``iamd.core.Core.invoke``) after the caller was authenticated and
the session-credential restrictions of AWS "Compare AWS STS credentials" were applied; each handler authorizes
what AWS authorizes for its operation (GetCallerIdentity: nothing).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from iamd import errors as aws
from iamd.service.call import Call
from iamd.service.root_access import assume_root
from iamd.store import ReadTx

from .operations import (
    assume_role,
    decode_authorization_message,
    get_access_key_info,
    get_caller_identity,
    get_federation_token,
    get_session_token,
)

__all__ = ["STS_OPERATIONS", "get_caller_identity"]

StsHandler = Callable[[Call, ReadTx], dict[str, Any]]


def _on_first_call(module: str, name: str) -> StsHandler:
    """The handler ``module.name``, its module imported when it is first called: the federation
    handlers need PyJWT, cryptography's X.509, lxml and signxml, which a server that is never
    asked for them should not load at start-up (bench/README.md, "Start-up")."""

    def handler(call: Call, tx: ReadTx) -> dict[str, Any]:
        found: StsHandler = getattr(importlib.import_module(module), name)
        return found(call, tx)

    handler.__name__ = handler.__qualname__ = name
    return handler


assume_role_with_web_identity = _on_first_call("iamd.service.sts.web_identity", "assume_role_with_web_identity")
assume_role_with_saml = _on_first_call("iamd.service.sts.saml", "assume_role_with_saml")
get_web_identity_token = _on_first_call("iamd.service.outbound", "get_web_identity_token")

_OPERATIONS: dict[str, StsHandler] = {
    "GetCallerIdentity": get_caller_identity,
    # -- temporary credentials (STS core) --
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
    "GetFederationToken": get_federation_token,
    "GetAccessKeyInfo": get_access_key_info,
    "DecodeAuthorizationMessage": decode_authorization_message,
    # -- federation (AssumeRoleWithWebIdentity / AssumeRoleWithSAML) go below --
    "AssumeRoleWithWebIdentity": assume_role_with_web_identity,
    "AssumeRoleWithSAML": assume_role_with_saml,
    # -- outbound web identity federation (iamd.service.outbound) --
    "GetWebIdentityToken": get_web_identity_token,
    # -- privileged root sessions on member accounts (iamd.service.root_access) --
    "AssumeRoot": assume_root,
}


def _in_active_region(handler: StsHandler) -> StsHandler:
    """``handler``, answering RegionDisabledException when the request was signed for a region
    of the partition the server does not accept (AWS "Managing AWS STS in an AWS Region";
    docs/iam-api.md, "Regions and partitions")."""

    def checked(call: Call, tx: ReadTx) -> dict[str, Any]:
        if call.region not in call.env.partition.accepted:
            raise aws.RegionDisabledException(
                f"STS is not activated in this region for account:{call.account}. Your account administrator "
                "can activate STS in this region using the IAM Console."
            )
        return handler(call, tx)

    checked.__name__ = checked.__qualname__ = handler.__name__
    checked.__doc__ = handler.__doc__
    return checked


STS_OPERATIONS: dict[str, StsHandler] = {name: _in_active_region(h) for name, h in _OPERATIONS.items()}
