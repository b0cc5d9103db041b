"""STS operations issuing and describing credentials (STS API "AssumeRole"; STS API "GetSessionToken"; STS API
"DecodeAuthorizationMessage").
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from iamd import errors as aws
from iamd.crypto import SecretBox, SecretBoxError, account_from_access_key_id
from iamd.policy import Decision
from iamd.service.authorize import authorize_action
from iamd.service.call import Call
from iamd.service.sts import mfa
from iamd.service.sts.assume import (
    AssumeRoleParams,
    assume_role_session,
    check_session_policies,
    check_tags,
    packed_policy_size,
    resolve_policy_arns,
)
from iamd.sessions import SessionClaims, SessionKind, issue_credentials
from iamd.store import ReadTx

__all__ = [
    "assume_role",
    "decode_authorization_message",
    "encode_authorization_message",
    "get_access_key_info",
    "get_caller_identity",
    "get_federation_token",
    "get_session_token",
]

ROOT_MAX_DURATION = 3600
USER_DEFAULT_DURATION = 43200


def get_caller_identity(call: Call, tx: ReadTx) -> dict[str, Any]:
    """Who signed the request; never denied, whatever the policies say (STS API "GetCallerIdentity")."""
    caller = call.caller
    if caller.session is not None:
        user_id = caller.session.user_id_string
    else:
        user_id = caller.user.id if caller.user is not None else caller.account_id
    return {"UserId": user_id, "Account": caller.account_id, "Arn": caller.principal.arn}


def authorize_sts(
    call: Call, tx: ReadTx, action: str, resource: str, extra: Sequence[tuple[str, str | Sequence[str]]] = ()
) -> None:
    """The caller's identity side must allow ``action`` on ``resource`` (no resource policy)."""
    authorize_action(call, tx, action, resource, extra)


def assume_role(call: Call, tx: ReadTx) -> dict[str, Any]:
    """AssumeRole (STS API "AssumeRole"); the work is in :func:`assume_role_session`."""
    return assume_role_session(call, tx, call.caller.principal, AssumeRoleParams.from_params(call.params))


def _mfa(call: Call, tx: ReadTx) -> datetime | None:
    serial, code = call.params.get("SerialNumber"), call.params.get("TokenCode")
    if serial is None and code is None:
        return None
    if serial is None or code is None:
        raise aws.AccessDenied(mfa.INVALID_CODE)
    return mfa.verify_mfa_code(call, call.caller.user, serial, code)


def get_session_token(call: Call, tx: ReadTx) -> dict[str, Any]:
    """Temporary credentials for the calling user or root (STS API "GetSessionToken"); no policy check."""
    caller = call.caller
    requested = call.params.get("DurationSeconds")
    if caller.is_root:  # root: at most an hour, longer requests silently capped
        duration = min(requested or ROOT_MAX_DURATION, ROOT_MAX_DURATION)
    else:
        duration = requested or USER_DEFAULT_DURATION
    mfa_time = _mfa(call, tx)
    user = caller.user
    claims = SessionClaims(
        kind=SessionKind.ROOT if caller.is_root else SessionKind.USER, account=call.account, issued_at=call.now,
        expires_at=call.now + timedelta(seconds=duration), secret_access_key="",
        user_arn=user.arn if user else None, user_id=user.id if user else None, user_name=user.name if user else None,
        mfa=mfa_time is not None, mfa_time=mfa_time, partition=call.partition,
    )  # fmt: skip
    issued, _ = issue_credentials(call.env.secret_box, claims)
    return {"Credentials": issued.response()}


def get_federation_token(call: Call, tx: ReadTx) -> dict[str, Any]:
    """A federated-user session (STS API "GetFederationToken"): the user's policies ∩ the session policy."""
    caller = call.caller
    params = call.params
    name: str = params["Name"]
    policy: str | None = params.get("Policy")
    policy_arns = tuple(p.get("arn", "") for p in params.get("PolicyArns") or ())
    tags = tuple((t["Key"], t.get("Value", "")) for t in params.get("Tags") or ())
    check_session_policies(policy, policy_arns)
    check_tags(tags, (), set())
    arn = call.arn(f"federated-user/{name}", "sts")
    if not caller.is_root:
        authorize_sts(call, tx, "sts:GetFederationToken", arn)
        if tags:
            extra: list[tuple[str, str | Sequence[str]]] = [(f"aws:RequestTag/{k}", v) for k, v in tags]
            extra.append(("aws:TagKeys", [k for k, _ in tags]))
            authorize_sts(call, tx, "sts:TagSession", arn, extra)
    requested = params.get("DurationSeconds")
    if caller.is_root:
        duration = min(requested or ROOT_MAX_DURATION, ROOT_MAX_DURATION)
    else:
        duration = requested or USER_DEFAULT_DURATION
    resolve_policy_arns(tx, policy_arns, call.account)
    packed = packed_policy_size(policy, policy_arns, tags)
    user = caller.user
    claims = SessionClaims(
        kind=SessionKind.FEDERATED_USER, account=call.account, issued_at=call.now,
        expires_at=call.now + timedelta(seconds=duration), secret_access_key="", session_name=name,
        user_arn=user.arn if user else None, user_id=user.id if user else None, user_name=user.name if user else None,
        policy=policy, policy_arns=policy_arns, tags=tags, partition=call.partition,
    )  # fmt: skip
    issued, claims = issue_credentials(call.env.secret_box, claims)
    result: dict[str, Any] = {
        "Credentials": issued.response(),
        "FederatedUser": {"FederatedUserId": claims.user_id_string, "Arn": claims.arn},
    }
    if policy is not None or policy_arns or tags:
        result["PackedPolicySize"] = packed
    return result


def get_access_key_info(call: Call, tx: ReadTx) -> dict[str, Any]:
    """The account a key id belongs to, decoded from the id itself (STS API "GetAccessKeyInfo")."""
    authorize_sts(call, tx, "sts:GetAccessKeyInfo", "*")
    key_id: str = call.params["AccessKeyId"]
    try:
        account = account_from_access_key_id(key_id)
    except ValueError:
        raise aws.InvalidParameterValue(f"The access key ID {key_id} is not valid.") from None
    return {"Account": account}


# -- encoded authorization messages (STS API "DecodeAuthorizationMessage")
# -----------------------------------------------

_MESSAGE_CONTEXT = b"sts-authorization-message"


def encode_authorization_message(box: SecretBox, decision: Decision, principal_id: str) -> str:
    """An opaque, tamper-evident encoding of a denial, in the shape DecodeAuthorizationMessage
    returns. IAM and STS never attach one to their own AccessDenied (AWS "Troubleshoot access denied error messages");
    this is
    for the services iamd may front later, and for tests."""
    req = decision.request
    explicit = decision.verdict.value == "explicitDeny"
    message = {
        "allowed": decision.allowed,
        "explicitDeny": explicit,
        "matchedStatements": {"items": [
            {"statementId": cs.statement.sid or "", "effect": cs.statement.effect.upper()}
            for cs in decision.matched
        ] if explicit else []},
        "failures": {"items": []},
        "context": {
            "principal": {"id": principal_id, "arn": req.principal.arn},
            "action": req.action.split(":", 1)[-1],
            "resource": req.resource,
            "conditions": {"items": []},
        },
        "account": req.principal.account,
    }  # fmt: skip
    raw = zlib.compress(json.dumps(message, separators=(",", ":")).encode(), 9)
    sealed = box.seal_bytes(raw, context=_MESSAGE_CONTEXT)
    return base64.urlsafe_b64encode(sealed.encode()).decode().rstrip("=")


def decode_authorization_message(call: Call, tx: ReadTx) -> dict[str, Any]:
    """Decode a message iamd encoded (STS API "DecodeAuthorizationMessage"); anything else is not decodable."""
    authorize_sts(call, tx, "sts:DecodeAuthorizationMessage", "*")
    encoded: str = call.params["EncodedMessage"]
    invalid = aws.InvalidAuthorizationMessageException("The encoded authorization message is invalid.")
    try:
        sealed = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
        message = json.loads(zlib.decompress(call.env.secret_box.open_bytes(sealed, context=_MESSAGE_CONTEXT)))
    except (ValueError, SecretBoxError, zlib.error, UnicodeDecodeError):
        raise invalid from None
    if message.pop("account", None) != call.account:  # only the account of the request may decode
        raise invalid
    return {"DecodedMessage": json.dumps(message, separators=(",", ":"))}
