"""Service-specific credentials against a real server, with boto3: shown once, stored only as
a hash, never in the audit trail; AWS's quotas, errors and the DeleteUser conflict."""

from __future__ import annotations

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from iamd.service.passwords import password_matches
from tests.api.conftest import UserClient, allow, failure, policy
from tests.api.server import RunningServer
from tests.api.test_audit_trail import events


def test_lifecycle_and_the_password_shown_once(iam: BaseClient, api_server: RunningServer, acct: str) -> None:
    iam.create_user(UserName="coder")
    made = iam.create_service_specific_credential(UserName="coder", ServiceName="codecommit.amazonaws.com")
    cred = made["ServiceSpecificCredential"]
    assert cred["ServiceUserName"] == f"coder-at-{acct}" and cred["Status"] == "Active"
    assert cred["ServiceSpecificCredentialId"].startswith("ACCA") and len(cred["ServicePassword"]) == 44
    cred_id, password = cred["ServiceSpecificCredentialId"], cred["ServicePassword"]
    listed = iam.list_service_specific_credentials(UserName="coder")["ServiceSpecificCredentials"]
    assert listed == [{k: v for k, v in cred.items() if k != "ServicePassword"}]  # never again
    # stored hashed, never in clear: not in the database file, not in any audit record
    with api_server.backend.store.read() as tx:
        [stored] = tx.list_service_credentials(acct, "coder")
    assert password not in stored.password_hash and password_matches(stored.password_hash, password)
    assert all(password not in e.record for e in events(api_server))
    reset = iam.reset_service_specific_credential(UserName="coder", ServiceSpecificCredentialId=cred_id)
    new_password = reset["ServiceSpecificCredential"]["ServicePassword"]
    assert new_password != password and reset["ServiceSpecificCredential"]["ServiceSpecificCredentialId"] == cred_id
    with api_server.backend.store.read() as tx:
        [stored] = tx.list_service_credentials(acct, "coder")
    assert password_matches(stored.password_hash, new_password) and not password_matches(stored.password_hash, password)
    iam.update_service_specific_credential(UserName="coder", ServiceSpecificCredentialId=cred_id, Status="Inactive")
    assert iam.list_service_specific_credentials(UserName="coder")["ServiceSpecificCredentials"][0]["Status"] == (
        "Inactive"
    )
    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName="coder")
    assert failure(conflict)[:2] == (409, "DeleteConflict")
    iam.delete_service_specific_credential(UserName="coder", ServiceSpecificCredentialId=cred_id)
    with pytest.raises(ClientError) as gone:
        iam.reset_service_specific_credential(UserName="coder", ServiceSpecificCredentialId=cred_id)
    assert failure(gone) == (404, "NoSuchEntity", f"No such credential {cred_id} exists.")
    iam.delete_user(UserName="coder")


def test_quota_per_service_unsupported_services_and_all_users(iam: BaseClient) -> None:
    for name in ("cq1", "cq2"):
        iam.create_user(UserName=name)
    for _ in range(2):
        iam.create_service_specific_credential(UserName="cq1", ServiceName="codecommit.amazonaws.com")
    with pytest.raises(ClientError) as quota:
        iam.create_service_specific_credential(UserName="cq1", ServiceName="codecommit.amazonaws.com")
    assert failure(quota) == (
        409, "LimitExceeded", "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2"
    )  # fmt: skip
    iam.create_service_specific_credential(UserName="cq1", ServiceName="cassandra.amazonaws.com")  # another service
    iam.create_service_specific_credential(UserName="cq2", ServiceName="cassandra.amazonaws.com")
    with pytest.raises(ClientError) as unsupported:
        iam.create_service_specific_credential(UserName="cq2", ServiceName="s3.amazonaws.com")
    assert failure(unsupported) == (
        404, "NotSupportedService", "No such service s3.amazonaws.com is supported for Service-Specific Credentials"
    )  # fmt: skip
    everyone = iam.list_service_specific_credentials(AllUsers=True)["ServiceSpecificCredentials"]
    assert sorted(c["UserName"] for c in everyone if c["UserName"] in ("cq1", "cq2")) == ["cq1", "cq1", "cq1", "cq2"]
    keyspaces = iam.list_service_specific_credentials(UserName="cq1", ServiceName="cassandra.amazonaws.com")
    assert [c["ServiceName"] for c in keyspaces["ServiceSpecificCredentials"]] == ["cassandra.amazonaws.com"]
    with pytest.raises(ClientError) as nobody:
        iam.create_service_specific_credential(UserName="nobody", ServiceName="codecommit.amazonaws.com")
    assert failure(nobody) == (404, "NoSuchEntity", "The user with name nobody cannot be found.")


def test_users_reset_their_own_credentials(user_client: UserClient, acct: str, iam: BaseClient) -> None:
    own = f"arn:aws:iam::{acct}:user/${{aws:username}}"
    me = user_client("self-coder", policy(allow("iam:*ServiceSpecificCredential*", own)))
    cred = me.create_service_specific_credential(UserName="self-coder", ServiceName="codecommit.amazonaws.com")
    cred_id = cred["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    assert me.reset_service_specific_credential(ServiceSpecificCredentialId=cred_id)  # UserName defaults to the caller
    iam.create_user(UserName="other-coder")
    with pytest.raises(ClientError) as denied:
        me.create_service_specific_credential(UserName="other-coder", ServiceName="codecommit.amazonaws.com")
    assert failure(denied)[1] == "AccessDenied"
