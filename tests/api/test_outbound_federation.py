"""Outbound web identity federation against a real server: the account's switch (IAM), STS
GetWebIdentityToken, and tokens verified by PyJWT with the key set iamd serves at the issuer's
documented discovery paths."""

from __future__ import annotations

from typing import Any

import boto3
import httpx
import jwt
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import NO_RETRY, UserClient, allow, failure, policy
from tests.api.server import RunningServer

AUDIENCE = "https://api.example.com"


def _sts(server: RunningServer, key: str, secret: str, token: str | None = None, region: str = "eu-west-1") -> Any:
    return boto3.client("sts", endpoint_url=server.endpoint, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token, config=NO_RETRY)  # fmt: skip


def _verified(server: RunningServer, token: str, audience: str | list[str] = AUDIENCE) -> dict[str, Any]:
    """The token's claims, verified the way a relying party does: issuer → discovery → JWKS."""
    issuer = jwt.decode(token, options={"verify_signature": False})["iss"]
    assert issuer.startswith(server.endpoint + "/outbound/")
    config = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert config["issuer"] == issuer and config["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    keys = jwt.PyJWKClient(config["jwks_uri"]).get_signing_key_from_jwt(token)
    header = jwt.get_unverified_header(token)
    return dict(jwt.decode(token, keys.key, algorithms=[header["alg"]], audience=audience, issuer=issuer))


def test_disabled_until_enabled(api_server: RunningServer, iam: BaseClient) -> None:
    with pytest.raises(ClientError) as never:
        iam.get_outbound_web_identity_federation_info()
    assert failure(never)[:2] == (404, "FeatureDisabled")
    sts = _sts(api_server, api_server.root_key, api_server.root_secret)
    with pytest.raises(ClientError) as off:
        sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256")
    assert failure(off)[:2] == (403, "OutboundWebIdentityFederationDisabledException")
    with pytest.raises(ClientError) as twice_off:
        iam.disable_outbound_web_identity_federation()
    assert failure(twice_off)[:2] == (404, "FeatureDisabled")


def test_enable_gives_the_issuer_and_tokens_verify_against_the_served_keys(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient, acct: str
) -> None:
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert issuer.startswith(f"{api_server.endpoint}/outbound/")
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, True)
    with pytest.raises(ClientError) as again:
        iam.enable_outbound_web_identity_federation()
    assert failure(again)[:2] == (409, "FeatureEnabled")

    user_client("outbound", policy(allow("sts:GetWebIdentityToken")))
    key = iam.create_access_key(UserName="outbound")["AccessKey"]
    iam.tag_user(UserName="outbound", Tags=[{"Key": "team", "Value": "data"}])
    sts = _sts(api_server, key["AccessKeyId"], key["SecretAccessKey"])
    for algorithm in ("RS256", "ES384"):
        out = sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm=algorithm, DurationSeconds=120,
                                         Tags=[{"Key": "job", "Value": "42"}])  # fmt: skip
        claims = _verified(api_server, out["WebIdentityToken"])
        assert jwt.get_unverified_header(out["WebIdentityToken"])["alg"] == algorithm
        assert claims["sub"] == f"arn:aws:iam::{acct}:user/outbound" and claims["exp"] - claims["iat"] == 120
        aws_claims = claims["https://sts.amazonaws.com/"]
        assert aws_claims["aws_account"] == acct and aws_claims["source_region"] == "eu-west-1"
        assert aws_claims["principal_tags"] == {"team": "data"} and aws_claims["request_tags"] == {"job": "42"}
        assert int(out["Expiration"].timestamp()) == claims["exp"]
    two = sts.get_web_identity_token(Audience=["a", "b"], SigningAlgorithm="RS256")["WebIdentityToken"]
    claims = _verified(api_server, two, audience="b")
    assert claims["aud"] == ["a", "b"] and claims["exp"] - claims["iat"] == 300  # the default duration
    with pytest.raises(ClientError) as bad:
        sts.get_web_identity_token(Audience=["a"], SigningAlgorithm="HS256")
    assert failure(bad)[:2] == (400, "ValidationError")


def test_keys_are_sealed_at_rest(api_server: RunningServer, iam: BaseClient) -> None:
    with api_server.backend.store.read() as tx:
        keys = tx.list_web_identity_keys(api_server.account_id)
    assert {k.algorithm for k in keys} == {"RS256", "ES384"}
    for k in keys:
        assert b"PRIVATE KEY" not in k.private_sealed and b"BEGIN" not in k.private_sealed


def test_a_role_session_gets_its_role_as_subject_and_cannot_outlive_itself(
    api_server: RunningServer, iam: BaseClient, user_client: UserClient, acct: str
) -> None:
    trust = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}})
    iam.create_role(RoleName="Vendor", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="Vendor", PolicyName="p", PolicyDocument=policy(
        allow("sts:GetWebIdentityToken", **{"ForAllValues:StringEquals": {"sts:IdentityTokenAudience": AUDIENCE}})
    ))  # fmt: skip
    user_client("assumer", policy(allow("sts:AssumeRole")))
    key = iam.create_access_key(UserName="assumer")["AccessKey"]
    creds = _sts(api_server, key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{acct}:role/Vendor", RoleSessionName="vendor", DurationSeconds=900
    )["Credentials"]
    sts = _sts(api_server, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    token = sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="ES384")["WebIdentityToken"]
    claims = _verified(api_server, token)
    assert claims["sub"] == f"arn:aws:iam::{acct}:role/Vendor"
    with pytest.raises(ClientError) as other_audience:
        sts.get_web_identity_token(Audience=["https://elsewhere.example"], SigningAlgorithm="ES384")
    assert failure(other_audience)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as longer:
        sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="ES384", DurationSeconds=3600)
    assert failure(longer)[:2] == (403, "SessionDurationEscalationException")


def test_disable_stops_vending_but_keeps_the_issuer_and_its_keys(api_server: RunningServer, iam: BaseClient) -> None:
    issuer = iam.get_outbound_web_identity_federation_info()["IssuerIdentifier"]
    iam.disable_outbound_web_identity_federation()
    info = iam.get_outbound_web_identity_federation_info()
    assert (info["IssuerIdentifier"], info["JwtVendingEnabled"]) == (issuer, False)
    with pytest.raises(ClientError) as off:
        _sts(api_server, api_server.root_key, api_server.root_secret).get_web_identity_token(
            Audience=[AUDIENCE], SigningAlgorithm="RS256"
        )
    assert failure(off)[:2] == (403, "OutboundWebIdentityFederationDisabledException")
    assert len(httpx.get(f"{issuer}/.well-known/jwks.json").json()["keys"]) == 2
    assert iam.enable_outbound_web_identity_federation()["IssuerIdentifier"] == issuer  # the same issuer again
    assert httpx.get(f"{api_server.endpoint}/outbound/no-such-issuer/.well-known/jwks.json").status_code == 404


def test_the_token_is_never_in_the_audit_trail(api_server: RunningServer, iam: BaseClient) -> None:
    try:
        iam.enable_outbound_web_identity_federation()
    except ClientError as e:  # on already (the module's earlier tests)
        assert e.response["Error"]["Code"] == "FeatureEnabled"
    sts = _sts(api_server, api_server.root_key, api_server.root_secret)
    token = sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256")["WebIdentityToken"]
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    with api_server.backend.store.read() as tx:
        records = [e.record for e in tx.list_audit_events(api_server.account_id, max_items=1000).items]
    assert any('"eventName":"GetWebIdentityToken"' in r for r in records)
    signature = token.rsplit(".", 1)[1]
    assert not any(signature in r for r in records)
