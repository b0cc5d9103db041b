"""W1: one IAM user, 10 managed policies x 5 statements, no conditions; and the scaling extras.

The statements use service-scoped action wildcards and ARN resources with wildcards. Every
pattern is chosen so that IAM's documented glob semantics are unambiguous for all three
engines compared on W1 (iamd, moto, Cedar): no ``?`` (a regex quantifier to moto), no ``.``
or other regex metacharacters (moto turns ``*`` into ``.*`` and matches the rest as a regex),
and requests spell actions in the case the policies use (moto compares case-sensitively,
IAM does not). :func:`moto_safe` checks this.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from iamd.policy import DocumentKind, Policy, PolicySet, PolicyType, Principal, Request, build_context, parse_policy

__all__ = [
    "ACCOUNT",
    "W1",
    "W1_POLICIES",
    "StatementSpec",
    "build_w1",
    "extra_policies",
    "moto_safe",
    "policy_json",
]

ACCOUNT = "111122223333"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/alice"
_A = ACCOUNT


@dataclass(frozen=True, slots=True)
class StatementSpec:
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]
    resources: tuple[str, ...]


def _s(effect: str, actions: Sequence[str], resources: Sequence[str]) -> StatementSpec:
    return StatementSpec(effect, tuple(actions), tuple(resources))


# Ten managed policies a developer might have attached, five statements each.
W1_POLICIES: dict[str, tuple[StatementSpec, ...]] = {
    "S3AppData": (
        _s("Allow", ["s3:Get*", "s3:List*"], ["arn:aws:s3:::app-data-*", "arn:aws:s3:::app-data-*/*"]),
        _s("Allow", ["s3:PutObject*"], ["arn:aws:s3:::app-data-*/uploads/*"]),
        _s("Deny", ["s3:GetObject*"], ["arn:aws:s3:::app-data-*/secret/*"]),
        _s("Allow", ["s3:*Object"], ["arn:aws:s3:::scratch-*/*"]),
        _s("Allow", ["s3:GetBucket*"], ["arn:aws:s3:::logs-*"]),
    ),
    "Ec2Operator": (
        _s("Allow", ["ec2:Describe*"], ["*"]),
        _s("Allow", ["ec2:StartInstances", "ec2:StopInstances", "ec2:Reboot*"], [f"arn:aws:ec2:*:{_A}:instance/*"]),
        _s("Allow", ["ec2:*Volume"],
           [f"arn:aws:ec2:us-east-1:{_A}:volume/*", f"arn:aws:ec2:us-east-1:{_A}:instance/*"]),
        _s("Deny", ["ec2:Terminate*"], [f"arn:aws:ec2:*:{_A}:instance/*"]),
        _s("Allow", ["ec2:*Snapshot*"], ["arn:aws:ec2:*::snapshot/*", f"arn:aws:ec2:*:{_A}:volume/*"]),
    ),
    "DynamoOrders": (
        _s("Allow", ["dynamodb:*Item"], [f"arn:aws:dynamodb:*:{_A}:table/orders-*"]),
        _s("Allow", ["dynamodb:Query", "dynamodb:Scan"],
           [f"arn:aws:dynamodb:*:{_A}:table/orders-*", f"arn:aws:dynamodb:*:{_A}:table/orders-*/index/*"]),
        _s("Allow", ["dynamodb:Describe*", "dynamodb:List*"], ["*"]),
        _s("Deny", ["dynamodb:Delete*"], [f"arn:aws:dynamodb:*:{_A}:table/orders-prod*"]),
        _s("Allow", ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
           [f"arn:aws:dynamodb:*:{_A}:table/customers-*"]),
    ),
    "QueuesAndTopics": (
        _s("Allow", ["sqs:SendMessage*", "sqs:ReceiveMessage", "sqs:DeleteMessage*"], [f"arn:aws:sqs:*:{_A}:jobs-*"]),
        _s("Allow", ["sqs:Get*", "sqs:List*"], [f"arn:aws:sqs:*:{_A}:*"]),
        _s("Deny", ["sqs:Purge*", "sqs:DeleteQueue"], [f"arn:aws:sqs:*:{_A}:*-prod"]),
        _s("Allow", ["sns:Publish"], [f"arn:aws:sns:*:{_A}:alerts-*", f"arn:aws:sns:*:{_A}:jobs-*"]),
        _s("Allow", ["sns:Get*", "sns:List*"], [f"arn:aws:sns:us-east-1:{_A}:*"]),
    ),
    "LambdaDeveloper": (
        _s("Allow", ["lambda:InvokeFunction", "lambda:Get*"], [f"arn:aws:lambda:*:{_A}:function:api-*"]),
        _s("Allow", ["lambda:Update*", "lambda:Publish*"], [f"arn:aws:lambda:us-east-1:{_A}:function:api-dev-*"]),
        _s("Allow", ["lambda:List*"], ["*"]),
        _s("Deny", ["lambda:Delete*", "lambda:*Permission"], [f"arn:aws:lambda:*:{_A}:function:*"]),
        _s("Allow", ["lambda:*Alias*"], [f"arn:aws:lambda:*:{_A}:function:api-*:*"]),
    ),
    "LogsReader": (
        _s("Allow", ["logs:Get*", "logs:FilterLogEvents", "logs:StartQuery"],
           [f"arn:aws:logs:*:{_A}:log-group:/app/*"]),
        _s("Allow", ["logs:Describe*"], ["*"]),
        _s("Allow", ["logs:Create*", "logs:PutLogEvents"], [f"arn:aws:logs:*:{_A}:log-group:/app/dev/*"]),
        _s("Deny", ["logs:Delete*"], [f"arn:aws:logs:*:{_A}:log-group:*"]),
        _s("Allow", ["logs:*Tag*"], [f"arn:aws:logs:us-east-1:{_A}:log-group:/app/*"]),
    ),
    "KmsUse": (
        _s("Allow", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"], [f"arn:aws:kms:us-east-1:{_A}:key/app-*"]),
        _s("Allow", ["kms:Describe*", "kms:List*", "kms:Get*"], [f"arn:aws:kms:*:{_A}:key/*"]),
        _s("Deny", ["kms:ScheduleKeyDeletion", "kms:Disable*"], [f"arn:aws:kms:*:{_A}:key/*"]),
        _s("Allow", ["kms:ReEncrypt*"], [f"arn:aws:kms:*:{_A}:key/app-*"]),
        _s("Allow", ["kms:*Grant*"], [f"arn:aws:kms:us-east-1:{_A}:key/app-shared-*"]),
    ),
    "SecretsReader": (
        _s("Allow", ["secretsmanager:GetSecretValue", "secretsmanager:Describe*"],
           [f"arn:aws:secretsmanager:*:{_A}:secret:app/*"]),
        _s("Allow", ["secretsmanager:List*"], ["*"]),
        _s("Allow", ["secretsmanager:PutSecretValue", "secretsmanager:Update*"],
           [f"arn:aws:secretsmanager:*:{_A}:secret:app/dev/*"]),
        _s("Deny", ["secretsmanager:Delete*"], [f"arn:aws:secretsmanager:*:{_A}:secret:*"]),
        _s("Allow", ["secretsmanager:*ResourcePolicy"], [f"arn:aws:secretsmanager:us-east-1:{_A}:secret:app/shared/*"]),
    ),
    "Monitoring": (
        _s("Allow", ["cloudwatch:Get*", "cloudwatch:List*", "cloudwatch:Describe*"], ["*"]),
        _s("Allow", ["cloudwatch:PutMetricData"], ["*"]),
        _s("Allow", ["cloudwatch:PutMetricAlarm", "cloudwatch:*Alarms"], [f"arn:aws:cloudwatch:*:{_A}:alarm:app-*"]),
        _s("Deny", ["cloudwatch:DeleteDashboards"], [f"arn:aws:cloudwatch::{_A}:dashboard/prod-*"]),
        _s("Allow", ["cloudwatch:*Dashboard*"], [f"arn:aws:cloudwatch::{_A}:dashboard/*"]),
    ),
    "S3Archive": (
        _s("Allow", ["s3:RestoreObject", "s3:GetObject*"], ["arn:aws:s3:::archive-*/*"]),
        _s("Allow", ["s3:ListBucket*"], ["arn:aws:s3:::archive-*"]),
        _s("Deny", ["s3:Delete*"], ["arn:aws:s3:::archive-*", "arn:aws:s3:::archive-*/*"]),
        _s("Deny", ["s3:PutBucket*"], ["arn:aws:s3:::*"]),
        _s("Allow", ["s3:PutObject", "s3:PutObjectTagging"], ["arn:aws:s3:::archive-*/incoming/*"]),
    ),
}  # fmt: skip

# What the requests ask for, per service: concrete actions (some granted, some not) and
# resource templates ({k} is a number that makes resources distinct).
_ACTIONS: dict[str, tuple[str, ...]] = {
    "s3": ("GetObject", "GetObjectAcl", "GetObjectTagging", "ListBucket", "PutObject", "PutObjectTagging",
           "DeleteObject", "GetBucketPolicy", "PutBucketPolicy", "RestoreObject"),
    "ec2": ("DescribeInstances", "DescribeVolumes", "StartInstances", "StopInstances", "RebootInstances",
            "TerminateInstances", "DescribeSnapshots", "AttachVolume", "DetachVolume", "CreateSnapshot"),
    "dynamodb": ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable",
                 "BatchGetItem", "DeleteTable"),
    "sqs": ("SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "GetQueueAttributes",
            "PurgeQueue", "DeleteQueue", "TagQueue"),
    "sns": ("Publish", "GetTopicAttributes", "ListSubscriptionsByTopic", "DeleteTopic"),
    "lambda": ("InvokeFunction", "GetFunction", "GetFunctionConfiguration", "UpdateFunctionCode", "PublishVersion",
               "DeleteFunction", "AddPermission", "CreateAlias", "UpdateAlias"),
    "logs": ("GetLogEvents", "FilterLogEvents", "StartQuery", "DescribeLogStreams", "CreateLogStream",
             "PutLogEvents", "DeleteLogGroup", "TagLogGroup"),
    "kms": ("Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "DescribeKey",
            "ScheduleKeyDeletion", "DisableKey", "ReEncryptFrom", "CreateGrant", "Sign"),
    "secretsmanager": ("GetSecretValue", "DescribeSecret", "PutSecretValue", "UpdateSecret", "DeleteSecret",
                       "PutResourcePolicy"),
    "cloudwatch": ("GetMetricData", "PutMetricData", "PutMetricAlarm", "DeleteAlarms", "DescribeAlarms",
                   "DeleteDashboards", "PutDashboard", "GetDashboard", "SetAlarmState"),
}  # fmt: skip

_RESOURCES: dict[str, tuple[str, ...]] = {
    "s3": ("arn:aws:s3:::app-data-{k}", "arn:aws:s3:::app-data-{k}/reports/r{k}.csv",
           "arn:aws:s3:::app-data-{k}/uploads/u{k}.png", "arn:aws:s3:::app-data-{k}/secret/s{k}.pem",
           "arn:aws:s3:::scratch-{k}/tmp/t{k}.bin", "arn:aws:s3:::logs-{k}", "arn:aws:s3:::archive-{k}",
           "arn:aws:s3:::archive-{k}/incoming/i{k}.tar", "arn:aws:s3:::archive-{k}/2024/a{k}.tar",
           "arn:aws:s3:::scratch-{k}/work/w{k}.bin", "arn:aws:s3:::private-{k}/p{k}.db"),
    "ec2": (f"arn:aws:ec2:us-east-1:{_A}:instance/i-0a{{k}}", f"arn:aws:ec2:eu-west-1:{_A}:instance/i-0b{{k}}",
            f"arn:aws:ec2:us-east-1:{_A}:volume/vol-0{{k}}", f"arn:aws:ec2:eu-west-1:{_A}:volume/vol-1{{k}}",
            "arn:aws:ec2:us-east-1::snapshot/snap-0{k}", "*"),
    "dynamodb": (f"arn:aws:dynamodb:us-east-1:{_A}:table/orders-dev-{{k}}",
                 f"arn:aws:dynamodb:us-east-1:{_A}:table/orders-prod-{{k}}",
                 f"arn:aws:dynamodb:eu-west-1:{_A}:table/orders-dev-{{k}}/index/by-date",
                 f"arn:aws:dynamodb:us-east-1:{_A}:table/customers-{{k}}",
                 f"arn:aws:dynamodb:us-east-1:{_A}:table/billing-{{k}}"),
    "sqs": (f"arn:aws:sqs:us-east-1:{_A}:jobs-{{k}}", f"arn:aws:sqs:us-east-1:{_A}:jobs-{{k}}-prod",
            f"arn:aws:sqs:eu-west-1:{_A}:events-{{k}}", f"arn:aws:sqs:us-east-1:{_A}:tmp-{{k}}"),
    "sns": (f"arn:aws:sns:us-east-1:{_A}:alerts-{{k}}", f"arn:aws:sns:eu-west-1:{_A}:jobs-{{k}}",
            f"arn:aws:sns:us-east-1:{_A}:audit-{{k}}"),
    "lambda": (f"arn:aws:lambda:us-east-1:{_A}:function:api-dev-{{k}}",
               f"arn:aws:lambda:eu-west-1:{_A}:function:api-prod-{{k}}",
               f"arn:aws:lambda:us-east-1:{_A}:function:api-dev-{{k}}:live",
               f"arn:aws:lambda:us-east-1:{_A}:function:etl-{{k}}"),
    "logs": (f"arn:aws:logs:us-east-1:{_A}:log-group:/app/dev/svc-{{k}}",
             f"arn:aws:logs:eu-west-1:{_A}:log-group:/app/prod/svc-{{k}}",
             f"arn:aws:logs:us-east-1:{_A}:log-group:/aws/lambda/fn-{{k}}", "*"),
    "kms": (f"arn:aws:kms:us-east-1:{_A}:key/app-{{k}}", f"arn:aws:kms:eu-west-1:{_A}:key/app-{{k}}",
            f"arn:aws:kms:us-east-1:{_A}:key/app-shared-{{k}}", f"arn:aws:kms:us-east-1:{_A}:key/infra-{{k}}"),
    "secretsmanager": (f"arn:aws:secretsmanager:us-east-1:{_A}:secret:app/dev/db-{{k}}",
                       f"arn:aws:secretsmanager:us-east-1:{_A}:secret:app/prod/db-{{k}}",
                       f"arn:aws:secretsmanager:us-east-1:{_A}:secret:app/shared/key-{{k}}",
                       f"arn:aws:secretsmanager:eu-west-1:{_A}:secret:infra/root-{{k}}", "*"),
    "cloudwatch": (f"arn:aws:cloudwatch:us-east-1:{_A}:alarm:app-{{k}}",
                   f"arn:aws:cloudwatch:us-east-1:{_A}:alarm:infra-{{k}}",
                   f"arn:aws:cloudwatch::{_A}:dashboard/prod-{{k}}",
                   f"arn:aws:cloudwatch::{_A}:dashboard/dev-{{k}}", "*"),
}  # fmt: skip

_UNSAFE_FOR_MOTO = re.compile(r"[?.+()\[\]{}|^$\\]")


def moto_safe(pattern: str) -> bool:
    """Whether moto's regex translation of ``pattern`` means exactly IAM's glob."""
    return _UNSAFE_FOR_MOTO.search(pattern) is None


def policy_json(statements: Sequence[StatementSpec], sid_prefix: str = "") -> str:
    body = [
        {
            **({"Sid": f"{sid_prefix}{i}"} if sid_prefix else {}),
            "Effect": st.effect,
            "Action": list(st.actions),
            "Resource": list(st.resources),
        }
        for i, st in enumerate(statements)
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": body}, indent=2)


@dataclass(frozen=True, slots=True)
class W1:
    """The compiled W1 policy set, its requests, and the raw material the peers need."""

    documents: dict[str, str]  # policy name -> JSON text
    specs: dict[str, tuple[StatementSpec, ...]]
    policy_set: PolicySet
    principal: Principal
    pairs: tuple[tuple[str, str], ...]  # (action, resource) per request
    requests: tuple[Request, ...]

    def with_extra(self, extra: Sequence[Policy]) -> PolicySet:
        """This set plus ``extra`` managed policies."""
        return PolicySet.of(identity=[*self.policy_set.identity, *extra])


def _sample_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    services = sorted(_ACTIONS)
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    while len(out) < n:
        svc = rng.choice(services)
        action = f"{svc}:{rng.choice(_ACTIONS[svc])}"
        resource = rng.choice(_RESOURCES[svc]).format(k=rng.randrange(1000))
        if (action, resource) not in seen:
            seen.add((action, resource))
            out.append((action, resource))
    return out


def build_w1(n_requests: int = 1000, seed: int = 1) -> W1:
    for stmts in W1_POLICIES.values():
        for st in stmts:
            bad = [p for p in (*st.actions, *st.resources) if not moto_safe(p)]
            assert not bad, f"W1 patterns must be unambiguous for every engine: {bad}"
    documents = {name: policy_json(stmts) for name, stmts in W1_POLICIES.items()}
    policies = [
        Policy(name, PolicyType.IDENTITY, parse_policy(text, DocumentKind.IDENTITY), kind="managed", owner="user",
               arn=f"arn:aws:iam::{ACCOUNT}:policy/{name}")
        for name, text in documents.items()
    ]  # fmt: skip
    principal = Principal.from_arn(USER_ARN)
    context = build_context(principal, resource_account=ACCOUNT)  # one user: one context for every request
    pairs = tuple(_sample_pairs(n_requests, seed))
    requests = tuple(Request(principal, a, r, context) for a, r in pairs)
    return W1(documents, dict(W1_POLICIES), PolicySet.of(identity=policies), principal, pairs, requests)


def extra_policies(count: int, statements: int = 5, start: int = 0) -> list[Policy]:
    """``count`` managed policies whose actions belong to services no W1 request uses."""
    out: list[Policy] = []
    for i in range(start, start + count):
        svc = f"unused{i:04d}"
        stmts = [
            _s("Allow" if j % 4 else "Deny", [f"{svc}:Get*", f"{svc}:Describe*", f"{svc}:Put{j}*"],
               [f"arn:aws:{svc}:*:{ACCOUNT}:thing/{j}-*"])
            for j in range(statements)
        ]  # fmt: skip
        text = policy_json(stmts)
        out.append(Policy(f"Extra{i:04d}", PolicyType.IDENTITY, parse_policy(text, DocumentKind.IDENTITY)))
    return out
