"""The S3 service authorized by a real iamd server over HTTP, driven by boto3: every decision
is iamd's (the seed's bucket scenario, docs/s3.md "Authorization")."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from tests.api.conftest import allow, failure, policy
from tests.api.server import RunningServer

from .conftest import Key
from .server import RunningS3

MakeUser = Callable[..., Key]
S3For = Callable[[Key], Any]


def grant(principal: str, action: str | list[str], resource: str, **condition: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def test_same_account_access_is_allowed_by_the_identity_policy_or_by_the_bucket_policy(
    root_s3: Any, make_user: MakeUser, s3_for: S3For, acct: str
) -> None:
    root_s3.create_bucket(Bucket="same-account")
    root_s3.put_object(Bucket="same-account", Key="reports/q3.csv", Body=b"a,b\n")
    by_identity = make_user("ida", policy(allow("s3:GetObject", "arn:aws:s3:::same-account/*")))
    by_bucket = make_user("bucky")
    nobody = make_user("nobody")
    assert s3_for(by_identity).get_object(Bucket="same-account", Key="reports/q3.csv")["Body"].read() == b"a,b\n"

    with pytest.raises(ClientError) as denied:
        s3_for(by_bucket).get_object(Bucket="same-account", Key="reports/q3.csv")
    assert failure(denied) == (
        403, "AccessDenied",
        f"User: {by_bucket.arn} is not authorized to perform: s3:GetObject on resource: "
        '"arn:aws:s3:::same-account/reports/q3.csv" because no identity-based policy allows the s3:GetObject action',
    )  # fmt: skip
    root_s3.put_bucket_policy(Bucket="same-account", Policy=policy(
        grant(by_bucket.arn, "s3:GetObject", "arn:aws:s3:::same-account/reports/*")))  # fmt: skip
    assert s3_for(by_bucket).get_object(Bucket="same-account", Key="reports/q3.csv")["Body"].read() == b"a,b\n"
    with pytest.raises(ClientError) as still:
        s3_for(nobody).get_object(Bucket="same-account", Key="reports/q3.csv")
    assert failure(still)[:2] == (403, "AccessDenied")
    # The bucket owner's policy is what GetBucketPolicy returns, byte for byte.
    stored = root_s3.get_bucket_policy(Bucket="same-account")["Policy"]
    assert json.loads(stored)["Statement"][0]["Principal"] == {"AWS": by_bucket.arn}


def test_a_missing_key_is_404_only_to_a_caller_who_may_list_the_bucket(
    root_s3: Any, make_user: MakeUser, s3_for: S3For
) -> None:
    root_s3.create_bucket(Bucket="missing-keys")
    reader = make_user("reader404", policy(allow("s3:GetObject", "arn:aws:s3:::missing-keys/*")))
    both = ["arn:aws:s3:::missing-keys", "arn:aws:s3:::missing-keys/*"]
    lister = make_user("lister404", policy(allow(["s3:GetObject", "s3:ListBucket"], both)))
    with pytest.raises(ClientError) as forbidden:
        s3_for(reader).get_object(Bucket="missing-keys", Key="nope")
    assert failure(forbidden)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as missing:
        s3_for(lister).get_object(Bucket="missing-keys", Key="nope")
    assert failure(missing)[:2] == (404, "NoSuchKey")
    with pytest.raises(ClientError) as head:
        s3_for(lister).head_object(Bucket="missing-keys", Key="nope")
    assert failure(head)[:2] == (404, "404")


def test_cross_account_access_needs_the_bucket_policy_and_the_callers_own_policy(
    api_server: RunningServer, root_s3: Any, s3_for: S3For, acct: str
) -> None:
    from tests.api.test_organizations import _member_admin, client, new_account

    orgs = client(api_server, "organizations", api_server.root_key, api_server.root_secret)
    orgs.create_organization(FeatureSet="ALL")
    member = new_account(orgs, "s3-partner")
    member_iam = client(api_server, "iam", *_member_admin(api_server, member, "s3-partner-admin"))
    member_iam.create_user(UserName="partner")
    created = member_iam.create_access_key(UserName="partner")["AccessKey"]
    partner = Key(created["AccessKeyId"], created["SecretAccessKey"], arn=f"arn:aws:iam::{member}:user/partner")
    root_s3.create_bucket(Bucket="shared-with-partner")
    root_s3.put_object(Bucket="shared-with-partner", Key="data.bin", Body=b"\x00\x01")
    s3 = s3_for(partner)

    # Only the caller's own policy allows: the owner's side (no bucket policy) does not.
    member_iam.put_user_policy(UserName="partner", PolicyName="s3", PolicyDocument=policy(allow("s3:GetObject")))
    with pytest.raises(ClientError) as own_only:
        s3.get_object(Bucket="shared-with-partner", Key="data.bin")
    assert failure(own_only) == (403, "AccessDenied", "Access Denied")  # another account: plain
    # Both sides allow.
    root_s3.put_bucket_policy(Bucket="shared-with-partner", Policy=policy(
        grant(f"arn:aws:iam::{member}:root", "s3:GetObject", "arn:aws:s3:::shared-with-partner/*")))  # fmt: skip
    assert s3.get_object(Bucket="shared-with-partner", Key="data.bin")["Body"].read() == b"\x00\x01"
    # Only the bucket policy allows.
    member_iam.delete_user_policy(UserName="partner", PolicyName="s3")
    with pytest.raises(ClientError) as bucket_only:
        s3.get_object(Bucket="shared-with-partner", Key="data.bin")
    assert failure(bucket_only) == (403, "AccessDenied", "Access Denied")
    # Another account may not touch the bucket policy, even when allowed: 405.
    member_iam.put_user_policy(UserName="partner", PolicyName="s3", PolicyDocument=policy(allow("s3:*")))
    root_s3.put_bucket_policy(Bucket="shared-with-partner", Policy=policy(
        grant(f"arn:aws:iam::{member}:root", "s3:GetBucketPolicy", "arn:aws:s3:::shared-with-partner")))  # fmt: skip
    with pytest.raises(ClientError) as not_allowed:
        s3.get_bucket_policy(Bucket="shared-with-partner")
    assert failure(not_allowed)[:2] == (405, "MethodNotAllowed")


def test_an_explicit_deny_in_the_bucket_policy_wins_over_the_identity_allow(
    root_s3: Any, make_user: MakeUser, s3_for: S3For
) -> None:
    root_s3.create_bucket(Bucket="deny-wins")
    root_s3.put_object(Bucket="deny-wins", Key="secret.txt", Body=b"s")
    admin = make_user("s3-admin-denied", policy(allow("s3:*")))
    root_s3.put_bucket_policy(Bucket="deny-wins", Policy=policy(
        {"Effect": "Deny", "Principal": {"AWS": admin.arn}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::deny-wins/secret.txt"}))  # fmt: skip
    with pytest.raises(ClientError) as denied:
        s3_for(admin).get_object(Bucket="deny-wins", Key="secret.txt")
    assert failure(denied) == (
        403, "AccessDenied",
        f"User: {admin.arn} is not authorized to perform: s3:GetObject on resource: "
        '"arn:aws:s3:::deny-wins/secret.txt" with an explicit deny in a resource-based policy',
    )  # fmt: skip
    s3_for(admin).put_object(Bucket="deny-wins", Key="other.txt", Body=b"o")  # the rest stays allowed


def test_conditions_on_secure_transport_prefix_and_source_ip(root_s3: Any, make_user: MakeUser, s3_for: S3For) -> None:
    root_s3.create_bucket(Bucket="conditions")
    for key in ("home/carla/a.txt", "home/dan/b.txt"):
        root_s3.put_object(Bucket="conditions", Key=key, Body=b"x")
    carla = make_user("carla", policy(
        allow("s3:ListBucket", "arn:aws:s3:::conditions", StringLike={"s3:prefix": ["home/carla/*"]}),
        allow("s3:GetObject", "arn:aws:s3:::conditions/home/carla/*"),
    ))  # fmt: skip
    s3 = s3_for(carla)
    listed = s3.list_objects_v2(Bucket="conditions", Prefix="home/carla/")
    assert [o["Key"] for o in listed["Contents"]] == ["home/carla/a.txt"]
    with pytest.raises(ClientError) as other_prefix:
        s3.list_objects_v2(Bucket="conditions", Prefix="home/dan/")
    assert failure(other_prefix)[:2] == (403, "AccessDenied")

    # This service is served over http: a policy that requires TLS denies every request.
    root_s3.put_bucket_policy(Bucket="conditions", Policy=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::conditions/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))  # fmt: skip
    with pytest.raises(ClientError) as insecure:
        s3.get_object(Bucket="conditions", Key="home/carla/a.txt")
    assert "explicit deny in a resource-based policy" in failure(insecure)[2]

    # aws:SourceIp is the socket peer of the S3 service (here 127.0.0.1).
    root_s3.put_bucket_policy(Bucket="conditions", Policy=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::conditions/*"],
         "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}))  # fmt: skip
    assert s3.get_object(Bucket="conditions", Key="home/carla/a.txt")["Body"].read() == b"x"
    root_s3.put_bucket_policy(Bucket="conditions", Policy=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::conditions/*"],
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}}))  # fmt: skip
    with pytest.raises(ClientError) as from_loopback:
        s3.get_object(Bucket="conditions", Key="home/carla/a.txt")
    assert failure(from_loopback)[:2] == (403, "AccessDenied")


def test_a_session_policy_and_a_permissions_boundary_narrow_s3_access(
    api_server: RunningServer, iam: BaseClient, root_s3: Any, make_user: MakeUser, s3_for: S3For, acct: str
) -> None:
    root_s3.create_bucket(Bucket="narrowed")
    root_s3.put_object(Bucket="narrowed", Key="k", Body=b"v")
    everything = policy(allow("s3:*"))
    # A permissions boundary that allows reading only.
    read_only = iam.create_policy(PolicyName="S3ReadOnlyBoundary", PolicyDocument=policy(allow("s3:GetObject")))
    bounded = make_user("bounded", everything)
    iam.put_user_permissions_boundary(UserName="bounded", PermissionsBoundary=read_only["Policy"]["Arn"])
    assert s3_for(bounded).get_object(Bucket="narrowed", Key="k")["Body"].read() == b"v"
    with pytest.raises(ClientError) as by_boundary:
        s3_for(bounded).put_object(Bucket="narrowed", Key="k2", Body=b"w")
    assert failure(by_boundary)[2].endswith("because no permissions boundary allows the s3:PutObject action")

    # A role allowed everything, assumed with a session policy that allows reading only.
    assumer = make_user("assumer", policy(allow("sts:AssumeRole")))
    iam.create_role(RoleName="S3Worker", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": assumer.arn}, "Action": "sts:AssumeRole"}]}))  # fmt: skip
    iam.put_role_policy(RoleName="S3Worker", PolicyName="all", PolicyDocument=everything)
    sts = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1",
                       aws_access_key_id=assumer.key, aws_secret_access_key=assumer.secret)  # fmt: skip
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/S3Worker", RoleSessionName="narrow",
                            Policy=policy(allow("s3:GetObject")))["Credentials"]  # fmt: skip
    session = Key(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert s3_for(session).get_object(Bucket="narrowed", Key="k")["Body"].read() == b"v"
    with pytest.raises(ClientError) as by_session:
        s3_for(session).delete_object(Bucket="narrowed", Key="k")
    assert failure(by_session)[2].endswith("because no session policy allows the s3:DeleteObject action")


def test_refused_signatures_are_s3_errors(s3_service: RunningS3, make_user: MakeUser) -> None:
    user = make_user("badsig", policy(allow("s3:*")))
    with pytest.raises(ClientError) as wrong_secret:
        s3_service.client(user.key, "not-the-secret").list_buckets()
    assert failure(wrong_secret)[:2] == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError) as unknown:
        s3_service.client("AKIAIOSFODNN7UNKNOWN", "x").list_buckets()
    assert failure(unknown)[:2] == (403, "InvalidAccessKeyId")
    with pytest.raises(ClientError) as anonymous:
        _unsigned(s3_service).list_buckets()
    assert failure(anonymous)[:2] == (403, "AccessDenied")


def _unsigned(s3: RunningS3) -> Any:
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))  # fmt: skip


def test_delete_objects_reports_each_key_iamd_denied(root_s3: Any, make_user: MakeUser, s3_for: S3For) -> None:
    root_s3.create_bucket(Bucket="batch-delete")
    for key in ("tmp/a", "tmp/b", "keep/c"):
        root_s3.put_object(Bucket="batch-delete", Key=key, Body=b"x")
    cleaner = make_user("cleaner", policy(allow("s3:DeleteObject", "arn:aws:s3:::batch-delete/tmp/*")))
    done = s3_for(cleaner).delete_objects(Bucket="batch-delete", Delete={"Objects": [
        {"Key": "tmp/a"}, {"Key": "keep/c"}, {"Key": "tmp/b"}]})  # fmt: skip
    assert sorted(d["Key"] for d in done["Deleted"]) == ["tmp/a", "tmp/b"]
    assert [(e["Key"], e["Code"]) for e in done["Errors"]] == [("keep/c", "AccessDenied")]
    assert [o["Key"] for o in root_s3.list_objects_v2(Bucket="batch-delete")["Contents"]] == ["keep/c"]


def test_the_trail_has_each_s3_decision(api_server: RunningServer, root_s3: Any, make_user: MakeUser,
                                        s3_for: S3For) -> None:  # fmt: skip
    from click.testing import CliRunner

    from iamd.cli import main

    root_s3.create_bucket(Bucket="audited")
    viewer = make_user("viewer", policy(allow("s3:PutObject")))
    s3_for(viewer).put_object(Bucket="audited", Key="seen.txt", Body=b"1")
    with pytest.raises(ClientError):
        s3_for(viewer).get_object(Bucket="audited", Key="seen.txt")
    assert api_server.backend.audit is not None
    api_server.backend.audit.flush()
    args = ["trail", "--json", "--user", "viewer", "--limit", "20", "--data-dir", str(api_server.backend.data_dir)]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    records = [json.loads(line) for line in out.output.splitlines() if line.strip()]
    s3_events = [(r["eventSource"], r["eventName"], r.get("errorCode")) for r in records
                 if r["eventSource"] == "s3.amazonaws.com"]  # fmt: skip
    assert ("s3.amazonaws.com", "PutObject", None) in s3_events
    assert ("s3.amazonaws.com", "GetObject", "AccessDenied") in s3_events
    denied = next(r for r in records if r["eventName"] == "GetObject")
    assert denied["requestParameters"]["resource"] == "arn:aws:s3:::audited/seen.txt"
    assert denied["iamdDecision"]["blockingPolicyType"] == "identity"


def test_the_bucket_owners_root_cannot_lock_itself_out_of_the_bucket_policy(
    root_s3: Any, make_user: MakeUser, s3_for: S3For
) -> None:
    root_s3.create_bucket(Bucket="locked")
    admin = make_user("policy-admin", policy(allow("s3:*")))
    actions = ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetObject"]
    resources = ["arn:aws:s3:::locked", "arn:aws:s3:::locked/*"]
    lock = policy({"Effect": "Deny", "Principal": "*", "Action": actions, "Resource": resources})
    root_s3.put_bucket_policy(Bucket="locked", Policy=lock)
    with pytest.raises(ClientError) as admin_denied:
        s3_for(admin).get_bucket_policy(Bucket="locked")
    assert failure(admin_denied)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as root_reads:  # the protection covers the policy operations only
        root_s3.get_object(Bucket="locked", Key="any")
    assert failure(root_reads)[:2] == (403, "AccessDenied")
    assert json.loads(root_s3.get_bucket_policy(Bucket="locked")["Policy"]) == json.loads(lock)
    root_s3.delete_bucket_policy(Bucket="locked")
    with pytest.raises(ClientError) as gone:
        s3_for(admin).get_bucket_policy(Bucket="locked")
    assert failure(gone)[:2] == (404, "NoSuchBucketPolicy")


def test_a_presigned_url_is_authorized_as_its_signer(root_s3: Any, make_user: MakeUser, s3_service: RunningS3) -> None:
    """SigV4 query authentication; its payload is UNSIGNED-PAYLOAD (boto3 presigns with SigV2
    unless told ``signature_version="s3v4"``, and iamd verifies SigV4 only)."""
    import httpx

    root_s3.create_bucket(Bucket="presigned")
    root_s3.put_object(Bucket="presigned", Key="file.txt", Body=b"shared")
    reader = make_user("presigner", policy(allow("s3:GetObject", "arn:aws:s3:::presigned/*")))
    client = s3_service.client(reader.key, reader.secret, signature_version="s3v4")
    url = client.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "file.txt"})
    assert "X-Amz-Signature=" in url
    got = httpx.get(url)
    assert (got.status_code, got.content) == (200, b"shared"), got.text
    other = client.generate_presigned_url("get_object", Params={"Bucket": "same-account", "Key": "reports/q3.csv"})
    assert httpx.get(other).status_code == 403
    # Signature Version 2 (boto3's S3 presigning without s3v4, and the AWS header form): S3's answer in
    # the Regions that accept only SigV4, 400 InvalidRequest, before any authorization.
    v2 = s3_service.client(reader.key, reader.secret, signature_version="s3")
    url_v2 = v2.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "file.txt"})
    assert "AWSAccessKeyId=" in url_v2 and "Signature=" in url_v2
    v2_header = {"Authorization": f"AWS {reader.key}:c2lnbmF0dXJl"}
    for answer in (httpx.get(url_v2), httpx.get(f"{s3_service.endpoint}/presigned/file.txt", headers=v2_header)):
        assert answer.status_code == 400, answer.text
        assert "<Code>InvalidRequest</Code>" in answer.text
        assert "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256." in (
            answer.text
        )


def test_another_account_creates_its_own_bucket_with_its_own_policies(
    api_server: RunningServer, root_s3: Any, s3_for: S3For
) -> None:
    """S3 makes the account that creates a bucket its owner: CreateBucket is authorized in the
    creator's account (its own policies suffice, no bucket policy exists yet), and the bucket is
    then the creator's — the service's account is the other account for it."""
    from tests.api.test_organizations import _member_admin, client, new_account

    orgs = client(api_server, "organizations", api_server.root_key, api_server.root_secret)
    with contextlib.suppress(orgs.exceptions.AlreadyInOrganizationException):  # the module's server may have one
        orgs.create_organization(FeatureSet="ALL")
    member = new_account(orgs, "s3-creator")
    member_iam = client(api_server, "iam", *_member_admin(api_server, member, "s3-creator-admin"))
    member_iam.create_user(UserName="creator")
    created = member_iam.create_access_key(UserName="creator")["AccessKey"]
    creator = s3_for(Key(created["AccessKeyId"], created["SecretAccessKey"], arn=f"arn:aws:iam::{member}:user/creator"))
    with pytest.raises(ClientError) as no_policy:  # its own account does not allow it yet
        creator.create_bucket(Bucket="made-by-member")
    assert failure(no_policy)[:2] == (403, "AccessDenied")
    assert f"arn:aws:iam::{member}:user/creator is not authorized to perform: s3:CreateBucket" in failure(no_policy)[2]
    member_iam.put_user_policy(UserName="creator", PolicyName="s3", PolicyDocument=policy(allow("s3:*")))
    creator.create_bucket(Bucket="made-by-member")
    creator.put_object(Bucket="made-by-member", Key="k", Body=b"mine")  # same account: no bucket policy needed
    assert creator.get_object(Bucket="made-by-member", Key="k")["Body"].read() == b"mine"
    with pytest.raises(ClientError) as foreign:  # the service's root is another account for this bucket
        root_s3.get_object(Bucket="made-by-member", Key="k")
    assert failure(foreign) == (403, "AccessDenied", "Access Denied")
