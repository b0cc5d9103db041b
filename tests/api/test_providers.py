"""IAM OIDC and SAML identity providers over the wire with boto3 (AWS "Identity providers and federation into AWS"; AWS
"Tags for AWS Identity and Access Management resources").
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import UserClient, allow, failure, policy
from tests.federation.idp import SamlIdp

THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


@pytest.fixture(scope="module")
def idp() -> SamlIdp:
    return SamlIdp()


def test_oidc_provider_lifecycle(iam: BaseClient, acct: str) -> None:
    created = iam.create_open_id_connect_provider(
        Url="https://token.example.com/id/ABC", ClientIDList=["app-1", "app-1", "app-2"], ThumbprintList=[THUMB],
        Tags=[{"Key": "team", "Value": "blue"}],
    )  # fmt: skip
    arn = f"arn:aws:iam::{acct}:oidc-provider/token.example.com/id/ABC"
    assert created["OpenIDConnectProviderArn"] == arn
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    # without the scheme (AWS "Identity providers and federation into AWS")
    assert got["Url"] == "token.example.com/id/ABC"
    assert got["ClientIDList"] == ["app-1", "app-2"] and got["ThumbprintList"] == [THUMB]
    assert got["Tags"] == [{"Key": "team", "Value": "blue"}] and got["CreateDate"] <= datetime.now(UTC)
    assert {"Arn": arn} in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-3")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-3")  # idempotent
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-1")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="nope")
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[THUMB, "a" * 40])
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["app-2", "app-3"] and got["ThumbprintList"] == [THUMB, "a" * 40]

    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "Team", "Value": "red"}])
    tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)
    assert tags["Tags"] == [{"Key": "Team", "Value": "red"}, {"Key": "team", "Value": "blue"}]  # case-sensitive
    assert tags["IsTruncated"] is False
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["team"])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [
        {"Key": "Team", "Value": "red"}
    ]

    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://token.example.com/id/ABC", ClientIDList=["x"])
    assert failure(e) == (
        409,
        "EntityAlreadyExists",
        "Provider with url https://token.example.com/id/ABC already exists.",
    )
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as e:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert failure(e) == (404, "NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}")
    # "This operation is idempotent; it does not fail or return an error if you call the operation for a
    # provider that does not exist" (IAM API Reference, DeleteOpenIDConnectProvider)
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    other = arn.replace(f":{acct}:", ":999999999999:")  # not a provider ARN of this account: still NoSuchEntity
    with pytest.raises(ClientError) as e:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=other)
    assert failure(e)[:2] == (404, "NoSuchEntity")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"Url": "http://plain.example.com"}, (400, "InvalidInput", "Invalid Open ID Connect Provider URL")),
        ({"Url": "https://q.example.com/?a=b"}, (400, "InvalidInput", "Invalid Open ID Connect Provider URL")),
        ({"Url": "https://p.example.com:8443"}, (400, "InvalidInput", "Invalid Open ID Connect Provider URL")),
        (
            {"Url": "https://t.example.com", "ThumbprintList": [THUMB] * 6},
            (400, "InvalidInput", "Thumbprint list must contain fewer than 5 entries."),
        ),
        (
            {"Url": "https://t.example.com", "ThumbprintList": ["z" * 40]},
            (400, "InvalidInput", f"Thumbprint {'z' * 40} is not a 40-character hexadecimal SHA-1 fingerprint."),
        ),
        (
            {"Url": "https://t.example.com", "ClientIDList": [f"c{i}" for i in range(101)]},
            (409, "LimitExceeded", "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100"),
        ),
        (
            {"Url": "https://t.example.com", "Tags": [{"Key": "aws:x", "Value": "1"}]},
            (400, "InvalidInput", "User-defined tag keys can't start with 'aws:'."),
        ),
    ],
)
def test_oidc_provider_validation(iam: BaseClient, kwargs: dict[str, object], expected: tuple[int, str, str]) -> None:
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(**kwargs)
    assert failure(e) == expected
    assert not any(
        "t.example.com" in p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    )


def test_oidc_provider_quota_is_100_per_account(iam: BaseClient, acct: str) -> None:
    existing = len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    arns = [
        iam.create_open_id_connect_provider(Url=f"https://q{n}.example.com")["OpenIDConnectProviderArn"]
        for n in range(100 - existing)
    ]
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://one-too-many.example.com")
    assert failure(e) == (409, "LimitExceeded", "Cannot exceed quota for OpenIdConnectProvidersPerAccount: 100")
    for arn in arns:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_saml_provider_lifecycle(iam: BaseClient, acct: str, idp: SamlIdp) -> None:
    created = iam.create_saml_provider(
        Name="Corp", SAMLMetadataDocument=idp.metadata(), Tags=[{"Key": "k", "Value": "v"}]
    )
    arn = f"arn:aws:iam::{acct}:saml-provider/Corp"
    assert created["SAMLProviderArn"] == arn and created["Tags"] == [{"Key": "k", "Value": "v"}]
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == idp.metadata()
    assert got["ValidUntil"] == idp.valid_until  # the metadata's validUntil
    assert got["Tags"] == [{"Key": "k", "Value": "v"}]
    listed = iam.list_saml_providers()["SAMLProviderList"]
    assert [(p["Arn"], p["ValidUntil"]) for p in listed] == [(arn, idp.valid_until)]
    oidc = len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    assert iam.get_account_summary()["SummaryMap"]["Providers"] == oidc + 1  # SAML and OIDC together

    other = SamlIdp()
    assert (
        iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=other.metadata(valid_until=None))[
            "SAMLProviderArn"
        ]
        == arn
    )
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == other.metadata(valid_until=None) and "ValidUntil" not in got

    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "K", "Value": "w"}])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [
        {"Key": "K", "Value": "w"}, {"Key": "k", "Value": "v"},
    ]  # fmt: skip
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["K", "absent"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]

    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name="Corp", SAMLMetadataDocument=idp.metadata())
    assert failure(e) == (409, "EntityAlreadyExists", "SAMLProvider named Corp already exists")
    iam.delete_saml_provider(SAMLProviderArn=arn)
    for call in (iam.get_saml_provider, iam.delete_saml_provider, iam.list_saml_provider_tags):
        with pytest.raises(ClientError) as e:
            call(SAMLProviderArn=arn)
        assert failure(e) == (404, "NoSuchEntity", f"Manifest not found for arn {arn}")


def test_saml_metadata_must_name_an_idp_signing_certificate(iam: BaseClient, idp: SamlIdp) -> None:
    no_cert = idp.metadata().replace("<md:KeyDescriptor", "<md:Unused").replace("</md:KeyDescriptor>", "</md:Unused>")
    hostile = '<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]>' + idp.metadata()
    for document in (no_cert, hostile, "x" * 1000):
        with pytest.raises(ClientError) as e:
            iam.create_saml_provider(Name="Bad", SAMLMetadataDocument=document)
        assert failure(e) == (400, "InvalidInput", "Could not parse metadata")
    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name="Bad", SAMLMetadataDocument=idp.metadata(), AssertionEncryptionMode="Required")
    assert failure(e)[:2] == (400, "InvalidInput")
    assert iam.list_saml_providers()["SAMLProviderList"] == []


def test_provider_actions_are_authorized_on_the_provider_arn_with_its_tags(
    iam: BaseClient, acct: str, user_client: UserClient, idp: SamlIdp
) -> None:
    iam.create_saml_provider(Name="Tagged", SAMLMetadataDocument=idp.metadata(), Tags=[{"Key": "env", "Value": "dev"}])
    iam.create_saml_provider(Name="Prod", SAMLMetadataDocument=idp.metadata(), Tags=[{"Key": "env", "Value": "prod"}])
    dev = f"arn:aws:iam::{acct}:saml-provider/Tagged"
    prod = f"arn:aws:iam::{acct}:saml-provider/Prod"
    client = user_client(
        "idp-admin",
        policy(
            allow(
                "iam:GetSAMLProvider",
                f"arn:aws:iam::{acct}:saml-provider/*",
                StringEquals={"aws:ResourceTag/env": "dev"},
            ),
            allow("iam:CreateOpenIDConnectProvider", f"arn:aws:iam::{acct}:oidc-provider/ok.example.com"),
        ),
    )
    assert client.get_saml_provider(SAMLProviderArn=dev)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as e:
        client.get_saml_provider(SAMLProviderArn=prod)
    status, code, message = failure(e)
    assert (status, code) == (403, "AccessDenied") and f"iam:GetSAMLProvider on resource: {prod}" in message
    client.create_open_id_connect_provider(Url="https://ok.example.com", ClientIDList=["a"])
    with pytest.raises(ClientError) as e:  # tags on create need iam:TagOpenIDConnectProvider too
        client.create_open_id_connect_provider(Url="https://ok.example.com", Tags=[{"Key": "a", "Value": "b"}])
    assert failure(e)[1] == "AccessDenied" and "iam:TagOpenIDConnectProvider" in failure(e)[2]
    with pytest.raises(ClientError) as e:
        client.create_open_id_connect_provider(Url="https://other.example.com")
    assert failure(e)[1] == "AccessDenied"
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=f"arn:aws:iam::{acct}:oidc-provider/ok.example.com")
    iam.delete_saml_provider(SAMLProviderArn=dev)
    iam.delete_saml_provider(SAMLProviderArn=prod)
