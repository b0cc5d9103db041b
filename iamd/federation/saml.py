"""SAML 2.0 for AssumeRoleWithSAML: IdP metadata and signed responses (STS API "AssumeRoleWithSAML").

:func:`parse_metadata` reads an IdP's metadata (what CreateSAMLProvider stores): its
entity id, its signing certificates and ``validUntil``. :func:`verify_response` checks a
base64 SAML Response against that metadata and a clock and returns the facts STS needs.

Signature wrapping is defeated by reading claims only from what the signature covers
(signxml's ``signed_xml``): the signed Response's single Assertion, or the signed Assertion
when it is the only one in the document. Errors carry AWS's error code (``code``) and the
message STS returns.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidSignature
from signxml.exceptions import InvalidInput as SignxmlInvalidInput
from signxml.verifier import SignatureConfiguration, XMLVerifier

from iamd.federation.xml import UnsafeXml, parse_untrusted

__all__ = [
    "AWS_AUDIENCES",
    "CLOCK_SKEW",
    "IdpMetadata",
    "MetadataError",
    "SamlAssertion",
    "SamlError",
    "parse_metadata",
    "verify_response",
]

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
CLOCK_SKEW = timedelta(minutes=5)
# The audiences (and Recipients) AWS sign-in accepts: the global endpoint, regional ones, and
# the relying-party identifier ADFS setups use.
AWS_AUDIENCES = ("https://signin.aws.amazon.com/saml", "urn:amazon:webservices")
_NAME_ID_FORMATS = {
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent": "persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient": "transient",
}
_SIGNATURE_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256, SignatureMethod.ECDSA_SHA384, SignatureMethod.ECDSA_SHA512,
        SignatureMethod.SHA256_RSA_MGF1, SignatureMethod.SHA384_RSA_MGF1, SignatureMethod.SHA512_RSA_MGF1,
    }
)  # fmt: skip
# Attribute names (OIDs and friendly names) behind the saml:* condition keys (AWS "IAM and AWS STS condition context
# keys" (web identity and SAML keys)).
SAML_KEY_ATTRIBUTES = {
    "urn:oid:2.5.4.3": "saml:cn",
    "urn:oid:2.5.4.42": "saml:givenName",
    "urn:oid:2.5.4.4": "saml:surname",
    "urn:oid:0.9.2342.19200300.100.1.3": "saml:mail",
    "urn:oid:0.9.2342.19200300.100.1.1": "saml:uid",
    "urn:oid:2.16.840.1.113730.3.1.241": "saml:name",
    "urn:oid:2.5.4.45": "saml:x500UniqueIdentifier",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "saml:edupersonaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.2": "saml:edupersonnickname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.3": "saml:edupersonorgdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.4": "saml:edupersonorgunitdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.5": "saml:edupersonprimaryaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "saml:edupersonprincipalname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.7": "saml:edupersonentitlement",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.8": "saml:edupersonprimaryorgunitdn",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "saml:edupersonscopedaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.10": "saml:edupersontargetedid",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.11": "saml:edupersonassurance",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.12": "saml:edupersonprincipalnameprior",
    "urn:oid:1.3.6.1.4.1.25178.1.2.9": "saml:organizationStatus",
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarygroupsid": "saml:primaryGroupSID",
}


class MetadataError(ValueError):
    """The document is not IdP metadata iamd can use."""


class SamlError(Exception):
    """A response STS refuses; ``code`` is the STS error code."""

    code = "InvalidIdentityToken"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


@dataclass(frozen=True, slots=True)
class IdpMetadata:
    entity_id: str
    certificates: tuple[x509.Certificate, ...]
    valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class SamlAssertion:
    issuer: str
    subject: str
    subject_format: str | None
    recipient: str | None
    audiences: tuple[str, ...]
    roles: tuple[tuple[str, str], ...]  # (role ARN, provider ARN)
    session_name: str | None
    session_duration: int | None
    source_identity: str | None
    principal_tags: tuple[tuple[str, str], ...]
    transitive_tag_keys: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def subject_type(self) -> str:
        """``persistent`` / ``transient``, else the full format URI (STS API "AssumeRoleWithSAML")."""
        if self.subject_format is None:
            return "unspecified"
        return _NAME_ID_FORMATS.get(self.subject_format, self.subject_format)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- metadata -------------------------------------------------------------------------------
def parse_metadata(text: str) -> IdpMetadata:
    """An EntityDescriptor with an IDPSSODescriptor and at least one signing certificate."""
    try:
        root = parse_untrusted(text.encode("utf-8"))
    except UnsafeXml as e:
        raise MetadataError(str(e)) from None
    if root.tag == f"{{{MD}}}EntitiesDescriptor":
        found = root.findall(f"{{{MD}}}EntityDescriptor")
        if len(found) != 1:
            raise MetadataError("exactly one EntityDescriptor is expected")
        root = found[0]
    if root.tag != f"{{{MD}}}EntityDescriptor" or not root.get("entityID"):
        raise MetadataError("not SAML 2.0 metadata (EntityDescriptor with an entityID)")
    idp = root.find(f"{{{MD}}}IDPSSODescriptor")
    if idp is None:
        raise MetadataError("no IDPSSODescriptor")
    certificates: list[x509.Certificate] = []
    for descriptor in idp.findall(f"{{{MD}}}KeyDescriptor"):
        if descriptor.get("use") not in (None, "signing"):
            continue
        for element in descriptor.iter(f"{{{DS}}}X509Certificate"):
            try:
                der = base64.b64decode("".join((element.text or "").split()), validate=True)
                certificates.append(x509.load_der_x509_certificate(der))
            except (ValueError, binascii.Error):
                raise MetadataError("an X509Certificate is not a base64 DER certificate") from None
    if not certificates:
        raise MetadataError("no signing certificate in the IDPSSODescriptor")
    try:
        valid_until = _time(root.get("validUntil") or idp.get("validUntil"))
    except ValueError:
        raise MetadataError("validUntil is not a dateTime") from None
    return IdpMetadata(str(root.get("entityID")), tuple(certificates), valid_until)


# -- responses ------------------------------------------------------------------------------
def _signed_assertion(root: etree._Element, certificates: Sequence[x509.Certificate], now: datetime) -> etree._Element:
    # The signing certificate must be within its validity dates at ``now`` (signxml checks it;
    # the safer choice where AWS's behaviour is unconfirmed, docs/federation.md).
    config = SignatureConfiguration(
        signature_methods=_SIGNATURE_METHODS, ignore_ambiguous_key_info=True, verification_time=now
    )
    signed: etree._Element | None = None
    for cert in certificates:
        try:
            result = XMLVerifier().verify(root, x509_cert=cert, expect_config=config)
        except (InvalidSignature, InvalidDigest, InvalidCertificate, SignxmlInvalidInput, ValueError):
            continue
        assert not isinstance(result, list)
        signed = result.signed_xml
        break
    if signed is None:
        raise SamlError("Response signature invalid")
    if signed.tag == f"{{{SAML}}}Assertion":
        if len(root.findall(f".//{{{SAML}}}Assertion")) != 1:
            raise SamlError("Response signature invalid")  # a second, unsigned assertion: wrapping
        return signed
    if signed.tag == f"{{{SAMLP}}}Response":
        assertions = signed.findall(f"{{{SAML}}}Assertion")
        if len(assertions) == 1:
            return assertions[0]
    raise SamlError("Response signature invalid")


def _check_times(assertion: etree._Element, now: datetime) -> None:
    times: list[tuple[datetime | None, datetime | None]] = []
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    if conditions is not None:
        times.append((_time(conditions.get("NotBefore")), _time(conditions.get("NotOnOrAfter"))))
    for data in assertion.iter(f"{{{SAML}}}SubjectConfirmationData"):
        times.append((_time(data.get("NotBefore")), _time(data.get("NotOnOrAfter"))))
    if not any(after is not None for _, after in times):
        raise SamlError("SAML assertion has no NotOnOrAfter")
    for before, after in times:
        if before is not None and now + CLOCK_SKEW < before:
            raise SamlError("Assertion is not yet valid (NotBefore in the future)")
        if after is not None and now >= after:
            raise SamlError(
                f"Token expired: current date/time {int(now.timestamp())} must be before the expiration "
                f"date/time {int(after.timestamp())}",
                code="ExpiredTokenException",
            )


def _is_aws_endpoint(value: str) -> bool:
    if value in AWS_AUDIENCES:
        return True
    # regional sign-in endpoints: https://<region>.signin.aws.amazon.com/saml
    return value.startswith("https://") and value.endswith(".signin.aws.amazon.com/saml")


def _attributes(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for attribute in assertion.iter(f"{{{SAML}}}Attribute"):
        name = attribute.get("Name")
        if not name:
            continue
        values = tuple((v.text or "").strip() for v in attribute.findall(f"{{{SAML}}}AttributeValue"))
        out[name] = out.get(name, ()) + values
    return out


def _roles(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            continue
        a, b = parts
        if ":saml-provider/" in a and ":role/" in b:
            a, b = b, a  # either order (AWS docs)
        if ":role/" in a and ":saml-provider/" in b:
            pairs.append((a, b))
    return tuple(pairs)


def verify_response(encoded: str, metadata: IdpMetadata, now: datetime) -> SamlAssertion:
    """Verify a base64 SAML Response; raise :class:`SamlError` with STS's code otherwise."""
    try:
        raw = base64.b64decode("".join(encoded.split()), validate=True)
    except (ValueError, binascii.Error):
        raise SamlError("Invalid base64 SAMLResponse (contains invalid characters)") from None
    try:
        root = parse_untrusted(raw)
    except UnsafeXml:
        raise SamlError("Unable to parse the SAML response") from None
    if root.tag != f"{{{SAMLP}}}Response":
        raise SamlError("Unable to parse the SAML response: not a samlp:Response")
    status = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    if status is None or status.get("Value") != SUCCESS:
        raise SamlError("SAML response status is not Success", code="IDPRejectedClaim")
    issuer = root.findtext(f"{{{SAML}}}Issuer") or root.findtext(f"{{{SAML}}}Assertion/{{{SAML}}}Issuer")
    if (issuer or "").strip() != metadata.entity_id:
        raise SamlError("Issuer not present in specified provider")
    assertion = _signed_assertion(root, metadata.certificates, now)
    if (assertion.findtext(f"{{{SAML}}}Issuer") or "").strip() != metadata.entity_id:
        raise SamlError("Issuer not present in specified provider")
    _check_times(assertion, now)
    audiences = tuple((a.text or "").strip() for a in assertion.iter(f"{{{SAML}}}Audience"))
    # Both are required (AWS's assertion requirements); failing closed when either is missing.
    if not any(_is_aws_endpoint(a) for a in audiences):
        raise SamlError("SAML assertion audience is not an AWS sign-in endpoint")
    recipients = [d.get("Recipient") for d in assertion.iter(f"{{{SAML}}}SubjectConfirmationData")]
    recipient = next((r for r in recipients if r), None)
    if recipient is None or not _is_aws_endpoint(recipient):
        raise SamlError("SAML assertion Recipient is not an AWS sign-in endpoint")
    name_id = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
    if name_id is None or not (name_id.text or "").strip():
        raise SamlError("SAML assertion has no Subject NameID", code="IDPRejectedClaim")
    attributes = _attributes(assertion)
    duration_values = attributes.get(f"{ATTR}SessionDuration", ())
    duration: int | None = None
    if duration_values:
        try:
            duration = int(duration_values[0])
        except ValueError:
            raise SamlError("SessionDuration is not a number of seconds", code="IDPRejectedClaim") from None
    tags: list[tuple[str, str]] = []
    for name, values in attributes.items():
        if name.startswith(f"{ATTR}PrincipalTag:") and values:
            tags.append((name.removeprefix(f"{ATTR}PrincipalTag:"), values[0]))
    names = attributes.get(f"{ATTR}RoleSessionName", ())
    sources = attributes.get(f"{ATTR}SourceIdentity", ())
    return SamlAssertion(
        issuer=metadata.entity_id,
        subject=(name_id.text or "").strip(),
        subject_format=name_id.get("Format"),
        recipient=recipient,
        audiences=audiences,
        roles=_roles(attributes.get(f"{ATTR}Role", ())),
        session_name=names[0] if names else None,
        session_duration=duration,
        source_identity=sources[0] if sources else None,
        principal_tags=tuple(tags),
        transitive_tag_keys=attributes.get(f"{ATTR}TransitiveTagKeys", ()),
        attributes=attributes,
    )
