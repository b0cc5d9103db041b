"""SSH public keys and signing certificates against a real server, with boto3: AWS's shapes,
errors, quotas, fingerprints, authorization and the credential report's cert columns."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.api.conftest import UserClient, allow, failure, policy
from tests.federation.idp import new_rsa_key, self_signed


def ssh_body(key: rsa.RSAPrivateKey, comment: str = "") -> str:
    text = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{text} {comment}".strip()


def md5_fingerprint(body: str) -> str:
    digest = hashlib.md5(base64.b64decode(body.split()[1]), usedforsecurity=False).digest()
    return ":".join(f"{b:02x}" for b in digest)


def cert_pem(name: str, *, expired: bool = False) -> str:
    key = new_rsa_key()
    if not expired:
        return self_signed(key, name).public_bytes(serialization.Encoding.PEM).decode()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=30))
            .not_valid_after(now - timedelta(days=1)).sign(key, hashes.SHA256()))  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    return [new_rsa_key() for _ in range(6)]


def test_ssh_public_key_lifecycle(iam: BaseClient, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    iam.create_user(UserName="git-user")
    body = ssh_body(rsa_keys[0], "me@laptop")
    up = iam.upload_ssh_public_key(UserName="git-user", SSHPublicKeyBody=body)["SSHPublicKey"]
    assert up["UserName"] == "git-user" and up["Status"] == "Active" and up["SSHPublicKeyBody"] == body
    assert up["SSHPublicKeyId"].startswith("APKA") and len(up["SSHPublicKeyId"]) == 21
    assert up["Fingerprint"] == md5_fingerprint(body)  # what ssh-keygen -l -E md5 prints
    key_id = up["SSHPublicKeyId"]
    got = iam.get_ssh_public_key(UserName="git-user", SSHPublicKeyId=key_id, Encoding="SSH")["SSHPublicKey"]
    assert got == up
    pem = iam.get_ssh_public_key(UserName="git-user", SSHPublicKeyId=key_id, Encoding="PEM")["SSHPublicKey"]
    assert (
        pem["SSHPublicKeyBody"]
        == rsa_keys[0]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    listed = iam.list_ssh_public_keys(UserName="git-user")
    assert (
        listed["SSHPublicKeys"]
        == [{"UserName": "git-user", "SSHPublicKeyId": key_id, "Status": "Active", "UploadDate": up["UploadDate"]}]
        and listed["IsTruncated"] is False
    )
    iam.update_ssh_public_key(UserName="git-user", SSHPublicKeyId=key_id, Status="Inactive")
    assert iam.list_ssh_public_keys(UserName="git-user")["SSHPublicKeys"][0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName="git-user")
    assert failure(conflict) == (409, "DeleteConflict", "Cannot delete entity, must delete SSH public keys first.")
    iam.delete_ssh_public_key(UserName="git-user", SSHPublicKeyId=key_id)
    assert iam.list_ssh_public_keys(UserName="git-user")["SSHPublicKeys"] == []
    with pytest.raises(ClientError) as gone:
        iam.get_ssh_public_key(UserName="git-user", SSHPublicKeyId=key_id, Encoding="SSH")
    assert failure(gone) == (404, "NoSuchEntity", f"The Public Key with id {key_id} cannot be found.")
    iam.delete_user(UserName="git-user")


def test_ssh_keys_as_aws_refuses_them(iam: BaseClient, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    iam.create_user(UserName="git-bad")
    pem = (
        rsa_keys[1]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    up = iam.upload_ssh_public_key(UserName="git-bad", SSHPublicKeyBody=pem)["SSHPublicKey"]
    assert up["SSHPublicKeyBody"] == ssh_body(rsa_keys[1])  # a PEM key is kept in OpenSSH form
    with pytest.raises(ClientError) as dup:
        iam.upload_ssh_public_key(UserName="git-bad", SSHPublicKeyBody=ssh_body(rsa_keys[1], "again"))
    assert failure(dup) == (400, "DuplicateSSHPublicKey", "The request was rejected because the SSH public key is "
                            "already associated with the specified IAM user.")  # fmt: skip
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ecdsa = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()  # fmt: skip
    for bad in (ssh_body(small), ecdsa, "ssh-rsa AAAAnotbase64!!", "ssh-rsa"):
        with pytest.raises(ClientError) as invalid:
            iam.upload_ssh_public_key(UserName="git-bad", SSHPublicKeyBody=bad)
        assert failure(invalid)[:2] == (400, "InvalidPublicKey"), bad
    with pytest.raises(ClientError) as encoding:
        iam.upload_ssh_public_key(UserName="git-bad", SSHPublicKeyBody="hello there")
    assert failure(encoding)[:2] == (400, "UnrecognizedPublicKeyEncoding")
    for key in rsa_keys[2:6]:
        iam.upload_ssh_public_key(UserName="git-bad", SSHPublicKeyBody=ssh_body(key))
    with pytest.raises(ClientError) as quota:
        iam.upload_ssh_public_key(UserName="git-bad", SSHPublicKeyBody=ssh_body(rsa_keys[0]))
    assert failure(quota) == (409, "LimitExceeded", "Cannot exceed quota for PublicKeysPerUser: 5")
    with pytest.raises(ClientError) as nobody:
        iam.upload_ssh_public_key(UserName="nobody", SSHPublicKeyBody=ssh_body(rsa_keys[0]))
    assert failure(nobody) == (404, "NoSuchEntity", "The user with name nobody cannot be found.")
    with pytest.raises(ClientError) as expired:
        iam.update_ssh_public_key(UserName="git-bad", SSHPublicKeyId=up["SSHPublicKeyId"], Status="Expired")
    assert failure(expired)[:2] == (400, "ValidationError")


def test_a_user_manages_only_their_own_keys(
    iam: BaseClient, user_client: UserClient, acct: str, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    own = f"arn:aws:iam::{acct}:user/${{aws:username}}"
    me = user_client("self-git", policy(allow(["iam:UploadSSHPublicKey", "iam:ListSSHPublicKeys"], own)))
    me.upload_ssh_public_key(UserName="self-git", SSHPublicKeyBody=ssh_body(rsa_keys[0]))
    assert len(me.list_ssh_public_keys()["SSHPublicKeys"]) == 1  # UserName defaults to the caller
    iam.create_user(UserName="other-git")
    with pytest.raises(ClientError) as denied:
        me.upload_ssh_public_key(UserName="other-git", SSHPublicKeyBody=ssh_body(rsa_keys[1]))
    assert (
        failure(denied)[1] == "AccessDenied"
        and "iam:UploadSSHPublicKey on resource: user other-git" in (failure(denied)[2])
    )


def test_signing_certificate_lifecycle_and_credential_report(iam: BaseClient, acct: str) -> None:
    iam.create_user(UserName="signer")
    body = cert_pem("signer-1")
    cert = iam.upload_signing_certificate(UserName="signer", CertificateBody=body)["Certificate"]
    assert cert["UserName"] == "signer" and cert["Status"] == "Active" and cert["CertificateBody"] == body.strip()
    assert len(cert["CertificateId"]) == 32
    second = iam.upload_signing_certificate(UserName="signer", CertificateBody=cert_pem("signer-2"))["Certificate"]
    with pytest.raises(ClientError) as quota:
        iam.upload_signing_certificate(UserName="signer", CertificateBody=cert_pem("signer-3"))
    assert failure(quota) == (409, "LimitExceeded", "Cannot exceed quota for SigningCertificatesPerUser: 2")
    iam.create_user(UserName="copycat")
    with pytest.raises(ClientError) as dup:
        iam.upload_signing_certificate(UserName="copycat", CertificateBody=body)
    assert failure(dup) == (409, "DuplicateCertificate", "The request was rejected because the same certificate "
                            "is associated with an IAM user in the account.")  # fmt: skip
    for bad in ("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----", "plain text",
                cert_pem("old", expired=True)):  # fmt: skip
        with pytest.raises(ClientError) as malformed:
            iam.upload_signing_certificate(UserName="copycat", CertificateBody=bad)
        assert failure(malformed)[:2] == (400, "MalformedCertificate")
    iam.update_signing_certificate(UserName="signer", CertificateId=second["CertificateId"], Status="Inactive")
    listed = iam.list_signing_certificates(UserName="signer")["Certificates"]
    assert [(c["CertificateId"], c["Status"]) for c in listed] == [
        (cert["CertificateId"], "Active"), (second["CertificateId"], "Inactive")
    ]  # fmt: skip
    root_cert = iam.upload_signing_certificate(CertificateBody=cert_pem("root"))["Certificate"]
    assert root_cert["UserName"] == acct
    assert iam.get_account_summary()["SummaryMap"]["AccountSigningCertificatesPresent"] == 1
    iam.generate_credential_report()
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode()))}
    signer, root = rows["signer"], rows["<root_account>"]
    assert (signer["cert_1_active"], signer["cert_2_active"]) == ("true", "false")
    assert signer["cert_1_last_rotated"].startswith(cert["UploadDate"].strftime("%Y-%m-%dT%H:%M"))
    assert signer["cert_2_last_rotated"] != "N/A"
    assert (root["cert_1_active"], root["cert_2_active"], root["cert_2_last_rotated"]) == ("true", "false", "N/A")
    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName="signer")
    assert failure(conflict)[2] == "Cannot delete entity, must delete signing certificates first."
    for c in listed:
        iam.delete_signing_certificate(UserName="signer", CertificateId=c["CertificateId"])
    iam.delete_signing_certificate(CertificateId=root_cert["CertificateId"])
    with pytest.raises(ClientError) as gone:
        iam.delete_signing_certificate(UserName="signer", CertificateId=cert["CertificateId"])
    assert failure(gone) == (404, "NoSuchEntity", f"The Certificate with id {cert['CertificateId']} cannot be found.")
    iam.delete_user(UserName="signer")
