"""CloudTrail's ``userIdentity`` of the unsigned STS calls (AWS "CloudTrail userIdentity element"; AWS "Logging IAM and
AWS STS API calls with AWS CloudTrail").

AssumeRoleWithWebIdentity and AssumeRoleWithSAML carry no AWS credentials: CloudTrail
records the identity provider's user instead (``WebIdentityUser`` / ``SAMLUser`` with
``principalId``, ``userName`` and ``identityProvider``). iamd takes them from the call's own
response (what the verified token or assertion said). A failed call has no verified
identity: it stays ``Unknown``/anonymous, never something the unverified input claimed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["federated_user_identity"]


def federated_user_identity(operation: str, result: Mapping[str, Any] | None, account: str) -> dict[str, Any] | None:
    """The ``userIdentity`` of a successful AssumeRoleWith* call, else None."""
    if not result:
        return None
    if operation == "AssumeRoleWithWebIdentity":
        provider = str(result.get("Provider", ""))
        subject = str(result.get("SubjectFromWebIdentityToken", ""))
        audience = str(result.get("Audience", ""))
        return {
            "type": "WebIdentityUser",
            "principalId": f"{provider}:{audience}:{subject}",
            "userName": subject,
            "identityProvider": provider,
            "accountId": account,
        }
    if operation == "AssumeRoleWithSAML":
        qualifier = str(result.get("NameQualifier", ""))
        subject = str(result.get("Subject", ""))
        return {
            "type": "SAMLUser",
            "principalId": f"{qualifier}:{subject}",
            "userName": subject,
            "identityProvider": qualifier,
            "accountId": account,
        }
    return None
