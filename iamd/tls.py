"""TLS for ``iamd serve``: the certificate and key it serves with, or a self-signed pair made on request.

``--tls-self-signed`` writes ``tls-cert.pem`` and ``tls-key.pem`` (0600) into the data
directory the first time, and reuses them while they are valid for at least another 30 days
and name the host served; otherwise it makes a new pair (docs/console.md, "TLS"). The
certificate names ``localhost``, ``127.0.0.1``, ``::1`` and the ``--host`` given. Clients
trust it by pointing at the file (``AWS_CA_BUNDLE``, boto3's ``verify=``).
"""

from __future__ import annotations

import ipaddress
import os
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["CERT_FILE", "KEY_FILE", "self_signed"]

CERT_FILE = "tls-cert.pem"
KEY_FILE = "tls-key.pem"
VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]  # fmt: skip
    if host not in _WILDCARD_HOSTS and host != "localhost":
        try:
            address = x509.IPAddress(ipaddress.ip_address(host))
            if address not in names:
                names.append(address)
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _usable(cert_path: Path, host: str, now: datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    return cert.not_valid_after_utc - RENEW_BEFORE > now and all(n in san for n in _names(host))


def self_signed(data_dir: Path, host: str, now: datetime) -> tuple[Path, Path]:
    """The data directory's self-signed certificate and key for ``host``, made when missing or stale."""
    cert_path, key_path = data_dir / CERT_FILE, data_dir / KEY_FILE
    if key_path.exists() and _usable(cert_path, host, now):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "iamd self-signed")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
