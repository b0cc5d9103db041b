"""SSH public keys, signing certificates, service-specific credentials, server certificates,
STS preferences and deletion tasks in the store, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from iamd.store import AlreadyExists, Conflict, ConflictReason, NotFound, Store, Tag, TagTarget
from tests.store.helpers import OTHER_ACCOUNT, START


def test_user_credentials(store: Store, account: str) -> None:
    with store.transaction() as tx:
        tx.create_user(account, "Dev")
        key = tx.add_ssh_public_key(account, "dev", "APKAKEY00000000000001", "ssh-rsa AAAA x", "aa:bb")
        cert = tx.add_signing_certificate(account, "DEV", "C" * 32, "PEM", "f1")
        root_cert = tx.add_signing_certificate(account, None, "R" * 32, "PEM2", "f2")
        cred = tx.add_service_credential(account, "dev", "ACCACRED0000000000001", "codecommit.amazonaws.com",
                                         f"Dev-at-{account}", "$argon2id$x")  # fmt: skip
    assert (key.user_name, key.status, cert.user_name, root_cert.user_name) == ("Dev", "Active", "Dev", None)
    with store.transaction() as tx, pytest.raises(AlreadyExists):
        tx.add_ssh_public_key(account, "dev", "APKAKEY00000000000002", "ssh-rsa AAAA y", "aa:bb")
    with store.transaction() as tx, pytest.raises(AlreadyExists):  # the same certificate, anywhere in the account
        tx.add_signing_certificate(account, None, "D" * 32, "PEM", "f1")
    with store.transaction() as tx:
        tx.set_ssh_public_key_status(account, "dev", key.id, "Inactive")
        tx.set_signing_certificate_status(account, "dev", cert.id, "Inactive")
        tx.update_service_credential(account, "dev", cred.id, status="Inactive", password_hash="$argon2id$y")
    with store.read() as r:
        assert [k.status for k in r.list_ssh_public_keys(account, "DEV")] == ["Inactive"]
        assert [c.id for c in r.list_signing_certificates(account, "dev")] == [cert.id]
        assert [c.id for c in r.list_signing_certificates(account, None)] == [root_cert.id]
        assert r.root_has_signing_certificate(account) and not r.root_has_signing_certificate(OTHER_ACCOUNT)
        got = r.get_service_credential(account, "dev", cred.id)
        assert (got.status, got.password_hash) == ("Inactive", "$argon2id$y")
        assert r.list_service_credentials(account, None, "cassandra.amazonaws.com") == ()
        with pytest.raises(NotFound):
            r.get_ssh_public_key(OTHER_ACCOUNT, "dev", key.id)
    for reason in (ConflictReason.HAS_SIGNING_CERTIFICATES, ConflictReason.HAS_SSH_PUBLIC_KEYS,
                   ConflictReason.HAS_SERVICE_SPECIFIC_CREDENTIALS):  # fmt: skip
        with store.transaction() as tx, pytest.raises(Conflict) as e:
            tx.delete_user(account, "dev")
        assert e.value.reason is reason
        with store.transaction() as tx:
            if reason is ConflictReason.HAS_SIGNING_CERTIFICATES:
                tx.delete_signing_certificate(account, "dev", cert.id)
            elif reason is ConflictReason.HAS_SSH_PUBLIC_KEYS:
                tx.delete_ssh_public_key(account, "dev", key.id)
            else:
                tx.delete_service_credential(account, "dev", cred.id)
    with store.transaction() as tx:
        tx.delete_user(account, "dev")


def test_server_certificates(store: Store, account: str) -> None:
    expires = START + timedelta(days=90)
    with store.transaction() as tx:
        made = tx.create_server_certificate(
            account, "ASCAEXAMPLE0000000001", "Web", path="/a/", body="B", chain=None, private_key_sealed=b"sealed",
            expiration=expires, tags=[Tag("k", "v")],
        )  # fmt: skip
    assert made.arn.endswith(f":{account}:server-certificate/a/Web") and made.expiration == expires
    assert b"sealed" not in repr(made).encode()
    with store.transaction() as tx, pytest.raises(AlreadyExists):
        tx.create_server_certificate(account, "ASCAEXAMPLE0000000002", "WEB", path="/", body="B", chain="C",
                                     private_key_sealed=b"x", expiration=expires)  # fmt: skip
    with store.transaction() as tx:
        moved = tx.update_server_certificate(account, "web", new_name="Web2", new_path="/b/")
    assert (moved.name, moved.path, moved.id) == ("Web2", "/b/", made.id)
    with store.read() as r:
        assert r.count_server_certificates(account) == 1 and r.count_server_certificates(OTHER_ACCOUNT) == 0
        assert [c.name for c in r.list_server_certificates(account, path_prefix="/b/").items] == ["Web2"]
        assert r.list_server_certificates(account, path_prefix="/a/").items == ()
        assert r.list_tags(TagTarget.SERVER_CERTIFICATE, account, "web2") == (Tag("k", "v"),)
    with store.transaction() as tx:
        tx.delete_server_certificate(account, "web2")
    with store.read() as r, pytest.raises(NotFound):
        r.get_server_certificate(account, "web2")


def test_account_settings_and_deletion_tasks(store: Store, account: str) -> None:
    with store.read() as r:
        assert r.get_sts_token_version(account) is None
    with store.transaction() as tx:
        tx.set_sts_token_version(account, 2)
        tx.add_deletion_task(account, "task/aws-service-role/x.amazonaws.com/R/1", "SUCCEEDED")
    with store.read() as r:
        assert r.get_sts_token_version(account) == 2
        assert r.get_deletion_task(account, "task/aws-service-role/x.amazonaws.com/R/1").status == "SUCCEEDED"
        with pytest.raises(NotFound):
            r.get_deletion_task(OTHER_ACCOUNT, "task/aws-service-role/x.amazonaws.com/R/1")
