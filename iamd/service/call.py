"""Who is calling, and the call being served."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from iamd.crypto import SecretBox
from iamd.frozen import fast_init
from iamd.partitions import Partition, partition
from iamd.policy import Decision, Principal, PrincipalKind
from iamd.service.mfa_port import MfaDevices, NoMfaDevices
from iamd.sessions import SessionClaims, SessionKind
from iamd.store import User

if TYPE_CHECKING:
    from iamd.service.authorize import PolicyCache

__all__ = ["Call", "Caller", "Env"]

# _ROOT: an enum member read through its class costs a call through EnumType.__getattr__'s hook
# on Python 3.11, about ten times a module constant's (bench/README.md, "Session 18: the single
# check's ids, time and enum members"): read for each caller's identity, twice on every authorization.
_ROOT = PrincipalKind.ROOT


@dataclass(frozen=True, slots=True)
class Env:
    """What operations need beyond the store: the secret box, the compiled-policy cache."""

    secret_box: SecretBox
    policies: PolicyCache
    # STS: record a role's last use (store.record_role_use; the store publishes the change).
    # (account, role name, role id, when, region)
    role_used: Callable[[str, str, str, datetime, str], None] | None = None
    # MFA devices as STS, sign-in and the credential report see them (iamd.service.mfa_port)
    mfa: MfaDevices = field(default_factory=NoMfaDevices)
    # the partition the server serves and the regions it accepts (iamd.partitions)
    partition: Partition = field(default_factory=partition)
    # iamd:Authorize (iamd.authz.operation): SigV4's credential lookup for a forwarded request,
    # and where the trail events of its checks go (the audit writer)
    lookup: Callable[[str, str | None], Any] | None = None
    submit_event: Callable[[Any], None] | None = None
    client_verifier: Callable[[str], Any] | None = None  # service name -> its SigV4Verifier
    # the URL relying parties reach this server at (outbound federation's issuer; iamd.api.outbound)
    public_url: Callable[[], str] | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    account_id: str
    principal: Principal
    access_key_id: str | None
    user: User | None  # the IAM user who signed (or whose GetSessionToken session signed); None for root
    session: SessionClaims | None = None  # temporary (ASIA) credentials: what their token carries
    # user_identity() of a session, made once (its session context is the costly part); an IAM
    # user's or root's is made on each call: one small dictionary of strings the Caller already
    # holds, not kept beside each of the many cached callers (docs/architecture.md, "Caches")
    _identity: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def is_root(self) -> bool:
        return self.principal.kind is _ROOT

    def user_identity(self) -> dict[str, Any]:
        """CloudTrail's ``userIdentity`` (AWS "CloudTrail userIdentity element"), not to be changed
        (a session's is the same dictionary every time: audit records copy it)."""
        if self.session is None:
            return self._make_identity()
        if self._identity is None:
            object.__setattr__(self, "_identity", self._make_identity())
        assert self._identity is not None
        return self._identity

    def _make_identity(self) -> dict[str, Any]:
        session, user, key = self.session, self.user, self.access_key_id
        if session is None and user is not None and key and self.principal.kind is not _ROOT:
            # An IAM user's long-term key (two per authorization, one per IAM call): the members in
            # the order the general path below adds them, as one literal (no update by keywords).
            return {"accountId": self.account_id, "arn": self.principal.arn, "accessKeyId": key,
                    "type": "IAMUser", "principalId": user.id, "userName": user.name}  # fmt: skip
        identity: dict[str, Any] = {"accountId": self.account_id, "arn": self.principal.arn}
        if self.access_key_id:
            identity["accessKeyId"] = self.access_key_id
        session = self.session
        if session is not None and session.kind in (SessionKind.ASSUMED_ROLE, SessionKind.FEDERATED_USER):
            identity.update(type=session.kind.value, principalId=session.user_id_string)
            identity["sessionContext"] = _session_context(session)
            if session.extra.get("sessionCredentialFromConsole"):  # a web console session (docs/console.md)
                identity["sessionCredentialFromConsole"] = "true"
            return identity
        if self.is_root:
            identity.update(type="Root", principalId=self.account_id)
        elif self.user is not None:
            identity.update(type="IAMUser", principalId=self.user.id, userName=self.user.name)
        elif session is not None:  # a GetSessionToken session of a user deleted since
            identity.update(type="IAMUser", principalId=session.user_id, userName=session.user_name)
        if session is not None:
            identity["sessionContext"] = {"attributes": _attributes(session)}
            if session.extra.get("sessionCredentialFromConsole"):  # a web console session (docs/console.md)
                identity["sessionCredentialFromConsole"] = "true"
        return identity


def _attributes(session: SessionClaims) -> dict[str, str]:
    return {
        "creationDate": session.issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mfaAuthenticated": "true" if session.mfa else "false",
    }


def _session_context(session: SessionClaims) -> dict[str, Any]:
    """CloudTrail's ``sessionContext`` of a role or federated-user session (AWS "CloudTrail userIdentity element")."""
    if session.kind is SessionKind.ASSUMED_ROLE:
        role_arn = session.role_arn or ""
        issuer: dict[str, Any] = {
            "type": "Role", "principalId": session.role_id, "arn": role_arn,
            "accountId": session.account, "userName": role_arn.rsplit("/", 1)[-1],
        }  # fmt: skip
    elif session.user_arn is not None:
        issuer = {
            "type": "IAMUser", "principalId": session.user_id, "arn": session.user_arn,
            "accountId": session.account, "userName": session.user_name,
        }  # fmt: skip
    else:
        issuer = {
            "type": "Root", "principalId": session.account,
            "arn": f"arn:{session.partition}:iam::{session.account}:root", "accountId": session.account,
        }  # fmt: skip
    out: dict[str, Any] = {"sessionIssuer": issuer, "attributes": _attributes(session)}
    if session.source_identity:
        out["sourceIdentity"] = session.source_identity
    web = session.extra.get("webIdFederationData")
    if web:
        out["webIdFederationData"] = web
    return out


@fast_init
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
    region: str = "us-east-1"  # the signing scope's region (STS endpoints are regional)
    # Decisions a handler that authorizes by itself (STS) allowed, in order; the first is the
    # call's decision in its audit event (iamd.core).
    decisions: list[Decision] = field(default_factory=list)

    @property
    def account(self) -> str:
        return self.caller.account_id

    @property
    def partition(self) -> str:
        return self.env.partition.name

    def arn(self, resource: str, service: str = "iam") -> str:
        """An ARN of the caller's account in the server's partition: ``arn:<p>:iam::<acct>:<resource>``."""
        return f"arn:{self.env.partition.name}:{service}::{self.caller.account_id}:{resource}"
