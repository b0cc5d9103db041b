"""STS session tokens: self-contained, sealed, verified by any server process without a read.

A session is issued as an ``ASIA…`` access key id (encoding the account like AKIA ids), a
40-character secret, and a session token that carries everything needed to authenticate and
authorize the session (:class:`SessionClaims`). The token is::

    v1:<master key id>:<base64url(nonce || AES-256-GCM(zlib(JSON claims)) || tag)>

sealed by :class:`iamd.crypto.SecretBox` with the associated data ``sts-session:<ASIA id>``,
so a token opens only together with the access key id it was issued with, any change to it
fails authentication, and a token sealed under an older master key still opens as long as
that key stays listed in the box (rotation). Nothing is stored: sessions are not
individually revocable, exactly like AWS's (AWS "Revoke IAM role temporary security credentials").

The claims name the entity (role or user) and the session's own facts; the role's or user's
policies and tags are read when a request is authorized, so changing them affects live
sessions immediately (AWS "Revoke IAM role temporary security credentials").
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from iamd.crypto import SecretBox, SecretBoxError, new_access_key_id, new_secret_access_key

__all__ = [
    "IssuedCredentials",
    "SessionClaims",
    "SessionKind",
    "TokenError",
    "issue_credentials",
    "open_session_token",
    "session_context",
]

_FORMAT = 1
_MAX_TOKEN = 16_384  # a token longer than this was not issued by iamd


class TokenError(Exception):
    """The presented session token is not one iamd issued for this access key id."""


class SessionKind(StrEnum):
    ASSUMED_ROLE = "AssumedRole"  # AssumeRole, AssumeRoleWithWebIdentity, AssumeRoleWithSAML
    FEDERATED_USER = "FederatedUser"  # GetFederationToken
    USER = "IAMUser"  # GetSessionToken by an IAM user
    ROOT = "Root"  # GetSessionToken by the root user


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """Everything a session token carries (all of it sealed)."""

    kind: SessionKind
    account: str
    issued_at: datetime
    expires_at: datetime
    secret_access_key: str = field(repr=False)
    session_name: str | None = None  # role session name / federated user name
    role_arn: str | None = None
    role_id: str | None = None  # AROA…
    user_arn: str | None = None  # the IAM user (GetSessionToken) or the federated user's parent
    user_id: str | None = None
    user_name: str | None = None
    policy: str | None = None  # inline session policy, as passed
    policy_arns: tuple[str, ...] = ()  # managed session policies, resolved when evaluated
    tags: tuple[tuple[str, str], ...] = ()  # session tags, incl. inherited transitive ones
    transitive_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    mfa: bool = False
    mfa_time: datetime | None = None
    chained: bool = False  # a role session assumed with role-session credentials
    federated_provider: str | None = None  # web identity / SAML sessions (P's operations)
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. webIdFederationData for CloudTrail
    partition: str = "aws"  # the server's partition when the session was issued (iamd.partitions)

    @property
    def has_session_policy(self) -> bool:
        return self.policy is not None or bool(self.policy_arns)

    @property
    def arn(self) -> str:
        """The caller ARN of the session (what denials and GetCallerIdentity name)."""
        if self.kind is SessionKind.ASSUMED_ROLE:
            assert self.role_arn is not None
            partition, role_name = self.role_arn.split(":", 2)[1], self.role_arn.rsplit("/", 1)[1]
            return f"arn:{partition}:sts::{self.account}:assumed-role/{role_name}/{self.session_name}"
        if self.kind is SessionKind.FEDERATED_USER:
            return f"arn:{self.partition}:sts::{self.account}:federated-user/{self.session_name}"
        if self.kind is SessionKind.USER:
            assert self.user_arn is not None
            return self.user_arn
        return f"arn:{self.partition}:iam::{self.account}:root"

    @property
    def user_id_string(self) -> str:
        """``aws:userid`` / GetCallerIdentity's UserId."""
        if self.kind is SessionKind.ASSUMED_ROLE:
            return f"{self.role_id}:{self.session_name}"
        if self.kind is SessionKind.FEDERATED_USER:
            return f"{self.account}:{self.session_name}"
        if self.kind is SessionKind.USER:
            return self.user_id or ""
        return self.account

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "f": _FORMAT, "k": self.kind.value, "a": self.account, "i": _epoch(self.issued_at),
            "e": _epoch(self.expires_at), "s": self.secret_access_key,
        }  # fmt: skip
        optional: dict[str, Any] = {
            "n": self.session_name, "ra": self.role_arn, "ri": self.role_id, "ua": self.user_arn,
            "ui": self.user_id, "un": self.user_name, "p": self.policy, "pa": list(self.policy_arns),
            "g": [list(t) for t in self.tags], "tt": list(self.transitive_keys), "si": self.source_identity,
            "m": self.mfa, "mt": _epoch(self.mfa_time) if self.mfa_time else None, "c": self.chained,
            "fp": self.federated_provider, "x": dict(self.extra),
            "pt": None if self.partition == "aws" else self.partition,
        }  # fmt: skip
        out.update({k: v for k, v in optional.items() if v not in (None, [], {}, False)})
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionClaims:
        if data.get("f") != _FORMAT:
            raise TokenError("unknown token format")
        mt = data.get("mt")
        return cls(
            kind=SessionKind(data["k"]), account=str(data["a"]), issued_at=_time(data["i"]),
            expires_at=_time(data["e"]), secret_access_key=str(data["s"]), session_name=data.get("n"),
            role_arn=data.get("ra"), role_id=data.get("ri"), user_arn=data.get("ua"), user_id=data.get("ui"),
            user_name=data.get("un"), policy=data.get("p"), policy_arns=tuple(data.get("pa", ())),
            tags=tuple((str(k), str(v)) for k, v in data.get("g", ())),
            transitive_keys=tuple(data.get("tt", ())), source_identity=data.get("si"),
            mfa=bool(data.get("m", False)), mfa_time=_time(mt) if mt is not None else None,
            chained=bool(data.get("c", False)), federated_provider=data.get("fp"), extra=dict(data.get("x", {})),
            partition=str(data.get("pt", "aws")),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime

    def response(self) -> dict[str, Any]:
        """STS's ``Credentials`` member."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration,
        }


def session_context(access_key_id: str) -> bytes:
    """The associated data binding a token to its access key id."""
    return f"sts-session:{access_key_id}".encode()


def issue_credentials(box: SecretBox, claims_without_secret: SessionClaims) -> tuple[IssuedCredentials, SessionClaims]:
    """New ASIA credentials for ``claims`` (its secret is replaced by a fresh one)."""
    key_id = new_access_key_id(account_id=claims_without_secret.account, prefix="ASIA")
    secret = new_secret_access_key()
    claims = replace(claims_without_secret, secret_access_key=secret)
    raw = json.dumps(claims.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
    token = box.seal_bytes(zlib.compress(raw, 9), context=session_context(key_id))
    return IssuedCredentials(key_id, secret, token, claims.expires_at), claims


def open_session_token(box: SecretBox, access_key_id: str, token: str) -> SessionClaims:
    """The claims of ``token`` presented with ``access_key_id``; :class:`TokenError` if not ours."""
    if len(token) > _MAX_TOKEN:
        raise TokenError("token too long")
    try:
        packed = box.open_bytes(token, context=session_context(access_key_id))
        data = json.loads(zlib.decompressobj().decompress(packed, 1 << 20))
        return SessionClaims.from_json(data)
    except (SecretBoxError, zlib.error, ValueError, KeyError, TypeError) as e:
        raise TokenError("invalid session token") from e


def _epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def _time(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)
