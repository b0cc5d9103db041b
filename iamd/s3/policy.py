"""Bucket policies: S3's validation and ``MalformedPolicy`` messages on top of iamd's
resource-policy validator, and whether a policy is public (docs/s3.md, "Bucket policies").

The document is validated as an iamd ``resource`` policy (``Principal`` required, its
syntax, effects, principals), then with S3's own rules: S3 actions only, resources inside
this bucket, each action applying to a listed resource, known condition keys. The first
problem found is reported, in S3's words.
"""

from __future__ import annotations

import ipaddress

from iamd.explain.catalog import catalog
from iamd.policy import DocumentKind
from iamd.policy.document import Check as Problem
from iamd.policy.document import PolicyValidationError, parse_policy
from iamd.policy.model import PolicyDocument, Statement
from iamd.policy.wildcard import has_wildcard

from .errors import S3Error

__all__ = ["MAX_POLICY_BYTES", "is_public", "validate_bucket_policy"]

MAX_POLICY_BYTES = 20 * 1024  # Amazon S3 User Guide, "Bucket policies": 20 KB


def _malformed(message: str) -> S3Error:
    return S3Error("MalformedPolicy", message)


def _object_action(name: str) -> bool:
    low = name.lower()
    return "object" in low or low in ("abortmultipartupload", "listmultipartuploadparts")


def _bucket_action(name: str) -> bool:
    low = name.lower()
    return "bucket" in low and low != "listallmybuckets"


def validate_bucket_policy(text: str, bucket: str, partition: str = "aws") -> PolicyDocument:
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise S3Error("PolicyTooLarge", "Policy exceeds the maximum allowed document size.")
    if not text.lstrip().startswith("{"):
        raise _malformed("Policies must be valid JSON and the first byte must be '{'")
    try:
        doc = parse_policy(text, DocumentKind.RESOURCE)
    except PolicyValidationError as e:
        raise _malformed(_message(e)) from None
    if not doc.statements:
        raise _malformed("Could not parse the policy: Statement is empty!")
    for statement in doc.statements:
        _check_statement(statement, bucket, partition)
    return doc


def _message(error: PolicyValidationError) -> str:
    first = error.problems[0]
    if first.check == Problem.SYNTAX:
        detail = first.detail.lower()
        if "statement" in detail and ("missing" in detail or "required" in detail):
            return "Missing required field Statement"
        if "effect" in detail:
            return "Invalid effect"
        if "version" in detail:
            return "The policy must contain a valid version string"
        return "This policy contains invalid Json"
    if first.check == Problem.LEGACY:
        return "Invalid effect" if "effect" in first.detail.lower() else "This policy contains invalid Json"
    if first.check == Problem.PRINCIPAL_MISSING:
        return "Missing required field Principal"
    if first.check == Problem.PRINCIPAL_INVALID:
        return "Invalid principal in policy"
    if first.check == Problem.ACTION_FORMAT or first.check == Problem.ACTIONS_PRESENT:
        return "Policy has invalid action"
    if first.check == Problem.RESOURCE_FORMAT:
        return "Policy has invalid resource"
    if first.check == Problem.NOT_PRINCIPAL_ALLOW:
        return first.message
    return first.message


def _check_statement(st: Statement, bucket: str, partition: str) -> None:
    cat = catalog()
    actions = st.actions if st.actions is not None else st.not_actions or ()
    for action in actions:
        if action == "*":
            continue
        prefix, _, name = action.partition(":")
        if prefix.lower() != "s3" or (not has_wildcard(name) and not cat.knows_action(action)):
            raise _malformed("Policy has invalid action")
    resources = st.resources if st.resources is not None else st.not_resources
    if not resources:
        raise _malformed("Policy has invalid resource")
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    kinds = set()
    for resource in resources:
        if resource == bucket_arn:
            kinds.add("bucket")
        elif resource.startswith(bucket_arn + "/"):
            kinds.add("object")
        else:
            raise _malformed("Policy has invalid resource")
    if st.actions is not None:
        for action in st.actions:
            name = action.partition(":")[2]
            if action == "*" or has_wildcard(name):
                continue  # wildcards are exempt from the per-action checks
            applies = ("object" in kinds and _object_action(name)) or ("bucket" in kinds and _bucket_action(name))
            if not applies:
                raise _malformed("Action does not apply to any resource(s) in statement")
    for entry in st.conditions:
        if not cat.knows_key(entry.key):
            raise _malformed("Policy has an invalid condition key")
        if entry.key_lower == "aws:sourceip":
            for value in entry.values:
                try:
                    ipaddress.ip_network(value, strict=False)
                except ValueError:
                    raise _malformed("Invalid IP address in Conditions") from None


# Condition keys that make an Allow non-public when they have fixed values (Amazon S3 User
# Guide, "Blocking public access to your Amazon S3 storage", "The meaning of public").
_RESTRICTING = frozenset({
    "aws:principalorgid", "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner",
    "aws:sourceaccount", "s3:x-amz-server-side-encryption-aws-kms-key-id", "aws:userid",
    "s3:dataaccesspointarn", "s3:dataaccesspointaccount", "aws:principalaccount", "aws:principalarn",
})  # fmt: skip


def _fixed(value: str) -> bool:
    return not has_wildcard(value) and "${" not in value


def _restricted_by_condition(st: Statement) -> bool:
    for entry in st.conditions:
        op = entry.operator
        if op.if_exists or op.set_op == "ForAllValues" or op.base.startswith(("Not", "StringNot", "ArnNot")):
            continue
        if entry.key_lower in _RESTRICTING and entry.values and all(_fixed(v) for v in entry.values):
            return True
        if entry.key_lower == "aws:sourceip" and entry.values:
            try:
                nets = [ipaddress.ip_network(v, strict=False) for v in entry.values]
            except ValueError:
                continue
            if all((n.version == 4 and n.prefixlen >= 8) or (n.version == 6 and n.prefixlen >= 32) for n in nets):
                return True
    return False


def is_public(doc: PolicyDocument) -> bool:
    """A policy is public unless each Allow is limited to fixed principals or fixed values of
    the restricting keys."""
    for st in doc.statements:
        if st.is_deny:
            continue
        if st.not_principal is not None:
            return True
        principal = st.principal
        wildcard = principal is None or principal.wildcard or any(not _fixed(a) for a in principal.aws)
        if wildcard and not _restricted_by_condition(st):
            return True
    return False
