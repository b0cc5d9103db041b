"""Who is calling, and the call being served."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from iamd.crypto import SecretBox
from iamd.policy import Principal, PrincipalKind
from iamd.service.mfa_port import MfaDevices, NoMfaDevices
from iamd.store import User

if TYPE_CHECKING:
    from iamd.service.authorize import PolicyCache

__all__ = ["Call", "Caller", "Env"]


@dataclass(frozen=True, slots=True)
class Env:
    """What operations need beyond the store: the secret box, the compiled-policy cache."""

    secret_box: SecretBox
    policies: PolicyCache
    # issue 5: who has an MFA device (credential report, sign-in); see iamd.service.mfa_port
    mfa: MfaDevices = field(default_factory=NoMfaDevices)


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    principal: Principal
    access_key_id: str | None
    user: User | None  # the IAM user who signed; None for root

    @property
    def is_root(self) -> bool:
        return self.principal.kind is PrincipalKind.ROOT

    def user_identity(self) -> dict[str, Any]:
        """CloudTrail's ``userIdentity`` (spec/api.md §8.2)."""
        identity: dict[str, Any] = {"accountId": self.account_id, "arn": self.principal.arn}
        if self.access_key_id:
            identity["accessKeyId"] = self.access_key_id
        if self.is_root:
            identity.update(type="Root", principalId=self.account_id)
        elif self.user is not None:
            identity.update(type="IAMUser", principalId=self.user.id, userName=self.user.name)
        return identity


@dataclass(frozen=True, slots=True)
class Call:
    request_id: str
    service: str  # "iam" | "sts"
    operation: str
    params: Mapping[str, Any]
    caller: Caller
    now: datetime
    source_ip: str
    user_agent: str
    secure: bool
    env: Env

    @property
    def account(self) -> str:
        return self.caller.account_id
