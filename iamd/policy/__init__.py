"""The pure policy engine: parse, validate and evaluate IAM policies.

No I/O, no clock, no globals: everything a decision depends on arrives as arguments.

    >>> from iamd.policy import DocumentKind, Policy, PolicySet, PolicyType, Principal, Request
    >>> from iamd.policy import build_context, evaluate, parse_policy
    >>> doc = parse_policy('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", '
    ...                    '"Action": "s3:Get*", "Resource": "arn:aws:s3:::reports/*"}}', DocumentKind.IDENTITY)
    >>> policies = PolicySet.of(identity=[Policy("Reports", PolicyType.IDENTITY, doc)])
    >>> alice = Principal.from_arn("arn:aws:iam::111122223333:user/alice")
    >>> request = Request(alice, "s3:GetObject", "arn:aws:s3:::reports/q3.csv", build_context(alice))
    >>> evaluate(request, policies).verdict.value
    'allowed'
"""

from .compile import CompiledStatement, Policy, PolicySet, PolicyType
from .decision import Blocking, Decision, Verdict, render_denial
from .document import (
    Check,
    PolicyValidationError,
    Problem,
    check_policy_characters,
    parse_policy,
    policy_size,
    validate_policy,
)
from .evaluate import evaluate, protected_reason
from .model import DocumentKind, PolicyDocument, Statement
from .request import Context, OrgMembership, Principal, PrincipalKind, Request, build_context
from .trace import StatementTrace, Tracer

__all__ = [
    "Blocking",
    "Check",
    "CompiledStatement",
    "Context",
    "Decision",
    "DocumentKind",
    "OrgMembership",
    "Policy",
    "PolicyDocument",
    "PolicySet",
    "PolicyType",
    "PolicyValidationError",
    "Principal",
    "PrincipalKind",
    "Problem",
    "Request",
    "Statement",
    "StatementTrace",
    "Tracer",
    "Verdict",
    "build_context",
    "check_policy_characters",
    "evaluate",
    "parse_policy",
    "policy_size",
    "protected_reason",
    "render_denial",
    "validate_policy",
]
