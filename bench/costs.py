"""Costs other than a decision: compiling a maximum-size policy, memory per compiled policy."""

from __future__ import annotations

import gc
import json
import tracemalloc
from dataclasses import dataclass
from typing import Any

from iamd.policy import DocumentKind, Policy, PolicySet, PolicyType, parse_policy, policy_size

from .timing import Stats, time_each
from .workloads import ACCOUNT, W1_POLICIES, policy_json

__all__ = ["MANAGED_POLICY_LIMIT", "Memory", "big_policy", "compile_cost", "memory_per_policy"]

MANAGED_POLICY_LIMIT = 6144  # IAM's quota for a managed policy, in non-whitespace characters
_SERVICES = ("s3", "ec2", "dynamodb", "sqs", "sns", "lambda", "logs", "kms", "secretsmanager", "cloudwatch")


def _statement(i: int, variant: int) -> dict[str, Any]:
    svc = _SERVICES[i % len(_SERVICES)]
    if svc == "s3":  # S3 ARNs carry neither region nor account
        resources = [f"arn:aws:s3:::app{variant:05d}-{i}/*", f"arn:aws:s3:::${{aws:PrincipalTag/team}}-{i}/*"]
    else:
        resources = [f"arn:aws:{svc}:*:{ACCOUNT}:app{variant:05d}-{i}/*",
                     f"arn:aws:{svc}:us-east-1:{ACCOUNT}:${{aws:PrincipalTag/team}}-{i}/*"]  # fmt: skip
    st: dict[str, Any] = {
        "Sid": f"S{i:02d}",
        "Effect": "Deny" if i % 7 == 6 else "Allow",
        "Action": [f"{svc}:Get*", f"{svc}:List*", f"{svc}:Describe*", f"{svc}:*Tag*"],
        "Resource": resources,
    }
    if i % 3 == 0:
        st["Condition"] = {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"},
                           "IpAddressIfExists": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}  # fmt: skip
    elif i % 3 == 1:
        st["Condition"] = {"ForAllValues:StringLike": {"aws:TagKeys": ["team", "project", "cost*"]},
                           "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}  # fmt: skip
    return st


def big_policy(variant: int = 0, size: int = MANAGED_POLICY_LIMIT) -> str:
    """A realistic managed policy of exactly ``size`` non-whitespace characters.

    ``variant`` changes names but not the size, so that repeated compiles do not share
    anything (such as the ``re`` module's cache of compiled patterns).
    """
    statements: list[dict[str, Any]] = []
    while True:
        nxt = [*statements, _statement(len(statements), variant)]
        if policy_size(json.dumps({"Version": "2012-10-17", "Statement": nxt})) > size - 40:
            break
        statements = nxt
    pad = {"Sid": "Pad", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::pad{variant:05d}/"}
    base = policy_size(json.dumps({"Version": "2012-10-17", "Statement": [*statements, pad]}))
    if base > size:
        raise AssertionError("statement generator overshot the size")
    pad["Resource"] += "x" * (size - base)
    text = json.dumps({"Version": "2012-10-17", "Statement": [*statements, pad]}, indent=2)
    assert policy_size(text) == size, policy_size(text)
    return text


def _compile(text: str) -> PolicySet:
    doc = parse_policy(text, DocumentKind.IDENTITY)
    return PolicySet.of(identity=[Policy("Big", PolicyType.IDENTITY, doc)])


@dataclass(frozen=True, slots=True)
class CompileCost:
    size: int
    statements: int
    parse: Stats
    total: Stats  # parse_policy + PolicySet


def compile_cost(repeat: int) -> CompileCost:
    texts = [big_policy(v) for v in range(repeat)]
    statements = len(_compile(texts[0]).statements)
    parse = time_each(lambda t: parse_policy(t, DocumentKind.IDENTITY), texts, 1, 0.0)
    texts = [big_policy(v + repeat) for v in range(repeat)]  # fresh names: nothing cached from the first pass
    total = time_each(_compile, texts, 1, 0.0)
    return CompileCost(MANAGED_POLICY_LIMIT, statements, parse, total)


@dataclass(frozen=True, slots=True)
class Memory:
    policies: int
    source_chars: int  # per policy, for scale (the source text itself is not counted below)
    document_bytes: float  # per policy: the parsed, validated PolicyDocument
    compiled_bytes: float  # per policy: its share of the compiled PolicySet

    @property
    def total_bytes(self) -> float:
        return self.document_bytes + self.compiled_bytes


def memory_per_policy(count: int = 200) -> Memory:
    """tracemalloc over parsing and compiling ``count`` distinct W1-style policies."""
    names = list(W1_POLICIES)
    texts = [
        policy_json(W1_POLICIES[names[i % len(names)]]).replace(ACCOUNT, f"{100000000000 + i}") for i in range(count)
    ]
    _compile(texts[-1])  # import-time and first-use allocations are not the policies'
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        docs = [parse_policy(t, DocumentKind.IDENTITY) for t in texts]
        gc.collect()
        mid = tracemalloc.get_traced_memory()[0]
        ps = PolicySet.of(identity=[Policy(f"P{i}", PolicyType.IDENTITY, d) for i, d in enumerate(docs)])
        gc.collect()
        end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(ps.statements) == 5 * count
    return Memory(count, sum(len(t) for t in texts) // count, (mid - base) / count, (end - mid) / count)
