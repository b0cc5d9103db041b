"""Server certificates against a real server, with boto3: certificate, key and chain
validation, the private key never answered (and never stored in clear), paths, renames,
tags, quotas and authorization on the certificate's ARN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from iamd.service.iam.server_certificates import key_context
from tests.api.conftest import UserClient, allow, failure, policy
from tests.api.server import RunningServer
from tests.api.test_audit_trail import events

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(subject: str, key: Key, issuer: tuple[str, Key] | None = None, *, days: int = 365) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name, issuer_key = (subject, key) if issuer is None else issuer
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer_name))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=2)).not_valid_after(now + timedelta(days=days)))  # fmt: skip
    return builder.sign(issuer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: Key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def pki() -> dict[str, object]:
    root_key, inter_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = issue("root-ca", root_key)
    inter = issue("intermediate-ca", inter_key, ("root-ca", root_key))
    leaf = issue("www.example.test", leaf_key, ("intermediate-ca", inter_key), days=90)
    return {"leaf": pem(leaf), "key": key_pem(leaf_key), "chain": pem(inter) + pem(root), "leaf_cert": leaf,
            "other_key": key_pem(ec.generate_private_key(ec.SECP256R1()))}  # fmt: skip


def test_upload_get_list_update_delete(iam: BaseClient, api_server: RunningServer, acct: str, pki: dict) -> None:
    up = iam.upload_server_certificate(
        ServerCertificateName="web", Path="/cloudfront/", CertificateBody=pki["leaf"], PrivateKey=pki["key"],
        CertificateChain=pki["chain"], Tags=[{"Key": "env", "Value": "prod"}],
    )  # fmt: skip
    meta = up["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{acct}:server-certificate/cloudfront/web"
    assert meta["ServerCertificateId"].startswith("ASCA") and meta["Path"] == "/cloudfront/"
    assert meta["Expiration"] == pki["leaf_cert"].not_valid_after_utc and up["Tags"] == [
        {"Key": "env", "Value": "prod"}
    ]
    got = iam.get_server_certificate(ServerCertificateName="WEB")["ServerCertificate"]  # names: any casing
    assert got["ServerCertificateMetadata"] == meta and got["CertificateBody"] == pki["leaf"].strip()
    assert got["CertificateChain"] == pki["chain"].strip() and got["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert "PrivateKey" not in got
    # the private key: sealed at rest, bound to the certificate, and never in the audit trail
    with api_server.backend.store.read() as tx:
        stored = tx.get_server_certificate(acct, "web")
    assert pki["key"].encode() not in stored.private_key_sealed
    assert api_server.backend.secret_box.open(stored.private_key_sealed.decode(), context=key_context(stored.id)) == (
        pki["key"].strip()
    )
    secret_line = pki["key"].splitlines()[1]
    assert all(secret_line not in e.record for e in events(api_server))
    assert [m["ServerCertificateName"] for m in iam.list_server_certificates(PathPrefix="/cloudfront/")[
        "ServerCertificateMetadataList"]] == ["web"]  # fmt: skip
    assert iam.list_server_certificates(PathPrefix="/elb/")["ServerCertificateMetadataList"] == []
    iam.tag_server_certificate(ServerCertificateName="web", Tags=[{"Key": "team", "Value": "edge"}])
    iam.untag_server_certificate(ServerCertificateName="web", TagKeys=["env"])
    assert iam.list_server_certificate_tags(ServerCertificateName="web")["Tags"] == [{"Key": "team", "Value": "edge"}]
    iam.update_server_certificate(ServerCertificateName="web", NewServerCertificateName="web2", NewPath="/elb/")
    moved = iam.get_server_certificate(ServerCertificateName="web2")["ServerCertificate"]["ServerCertificateMetadata"]
    assert (
        moved["Arn"] == f"arn:aws:iam::{acct}:server-certificate/elb/web2"
        and moved["ServerCertificateId"] == (meta["ServerCertificateId"])
    )
    assert iam.get_account_summary()["SummaryMap"]["ServerCertificates"] == 1
    iam.delete_server_certificate(ServerCertificateName="web2")
    with pytest.raises(ClientError) as gone:
        iam.get_server_certificate(ServerCertificateName="web2")
    assert failure(gone) == (404, "NoSuchEntity", "The Server Certificate with name web2 cannot be found.")


def test_what_aws_refuses(iam: BaseClient, pki: dict) -> None:
    def upload(name: str = "bad", **kwargs: str) -> tuple[int, str, str]:
        args = {"CertificateBody": pki["leaf"], "PrivateKey": pki["key"]} | kwargs
        with pytest.raises(ClientError) as e:
            iam.upload_server_certificate(ServerCertificateName=name, **args)
        return failure(e)

    assert upload(PrivateKey=pki["other_key"]) == (
        400,
        "KeyPairMismatch",
        "The request was rejected because the public key certificate and the private key do not match.",
    )
    assert upload(PrivateKey="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")[:2] == (
        400, "MalformedCertificate"
    )  # fmt: skip
    assert upload(CertificateBody="not a certificate")[:2] == (400, "MalformedCertificate")
    assert upload(CertificateChain=pki["chain"].split("-----END CERTIFICATE-----")[1] + "-----END CERTIFICATE-----")[
        :2] == (400, "MalformedCertificate")  # the chain must start with the leaf's issuer  # fmt: skip
    iam.upload_server_certificate(ServerCertificateName="dup", CertificateBody=pki["leaf"], PrivateKey=pki["key"])
    assert upload("DUP") == (409, "EntityAlreadyExists", "The Server Certificate with name DUP already exists.")
    with pytest.raises(ClientError) as missing:
        iam.delete_server_certificate(ServerCertificateName="nope")
    assert failure(missing)[:2] == (404, "NoSuchEntity")
    iam.delete_server_certificate(ServerCertificateName="dup")


def test_quota(iam: BaseClient, pki: dict) -> None:
    have = len(iam.list_server_certificates()["ServerCertificateMetadataList"])
    for i in range(20 - have):
        iam.upload_server_certificate(ServerCertificateName=f"q{i}", CertificateBody=pki["leaf"], PrivateKey=pki["key"])
    with pytest.raises(ClientError) as quota:
        iam.upload_server_certificate(ServerCertificateName="q-over", CertificateBody=pki["leaf"],
                                      PrivateKey=pki["key"])  # fmt: skip
    assert failure(quota) == (409, "LimitExceeded", "Cannot exceed quota for ServerCertificatesPerAccount: 20")
    for i in range(20 - have):
        iam.delete_server_certificate(ServerCertificateName=f"q{i}")


def test_authorized_on_the_certificate_arn(user_client: UserClient, iam: BaseClient, acct: str, pki: dict) -> None:
    iam.upload_server_certificate(ServerCertificateName="edge", Path="/edge/", CertificateBody=pki["leaf"],
                                  PrivateKey=pki["key"])  # fmt: skip
    iam.upload_server_certificate(ServerCertificateName="core", CertificateBody=pki["leaf"], PrivateKey=pki["key"])
    me = user_client("cert-reader", policy(allow("iam:GetServerCertificate",
                                                 f"arn:aws:iam::{acct}:server-certificate/edge/*")))  # fmt: skip
    assert me.get_server_certificate(ServerCertificateName="edge")["ServerCertificate"]["CertificateBody"]
    with pytest.raises(ClientError) as denied:
        me.get_server_certificate(ServerCertificateName="core")
    assert failure(denied)[1] == "AccessDenied"
    assert f"on resource: arn:aws:iam::{acct}:server-certificate/core" in failure(denied)[2]
    for name in ("edge", "core"):
        iam.delete_server_certificate(ServerCertificateName=name)
