"""Test identity providers: a self-signed SAML IdP and an OIDC issuer with its own RSA keys.

Everything is generated here, at test time: keys, certificates, metadata, signed SAML
responses (signxml) and JWTs (PyJWT). The OIDC issuer can serve its JWKS over loopback HTTP.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
METADATA_LIFETIME = timedelta(days=10 * 365)  # a metadata document's validUntil, from the IdP's clock


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(key: rsa.RSAPrivateKey, name: str = "test-idp", now: datetime | None = None) -> x509.Certificate:
    """A certificate valid from a day before ``now`` (the caller's clock; the wall clock by default) for a year."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = now or datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


class SamlIdp:
    """A SAML IdP: metadata naming its signing certificate, and signed responses.

    Every date it writes derives from ``now`` (the test's clock; the wall clock by default):
    the certificate's validity, the metadata's ``validUntil`` (:data:`METADATA_LIFETIME` on).
    """

    def __init__(self, entity_id: str = "https://idp.example.test/saml", now: datetime | None = None) -> None:
        self.entity_id = entity_id
        self.now = now or datetime.now(UTC)
        self.key = new_rsa_key()
        self.cert = self_signed(self.key, now=self.now)
        self.valid_until = (self.now + METADATA_LIFETIME).replace(microsecond=0)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def metadata(self, valid_until: str | None = "") -> str:
        """Its metadata, valid until ``valid_until`` (by default :attr:`valid_until`; ``None``: no date)."""
        if valid_until == "":
            valid_until = self.valid_until.strftime("%Y-%m-%dT%H:%M:%SZ")
        der = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        valid = f' validUntil="{valid_until}"' if valid_until else ""
        # Padded past CreateSAMLProvider's 1,000-character minimum, as real metadata is.
        padding = "".join(
            f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-{b}" '
            f'Location="https://idp.example.test/sso/{b.lower()}"/>'
            for b in ("POST", "Redirect")
        )
        return (
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{self.entity_id}"{valid}>'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{der}'
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"
            f"{padding}</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    def response(
        self,
        *,
        roles: Sequence[str],
        session_name: str = "alice",
        subject: str = "alice@example.test",
        name_format: str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        audience: str | None = SAML_AUDIENCE,
        recipient: str | None = SAML_AUDIENCE,
        issuer: str | None = None,
        now: datetime | None = None,
        lifetime: timedelta = timedelta(minutes=5),
        attributes: Mapping[str, Sequence[str]] | None = None,
        sign: str = "assertion",  # "assertion", "response" or "none"
        signer: SamlIdp | None = None,
        tamper: bool = False,
    ) -> str:
        """A base64 SAML Response as an IdP posts it to AWS sign-in."""
        now = now or datetime.now(UTC)
        issued = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        until = (now + lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
        issuer = issuer or self.entity_id
        values: dict[str, Sequence[str]] = {f"{ATTR}Role": roles, f"{ATTR}RoleSessionName": [session_name]}
        values.update(attributes or {})
        attrs = "".join(
            f'<saml:Attribute Name="{name}">'
            + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in vs)
            + "</saml:Attribute>"
            for name, vs in values.items()
        )
        aid, rid = f"_{uuid.uuid4().hex}", f"_{uuid.uuid4().hex}"
        to = f' Recipient="{recipient}"' if recipient else ""
        restriction = (
            f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
            if audience
            else ""
        )
        assertion_xml = (
            f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" '
            f'IssueInstant="{issued}"><saml:Issuer>{issuer}</saml:Issuer>'
            f'<saml:Subject><saml:NameID Format="{name_format}">{subject}</saml:NameID>'
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{until}"{to}/>'
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{issued}" NotOnOrAfter="{until}">{restriction}</saml:Conditions>'
            f'<saml:AuthnStatement AuthnInstant="{issued}"><saml:AuthnContext><saml:AuthnContextClassRef>'
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>"
            "</saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{attrs}</saml:AttributeStatement></saml:Assertion>"
        )
        signing = signer or self
        signer_ = XMLSigner(c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
        assertion = etree.fromstring(assertion_xml)
        if sign == "assertion":
            assertion = signer_.sign(
                assertion, key=signing.key_pem, cert=[signing.cert], reference_uri=f"#{aid}", id_attribute="ID"
            )
        response = etree.fromstring(
            f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{issued}" '
            f'Destination="{recipient or SAML_AUDIENCE}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status>'
            '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:Response>'
        )
        response.append(assertion)
        if sign == "response":
            response = signer_.sign(
                response, key=signing.key_pem, cert=[signing.cert], reference_uri=f"#{rid}", id_attribute="ID"
            )
        data = etree.tostring(response)
        if tamper:
            data = data.replace(session_name.encode(), b"mallory", 1)
        return base64.b64encode(data).decode()


class OidcIssuer:
    """An OIDC issuer with an RSA signing key; can serve its JWKS over loopback HTTP."""

    def __init__(self, kid: str = "k1") -> None:
        self.key = new_rsa_key()
        self.kid = kid
        self.url = ""  # set by serve(): http://127.0.0.1:<port>

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return {"keys": [jwk]}

    def token(self, issuer: str, claims: Mapping[str, Any], *, key: rsa.RSAPrivateKey | None = None) -> str:
        now = int(datetime.now(UTC).timestamp())
        body = {"iss": issuer, "iat": now, "exp": now + 600, **claims}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve ``/jwks.json`` and the discovery document; yields the JWKS URL."""
        issuer = self
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                if self.path == "/jwks.json":
                    body = json.dumps(issuer.jwks()).encode()
                elif self.path.endswith("/.well-known/openid-configuration"):
                    body = json.dumps({"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks.json"}).encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.hits = hits
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"{self.url}/jwks.json"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
