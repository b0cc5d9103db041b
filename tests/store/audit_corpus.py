"""A corpus of audit events of every shape the trail keeps, for the compact record's tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from iamd.audit import CallEvent
from iamd.store import AuditEvent, audit_event_from_record
from tests.store.helpers import ACCOUNT, OTHER_ACCOUNT, START

ROOT = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT,
        "accessKeyId": "AKIAROOTROOTROOT0001"}  # fmt: skip
ALICE = {"type": "IAMUser", "principalId": "AIDAALICE", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
         "accountId": ACCOUNT, "accessKeyId": "AKIAALICEALICE000001", "userName": "alice"}  # fmt: skip
SESSION = {
    "type": "AssumedRole", "principalId": "AROAROLE:s1", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/s1",
    "accountId": ACCOUNT, "accessKeyId": "ASIASESSION000000001",
    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAROLE", "userName": "Deployer",
                                         "arn": f"arn:aws:iam::{ACCOUNT}:role/Deployer", "accountId": ACCOUNT},
                       "attributes": {"creationDate": "2025-01-01T00:00:00Z", "mfaAuthenticated": "false"}},
}  # fmt: skip
FEDERATED = {"type": "FederatedUser", "principalId": f"{ACCOUNT}:fed", "accountId": ACCOUNT,
             "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/fed", "accessKeyId": "ASIAFED0000000000001"}  # fmt: skip
STATEMENT = {"policyName": "inline", "policyArn": None, "policyType": "identity", "policyKind": "inline",
             "policyOwner": "alice", "sid": "Read", "statementIndex": 0, "effect": "Allow",
             "start": {"line": 1, "column": 40}}  # fmt: skip
ALLOWED = ("Allow", "iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/bob", None, (), (STATEMENT,), (), ())
DENIED = ("ExplicitDeny", "iam:DeleteUser", f"arn:aws:iam::{ACCOUNT}:user/bob", "identity", ({"type": "identity"},),
          (STATEMENT | {"effect": "Deny", "sid": "NoDeletes"},), ("aws:MultiFactorAuthPresent",), ())  # fmt: skip
IMPLICIT = ("ImplicitDeny", "iam:ListUsers", "*", None, (), (), (), ("policy p cannot be read",))


def call_events() -> list[CallEvent]:
    """Events of calls: reads, writes, denials, failures, refused credentials; every principal type."""
    base: dict[str, Any] = {"event_source": "iam.amazonaws.com", "aws_region": "us-east-1",
                            "source_ip": "127.0.0.1", "user_agent": "aws-cli/2.15 Python/3.12",
                            "account_id": ACCOUNT}  # fmt: skip
    out: list[CallEvent] = []
    for n, (name, identity, extra) in enumerate(
        [
            ("GetUser", ALICE, {"request_parameters": {"UserName": "bob"}, "decision": ALLOWED}),
            ("ListUsers", ROOT, {}),
            (
                "ListUsers",
                SESSION,
                {"error_code": "AccessDenied", "error_message": "User: ... is not authorized", "decision": IMPLICIT},
            ),
            (
                "DeleteUser",
                ALICE,
                {
                    "request_parameters": {"UserName": "bob"},
                    "error_code": "AccessDenied",
                    "error_message": "explicit deny " * 100,
                    "decision": DENIED,
                },
            ),
            (
                "CreateAccessKey",
                ROOT,
                {
                    "request_parameters": {"UserName": "bob"},
                    "response_elements": {
                        "AccessKey": {
                            "AccessKeyId": "AKIANEW",
                            "SecretAccessKey": "s3cret",
                            "Status": "Active",
                            "CreateDate": START,
                        }
                    },
                },
            ),
            ("CreateLoginProfile", ROOT, {"request_parameters": {"UserName": "bob", "Password": "pw"}}),
            (
                "GetUser",
                {"type": "Unknown", "accessKeyId": "AKIAUNKNOWN"},
                {
                    "error_code": "InvalidClientTokenId",
                    "error_message": "The security token is invalid.",
                    "authentication": {"accessKeyId": "AKIAUNKNOWN", "reason": "no such key"},
                },
            ),
            ("GetUser", FEDERATED, {"request_parameters": {"UserName": "é ünïcode ☃"}, "decision": ALLOWED}),
            ("GetCallerIdentity", SESSION, {"event_source": "sts.amazonaws.com", "aws_region": "eu-west-1"}),
            (
                "AssumeRole",
                ALICE,
                {
                    "event_source": "sts.amazonaws.com",
                    "request_parameters": {
                        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/Deployer",
                        "RoleSessionName": "s1",
                        "DurationSeconds": 900,
                    },
                    "response_elements": {
                        "Credentials": {
                            "AccessKeyId": "ASIA",
                            "SecretAccessKey": "x",
                            "SessionToken": "t",
                            "Expiration": START,
                        }
                    },
                },
            ),
            ("DescribeOrganization", ROOT, {"event_source": "organizations.amazonaws.com"}),
            (
                "ListRoots",
                {**ROOT, "accountId": OTHER_ACCOUNT},
                {"event_source": "organizations.amazonaws.com", "account_id": OTHER_ACCOUNT},
            ),
        ]
    ):
        ids = {"request_id": f"{n:08x}-0000-4000-8000-000000000000", "event_id": f"{n:08x}-1111-4000-8000-000000000000"}
        fields = (
            base | ids | {"event_time": START + timedelta(minutes=n), "event_name": name, "user_identity": identity}
        )
        fields |= extra
        out.append(CallEvent(**fields))
    return out


def stored_events() -> list[AuditEvent]:
    """Every corpus event as the trail stored it before it was compact, plus records of other shapes:
    console sign-ins, a record with a member more, one missing members, ids that are not UUIDs."""
    events = [audit_event_from_record(e.record(), event_time=e.event_time) for e in call_events()]
    signin = {
        "eventVersion": "1.08", "userIdentity": ALICE, "eventTime": "2025-01-01T00:00:00Z",
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": "us-east-1",
        "sourceIPAddress": "127.0.0.1", "userAgent": "Mozilla/5.0", "requestParameters": None,
        "responseElements": {"ConsoleLogin": "Success"},
        "additionalEventData": {"LoginTo": "/console", "MobileVersion": "No", "MFAUsed": "No"},
        "eventID": "3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e5f60", "readOnly": False, "eventType": "AwsConsoleSignIn",
        "managementEvent": True, "recipientAccountId": ACCOUNT, "eventCategory": "Management", "redacted": [],
    }  # fmt: skip
    failed = signin | {"eventID": "3f2b8a52-0d6e-4c3a-9a57-1b2c3d4e5f61", "errorMessage": "Failed authentication",
                       "responseElements": {"ConsoleLogin": "Failure"}}  # fmt: skip
    odd = {"eventVersion": "1.05", "eventTime": "2025-01-01T00:00:01Z", "eventSource": "iam.amazonaws.com",
           "eventName": "GetUser", "eventID": "not-a-uuid", "requestID": "req-123456789012", "readOnly": True,
           "recipientAccountId": ACCOUNT, "userIdentity": ALICE}  # fmt: skip
    fifteen = odd | {"eventID": "fifteen-chars-x", "requestID": "UPPER-CASE-0000-0000-000000000000"}
    return events + [audit_event_from_record(r) for r in (signin, failed, odd, fifteen)]
