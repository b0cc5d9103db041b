"""Session tokens (iamd.sessions): sealed, bound to their key id, rotation-safe, compact."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from iamd.crypto import SecretBox, account_from_access_key_id
from iamd.sessions import SessionClaims, SessionKind, TokenError, issue_credentials, open_session_token

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
OLD = secrets.token_bytes(32)
NEW = secrets.token_bytes(32)


def claims(**kw: object) -> SessionClaims:
    base = SessionClaims(
        kind=SessionKind.ASSUMED_ROLE, account="111122223333", issued_at=NOW, expires_at=NOW + timedelta(hours=1),
        secret_access_key="", session_name="alice", role_arn="arn:aws:iam::111122223333:role/team/Dev",
        role_id="AROAEXAMPLEEXAMPLE123", policy='{"Version":"2012-10-17","Statement":[]}',
        policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",), tags=(("Project", "x"), ("Team", "y")),
        transitive_keys=("Project",), source_identity="alice@example.com", mfa=True, mfa_time=NOW, chained=True,
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def test_round_trip_and_key_id_encodes_the_account() -> None:
    box = SecretBox({"old": OLD}, primary="old")
    issued, sealed = issue_credentials(box, claims())
    assert issued.access_key_id.startswith("ASIA") and len(issued.access_key_id) == 20
    assert account_from_access_key_id(issued.access_key_id) == "111122223333"
    assert len(issued.secret_access_key) == 40 and sealed.secret_access_key == issued.secret_access_key
    opened = open_session_token(box, issued.access_key_id, issued.session_token)
    assert opened == sealed
    assert opened.arn == "arn:aws:sts::111122223333:assumed-role/Dev/alice"
    assert opened.user_id_string == "AROAEXAMPLEEXAMPLE123:alice"
    assert issued.expiration == NOW + timedelta(hours=1)


def test_nothing_secret_or_readable_in_the_token_or_reprs() -> None:
    box = SecretBox({"old": OLD}, primary="old")
    issued, sealed = issue_credentials(box, claims())
    assert "alice" not in issued.session_token and "Dev" not in issued.session_token
    assert issued.secret_access_key not in repr(issued) and issued.session_token not in repr(issued)
    assert issued.secret_access_key not in repr(sealed)
    assert len(issued.session_token) < 1200  # AWS tokens are a few hundred bytes to a few KB


def test_tampered_token_or_other_key_id_is_refused() -> None:
    box = SecretBox({"old": OLD}, primary="old")
    issued, _ = issue_credentials(box, claims())
    token = issued.session_token
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    for key_id, bad in (
        (issued.access_key_id, flipped),
        (issued.access_key_id, token[:-10]),
        (issued.access_key_id, "garbage"),
        (issued.access_key_id, ""),
        ("ASIA" + issued.access_key_id[4:-1] + ("A" if issued.access_key_id[-1] != "A" else "B"), token),
    ):
        with pytest.raises(TokenError):
            open_session_token(box, key_id, bad)


def test_a_token_sealed_under_an_old_key_opens_after_rotation() -> None:
    old_box = SecretBox({"old": OLD}, primary="old")
    issued, sealed = issue_credentials(old_box, claims())
    rotated = SecretBox({"old": OLD, "new": NEW}, primary="new")
    assert open_session_token(rotated, issued.access_key_id, issued.session_token) == sealed
    fresh, _ = issue_credentials(rotated, claims())
    assert fresh.session_token.startswith("v1:new:")
    with pytest.raises(TokenError):  # once the old key is dropped, its sessions end
        open_session_token(SecretBox({"new": NEW}, primary="new"), issued.access_key_id, issued.session_token)


def test_every_kind_round_trips() -> None:
    box = SecretBox({"old": OLD}, primary="old")
    for c in (
        claims(kind=SessionKind.USER, role_arn=None, role_id=None, user_arn="arn:aws:iam::111122223333:user/bob",
               user_id="AIDAEXAMPLEEXAMPLE123", user_name="bob", policy=None, policy_arns=(), tags=(),
               transitive_keys=()),
        claims(kind=SessionKind.FEDERATED_USER, role_arn=None, role_id=None, session_name="fed", mfa=False,
               mfa_time=None, extra={"k": "v"}),
        claims(kind=SessionKind.ROOT, role_arn=None, role_id=None, session_name=None, policy=None, policy_arns=()),
    ):  # fmt: skip
        issued, sealed = issue_credentials(box, c)
        assert open_session_token(box, issued.access_key_id, issued.session_token) == sealed
    fed = claims(kind=SessionKind.FEDERATED_USER, session_name="fed")
    assert (fed.arn, fed.user_id_string) == ("arn:aws:sts::111122223333:federated-user/fed", "111122223333:fed")


def test_claims_json_is_compact() -> None:
    data = claims(policy=None, policy_arns=(), tags=(), transitive_keys=(), source_identity=None).to_json()
    assert set(data) <= {"f", "k", "a", "i", "e", "s", "n", "ra", "ri", "m", "mt", "c"}
    assert json.loads(json.dumps(data)) == data
