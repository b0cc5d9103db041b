"""X.509 certificates and private keys as IAM takes them: PEM text, parsed and checked with the
``cryptography`` library (signing certificates, server certificates)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from iamd import errors as aws

__all__ = ["check_chain", "keys_match", "load_certificate", "load_private_key", "not_after", "sha256_fingerprint"]

MALFORMED = "The request was rejected because the certificate was malformed or expired."
MAX_CHAIN = 2_097_152  # the model's bound on CertificateChain


def load_certificate(body: str, now: datetime, what: str = "certificate body") -> x509.Certificate:
    """One PEM certificate, valid at ``now``, or MalformedCertificate."""
    text = body.strip()
    if text.count("-----BEGIN CERTIFICATE-----") != 1:
        raise aws.MalformedCertificate(f"Unable to parse {what}. It must contain exactly one PEM certificate.")
    try:
        cert = x509.load_pem_x509_certificate(text.encode("ascii"))
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    except (ValueError, UnicodeEncodeError):
        raise aws.MalformedCertificate(f"Unable to parse {what}.") from None
    if not start <= now <= end:
        raise aws.MalformedCertificate(MALFORMED)
    return cert


def not_after(cert: x509.Certificate) -> datetime:
    return cert.not_valid_after_utc


def sha256_fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def load_private_key(text: str) -> PrivateKeyTypes:
    """A PEM private key (unencrypted, as IAM requires), or MalformedCertificate."""
    try:
        key = serialization.load_pem_private_key(text.strip().encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise aws.MalformedCertificate("Unable to parse private key. It must be an unencrypted PEM key.") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise aws.MalformedCertificate("Unable to parse private key: unsupported key type.")
    return key


def keys_match(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    def spki(k: object) -> bytes:
        return k.public_bytes(  # type: ignore[attr-defined, no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return spki(cert.public_key()) == spki(key.public_key())


def check_chain(chain: str, leaf: x509.Certificate) -> list[x509.Certificate]:
    """The PEM certificates of a chain (at least one), the first issuing ``leaf``'s, each the
    next's issuer; else MalformedCertificate."""
    if len(chain) > MAX_CHAIN:
        raise aws.MalformedCertificate("Unable to parse certificate chain: too long.")
    try:
        certs = x509.load_pem_x509_certificates(chain.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise aws.MalformedCertificate("Unable to parse certificate chain.") from None
    previous = leaf
    for cert in certs:
        if previous.issuer != cert.subject:
            raise aws.MalformedCertificate("Unable to validate certificate chain. The certificate chain must start "
                                           "with the immediate signing certificate, followed by any intermediaries "
                                           "in order.")  # fmt: skip
        try:
            previous.verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature):
            raise aws.MalformedCertificate("Unable to validate certificate chain: a signature does not verify.") from (
                None
            )
        previous = cert
    return certs
