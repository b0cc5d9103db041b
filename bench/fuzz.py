"""A model-driven fuzz of iamd's Query API: no request may be answered with a 5xx.

For every IAM and STS operation iamd serves, requests are generated from botocore's model
of its input: each member at its limits and past them (lengths, patterns, enums, integer
ranges, list sizes and indexes, maps, structures), wrong types, missing required members,
unknown members, bytes that are not UTF-8 (percent-escapes), huge values up to the body
limit and policy documents that are deep, huge, full of odd numbers, duplicate keys and NUL
characters. Requests are signed with SigV4 as the root user, as a
restricted IAM user and with a role session, or sent unsigned, so they reach the handlers.

Every case is a pure function of ``(seed, index)``: a failure names its index, and
``Fuzzer.case(index)`` rebuilds the very request. ``tests/security/test_fuzz_limits.py``
runs a slice in CI; ``python -m bench.fuzz --requests N`` runs a longer soak
(bench/README.md).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
import sqlite3
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iamd.api import Backend, create_app
from iamd.api.app import IamdApp
from iamd.api.pipeline import MAX_BODY, HttpRequest
from iamd.auth.canonical import canonical_request, derive_signing_key, sign, string_to_sign
from iamd.protocol.models import load_service_model
from iamd.protocol.patterns import compile_pattern
from iamd.service.iam import OPERATIONS
from iamd.service.sts import STS_OPERATIONS
from iamd.store.audit_codec import id_text

__all__ = ["ACCOUNT", "Case", "Fuzzer", "Outcome", "Target", "in_process", "main", "run", "sigv4_headers"]

ACCOUNT = "123456789012"  # the --dev account
ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
ROOT_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
VERSIONS = {"iam": "2010-05-08", "sts": "2011-06-15"}
HOST = "iamd.test"
FORM = "application/x-www-form-urlencoded; charset=utf-8"

# Fixtures every run creates first (Target.setup), so that valid names reach deep code paths.
USER, RESTRICTED, GROUP, ROLE, PROFILE = "fuzz-user", "fuzz-restricted", "fuzz-group", "fuzz-role", "fuzz-profile"
# The signing identities' own entities are not among the names cases use, so that the cases
# rarely rewrite their policies (each rewrite recompiles them: the cost of a real change).
ASSUMED = "fuzz-assumed"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/fuzz-policy"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/{USER}"
MFA_SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/fuzz-mfa"
RESTRICTED_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*", "iam:Simulate*", "sts:*"], "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:*", "Resource": f"arn:aws:iam::{ACCOUNT}:user/fuzz-r-*"},
            {"Effect": "Deny", "Action": "iam:*AccessKey*", "Resource": "*", "Condition": {"Bool": {"x:y": "true"}}},
        ],
    }
)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:*"}],
    }
)
GOOD_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "A1",
                "Effect": "Allow",
                "Action": ["s3:Get*", "iam:List*"],
                "Resource": "arn:aws:s3:::b/${aws:username}/*",
                "Condition": {"StringLike": {"aws:PrincipalTag/team": ["a*", "b?"]}, "NumericLessThan": {"s:n": 5}},
            }
        ],
    }
)


# -- cases ---------------------------------------------------------------------------------
class Raw(str):
    """A wire value already percent-encoded (may carry escapes of bytes that are not UTF-8)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Case:
    index: int
    service: str  # iam | sts
    operation: str
    identity: str  # root | user | session | bad-token | none
    served: bool  # whether iamd implements the operation (else it answers 501 NotImplemented)
    method: str
    query: str
    body: bytes
    note: str

    def describe(self) -> str:
        body = self.body[:600].decode("latin-1")
        return (
            f"case {self.index}: {self.service} {self.operation} as {self.identity} ({self.note}); "
            f"{self.method} ?{self.query[:300]} body[{len(self.body)}]={body!r}"
        )


_BAD_UTF8 = ("%FF", "%C3", "%C3%28", "%ED%A0%80", "%F4%90%80%80", "%C0%AF", "%80", "%FE%FF", "%E2%82")
_ODD_CHARS = ("\x00", "\t", "\n", " ", "é", "\u2028", "\U0001f4a5", "%", "&", "=", "+", "'", '"', "<", "\\", "ÿ")
_ARNS = (
    USER_ARN,
    ROLE_ARN,
    POLICY_ARN,
    MFA_SERIAL,
    f"arn:aws:iam::{ACCOUNT}:root",
    f"arn:aws:iam::{ACCOUNT}:group/{GROUP}",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/s",
    f"arn:aws:sts::{ACCOUNT}:federated-user/f",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::999999999999:role/other",
    "arn:aws:s3:::bucket/key",
    "arn:aws:iam::123456789012:",
    "arn:aws:iam:::user/x",
    "arn:aws:iam::12345678901x:user/x",
    "arn::::::",
    "arn",
    "x",
    "*",
    f"arn:aws:iam::{ACCOUNT}:user/" + "a" * 3000,
    f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com",
    f"arn:aws:iam::{ACCOUNT}:saml-provider/fuzz",
    f"arn:aws:iam::{ACCOUNT}:instance-profile/{PROFILE}",
)

# Valid values by member name (a list: the generator picks one).
_GOOD: dict[str, Sequence[str]] = {
    "UserName": (USER, "fuzz-r-1", "fuzz-new"),
    "NewUserName": ("fuzz-renamed", "fuzz-r-2"),
    "GroupName": (GROUP, "fuzz-group-2"),
    "NewGroupName": ("fuzz-group-3",),
    "RoleName": (ROLE, "fuzz-role-2"),
    "PolicyName": ("fuzz-inline", "fuzz-policy", "fuzz-policy-2"),
    "InstanceProfileName": (PROFILE, "fuzz-profile-2"),
    "PolicyArn": (POLICY_ARN, "arn:aws:iam::aws:policy/ReadOnlyAccess", f"arn:aws:iam::{ACCOUNT}:policy/nope"),
    "PermissionsBoundary": (POLICY_ARN, "arn:aws:iam::aws:policy/ReadOnlyAccess"),
    "RoleArn": (ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:role/fuzz-role-2"),
    "PolicySourceArn": (USER_ARN, ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:group/{GROUP}"),
    "CallerArn": (USER_ARN, ROLE_ARN, "x", f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/s"),
    "ResourceOwner": (f"arn:aws:iam::{ACCOUNT}:root", "x"),
    "PrincipalArn": (ROLE_ARN, "arn:aws:iam::123456789012:saml-provider/fuzz"),
    "SerialNumber": (MFA_SERIAL, "GAHT12345678"),
    "VirtualMFADeviceName": ("fuzz-mfa", "fuzz-mfa-2"),
    "Path": ("/", "/fuzz/"),
    "NewPath": ("/fuzz/",),
    "PathPrefix": ("/", "/fuzz/"),
    "VersionId": ("v1", "v2", "v99"),
    "AccessKeyId": ("AKIA0000000000000000", "AKIAFUZZFUZZFUZZFUZZ"),  # never the signing keys
    "Status": ("Active", "Inactive"),
    "RoleSessionName": ("fuzz-session",),
    "DurationSeconds": ("900", "3600", "43200"),
    "MaxSessionDuration": ("3600", "43200"),
    "ExternalId": ("fuzz-ext",),
    "TokenCode": ("123456",),
    "AuthenticationCode1": ("123456",),
    "AuthenticationCode2": ("654321",),
    "Password": ("Fuzz-Passw0rd!",),
    "OldPassword": ("Fuzz-Passw0rd!",),
    "NewPassword": ("Fuzz-Passw0rd!2",),
    "AccountAlias": ("fuzz-alias",),
    "Url": ("https://example.com", "https://example.com/issuer"),
    "ClientIDList": ("fuzz-client",),
    "ThumbprintList": ("a" * 40,),
    "OpenIDConnectProviderArn": (f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com",),
    "SAMLProviderArn": (f"arn:aws:iam::{ACCOUNT}:saml-provider/fuzz",),
    "Name": ("fuzz", "fuzz-federated"),
    "ActionNames": ("iam:GetUser", "s3:GetObject", "sts:AssumeRole"),
    "ResourceArns": ("*", "arn:aws:s3:::b/x"),
    "ContextKeyName": ("aws:username", "aws:PrincipalTag/team", "s:n"),
    "ContextKeyValues": ("alice", "1"),
    "ContextKeyType": ("string", "stringList", "numeric", "boolean", "date", "ip", "binary"),
    "Key": ("team", "Project"),
    "Value": ("red", ""),
    "TagKeys": ("team",),
    "Marker": ("WyJ4IiwgMV0", "x"),
    "MaxItems": ("1", "100", "1000"),
    "Description": ("fuzz",),
    "EncodedMessage": ("v1:x:y", "x"),
    "WebIdentityToken": ("a.b.c", "x" * 10),
    "SAMLAssertion": ("PHNhbWw+", "x" * 10),
    "SAMLMetadataDocument": ("<EntityDescriptor/>",),
}
_POLICY_MEMBERS = frozenset(
    {
        "PolicyDocument",
        "AssumeRolePolicyDocument",
        "Policy",
        "PolicyInputList",
        "PermissionsBoundaryPolicyInputList",
        "ResourcePolicy",
        "ServiceControlPolicyInputList",
    }
)


def _deep(rng: random.Random) -> str:
    depth = rng.choice((62, 63, 64, 65, 100, 3000))
    opener, closer = rng.choice((("[", "]"), ('{"a":', "}")))
    inner = opener * depth + "1" + closer * depth
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    ).replace('"Action": "*"', f'"Action": "*", "Condition": {{"StringEquals": {{"k": {inner}}}}}')


_NUMBERS = (
    "1e999",
    "-1e999",
    "1e-999",
    "-0",
    "0.0000000000000000000000001",
    "9" * 4300,
    "9" * 4301,
    "-" + "9" * 5000,
    "1" * 20,
    "1.5e308",
    "1" + "0" * 4400 + ".5",
    "1E+2",
)


def policy_document(rng: random.Random) -> str:
    """A policy document: valid, or odd in one of the ways a parser can trip over."""
    kind = rng.randrange(14)
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}
    if kind == 0:
        return rng.choice((GOOD_POLICY, TRUST, RESTRICTED_POLICY))
    if kind == 1:
        return _deep(rng)
    if kind == 2:  # odd numbers wherever a value may stand
        number = rng.choice(_NUMBERS)
        where = rng.randrange(4)
        doc = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"%s}}'
        if where == 0:
            return doc % f',"Condition":{{"NumericEquals":{{"s:n":{number}}}}}'
        if where == 1:
            return doc.replace('"2012-10-17"', number) % ""
        if where == 2:
            return doc.replace('"*"}', f"[{number}]}}") % ""
        return doc % f',"Condition":{{"DateLessThan":{{"aws:CurrentTime":[{number},"{number}"]}}}}'
    if kind == 3:  # duplicate keys
        return rng.choice(
            (
                '{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}',
                '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}',
                '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",'
                '"Condition":{"StringEquals":{"a:b":"1","a:b":"2"}}}}',
            )
        )
    if kind == 4:  # NUL and other control characters, raw or escaped
        bad = rng.choice(("\x00", "\\u0000", "\x01", "\\ud800", "\\udfff\\ud800", "\\x", "\\u12", "\ufeff"))
        return '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:' + bad + '","Resource":"*"}}'
    if kind == 5:  # huge: many statements, or long strings
        count = rng.choice((10, 100, 1000))
        statements = [dict(statement, Sid=f"S{i}") for i in range(count)]
        return json.dumps({"Version": "2012-10-17", "Statement": statements})
    if kind == 6:
        return json.dumps(dict(statement, Resource="arn:aws:s3:::" + "*?" * rng.choice((100, 3000, 30000))))
    if kind == 7:  # condition operators and values of every odd kind
        operator = rng.choice(
            (
                "StringLike",
                "ForAllValues:StringLike",
                "ForAnyValue:NumericLessThanIfExists",
                "Null",
                "DateGreaterThan",
                "IpAddress",
                "NotIpAddress",
                "BinaryEquals",
                "ArnLike",
                "Bool",
                "NumericLessThan",
                "Bogus",
                "ForAllValues:Null",
                "StringEqualsIgnoreCaseIfExists",
            )
        )
        value = rng.choice(
            ("x", "", "*", "${aws:username}", "${", "${${x}}", "999.1.1.1/99", "::/0", "1e999", "!!!", "arn:*:*", [])
        )
        key = rng.choice(("aws:username", "aws:PrincipalTag/${aws:username}", "", "a:" + "b" * 300, "aws:SourceIp"))
        return json.dumps({"Version": "2012-10-17", "Statement": [dict(statement, Condition={operator: {key: value}})]})
    if kind == 8:  # principals (trust and resource policies)
        principal = rng.choice(
            (
                "*",
                {"AWS": "123"},
                {"AWS": ACCOUNT},
                {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"] * 300},
                {"Federated": "cognito-identity.amazonaws.com"},
                {"Service": ["ec2.amazonaws.com", ""]},
                {"CanonicalUser": "x"},
                {"AWS": ROLE_ARN},
                {"AWS": {"x": "y"}},
            )
        )
        return json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:*"}]}
        )
    if kind == 9:  # not JSON, or not a policy
        return rng.choice(
            ("", " ", "null", "[]", "{", '{"Version":"2012-10-17"', "{}}", "1", '"x"', "\ufeff{}", "{,}", "[" * 5000)
        )
    if kind == 10:  # wildcards and variables in actions and resources
        action = rng.choice(("*", "*:*", "iam:" + "*" * 500, "?" * 200, "s3:${aws:username}", "iam", ":", "a:b:c"))
        return json.dumps({"Version": "2012-10-17", "Statement": [dict(statement, Action=action)]})
    if kind == 11:  # version, ids and shapes
        return json.dumps(
            {
                "Version": rng.choice(("2008-10-17", "2012-10-17", "2012-10-18", "", None, 2012)),
                "Id": rng.choice(("x", 1, None, "é" * 100)),
                "Statement": rng.choice(([], {}, [1], [None], [statement] * 3, statement)),
            }
        )
    if kind == 12:  # long, past the policy size quotas
        size = rng.choice((2040, 6200, 10300, 131072 if rng.random() < 0.2 else 0))
        return json.dumps(dict(statement, Sid="S" * size))
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [dict(statement, NotAction="x:y", NotResource="*", Principal="*")]}
    )


@dataclass(frozen=True, slots=True)
class _Rules:
    minimum: int | None
    maximum: int | None
    enum: tuple[str, ...]
    pattern: str | None


def _rules(shape: Any) -> _Rules:
    meta = shape.metadata
    return _Rules(meta.get("min"), meta.get("max"), tuple(meta.get("enum", ())), meta.get("pattern"))


_PATTERNS: dict[str, Any] = {}


def _fits(value: str, rules: _Rules) -> bool:
    if rules.minimum is not None and len(value) < rules.minimum:
        return False
    if rules.maximum is not None and len(value) > rules.maximum:
        return False
    if rules.pattern is None:
        return True
    compiled = _PATTERNS.get(rules.pattern)
    if compiled is None:
        compiled = _PATTERNS[rules.pattern] = compile_pattern(rules.pattern)
    return compiled.fullmatch(value) is not None


_FALLBACKS = ("fuzz", "fuzz-1", "/", "v1", "123456", "https://example.com", "a" * 40, f"arn:aws:iam::{ACCOUNT}:root")


class Fuzzer:
    """The cases of one seed. ``case(i)`` depends on nothing but the seed and ``i``."""

    def __init__(self, seed: int = 20261206) -> None:
        self.seed = seed
        self.models = {"iam": load_service_model("iam"), "sts": load_service_model("sts")}
        self.operations: list[tuple[str, str]] = [("iam", name) for name in sorted(OPERATIONS)]
        self.operations += [("sts", name) for name in sorted(STS_OPERATIONS)]
        served = set(OPERATIONS)
        self.unserved = [name for name in sorted(self.models["iam"].operation_names) if name not in served]

    def cases(self, count: int, start: int = 0) -> Iterator[Case]:
        for index in range(start, start + count):
            yield self.case(index)

    def case(self, index: int) -> Case:
        rng = random.Random(f"{self.seed}:{index}")
        if rng.random() < 0.03 and self.unserved:
            service, operation = "iam", rng.choice(self.unserved)
        else:
            service, operation = self.operations[index % len(self.operations)]
        identity = rng.choices(("root", "user", "session", "bad-token", "none"), (55, 25, 12, 3, 5))[0]
        mode = rng.choices(("valid", "one", "many", "missing", "wire"), (25, 35, 15, 10, 15))[0]
        shape = self.models[service].operation_model(operation).input_shape
        pairs: list[tuple[str, str]] = [("Action", operation), ("Version", VERSIONS[service])]
        note = mode
        if shape is not None:
            members = list(shape.members.items())
            required = set(shape.required_members)
            bad: set[str] = set()
            if mode == "one" and members:
                bad = {rng.choice(members)[0]}
            elif mode == "many":
                bad = {name for name, _ in members if rng.random() < 0.4}
            dropped = {rng.choice(sorted(required))} if mode == "missing" and required else set()
            for name, member in members:
                if name in dropped or (name not in required and name not in bad and rng.random() < 0.5):
                    continue
                self._emit(rng, member, name, name, name in bad, pairs, 0)
            if bad or dropped:
                note += f" bad={sorted(bad)} dropped={sorted(dropped)}"
        if mode == "wire":
            note += " " + self._wire(rng, pairs)
        if rng.random() < 0.05:
            pairs.append((rng.choice(("Unknown", "a.b.c", "", "UserName.member.1", "Tags.member.x")), "x"))
        method, query, body = self._place(rng, pairs)
        if len(body) + len(query) > MAX_BODY + 1000:  # e.g. a list of huge values: just past the limit will do
            method, query, body = "POST", "", "&".join(f"{k}={_encode(v)}" for k, v in pairs[:2]).encode()
            body += b"&Padding=" + b"a" * MAX_BODY
            note += " over the body limit"
        served = operation in OPERATIONS or operation in STS_OPERATIONS
        return Case(index, service, operation, identity, served, method, query, body, note)

    # -- values ---------------------------------------------------------------------------
    def _emit(
        self, rng: random.Random, shape: Any, name: str, prefix: str, bad: bool, out: list[tuple[str, str]], depth: int
    ) -> None:
        kind = shape.type_name
        if bad and depth == 0 and rng.random() < 0.15:  # the wrong wire type altogether
            out.extend(self._wrong_type(rng, kind, prefix))
            return
        if kind == "structure":
            required = set(shape.required_members)
            for member_name, member in shape.members.items():
                missing = bad and member_name in required and rng.random() < 0.3
                if missing or (member_name not in required and rng.random() < 0.4):
                    continue
                child_bad = bad and rng.random() < 0.5
                self._emit(rng, member, member_name, f"{prefix}.{member_name}", child_bad, out, depth + 1)
            return
        if kind == "list":
            rules = _rules(shape)
            count = self._count(rng, rules, bad)
            indexes = list(range(1, count + 1))
            if bad and rng.random() < 0.3:
                indexes = rng.choice(([0], [2], [1, 3], [-1], [10**12], [1001], list(range(1, 1002))))
            if not indexes:
                out.append((prefix, ""))
            for i in indexes:
                item_bad = bad and rng.random() < 0.3
                self._emit(rng, shape.member, name, f"{prefix}.member.{i}", item_bad, out, depth + 1)
            return
        if kind == "map":
            count = self._count(rng, _rules(shape), bad)
            for i in range(1, count + 1):
                if not (bad and rng.random() < 0.2):
                    self._emit(rng, shape.key, "Key", f"{prefix}.entry.{i}.key", bad, out, depth + 1)
                if not (bad and rng.random() < 0.2):
                    self._emit(rng, shape.value, "Value", f"{prefix}.entry.{i}.value", bad, out, depth + 1)
            return
        out.append((prefix, self._scalar(rng, shape, name, bad)))

    def _count(self, rng: random.Random, rules: _Rules, bad: bool) -> int:
        low, high = rules.minimum or 0, rules.maximum if rules.maximum is not None else 5
        if bad:
            return max(0, rng.choice((low - 1, low, high, high + 1, 0)))
        return rng.randint(max(low, 1 if rng.random() < 0.8 else 0), min(high, 3))

    def _wrong_type(self, rng: random.Random, kind: str, prefix: str) -> list[tuple[str, str]]:
        if kind in ("list", "map", "structure"):
            return [
                rng.choice(
                    (
                        (prefix, "x"),
                        (f"{prefix}.member", "x"),
                        (f"{prefix}.Bogus", "x"),
                        (f"{prefix}.member.1.member.1", "x"),
                        (f"{prefix}.entry.1", "x"),
                    )
                )
            ]
        return [rng.choice(((f"{prefix}.member.1", "x"), (f"{prefix}.Key", "x"), (f"{prefix}.entry.1.key", "x")))]

    def _scalar(self, rng: random.Random, shape: Any, name: str, bad: bool) -> str:
        kind = shape.type_name
        if kind in ("integer", "long"):
            return self._integer(rng, shape, name, bad)
        if kind == "boolean":
            return rng.choice(("true", "false")) if not bad else rng.choice(("TRUE", "yes", "", "1", "tru", "%FF"))
        if kind == "timestamp":
            good = ("2026-01-01T00:00:00Z", "1767225600")
            return rng.choice(good) if not bad else rng.choice(("x", "", "9999-99-99T99:99:99Z", "1e999", "-1"))
        if kind == "blob":
            return rng.choice(("Zm9v", "")) if not bad else rng.choice(("!!!", "Zm9v=", "Z", "%FF"))
        rules = _rules(shape)
        if name in _POLICY_MEMBERS or shape.name.lower().startswith("policydocument"):
            if not bad and rng.random() < 0.5:
                return rng.choice((GOOD_POLICY, TRUST))
            return policy_document(rng)
        if not bad:
            return self._good_string(rng, rules, name)
        return self._bad_string(rng, rules, name)

    def _integer(self, rng: random.Random, shape: Any, name: str, bad: bool) -> str:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if not bad:
            good = _GOOD.get(name)
            if good:
                return rng.choice(good)
            low_i = low if low is not None else 0
            return str(rng.randint(low_i, high if high is not None else low_i + 100))
        edges = ["0", "-1", "2147483648", "-2147483649", "9223372036854775808", "9" * 5000, "1.5", "abc", "", " 1"]
        edges += ["0x10", "1e3", "-0", "+5", "%FF", "1_000", "١٢"]
        if low is not None:
            edges += [str(low - 1), str(low)]
        if high is not None:
            edges += [str(high), str(high + 1)]
        return rng.choice(edges)

    def _good_string(self, rng: random.Random, rules: _Rules, name: str) -> str:
        if rules.enum:
            return rng.choice(rules.enum)
        good = _GOOD.get(name)
        if good:
            return rng.choice(good)
        for candidate in _FALLBACKS:
            if _fits(candidate, rules):
                return candidate
        return "a" * max(rules.minimum or 1, 1)

    def _bad_string(self, rng: random.Random, rules: _Rules, name: str) -> str:
        low, high = rules.minimum or 0, rules.maximum
        choice = rng.randrange(12)
        if choice == 0:
            return ""
        if choice == 1:
            return "a" * max(low - 1, 0)
        if choice == 2 and high is not None:
            return "a" * high
        if choice == 3 and high is not None:
            return "a" * (high + 1)
        if choice == 4:  # long, and rarely huge: up to and past the body limit (each costs a few ms)
            size = rng.choice((1_000, 4_000, 10_000)) if rng.random() < 0.95 else rng.choice((131_073, MAX_BODY + 10))
            return rng.choice(("a", "é", "%")) * size
        if choice == 5:
            return Raw(rng.choice(_BAD_UTF8) * rng.randint(1, 3) + rng.choice(("", "a", "%41")))
        if choice == 6:
            base = self._good_string(rng, rules, name)
            at = rng.randint(0, len(base))
            return base[:at] + rng.choice(_ODD_CHARS) + base[at:]
        if choice == 7 and rules.enum:
            value = rng.choice(rules.enum)
            return rng.choice((value.upper(), value.lower(), value + " ", value[:-1]))
        if choice == 8:
            return rng.choice(_ARNS)
        if choice == 9:
            return rng.choice(("${aws:username}", "*", "?", "..", "/../", "//", "%2F", "\\u0000", "null", "[]", "{}"))
        if choice == 10:
            return policy_document(rng)
        return rng.choice(_ODD_CHARS) * rng.choice((1, 2, 129, 2049))

    # -- the request as sent ---------------------------------------------------------------
    def _wire(self, rng: random.Random, pairs: list[tuple[str, str]]) -> str:
        """Damage the request's framing rather than one value; say how."""
        choice = rng.randrange(9)
        if choice == 0:
            pairs[0] = ("Action", Raw(rng.choice(_BAD_UTF8)))
            return "action not UTF-8"
        if choice == 1:
            pairs[1] = ("Version", Raw(rng.choice(_BAD_UTF8)))
            return "version not UTF-8"
        if choice == 2:
            pairs.append((Raw("User%FFName"), "x"))
            return "name not UTF-8"
        if choice == 3:
            del pairs[1]
            return "no version"
        if choice == 4:
            pairs[0] = ("Action", rng.choice(("", "getuser", "GetUser ", "Get%00User", "x" * 10_000)))
            return "odd action"
        if choice == 5:
            pairs.extend(pairs[2:])  # every parameter twice
            return "duplicates"
        if choice == 6:
            pairs.insert(0, ("Action", "ListUsers"))
            return "two actions"
        if choice == 7:
            pairs.append((Raw("%"), Raw("%%%")))
            return "broken escapes"
        pairs.append(("Version", "2011-06-15" if pairs[1][1] == VERSIONS["iam"] else VERSIONS["iam"]))
        return "other version"

    def _place(self, rng: random.Random, pairs: Sequence[tuple[str, str]]) -> tuple[str, str, bytes]:
        encoded = [f"{_encode(k)}={_encode(v)}" for k, v in pairs]
        where = rng.random()
        if where < 0.8:
            return "POST", "", "&".join(encoded).encode()
        if where < 0.9 and sum(len(p) for p in encoded) < 8000:
            return "GET", "&".join(encoded), b""
        cut = rng.randint(0, len(encoded))
        query = "&".join(encoded[:cut])
        if len(query) >= 8000:  # HTTP clients refuse a URL that long before sending it (httpx: 65,536)
            return "POST", "", "&".join(encoded).encode()
        return "POST", query, "&".join(encoded[cut:]).encode()


def _encode(text: str) -> str:
    if isinstance(text, Raw):
        return text
    if len(text) > 1000 and text == text[0] * len(text):  # a huge value: quote() goes char by char
        return quote(text[0], safe="") * len(text)
    return quote(text, safe="", errors="surrogateescape")


# -- the target ----------------------------------------------------------------------------
@dataclass
class Outcome:
    """What a run saw: statuses, the 5xx answers, the request ids answered."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    request_ids: set[str] = field(default_factory=set)
    succeeded: set[str] = field(default_factory=set)  # operations answered 200 at least once
    seconds: float = 0.0

    def add(self, case: Case, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self.sent += 1
        if status == 200:
            self.succeeded.add(case.operation)
        self.statuses[status] += 1
        for name, value in headers:
            if name.lower() == "x-amzn-requestid":
                self.request_ids.add(value)
        code = _error_code(body) if status >= 400 else "OK"
        self.codes[code] += 1
        # An operation iamd does not implement answers 501 NotImplemented (docs/iam-api.md); any
        # other 5xx is a failure.
        if status >= 500 and not (status == 501 and code == "NotImplemented" and not case.served):
            self.failures.append(f"{status} {code}: {case.describe()}")


def _error_code(body: bytes) -> str:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "?"
    for element in root.iter():
        if element.tag.endswith("}Code") or element.tag == "Code":
            return element.text or ""
    return "?"


class Target:
    """An iamd app on a real SQLite store in ``data_dir``, with the fixtures and the keys."""

    def __init__(self, backend: Backend, database: Path) -> None:
        self.backend = backend
        self.database = database
        self.app: IamdApp = create_app(self.backend)
        self.keys: dict[str, tuple[str, str, str | None]] = {"root": (ROOT_KEY, ROOT_SECRET, None)}

    @classmethod
    def open(cls, data_dir: Path) -> Target:
        """A new --dev backend on SQLite in ``data_dir`` (root keys: :data:`ROOT_KEY`)."""
        database = data_dir / "iamd.db"
        env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
        backend, _ = Backend.open(f"sqlite:///{database}", data_dir, dev=True, env=env)
        return cls(backend, database)

    def close(self) -> None:
        self.backend.close()

    def call(self, identity: str, service: str, params: dict[str, str]) -> tuple[int, bytes]:
        """One well-formed request (for the setup)."""
        body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items()).encode()
        wire = self.app.query(self.request(identity, service, "POST", "", body))
        return wire.status, wire.body

    def setup(self) -> None:
        """The fixtures: entities to name, a restricted user's key and a role session."""
        iam: list[dict[str, str]] = [
            {"Action": "CreateUser", "UserName": USER},
            {"Action": "CreateUser", "UserName": RESTRICTED},
            {"Action": "PutUserPolicy", "UserName": RESTRICTED, "PolicyName": "r", "PolicyDocument": RESTRICTED_POLICY},
            {"Action": "CreateGroup", "GroupName": GROUP},
            {"Action": "AddUserToGroup", "GroupName": GROUP, "UserName": USER},
            {"Action": "CreateRole", "RoleName": ROLE, "AssumeRolePolicyDocument": TRUST},
            {"Action": "CreateRole", "RoleName": ASSUMED, "AssumeRolePolicyDocument": TRUST},
            {"Action": "PutRolePolicy", "RoleName": ASSUMED, "PolicyName": "r", "PolicyDocument": RESTRICTED_POLICY},
            {"Action": "CreatePolicy", "PolicyName": "fuzz-policy", "PolicyDocument": GOOD_POLICY},
            {"Action": "AttachUserPolicy", "UserName": USER, "PolicyArn": POLICY_ARN},
            {"Action": "PutUserPolicy", "UserName": USER, "PolicyName": "fuzz-inline", "PolicyDocument": GOOD_POLICY},
            {"Action": "CreateInstanceProfile", "InstanceProfileName": PROFILE},
            {"Action": "AddRoleToInstanceProfile", "InstanceProfileName": PROFILE, "RoleName": ROLE},
            {"Action": "CreateVirtualMFADevice", "VirtualMFADeviceName": "fuzz-mfa"},
        ]
        for params in iam:
            status, body = self.call("root", "iam", {"Version": VERSIONS["iam"], **params})
            assert status == 200, (params, body[:500])
        status, body = self.call(
            "root", "iam", {"Action": "CreateAccessKey", "Version": VERSIONS["iam"], "UserName": RESTRICTED}
        )
        assert status == 200, body
        self.keys["user"] = (_text(body, "AccessKeyId"), _text(body, "SecretAccessKey"), None)
        status, body = self.call(
            "user",
            "sts",
            {
                "Action": "AssumeRole",
                "Version": VERSIONS["sts"],
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{ASSUMED}",
                "RoleSessionName": "fuzz",
            },
        )
        assert status == 200, body
        token = _text(body, "SessionToken")
        self.keys["session"] = (_text(body, "AccessKeyId"), _text(body, "SecretAccessKey"), token)
        # the token in another base64 alphabet, padded: not the encoding iamd issues
        other = token.replace("-", "+").replace("_", "/") + "=" * (-len(token) % 4 or 2)
        self.keys["bad-token"] = (_text(body, "AccessKeyId"), _text(body, "SecretAccessKey"), other)

    def request(self, identity: str, service: str, method: str, query: str, body: bytes) -> HttpRequest:
        headers: list[tuple[str, str]] = [("Host", HOST), ("User-Agent", "iamd-fuzz")]
        if body or method == "POST":
            headers.append(("Content-Type", FORM))
        if identity != "none":
            headers = self._sign(identity, service, method, query, body, headers)
        return HttpRequest(method, "/", query, tuple(headers), body, "127.0.0.1", False)

    def _sign(
        self, identity: str, service: str, method: str, query: str, body: bytes, headers: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        key, secret, token = self.keys[identity]
        return sigv4_headers(key, secret, token, service, method, query, body, headers, time.gmtime())

    def send(self, case: Case) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
        wire = self.app.query(self.request(case.identity, case.service, case.method, case.query, case.body))
        return wire.status, wire.headers, wire.body

    def audited_request_ids(self) -> set[str]:
        """Every request id in the audit trail (after the writer has stored what it holds)."""
        assert self.backend.audit is not None
        self.backend.audit.flush(timeout=60)
        with sqlite3.connect(self.database) as db:
            rows = db.execute("SELECT request_id FROM audit_events WHERE request_id IS NOT NULL")
            return {id_text(bytes(row[0])) for row in rows}


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, service: str) -> bytes:
    return derive_signing_key(secret, day, "us-east-1", service)


def sigv4_headers(
    key: str,
    secret: str,
    token: str | None,
    service: str,
    method: str,
    query: str,
    body: bytes,
    headers: Sequence[tuple[str, str]],
    now: time.struct_time,
) -> list[tuple[str, str]]:
    """``headers`` plus SigV4's (AWS's "Create a signed AWS API request", header form).

    botocore's signer costs about ten times as much per request; the fuzz test checks that
    this one produces the same signature as botocore's (tests/security/test_fuzz_limits.py).
    The query string is signed as sent, like botocore does.
    """
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", now)
    out = [*headers, ("X-Amz-Date", amz_date)]
    if token is not None:
        out.append(("X-Amz-Security-Token", token))
    signed = sorted((name.lower(), " ".join(value.split())) for name, value in out)
    names = ";".join(name for name, _ in signed)
    pairs = sorted(tuple(pair.partition("=")[::2]) for pair in query.split("&")) if query else []
    canonical = canonical_request(
        method,
        "/",
        "&".join(f"{k}={v}" for k, v in pairs),
        "".join(f"{name}:{value}\n" for name, value in signed),
        names,
        hashlib.sha256(body).hexdigest(),
    )
    scope = f"{amz_date[:8]}/us-east-1/{service}/aws4_request"
    signature = sign(_signing_key(secret, amz_date[:8], service), string_to_sign(amz_date, scope, canonical))
    out.append(
        ("Authorization", f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={names}, Signature={signature}")
    )
    return out


def _text(body: bytes, tag: str) -> str:
    root = ET.fromstring(body)
    for element in root.iter():
        if element.tag.endswith("}" + tag):
            return element.text or ""
    raise KeyError(tag)


@contextmanager
def in_process(data_dir: Path | None = None) -> Iterator[Target]:
    """A set-up :class:`Target` (in a temporary directory unless ``data_dir`` is given)."""
    with tempfile.TemporaryDirectory(prefix="iamd-fuzz-") as tmp:
        target = Target.open(data_dir or Path(tmp))
        try:
            target.setup()
            yield target
        finally:
            target.close()


def run(send: Callable[[Case], tuple[int, Any, bytes]], cases: Iterable[Case]) -> Outcome:
    outcome = Outcome()
    started = time.perf_counter()
    for case in cases:
        status, headers, body = send(case)
        outcome.add(case, status, headers, body)
    outcome.seconds = time.perf_counter() - started
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="how many requests (default 100,000)")
    parser.add_argument("--seed", type=int, default=20261206, help="the seed (each case is a function of it)")
    parser.add_argument("--start", type=int, default=0, help="the first case index (to replay one failure)")
    args = parser.parse_args(argv)
    fuzzer = Fuzzer(args.seed)
    with in_process() as target:
        outcome = run(target.send, fuzzer.cases(args.requests, args.start))
        missing = outcome.request_ids - target.audited_request_ids()
    rate = outcome.sent / outcome.seconds if outcome.seconds else 0.0
    print(f"{outcome.sent} requests in {outcome.seconds:.1f} s ({rate:.0f}/s), seed {args.seed}")
    print("statuses:", dict(sorted(outcome.statuses.items())))
    print("codes:", dict(outcome.codes.most_common(25)))
    served = len(fuzzer.operations)
    print(f"operations answered 200 at least once: {len(outcome.succeeded)} of the {served} served")
    for failure in outcome.failures[:50]:
        print("FAIL", failure)
    print(f"{len(outcome.failures)} answers with a 5xx; {len(missing)} answered requests not in the audit trail")
    return 1 if outcome.failures or missing else 0


if __name__ == "__main__":
    sys.exit(main())
