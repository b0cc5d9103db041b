"""``iamd import`` (docs/troubleshooting.md, "Troubleshooting a real AWS account"): a generated dump and a
realistic small one are loaded into a fresh data directory in one transaction, then AWS CloudTrail
records of the account are explained offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bench.authdetails import ACCOUNT, dump
from iamd.cli import main
from iamd.store import EntityKind, open_store

CASES = Path(__file__).parent.parent / "cases" / "explain"


def _import(tmp_path: Path, data: dict[str, Any] | Path, *extra: str) -> tuple[int, str, Path]:
    path = data if isinstance(data, Path) else tmp_path / "dump.json"
    if not isinstance(data, Path):
        path.write_text(json.dumps(data))
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(main, ["import", str(path), "--data-dir", str(data_dir), *extra])
    return result.exit_code, result.output, data_dir


def _explain(data_dir: Path, event: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    result = CliRunner().invoke(main, ["explain", "--event", str(path), "--json", "--data-dir", str(data_dir)])
    assert result.exit_code in (0, 1), result.output
    answer: dict[str, Any] = json.loads(result.output)
    return answer


def _aws_event(user_arn: str, action: str, resource: str) -> dict[str, Any]:
    service, name = action.split(":")
    return {
        "eventVersion": "1.09", "eventTime": "2026-11-30T10:00:00Z", "eventSource": f"{service}.amazonaws.com",
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.1",
        "userIdentity": {"type": "IAMUser", "arn": user_arn, "accountId": ACCOUNT,
                         "userName": user_arn.rsplit("/", 1)[1]},
        "errorCode": "AccessDenied", "requestID": "GENERATED1",
        "errorMessage": f"User: {user_arn} is not authorized to perform: {action} on resource: {resource} because no "
        f"identity-based policy allows the {action} action",
    }  # fmt: skip


def test_a_generated_dump_is_loaded_whole(tmp_path: Path) -> None:
    status, out, data_dir = _import(tmp_path, dump(users=40, roles=12, groups=4, policies=5))
    assert status == 0, out
    assert f"account {ACCOUNT}: " in out and "40 users" in out and "12 roles" in out and "4 groups" in out
    store = open_store(f"sqlite:///{data_dir / 'iamd.db'}")
    try:
        with store.read() as tx:
            user = tx.get_user(ACCOUNT, "user-11")
            assert user.arn == f"arn:aws:iam::{ACCOUNT}:user/people/user-11"
            assert user.permissions_boundary == f"arn:aws:iam::{ACCOUNT}:policy/teams/team-0"
            assert [g.name for g in tx.list_groups_for_user(ACCOUNT, "user-11").items] == ["group-3"]
            assert tx.get_inline_policy(EntityKind.USER, ACCOUNT, "user-11", "own") is not None
            assert "ec2.amazonaws.com" in tx.get_role(ACCOUNT, "role-3").assume_role_policy
            profile = tx.get_instance_profile(ACCOUNT, "profile-3")
            assert profile.role is not None and profile.role.name == "role-3"
            policy = tx.get_policy(f"arn:aws:iam::{ACCOUNT}:policy/teams/team-2")
            assert "s3:List*" in tx.get_policy_version(policy.arn, policy.default_version_id).document
    finally:
        store.close()
    # offline: the user may read its team's bucket through its group's policy, not write it
    user = f"arn:aws:iam::{ACCOUNT}:user/people/user-2"
    denied = _explain(data_dir, _aws_event(user, "s3:PutObject", "arn:aws:s3:::bucket-2/k"), tmp_path)
    assert denied["now"]["decision"] == "implicitDeny" and denied["fix"]["verified"] is True
    reads = _explain(data_dir, _aws_event(user, "s3:GetObject", "arn:aws:s3:::bucket-2/k"), tmp_path)
    assert reads["now"]["decision"] == "allowed"


def test_an_import_is_all_or_nothing(tmp_path: Path) -> None:
    data = dump(users=5, roles=2, groups=1, policies=1)
    data["UserDetailList"][4]["AttachedManagedPolicies"] = [
        {"PolicyName": "Gone", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/Gone"}
    ]
    status, out, data_dir = _import(tmp_path, data)
    assert status == 1 and "nothing was imported" in out
    store = open_store(f"sqlite:///{data_dir / 'iamd.db'}")
    try:
        with store.read() as tx:
            assert tx.list_users(ACCOUNT).items == () or not tx.list_users(ACCOUNT).items
    finally:
        store.close()
    status, out, _ = _import(tmp_path, {"UserDetailList": "nope"})
    assert status == 1 and "not a list" in out


def test_a_realistic_account_and_its_cloudtrail_events(tmp_path: Path) -> None:
    status, out, data_dir = _import(tmp_path, CASES / "authorization-details.json")
    assert status == 0, out
    events = tmp_path / "events.json"
    events.write_text((CASES / "cloudtrail-real-account.json").read_text())
    result = CliRunner().invoke(main, ["explain", str(events), "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 1, result.output
    maria, deployer = json.loads(result.output)
    # maria: her group's PaymentsData (v3, the default) allows Get/Put, not Delete; ForceMFA denies without MFA
    assert maria["subject"]["action"] == "s3:DeleteObject" and maria["now"]["decision"] == "explicitDeny"
    assert any(f["code"] == "deciding-statement" and f["evidence"]["sid"] == "DenyAllExceptListedIfNoMFA"
               for f in maria["findings"])  # fmt: skip
    # ci-deployer: the inline policy does not allow DeleteFunction; the boundary would
    assert deployer["now"]["decision"] == "implicitDeny"
    assert [c["policyType"] for c in deployer["fix"]["changes"]] == ["identity"] and deployer["fix"]["verified"]


def test_scps_given_as_files_govern_the_imported_account(tmp_path: Path) -> None:
    deny = tmp_path / "NoDeletes.json"
    deny.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoLambdaDeletes", "Effect": "Deny", "Action": "lambda:Delete*", "Resource": "*"}]}))  # fmt: skip
    status, out, data_dir = _import(
        tmp_path, CASES / "authorization-details.json", "--scp", f"ou:Prod={deny}", "--org-management", "111111111111"
    )
    assert status == 0, out
    assert "1 SCPs" in out
    events = tmp_path / "events.json"
    records = json.loads((CASES / "cloudtrail-real-account.json").read_text())["Records"]
    events.write_text(json.dumps(records[1]))  # ci-deployer's lambda:DeleteFunction
    result = CliRunner().invoke(main, ["explain", str(events), "--json", "--data-dir", str(data_dir)])
    answer = json.loads(result.output)
    assert answer["now"]["decision"] == "explicitDeny"
    [deciding] = [f for f in answer["findings"] if f["code"] == "deciding-statement"]
    assert (deciding["evidence"]["policyName"], deciding["evidence"]["levelName"]) == ("NoDeletes", "ou")
    assert answer["fix"]["kind"] == "explicit-deny" and answer["fix"]["guardRail"] is True
    # a bad SCP fails the whole import: nothing is loaded
    bad = tmp_path / "Bad.json"
    bad.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}')
    status, out, _ = _import(tmp_path / "again", CASES / "authorization-details.json", "--scp", f"root={bad}")
    assert status == 1 and "nothing was imported" in out


def test_every_version_of_a_customer_managed_policy_is_imported_with_its_id(tmp_path: Path) -> None:
    """The dump lists every version (``PolicyVersionList``); iamd keeps them with AWS's ids and default, so the
    account's versions are the real one's and the next CreatePolicyVersion is the next id."""
    status, out, data_dir = _import(tmp_path, CASES / "authorization-details.json")
    assert status == 0, out
    assert "1 non-default versions" in out
    store = open_store(f"sqlite:///{data_dir / 'iamd.db'}")
    try:
        with store.read() as tx:
            arn = "arn:aws:iam::210987654321:policy/PaymentsData"
            versions = {v.version_id: v for v in tx.list_policy_versions(arn)}
            assert sorted(versions) == ["v2", "v3"] and versions["v3"].is_default and not versions["v2"].is_default
            assert json.loads(versions["v2"].document)["Statement"][0]["Action"] == "s3:*"  # the old, broad one
            assert tx.get_policy(arn).default_version_id == "v3"
            boundary = tx.get_policy("arn:aws:iam::210987654321:policy/DeployBoundary")
            assert boundary.default_version_id == "v1"
    finally:
        store.close()
    # a version list that cannot be AWS's: refused, nothing imported
    data = json.loads((CASES / "authorization-details.json").read_text())
    versions = data["Policies"][0]["PolicyVersionList"]
    versions.append({**versions[1]})  # v2 twice
    (tmp_path / "dup").mkdir()
    status, out, _ = _import(tmp_path / "dup", data)
    assert status == 1 and "a version id appears twice" in out and "nothing was imported" in out
    versions[-1] = {**versions[1], "VersionId": "version-9"}
    (tmp_path / "odd").mkdir()
    status, out, _ = _import(tmp_path / "odd", data)
    assert status == 1 and "is not v1, v2" in out


def test_resource_policies_given_as_files_are_evaluated_by_explain(tmp_path: Path) -> None:
    """``--resource-policy ARN=FILE``: a bucket policy governs its bucket's objects (same account: its
    Allow suffices; its Deny wins), and the explanation says it was evaluated with it."""
    user = f"arn:aws:iam::{ACCOUNT}:user/people/user-2"
    bucket_policy = tmp_path / "bucket-2.json"
    bucket_policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "WritersByBucket", "Effect": "Allow", "Principal": {"AWS": user}, "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::bucket-2/*"},
        {"Sid": "NoReadsOfSecrets", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::bucket-2/secret/*"},
    ]}))  # fmt: skip
    data = dump(users=10, roles=2, groups=4, policies=5)
    status, out, data_dir = _import(tmp_path, data, "--resource-policy", f"arn:aws:s3:::bucket-2={bucket_policy}")
    assert status == 0, out
    assert "1 resource policies" in out
    # without the bucket policy (test_a_generated_dump_is_loaded_whole) this PutObject is an implicit deny
    writes = _explain(data_dir, _aws_event(user, "s3:PutObject", "arn:aws:s3:::bucket-2/k"), tmp_path)
    assert writes["now"]["decision"] == "allowed"
    assert any("imported resource policy of arn:aws:s3:::bucket-2" in n for n in writes["notes"])
    secret = _explain(data_dir, _aws_event(user, "s3:GetObject", "arn:aws:s3:::bucket-2/secret/k"), tmp_path)
    assert secret["now"]["decision"] == "explicitDeny"
    assert any(f["code"] == "deciding-statement" and f["evidence"]["sid"] == "NoReadsOfSecrets"
               for f in secret["findings"])  # fmt: skip
    other = _explain(data_dir, _aws_event(user, "s3:GetObject", "arn:aws:s3:::bucket-20/secret/k"), tmp_path)
    assert not any("imported resource policy" in n for n in other["notes"])  # another bucket: not governed

    # a document that is not a resource policy (no Principal): refused, nothing imported
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))  # fmt: skip
    (tmp_path / "again").mkdir()
    status, out, _ = _import(tmp_path / "again", data, "--resource-policy", f"arn:aws:s3:::bucket-2={bad}")
    assert status == 1 and "the resource policy of arn:aws:s3:::bucket-2" in out and "nothing was imported" in out
    status, out, _ = _import(tmp_path / "again", data, "--resource-policy", f"bucket-2={bucket_policy}")
    assert status == 2 and "ARN=FILE" in out
