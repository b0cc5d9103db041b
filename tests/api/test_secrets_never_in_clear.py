"""No secret in clear at rest, in the logs or in the audit trail (non-negotiable 5).

One server, every secret-bearing flow — access keys, session credentials, passwords
(create, change, sign-in, rejected ones, the web console's forms), virtual MFA seeds and codes,
OIDC tokens, service-specific credential passwords, server certificates' private keys — with
successes and failures (a failing request's parameters are audited too), and every log
record of the server's loggers (everything but the boto3 client's) captured at DEBUG.
Afterwards the SQLite files (database, WAL, shared memory), the captured log text and the
audit trail are searched for each secret.
The one deliberate exception is ``<data-dir>/root-credentials`` (mode 0600), which exists
to hand the root key to the person who started the server; it is not scanned.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization

from iamd.root_password import set_root_password
from iamd.service.signin import SigninAttempt
from tests.api.conftest import allow, client_for, policy
from tests.api.server import running_server
from tests.api.test_sts_assume_role import client
from tests.federation.idp import new_rsa_key, self_signed

CLIENT_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


@pytest.fixture(scope="module")
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    # the server's records only: boto3/botocore/urllib3 are the *client*, which logs what it sends
    handler.addFilter(lambda record: not record.name.startswith(CLIENT_LOGGERS))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


def test_no_secret_anywhere_after_every_flow(tmp_path: Path, captured_logs: io.StringIO) -> None:
    secrets: list[str] = []
    data_dir = tmp_path / "data"
    with running_server(data_dir) as server:
        iam = client_for(server, server.root_key, server.root_secret)
        acct = server.account_id
        secrets.append(server.root_secret)

        # access keys: created, used, used wrongly
        iam.create_user(UserName="Holder")
        iam.put_user_policy(
            UserName="Holder", PolicyName="p", PolicyDocument=policy(allow(["iam:*", "sts:*"]))
        )  # fmt: skip
        key = iam.create_access_key(UserName="Holder")["AccessKey"]
        secrets.append(key["SecretAccessKey"])
        holder = client_for(server, key["AccessKeyId"], key["SecretAccessKey"])
        holder.list_users()
        with pytest.raises(ClientError):
            client_for(server, key["AccessKeyId"], key["SecretAccessKey"][::-1]).list_users()

        # passwords: policy violation, creation, wrong old password, change, sign-in good and bad
        iam.update_account_password_policy(MinimumPasswordLength=14, RequireSymbols=True)
        weak, first, second = "short1A!", "First-Passw0rd-Long!", "Second-Passw0rd-Long!"
        secrets += [weak, first, second]
        with pytest.raises(ClientError):
            iam.create_login_profile(UserName="Holder", Password=weak)
        iam.create_login_profile(UserName="Holder", Password=first)
        with pytest.raises(ClientError):
            holder.change_password(OldPassword=second, NewPassword=first)
        holder.change_password(OldPassword=first, NewPassword=second)
        assert server.backend.sign_in(SigninAttempt(acct, "Holder", second)).ok
        assert not server.backend.sign_in(SigninAttempt(acct, "Holder", first)).ok
        assert not server.backend.sign_in(SigninAttempt(acct, second, second)).ok  # a password typed as the name

        # virtual MFA: seed, enable codes (a wrong pair first), STS with a code
        device = holder.create_virtual_mfa_device(VirtualMFADeviceName="Holder")["VirtualMFADevice"]
        seed = device["Base32StringSeed"].decode("ascii")
        secrets.append(seed)
        totp = pyotp.TOTP(seed)
        step = int(datetime.now(UTC).timestamp()) // 30
        with pytest.raises(ClientError):
            holder.enable_mfa_device(
                UserName="Holder", SerialNumber=device["SerialNumber"], AuthenticationCode1="000000",
                AuthenticationCode2="000001",
            )  # fmt: skip
        holder.enable_mfa_device(
            UserName="Holder", SerialNumber=device["SerialNumber"],
            AuthenticationCode1=totp.generate_otp(step - 1), AuthenticationCode2=totp.generate_otp(step),
        )  # fmt: skip

        # session credentials: GetSessionToken with MFA, AssumeRole, a tampered token
        sts = client(server, "sts", key)
        session = sts.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=totp.generate_otp(step + 1))[
            "Credentials"
        ]
        iam.create_role(
            RoleName="Vault",
            AssumeRolePolicyDocument=policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{acct}:user/Holder"},
                    "Action": "sts:AssumeRole",
                }
            ),
        )
        assumed = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/Vault", RoleSessionName="scan")
        for creds in (session, assumed["Credentials"]):
            secrets += [creds["SecretAccessKey"], creds["SessionToken"]]
            client(server, "sts", creds).get_caller_identity()
        creds = assumed["Credentials"]
        tampered = creds["SessionToken"][:-4] + ("AAAA" if not creds["SessionToken"].endswith("AAAA") else "BBBB")
        with pytest.raises(ClientError):
            client(server, "sts", {**creds, "SessionToken": tampered}).get_caller_identity()
        secrets.append(tampered)  # a refused credential's audit record names its key id, never its token
        wrong_secret = "Wr0ngSecretWr0ngSecretWr0ngSecretWr0ngSe"
        with pytest.raises(ClientError):
            client(server, "sts", {**creds, "SecretAccessKey": wrong_secret}).get_caller_identity()
        secrets.append(wrong_secret)

        # the web console: sign-in wrong and right, a password changed, a key created, root's password
        iam.create_user(UserName="Webby")
        iam.put_user_policy(UserName="Webby", PolicyName="p", PolicyDocument=policy(allow(["iam:*"])))
        web_first, web_second, web_wrong, root_password = (
            "Web-First-Passw0rd!", "Web-Second-Passw0rd!", "Web-Wrong-Passw0rd!", "Root-Console-Passw0rd!"
        )  # fmt: skip
        secrets += [web_first, web_second, web_wrong, root_password]
        iam.create_login_profile(UserName="Webby", Password=web_first, PasswordResetRequired=True)
        set_root_password(data_dir, root_password)
        with httpx.Client(base_url=server.endpoint, timeout=120) as browser:
            token = _csrf(browser.get("/console").text)
            form = {"csrf": token, "account": acct, "username": "Webby"}
            assert browser.post("/console/signin", data={**form, "password": web_wrong}).status_code == 401
            assert browser.post("/console/signin", data={"csrf": token, "kind": "root", "account": acct,
                                                         "password": web_wrong}).status_code == 401  # fmt: skip
            assert browser.post("/console/signin", data={**form, "password": web_first}).status_code == 303
            changed = browser.post("/console/password", data={"csrf": _csrf(browser.get("/console/password").text),
                                                              "old": web_first, "new": web_second,
                                                              "confirm": web_second})  # fmt: skip
            assert changed.status_code == 303
            made = browser.post("/console/credentials/keys/create",
                                data={"csrf": _csrf(browser.get("/console/credentials").text)})  # fmt: skip
            secrets.append(re.search(r'id="new-secret">([^<]+)<', made.text).group(1))  # type: ignore[union-attr]
        assert root_password not in (data_dir / "root-console-password").read_text()
        # service-specific credentials (created, reset) and a server certificate's private key
        iam.create_user(UserName="git")
        made = iam.create_service_specific_credential(UserName="git", ServiceName="codecommit.amazonaws.com")
        cred = made["ServiceSpecificCredential"]
        reset = iam.reset_service_specific_credential(
            UserName="git", ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"]
        )
        secrets += [cred["ServicePassword"], reset["ServiceSpecificCredential"]["ServicePassword"]]
        tls_key = new_rsa_key()
        key_text = tls_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        iam.upload_server_certificate(
            ServerCertificateName="tls", PrivateKey=key_text,
            CertificateBody=self_signed(tls_key).public_bytes(serialization.Encoding.PEM).decode(),
        )  # fmt: skip
        secrets += [line for line in key_text.splitlines()[1:-1] if len(line) == 64]  # the key's base64 lines

        # the credential report reads every credential's state
        iam.generate_credential_report()
        iam.get_credential_report()
        assert server.backend.audit is not None
        server.backend.audit.flush()
        with server.backend.store.read() as tx:
            trail = "\n".join(e.record for e in tx.list_audit_events(acct, max_items=1000).items)

    logs = captured_logs.getvalue()
    files = sorted(p for p in data_dir.iterdir() if p.name.startswith("iamd.db"))
    assert files and logs and trail
    stored = b"".join(p.read_bytes() for p in files)
    for secret in secrets:
        assert secret not in trail, "a secret reached the audit trail"
        assert secret not in logs, "a secret reached the logs"
        assert secret.encode() not in stored, "a secret is stored in clear"
