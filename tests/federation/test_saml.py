"""SAML metadata and response verification (STS API "AssumeRoleWithSAML"), with a self-signed test IdP."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from iamd.federation.saml import MetadataError, SamlError, parse_metadata, verify_response
from tests.federation.idp import ATTR, METADATA_LIFETIME, SamlIdp

ROLE = "arn:aws:iam::123456789012:role/Admin"
PROVIDER = "arn:aws:iam::123456789012:saml-provider/Corp"
NOW = datetime.now(UTC).replace(microsecond=0)  # the tests' clock: every date below derives from it


@pytest.fixture(scope="module")
def idp() -> SamlIdp:
    return SamlIdp(now=NOW)


def test_metadata_gives_entity_id_certificate_and_valid_until(idp: SamlIdp) -> None:
    md = parse_metadata(idp.metadata())
    assert md.entity_id == idp.entity_id
    assert md.certificates == (idp.cert,)
    assert md.valid_until == NOW + METADATA_LIFETIME == idp.valid_until
    assert parse_metadata(idp.metadata(valid_until=None)).valid_until is None


@pytest.mark.parametrize(
    "text",
    [
        "not xml at all",
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>',  # no IdP descriptor
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="p"/></md:EntityDescriptor>',  # no certificate
        '<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><x>&a;</x>',  # XXE
    ],
)
def test_metadata_without_an_idp_signing_certificate_is_refused(text: str) -> None:
    with pytest.raises(MetadataError):
        parse_metadata(text)


@pytest.mark.parametrize("sign", ["assertion", "response"])
def test_a_signed_response_yields_its_claims(idp: SamlIdp, sign: str) -> None:
    encoded = idp.response(
        roles=[f"{PROVIDER},{ROLE}"],  # either order (AWS docs)
        now=NOW,
        sign=sign,
        attributes={
            f"{ATTR}SessionDuration": ["1800"],
            f"{ATTR}PrincipalTag:team": ["blue"],
            f"{ATTR}TransitiveTagKeys": ["team"],
            f"{ATTR}SourceIdentity": ["alice"],
            "urn:oid:0.9.2342.19200300.100.1.3": ["alice@example.test"],
        },
    )
    a = verify_response(encoded, parse_metadata(idp.metadata()), NOW + timedelta(seconds=10))
    assert (a.subject, a.subject_type, a.issuer) == ("alice@example.test", "persistent", idp.entity_id)
    assert a.roles == ((ROLE, PROVIDER),)
    assert (a.session_name, a.session_duration, a.source_identity) == ("alice", 1800, "alice")
    assert a.principal_tags == (("team", "blue"),) and a.transitive_tag_keys == ("team",)
    assert a.attributes["urn:oid:0.9.2342.19200300.100.1.3"] == ("alice@example.test",)


def _refusal(idp: SamlIdp, now: datetime = NOW, **kwargs: object) -> SamlError:
    encoded = kwargs.pop("encoded", None) or idp.response(roles=[f"{ROLE},{PROVIDER}"], now=NOW, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(SamlError) as info:
        verify_response(str(encoded), parse_metadata(idp.metadata()), now)
    return info.value


def test_unsigned_tampered_or_foreign_signed_responses_are_refused(idp: SamlIdp) -> None:
    for kwargs in ({"sign": "none"}, {"tamper": True}, {"signer": SamlIdp(idp.entity_id, now=NOW)}):
        error = _refusal(idp, **kwargs)
        assert (error.code, error.message) == ("InvalidIdentityToken", "Response signature invalid")


def test_expiry_audience_recipient_and_issuer_are_checked(idp: SamlIdp) -> None:
    expired = _refusal(idp, now=NOW + timedelta(minutes=6))
    assert expired.code == "ExpiredTokenException" and expired.message.startswith("Token expired")
    assert "audience" in _refusal(idp, audience="https://elsewhere.example/saml").message
    assert "Recipient" in _refusal(idp, recipient="https://elsewhere.example/saml").message
    assert _refusal(idp, issuer="https://other-idp.example").message == "Issuer not present in specified provider"
    # an assertion without an audience restriction or without a Recipient is refused (fail closed)
    assert "audience" in _refusal(idp, audience=None).message
    assert "Recipient" in _refusal(idp, recipient=None).message
    # a regional sign-in endpoint is an AWS audience too
    regional = idp.response(
        roles=[f"{ROLE},{PROVIDER}"], now=NOW, audience="https://us-east-2.signin.aws.amazon.com/saml"
    )
    assert verify_response(regional, parse_metadata(idp.metadata()), NOW).audiences == (
        "https://us-east-2.signin.aws.amazon.com/saml",
    )


def test_hostile_xml_is_refused_without_expanding_or_reading_anything(idp: SamlIdp) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol2;</samlp:Response>'
    )
    xxe = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    for data in (laughs, xxe, b"<unclosed>", "<r/>".encode("utf-16")):
        error = _refusal(idp, encoded=base64.b64encode(data).decode())
        assert error.code == "InvalidIdentityToken"
    assert _refusal(idp, encoded="%%%not base64%%%").code == "InvalidIdentityToken"


def test_signature_wrapping_with_a_second_assertion_is_refused(idp: SamlIdp) -> None:
    from lxml import etree

    good = base64.b64decode(idp.response(roles=[f"{ROLE},{PROVIDER}"], now=NOW))
    root = etree.fromstring(good)
    ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
    evil = etree.fromstring(etree.tostring(root.find("saml:Assertion", ns)))
    for sig in evil.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        evil.remove(sig)
    evil.find(".//saml:NameID", ns).text = "admin"
    root.insert(1, evil)
    error = _refusal(idp, encoded=base64.b64encode(etree.tostring(root)).decode())
    assert error.message == "Response signature invalid"


def test_a_signing_certificate_outside_its_validity_dates_is_refused() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    idp = SamlIdp(now=NOW)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired-idp")])
    idp.cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(idp.key.public_key())
        .serial_number(1).not_valid_before(NOW - timedelta(days=400)).not_valid_after(NOW - timedelta(days=1))
        .sign(idp.key, hashes.SHA256())
    )  # fmt: skip
    encoded = idp.response(roles=[f"{ROLE},{PROVIDER}"], now=NOW)
    with pytest.raises(SamlError, match="Response signature invalid"):
        verify_response(encoded, parse_metadata(idp.metadata()), NOW)
    # the same response checked at a time the certificate was valid (injected clock) passes the signature
    # and then fails on the assertion's own NotBefore (issued two days "later")
    with pytest.raises(SamlError) as info:
        verify_response(encoded, parse_metadata(idp.metadata()), NOW - timedelta(days=2))
    assert info.value.message == "Assertion is not yet valid (NotBefore in the future)"
