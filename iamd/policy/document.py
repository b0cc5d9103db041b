"""Parse and validate policy documents, collecting every problem with its position.

``parse_policy`` returns a frozen :class:`~iamd.policy.model.PolicyDocument` or raises
:class:`PolicyValidationError` carrying every :class:`Problem`. The first problem in AWS's
check order (docs/policy-validation.md) gives AWS's ``MalformedPolicyDocument`` message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from .model import (
    VERSION_2008,
    VERSION_2012,
    ConditionEntry,
    DocumentKind,
    PolicyDocument,
    PrincipalSet,
    Statement,
)
from .operators import Family, parse_binary, parse_date, parse_ip_network, parse_number, parse_operator
from .source import JsonSyntaxError, Node, Position, parse_json
from .wildcard import has_wildcard

__all__ = [
    "Check",
    "PolicyValidationError",
    "Problem",
    "check_policy_characters",
    "parse_policy",
    "policy_size",
    "validate_policy",
]


class Check(IntEnum):
    """AWS's check order: a lower value is reported first."""

    SYNTAX = 10
    VERSION = 20
    LEGACY = 30
    SID_UNIQUE = 40
    SID_CHARS = 45
    ACTIONS_PRESENT = 50
    RESOURCES_PRESENT = 60
    RESOURCE_FORMAT = 70
    ACTION_FORMAT = 130
    PRINCIPAL_FORBIDDEN = 160
    TRUST_RESOURCE = 170
    TRUST_NOT_PRINCIPAL = 175
    PRINCIPAL_MISSING = 180
    PRINCIPAL_INVALID = 190
    TRUST_ACTION = 200
    NOT_PRINCIPAL_ALLOW = 210
    RCP_RULES = 220


@dataclass(frozen=True, slots=True)
class Problem:
    check: Check
    message: str  # AWS's text
    position: Position
    detail: str = ""  # what exactly is wrong, for people (AWS's syntax message says little)

    def describe(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


class PolicyValidationError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.check, p.position.line, p.position.column))
        super().__init__(self.problems[0].message)

    @property
    def message(self) -> str:
        """The message AWS returns: the first problem in its check order."""
        return self.problems[0].message


SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
_TOP_KEYS = {"Version", "Id", "Statement"}
_STMT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
_PARTITIONS = {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}
_S3_REGIONAL = ("accesspoint/", "job/", "storage-lens/", "storage-lens-group/", "access-grants/")


def _as_read(value: str) -> str:
    """A resource with a colon as AWS's validator reads it: ``arn:``, the field after the first
    colon as the partition, then service, region, account and the rest, a missing one as ``*``
    (``a:b:c`` → ``arn:b:c:*:*:*``)."""
    _, partition, *rest = value.split(":")
    service = rest[0] if rest and (rest[0] or len(rest) > 1) else "*"
    region = rest[1] if len(rest) > 1 else "*"
    account = rest[2] if len(rest) > 2 else "*"
    resource = ":".join(rest[3:]) if len(rest) > 3 else "*"
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


_IAM_TYPES = (
    "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/",
    "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/",
)  # fmt: skip
_IAM_PATH_MESSAGE = 'IAM resource path must either be "*" or start with ' + ", ".join(_IAM_TYPES) + "."
_VENDOR = re.compile(r"[A-Za-z0-9.\-]+")
_SID = re.compile(r"[A-Za-z0-9]*")
_TRUST_ACTIONS = {
    "sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity", "sts:tagsession",
    "sts:setsourceidentity", "sts:setcontext", "sts:*", "*",
}  # fmt: skip
_TRUST_ACTION_MESSAGE = (
    "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and "
    "sts:AssumeRoleWithWebIdentity"
)
_ACCOUNT = re.compile(r"\d{12}")
_PRINCIPAL_ARN = re.compile(
    r"arn:(?:aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):"
    r"(?:iam::\d{12}:(?:root|user/[^*?]+|role/[^*?]+)|sts::\d{12}:(?:assumed-role/[^/*?]+/[^/*?]+|federated-user/[^*?]+))"
)
_UNIQUE_ID = re.compile(r"A(?:IDA|ROA)[A-Z0-9]{12,124}")


def policy_size(text: str) -> int:
    """Characters counted against IAM's size quotas: whitespace is not counted."""
    return sum(1 for ch in text if not ch.isspace())


def check_policy_characters(text: str) -> int | None:
    """Offset of the first character IAM does not accept (TAB, LF, CR, U+0020 to U+00FF)."""
    for i, ch in enumerate(text):
        if not (ch in "\t\n\r" or " " <= ch <= "\u00ff"):
            return i
    return None


def _scalar_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    return None


class _Validator:
    def __init__(self, kind: DocumentKind) -> None:
        self.kind = kind
        self.problems: list[Problem] = []

    def add(self, check: Check, message: str, pos: Position, detail: str = "") -> None:
        self.problems.append(Problem(check, message, pos, detail))

    def syntax(self, pos: Position, detail: str) -> None:
        self.add(Check.SYNTAX, SYNTAX, pos, detail)

    # -- element readers -----------------------------------------------------------------
    def string_list(self, node: Node, name: str) -> tuple[tuple[str, ...], tuple[Node, ...]] | None:
        v = node.value
        if isinstance(v, str):
            return (v,), (node,)
        if isinstance(v, list) and all(isinstance(n.value, str) for n in v):
            return tuple(n.value for n in v if isinstance(n.value, str)), tuple(v)
        self.syntax(node.start, f"{name} must be a string or a list of strings")
        return None

    def principal(self, node: Node, name: str, check_values: bool) -> PrincipalSet | None:
        v = node.value
        if v == "*":
            return PrincipalSet(wildcard=True)
        if not isinstance(v, dict) or not v:
            self.syntax(node.start, f'{name} must be "*" or an object such as {{"AWS": ...}}')
            return None
        found: dict[str, tuple[str, ...]] = {}
        for key, vnode in v.items():
            values = self.string_list(vnode, f"{name}.{key}")
            if values is None:
                return None
            found[key] = values[0]
            for text, vn in zip(*values, strict=False):
                if check_values:
                    self.check_principal_value(key, text, vn.start)
        aws = found.get("AWS", ())
        return PrincipalSet(
            wildcard="*" in aws,
            aws=tuple(a for a in aws if a != "*"),
            service=found.get("Service", ()),
            federated=found.get("Federated", ()),
            canonical_user=found.get("CanonicalUser", ()),
        )

    def check_principal_value(self, key: str, value: str, pos: Position) -> None:
        ok: bool
        if key == "AWS":
            ok = value == "*" or bool(
                _ACCOUNT.fullmatch(value) or _PRINCIPAL_ARN.fullmatch(value) or _UNIQUE_ID.fullmatch(value)
            )
        elif key in ("Service", "Federated", "CanonicalUser"):
            ok = bool(value) and not has_wildcard(value) and not any(c.isspace() for c in value)
        else:
            ok = False
        if not ok:
            self.add(Check.PRINCIPAL_INVALID, f'Invalid principal in policy: "{key}":"{value}"', pos)

    def condition(self, node: Node, variables: bool) -> tuple[ConditionEntry, ...]:
        if not isinstance(node.value, dict):
            self.syntax(node.start, "Condition must be an object of operators")
            return ()
        entries: list[ConditionEntry] = []
        for op_name, body in node.value.items():
            op_pos = next(k.start for k in node.keys if k.value == op_name)
            if not isinstance(body.value, dict):
                self.syntax(body.start, f"the body of {op_name} must be an object of condition keys")
                continue
            op = parse_operator(op_name)
            if op is None:
                if body.value:
                    self.syntax(op_pos, f"unknown condition operator {op_name}")
                continue
            for key, vnode in body.value.items():
                key_pos = next(k.start for k in body.keys if k.value == key)
                raw = vnode.value
                items = raw if isinstance(raw, list) else [vnode]
                texts = [_scalar_text(n.value) for n in items]
                if not items or any(t is None for t in texts):
                    self.syntax(vnode.start, f"the value of {key} must be a string, number, boolean or a list of them")
                    continue
                values = tuple(t for t in texts if t is not None)
                # A condition key needs no vendor prefix: AWS accepts "username" (it matches no
                # context key, so the condition is false unless ...IfExists): docs/policy-validation.md.
                for text, n in zip(values, items, strict=False):
                    self.check_condition_value(op.info.family, op_name, text, n.start)
                entries.append(ConditionEntry(op, key, values, key_pos))
        return tuple(entries)

    def check_condition_value(self, family: Family, op: str, text: str, pos: Position) -> None:
        bad = (
            (family is Family.DATE and parse_date(text) is None)
            or (family is Family.NUMERIC and parse_number(text) is None)
            or (family is Family.IP and parse_ip_network(text) is None)
            or (family is Family.NULL and text.lower() not in ("true", "false"))
            or (family is Family.BINARY and parse_binary(text) is None)
        )
        if bad:
            self.add(Check.LEGACY, LEGACY, pos, f"{text!r} is not a valid value for {op}")

    def check_action(self, action: str, pos: Position) -> None:
        if action == "*":
            return
        colons = action.count(":")
        if colons == 0:
            self.add(
                Check.ACTION_FORMAT, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", pos
            )
        elif colons > 1:
            self.add(Check.ACTION_FORMAT, "Actions/Condition can contain only one colon.", pos)
        else:
            vendor = action.split(":", 1)[0]
            if not _VENDOR.fullmatch(vendor):
                self.add(Check.ACTION_FORMAT, f"Vendor {vendor} is not valid", pos)

    def check_resource(self, value: str, pos: Position) -> None:
        if value == "*":
            return
        if ":" not in value:
            self.add(Check.RESOURCE_FORMAT, f'Resource {value} must be in ARN format or "*".', pos)
            return
        if not value.startswith("arn:"):
            # AWS reads the second field as the partition whatever the first one says, and names
            # the resource as it read it (docs/policy-validation.md, row 8); a valid partition
            # after another prefix is refused all the same (iamd's choice: fail closed).
            shown = _as_read(value)
            partition = shown.split(":", 2)[1]
            if partition not in _PARTITIONS and not has_wildcard(partition):
                self.add(Check.RESOURCE_FORMAT, f'Partition "{partition}" is not valid for resource "{shown}".', pos)
            else:
                self.add(Check.RESOURCE_FORMAT, f'Resource {value} must be in ARN format or "*".', pos)
            return
        parts = value.split(":", 5)
        if len(parts) < 6:
            # A short ARN is read with its missing fields as "*" (arn:aws:sqs:* is a whole-string glob
            # policies rely on, AWS "IAM JSON policy elements: Resource"); one with an empty field
            # ("::") fails legacy parsing, as AWS answers (docs/policy-validation.md).
            if "::" in value:
                self.add(Check.LEGACY, LEGACY, pos, f"{value} has fewer than 6 colon-separated parts")
                return
            parts += ["*"] * (6 - len(parts))
        _, partition, service, region, _account, resource = parts
        if partition not in _PARTITIONS and not has_wildcard(partition):
            message = f'Partition "{partition}" is not valid for resource "{_as_read(value)}".'
            self.add(Check.RESOURCE_FORMAT, message, pos)
        elif not service or has_wildcard(service) or "$" in service:
            self.add(Check.RESOURCE_FORMAT, "Resource vendor must be fully qualified and cannot contain regexes.", pos)
        elif service == "iam" and region:
            self.add(Check.RESOURCE_FORMAT, f"IAM resource {value} cannot contain region information.", pos)
        elif service == "s3" and region and not resource.startswith(_S3_REGIONAL):
            # Access points, batch jobs, Storage Lens and Access Grants are regional S3 resources
            # (Service Authorization Reference, "Actions, resources, and condition keys for Amazon S3").
            self.add(Check.RESOURCE_FORMAT, f"Resource {value} can not contain region information.", pos)
        elif service == "iam" and not (
            resource in ("*", "root") or resource.startswith(_IAM_TYPES) or resource[:1] in ("*", "?", "$")
        ):
            self.add(Check.RESOURCE_FORMAT, _IAM_PATH_MESSAGE, pos)

    # -- the document --------------------------------------------------------------------
    def document(self, root: Node, text: str) -> PolicyDocument | None:
        if not isinstance(root.value, dict):
            self.syntax(root.start, "a policy must be a JSON object")
            return None
        top = root.value
        for k in root.keys:
            if k.value not in _TOP_KEYS:
                self.syntax(k.start, f"unknown element {k.value}")
        version: str | None = None
        vnode = top.get("Version")
        if vnode is not None:
            if not isinstance(vnode.value, str) or vnode.value not in (VERSION_2012, VERSION_2008):
                self.syntax(vnode.start, f'Version must be "{VERSION_2012}" or "{VERSION_2008}"')
            else:
                version = vnode.value
        if self.kind.needs_version_2012 and version != VERSION_2012 and (vnode is None or version is not None):
            self.add(Check.VERSION, "Policy document must be version 2012-10-17 or greater.", (vnode or root).start)
        id_node = top.get("Id")
        if id_node is not None and not isinstance(id_node.value, str):
            self.syntax(id_node.start, "Id must be a string")
        snode = top.get("Statement")
        if snode is None:
            self.syntax(root.start, "Statement is missing")
            return None
        if isinstance(snode.value, dict):
            stmt_nodes: list[Node] = [snode]
        elif isinstance(snode.value, list) and snode.value:
            stmt_nodes = snode.value
        else:
            self.syntax(snode.start, "Statement must be an object or a non-empty list of objects")
            return None
        variables = version == VERSION_2012
        statements = [self.statement(i, n, variables) for i, n in enumerate(stmt_nodes)]
        seen: set[str] = set()
        for n in stmt_nodes:
            sid = n.value.get("Sid") if isinstance(n.value, dict) else None
            if sid is not None and isinstance(sid.value, str) and sid.value:
                if sid.value in seen:
                    self.add(Check.SID_UNIQUE, "Statement IDs (SID) in a single policy must be unique.", sid.start)
                seen.add(sid.value)
        if self.problems or any(s is None for s in statements):
            return None
        policy_id = id_node.value if id_node is not None and isinstance(id_node.value, str) else None
        return PolicyDocument(self.kind, version, policy_id, tuple(s for s in statements if s), text)

    def statement(self, index: int, node: Node, variables: bool) -> Statement | None:
        if not isinstance(node.value, dict):
            self.syntax(node.start, "each statement must be a JSON object")
            return None
        before = len(self.problems)
        st = node.value
        for k in node.keys:
            if k.value not in _STMT_KEYS:
                self.syntax(k.start, f"unknown element {k.value}")
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
            if a in st and b in st:
                self.syntax(st[b].start, f"a statement cannot have both {a} and {b}")
        sid: str | None = None
        if "Sid" in st:
            if not isinstance(st["Sid"].value, str):
                self.syntax(st["Sid"].start, "Sid must be a string")
            else:
                sid = st["Sid"].value
                if self.kind.needs_version_2012 and not _SID.fullmatch(sid):
                    self.add(
                        Check.SID_CHARS,
                        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
                        "regular expression [0-9A-Za-z]*",
                        st["Sid"].start,
                    )
        effect = st.get("Effect")
        effect_text = ""
        if effect is None:
            self.syntax(node.start, "Effect is missing")
        elif not isinstance(effect.value, str) or effect.value.lower() not in ("allow", "deny"):
            self.syntax(effect.start, 'Effect must be "Allow" or "Deny"')
        elif effect.value not in ("Allow", "Deny"):
            self.add(
                Check.LEGACY, LEGACY, effect.start, f'Effect is case-sensitive: write "{effect.value.capitalize()}"'
            )
        else:
            effect_text = effect.value

        lists: dict[str, tuple[str, ...] | None] = {}
        action_nodes: list[Node] = []
        for name in ("Action", "NotAction", "Resource", "NotResource"):
            lists[name] = None
            if name in st:
                got = self.string_list(st[name], name)
                if got is not None:
                    lists[name] = got[0]
                    if "Action" in name:
                        action_nodes.extend(got[1])
                    for text, vn in zip(*got, strict=False):
                        (self.check_action if "Action" in name else self.check_resource)(text, vn.start)
        if ("Action" not in st and "NotAction" not in st) or any(
            n in st and isinstance(st[n].value, list) and not st[n].value for n in ("Action", "NotAction")
        ):
            self.add(Check.ACTIONS_PRESENT, "Policy statement must contain actions.", node.start)
        has_resource = "Resource" in st or "NotResource" in st
        empty_resource = any(
            n in st and isinstance(st[n].value, list) and not st[n].value for n in ("Resource", "NotResource")
        )
        if self.kind.needs_resource and (not has_resource or empty_resource):
            self.add(Check.RESOURCES_PRESENT, "Policy statement must contain resources.", node.start)
        if self.kind is DocumentKind.TRUST:
            if has_resource:
                where = st.get("Resource") or st["NotResource"]
                self.add(Check.TRUST_RESOURCE, "Has prohibited field Resource", where.start)
            for an in action_nodes:
                text = str(an.value)
                low = text.lower()
                if low not in _TRUST_ACTIONS and not (has_wildcard(low) and low.startswith("sts:")):
                    self.add(Check.TRUST_ACTION, _TRUST_ACTION_MESSAGE, an.start, f"{text} is not an STS assume action")

        principal = not_principal = None
        for name in ("Principal", "NotPrincipal"):
            if name not in st:
                continue
            pnode = st[name]
            parsed = self.principal(pnode, name, check_values=self.kind.has_principal)
            if not self.kind.has_principal:
                self.add(Check.PRINCIPAL_FORBIDDEN, "Policy document should not specify a principal.", pnode.start)
                continue
            if name == "Principal":
                principal = parsed
            else:
                not_principal = parsed
        if self.kind.has_principal and "Principal" not in st and "NotPrincipal" not in st:
            self.add(Check.PRINCIPAL_MISSING, "Missing required field Principal", node.start)
        if "NotPrincipal" in st:
            if self.kind is DocumentKind.TRUST:
                self.add(Check.TRUST_NOT_PRINCIPAL, "Has prohibited field NotPrincipal", st["NotPrincipal"].start)
            elif self.kind is DocumentKind.RESOURCE and effect_text == "Allow":
                self.add(
                    Check.NOT_PRINCIPAL_ALLOW,
                    'NotPrincipal is supported only with "Effect": "Deny".',
                    st["NotPrincipal"].start,
                )
        conditions = self.condition(st["Condition"], variables) if "Condition" in st else ()
        if self.kind is DocumentKind.RCP:
            self.rcp_rules(node, st, effect_text)
        if len(self.problems) > before:
            return None
        sid_value = sid if sid else None
        return Statement(
            index, sid_value, effect_text, lists["Action"], lists["NotAction"], lists["Resource"],
            lists["NotResource"], principal, not_principal, conditions, node.start, node.end,
        )  # fmt: skip

    def rcp_rules(self, node: Node, st: dict[str, Node], effect: str) -> None:
        if "NotPrincipal" in st:
            self.add(
                Check.RCP_RULES, "Resource control policies do not support NotPrincipal.", st["NotPrincipal"].start
            )
        elif "Principal" in st and st["Principal"].value != "*":
            self.add(Check.RCP_RULES, 'Resource control policies must use "Principal": "*".', st["Principal"].start)
        if "NotAction" in st:
            self.add(Check.RCP_RULES, "Resource control policies do not support NotAction.", st["NotAction"].start)
        if effect == "Allow":
            full_access = _is_star(st.get("Action")) and _is_star(st.get("Resource")) and "Condition" not in st
            if not full_access:
                self.add(
                    Check.RCP_RULES,
                    'Resource control policies support "Effect": "Allow" only in RCPFullAWSAccess.',
                    node.start,
                )


def _is_star(node: Node | None) -> bool:
    if node is None:
        return False
    v = node.value
    return v == "*" or (isinstance(v, list) and len(v) == 1 and v[0].value == "*")


def validate_policy(text: str, kind: DocumentKind) -> list[Problem]:
    """Every problem of ``text`` as a ``kind`` policy, in AWS's check order."""
    try:
        parse_policy(text, kind)
    except PolicyValidationError as e:
        return e.problems
    return []


def parse_policy(text: str, kind: DocumentKind) -> PolicyDocument:
    """Parse and validate; raise :class:`PolicyValidationError` with every problem."""
    try:
        root = parse_json(text)
    except JsonSyntaxError as e:
        raise PolicyValidationError([Problem(Check.SYNTAX, SYNTAX, e.position, e.reason)]) from None
    validator = _Validator(kind)
    doc = validator.document(root, text)
    if doc is None:
        if not validator.problems:  # pragma: no cover - every failure path records a problem
            validator.syntax(root.start, "invalid policy")
        raise PolicyValidationError(validator.problems)
    return doc
