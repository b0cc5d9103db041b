"""A deliberately naive reference evaluator for iamd (a test oracle).

Written straight from the rules text, independent of the real engine:

* docs/evaluation-semantics.md  (cited below as "sem §N")
* docs/offline-evaluation.md    (the request format, cited as "offline")
* AWS "IAM JSON policy element reference"; AWS "AWS JSON policy elements: Principal"
* AWS "IAM JSON policy elements: Condition"

Everything is recomputed on every call; correctness over speed.  Standard library only.

Public API:
    decide(request: dict) -> dict
    message(request: dict, result: dict) -> str | None
"""

import base64
import binascii
import calendar
import datetime
import ipaddress
import json
import re
from decimal import Decimal, InvalidOperation

V2012 = "2012-10-17"

# Policy types in the vocabulary of `blockingPolicyTypes` (offline "The decision").
RESOURCE_KINDS = ("resource", "trust", "key")


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def _load(doc):
    """Policy documents (and wrappers) may be JSON strings (offline "policies")."""
    if isinstance(doc, str):
        return json.loads(doc)
    return doc


def _as_list(value):
    """An element may be a single value or an array (AWS "IAM JSON policy element reference", AWS "IAM JSON policy
    elements: Condition").
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _str(value):
    """String form of a JSON scalar: numbers and booleans compare by their string form
    (AWS "IAM JSON policy elements: Condition operators" (string): `10` -> "10", `true` -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------------
# glob -> regex.  A pattern is a list of (char, is_literal) pairs so that text that came
# from a policy variable is matched literally (sem §4 "Substituted text is literal").
# ---------------------------------------------------------------------------


def _chars(text, literal=False):
    return [(ch, literal) for ch in text]


def _glob_regex(chars):
    """`*` any run of characters including none, `?` exactly one, everything else
    literal (AWS "IAM JSON policy elements: Action"; AWS "IAM JSON policy elements: Resource")."""
    out = []
    for ch, literal in chars:
        if not literal and ch == "*":
            out.append(".*")
        elif not literal and ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _glob_match(chars, text, ignore_case=False):
    flags = re.DOTALL
    if ignore_case:
        flags |= re.IGNORECASE
    return re.fullmatch(_glob_regex(chars), text, flags) is not None


def _chars_text(chars):
    return "".join(ch for ch, _ in chars)


# ---------------------------------------------------------------------------
# principal (offline "principal", sem §2)
# ---------------------------------------------------------------------------


def _parse_principal(raw):
    info = {
        "kind": None,  # root|user|role|session|feduser|service|webid|anonymous
        "arn": None,  # the ARN as given
        "partition": "aws",
        "account": None,
        "id": None,
        "tags": {},
        "role_arn": None,  # role ARN (role used directly, or the session's role)
        "session_name": None,
        "username": None,
        "fed_name": None,
        "parent_user_arn": None,
        "service": None,
        "provider": None,
    }
    obj = raw if isinstance(raw, dict) else None
    if obj is not None:
        if obj.get("anonymous") is True:
            info["kind"] = "anonymous"
        elif obj.get("service") is not None:
            info["kind"] = "service"
            info["service"] = obj["service"]
        elif obj.get("federated") is not None:
            info["kind"] = "webid"
            info["provider"] = obj["federated"]
            info["account"] = obj.get("account")
        else:
            _classify_principal_string(obj.get("arn"), info)
        if obj.get("id") is not None:
            info["id"] = obj["id"]
        if isinstance(obj.get("tags"), dict):
            info["tags"] = dict(obj["tags"])
        if obj.get("parentUserArn") is not None:
            info["parent_user_arn"] = obj["parentUserArn"]
        if obj.get("roleArn") is not None and info["kind"] == "session":
            # "roleArn: for an assumed-role session: the role's full ARN including its path"
            info["role_arn"] = obj["roleArn"]
    else:
        _classify_principal_string(raw, info)
    return info


def _classify_principal_string(s, info):
    # offline "principal" table
    if s == "anonymous":
        info["kind"] = "anonymous"
        return
    if s.endswith(".amazonaws.com") or ":" not in s:
        info["kind"] = "service"
        info["service"] = s
        return
    parts = s.split(":", 5)
    info["arn"] = s
    if len(parts) == 6:
        info["partition"] = parts[1]
        info["account"] = parts[4]
        service, res = parts[2], parts[5]
        if service == "iam" and res == "root":
            info["kind"] = "root"
        elif service == "iam" and res.startswith("user/"):
            info["kind"] = "user"
            info["username"] = res.rsplit("/", 1)[1]
        elif service == "iam" and res.startswith("role/"):
            info["kind"] = "role"
            info["role_arn"] = s
        elif service == "sts" and res.startswith("assumed-role/"):
            info["kind"] = "session"
            _, role_name, session_name = res.split("/", 2)
            info["session_name"] = session_name
            # "the role ARN is …:role/<role> unless roleArn gives its path"
            info["role_arn"] = "arn:%s:iam::%s:role/%s" % (parts[1], parts[4], role_name)
        elif service == "sts" and res.startswith("federated-user/"):
            info["kind"] = "feduser"
            info["fed_name"] = res.split("/", 1)[1]
    if info["kind"] is None:
        raise ValueError("unrecognised principal %r" % (s,))


def _role_path(role_arn):
    """`arn:…:role/<path><name>` -> `<path>` (always starts and ends with `/`)."""
    if not role_arn:
        return None
    res = role_arn.split(":", 5)[-1]
    if not res.startswith("role/"):
        return None
    rest = res[len("role") :]  # "/<path><name>"
    return rest[: rest.rfind("/") + 1]


def _is_service_linked(caller):
    """offline: "A role whose path starts with /aws-service-role/ is a service-linked role"."""
    if caller["kind"] not in ("role", "session"):
        return False
    path = _role_path(caller["role_arn"])
    return path is not None and path.startswith("/aws-service-role/")


def _message_arn(caller):
    # sem §2 "message ARN" column
    if caller["kind"] == "service":
        return caller["service"]
    if caller["kind"] == "webid":
        return caller["provider"]
    if caller["kind"] == "anonymous":
        return "anonymous"
    return caller["arn"]


def _account_arn(caller, account):
    return "arn:%s:iam::%s:root" % (caller["partition"], account)


# ---------------------------------------------------------------------------
# resource (offline "resource")
# ---------------------------------------------------------------------------


def _parse_resource(raw, caller):
    """Returns (resource string for matching, account R, tags, resource as given for the message)."""
    if raw is None:
        arn, account, tags = "*", None, {}
    elif isinstance(raw, dict):
        arn = raw.get("arn")
        if arn is None:
            arn = "*"
        account = raw.get("account")
        tags = dict(raw.get("tags") or {})
    else:
        arn, account, tags = raw, None, {}
    if account is None:
        # "Default: the ARN's account field when it is 12 digits, otherwise the principal's account"
        parts = arn.split(":", 5)
        if len(parts) == 6 and re.fullmatch(r"[0-9]{12}", parts[4]):
            account = parts[4]
        else:
            account = caller["account"]
    return arn, account, tags


# ---------------------------------------------------------------------------
# request context (offline "context", AWS "AWS global condition context keys" (properties of the principal))
# ---------------------------------------------------------------------------


class _Context:
    """Keys are case-insensitive.  Each lower-cased key keeps every (original key, raw
    value) given for it, so two keys differing only by case can be detected (sem §4)."""

    def __init__(self):
        self.entries = {}

    def add(self, key, value):
        if value is None:
            return
        self.entries.setdefault(key.lower(), []).append((key, value))

    def has_key_lower(self, lower):
        return lower in self.entries

    def values(self, key):
        """-> (flattened list of values, ambiguous?)"""
        entries = self.entries.get(key.lower(), [])
        vals = []
        for _, raw in entries:
            for v in _as_list(raw):
                if v is not None:
                    vals.append(v)
        # "Two keys differing only by case, with different values" are ambiguous (sem §4)
        per_key = {}
        for orig, raw in entries:
            per_key.setdefault(orig, set()).update(_str(v) for v in _as_list(raw) if v is not None)
        distinct = set(frozenset(v) for v in per_key.values())
        return vals, len(per_key) > 1 and len(distinct) > 1

    def present(self, key):
        """ "An empty list counts as missing" (sem §4)."""
        vals, _ = self.values(key)
        return len(vals) > 0

    def variable(self, key):
        """-> ("ok", text) | ("missing", None) | ("multi", None)   (sem §4 Policy variables)."""
        entries = self.entries.get(key.lower(), [])
        vals, _ = self.values(key)
        if not vals:
            return ("missing", None)
        if len(entries) > 1 or isinstance(entries[0][1], list):
            # a list in the context makes the key multivalued; two case-variants too
            return ("multi", None)
        return ("ok", _str(vals[0]))


def _build_context(given, caller, res_account, res_tags):
    ctx = _Context()
    given_lower = set()
    for key, value in (given or {}).items():
        ctx.add(key, value)
        given_lower.add(key.lower())

    auto = []  # (key, value) filled "unless you give them yourself" (offline "context")
    kind = caller["kind"]
    acct = caller["account"]
    # AWS "AWS global condition context keys" (properties of the principal) table
    if kind == "root":
        auto += [
            ("aws:PrincipalType", "Account"),
            ("aws:userid", acct),
            ("aws:PrincipalArn", caller["arn"]),
            ("aws:PrincipalAccount", acct),
            ("aws:PrincipalIsAWSService", False),
        ]
    elif kind == "user":
        auto += [
            ("aws:PrincipalType", "User"),
            ("aws:username", caller["username"]),
            ("aws:PrincipalArn", caller["arn"]),
            ("aws:PrincipalAccount", acct),
            ("aws:PrincipalIsAWSService", False),
        ]
        if caller["id"] is not None:
            auto.append(("aws:userid", caller["id"]))
    elif kind in ("role", "session"):
        # a role used directly is "a role session with no session policies"
        auto += [
            ("aws:PrincipalType", "AssumedRole"),
            ("aws:PrincipalArn", caller["role_arn"]),
            ("aws:PrincipalAccount", acct),
            ("aws:PrincipalIsAWSService", False),
        ]
        if caller["id"] is not None:
            if kind == "session":
                auto.append(("aws:userid", "%s:%s" % (caller["id"], caller["session_name"])))
            else:
                auto.append(("aws:userid", caller["id"]))
    elif kind == "feduser":
        auto += [
            ("aws:PrincipalType", "FederatedUser"),
            ("aws:userid", "%s:%s" % (acct, caller["fed_name"])),
            ("aws:PrincipalArn", caller["arn"]),
            ("aws:PrincipalAccount", acct),
            ("aws:PrincipalIsAWSService", False),
        ]
    elif kind == "service":
        auto += [("aws:PrincipalIsAWSService", True), ("aws:PrincipalServiceName", caller["service"])]
    elif kind == "anonymous":
        auto += [("aws:PrincipalType", "Anonymous"), ("aws:userid", "anonymous"), ("aws:PrincipalAccount", "anonymous")]
    for tkey, tval in caller["tags"].items():
        auto.append(("aws:PrincipalTag/" + tkey, tval))
    if res_account is not None:
        auto.append(("aws:ResourceAccount", res_account))
    for tkey, tval in res_tags.items():
        auto.append(("aws:ResourceTag/" + tkey, tval))

    for key, value in auto:
        if key.lower() in given_lower:
            continue
        ctx.add(key, value)
    return ctx


# ---------------------------------------------------------------------------
# policy variables (sem §4 "Policy variables", AWS "IAM policy elements: Variables and tags")
# ---------------------------------------------------------------------------

_VAR_RE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT_RE = re.compile(r"^\s*(.+?)\s*,\s*'(.*)'\s*$", re.DOTALL)


def _parse_var(inner):
    """-> ("special", char) | ("key", key, default-or-None)"""
    if inner in ("*", "?", "$"):
        return ("special", inner)
    m = _DEFAULT_RE.match(inner)
    if m:
        return ("key", m.group(1), m.group(2))
    return ("key", inner.strip(), None)


def _substitute(text, ctx):
    """Substitute `${…}` in text.  Returns a list of (char, is_literal) or None when a
    variable cannot be resolved (missing without default, or multivalued)."""
    out = []
    pos = 0
    for m in _VAR_RE.finditer(text):
        out += _chars(text[pos : m.start()])
        pos = m.end()
        var = _parse_var(m.group(1))
        if var[0] == "special":
            out += _chars(var[1], literal=True)  # ${*} ${?} ${$} -> literal char
            continue
        _, key, default = var
        status, value = ctx.variable(key)
        if status == "missing" and default is not None:
            value = default
        elif status != "ok":
            return None
        out += _chars(value, literal=True)
    out += _chars(text[pos:])
    return out


def _variable_keys_without_default(text):
    keys = []
    for m in _VAR_RE.finditer(text):
        var = _parse_var(m.group(1))
        if var[0] == "key" and var[2] is None:
            keys.append(var[1])
    return keys


# ---------------------------------------------------------------------------
# action / resource matching (sem §1, AWS "IAM JSON policy elements: Action"; AWS "IAM JSON policy elements: Resource")
# ---------------------------------------------------------------------------


def _action_matches(pattern, action):
    # case-insensitive glob
    return _glob_match(_chars(pattern), action, ignore_case=True)


def _resource_pattern_chars(entry, version, ctx):
    """Variables only under 2012-10-17 and only in the resource part (after the fifth
    colon).  None when unresolvable."""
    if version != V2012:
        return _chars(entry)
    parts = entry.split(":", 5)
    if len(parts) < 6:
        return _chars(entry)
    head = ":".join(parts[:5]) + ":"
    tail = _substitute(parts[5], ctx)
    if tail is None:
        return None
    return _chars(head) + tail


def _resource_entry_matches(entry, resource, version, ctx):
    chars = _resource_pattern_chars(entry, version, ctx)
    if chars is None:
        # "An entry whose policy variable cannot be resolved matches nothing"
        return False
    return _glob_match(chars, resource)


def _resource_part_variable_keys(entry, version):
    if version != V2012:
        return []
    parts = entry.split(":", 5)
    if len(parts) < 6:
        return []
    return _variable_keys_without_default(parts[5])


# ---------------------------------------------------------------------------
# conditions (sem §4, AWS "Creating a condition with multiple context keys or values"; AWS "Set operators for
# multivalued context keys"; AWS "IAM JSON policy elements: Condition")
# ---------------------------------------------------------------------------

# base operator -> (family, comparison, negated)
_OPERATORS = {
    "StringEquals": ("string", "eq", False),
    "StringNotEquals": ("string", "eq", True),
    "StringEqualsIgnoreCase": ("string", "ieq", False),
    "StringNotEqualsIgnoreCase": ("string", "ieq", True),
    "StringLike": ("string", "like", False),
    "StringNotLike": ("string", "like", True),
    "NumericEquals": ("numeric", "eq", False),
    "NumericNotEquals": ("numeric", "eq", True),
    "NumericLessThan": ("numeric", "lt", False),
    "NumericLessThanEquals": ("numeric", "le", False),
    "NumericGreaterThan": ("numeric", "gt", False),
    "NumericGreaterThanEquals": ("numeric", "ge", False),
    "DateEquals": ("date", "eq", False),
    "DateNotEquals": ("date", "eq", True),
    "DateLessThan": ("date", "lt", False),
    "DateLessThanEquals": ("date", "le", False),
    "DateGreaterThan": ("date", "gt", False),
    "DateGreaterThanEquals": ("date", "ge", False),
    "Bool": ("bool", "eq", False),
    "BinaryEquals": ("binary", "eq", False),
    "IpAddress": ("ip", "in", False),
    "NotIpAddress": ("ip", "in", True),
    "ArnEquals": ("arn", "like", False),
    "ArnLike": ("arn", "like", False),
    "ArnNotEquals": ("arn", "like", True),
    "ArnNotLike": ("arn", "like", True),
    "Null": ("null", None, False),
}

# sem §4: variables substituted "in String, ARN and Bool condition values"
_VARIABLE_FAMILIES = ("string", "arn", "bool")


class _Ambiguous(Exception):
    pass


def _parse_operator(name):
    """-> (prefix or None, base, if_exists)"""
    prefix = None
    for p in ("ForAllValues:", "ForAnyValue:"):
        if name.startswith(p):
            prefix = p[:-1]
            name = name[len(p) :]
    if_exists = False
    if name.endswith("IfExists"):
        if_exists = True
        name = name[: -len("IfExists")]
    if name not in _OPERATORS:
        raise ValueError("unknown operator")
    if name == "Null" and (prefix or if_exists):
        raise ValueError("Null takes no prefix/suffix")
    return prefix, name, if_exists


_NUM_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _parse_number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return Decimal(str(v))
    if isinstance(v, str) and _NUM_RE.fullmatch(v):
        try:
            return Decimal(v)
        except InvalidOperation:
            return None
    return None


_DATE_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|z|[+-]\d{2}:\d{2})?)?"
    r")?)?"
)


def _parse_date(v):
    """ISO 8601 W3C profile or epoch seconds; a missing zone is UTC.  -> Decimal seconds."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return Decimal(str(v))
    if not isinstance(v, str):
        return None
    # epoch seconds; a 4-digit string is read as a year (YYYY), see the W3C profile
    if re.fullmatch(r"[+-]?\d+", v) and not re.fullmatch(r"\d{4}", v):
        return Decimal(v)
    m = _DATE_RE.fullmatch(v)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    try:
        dt = datetime.datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    seconds = Decimal(calendar.timegm(dt.timetuple()))
    if frac:
        seconds += Decimal("0." + frac)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        hh, mm = int(zone[1:3]), int(zone[4:6])
        seconds -= sign * (hh * 3600 + mm * 60)
    return seconds


def _parse_binary(v):
    if not isinstance(v, str):
        return None
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return None


def _compare(cmp, a, b):
    if cmp == "eq":
        return a == b
    if cmp == "lt":
        return a < b
    if cmp == "le":
        return a <= b
    if cmp == "gt":
        return a > b
    if cmp == "ge":
        return a >= b
    raise ValueError(cmp)


def _split_arn_chars(chars):
    """Split on the first five colons -> 6 parts, or None."""
    parts = [[]]
    for ch, lit in chars:
        if ch == ":" and len(parts) < 6:
            parts.append([])
        else:
            parts[-1].append((ch, lit))
    if len(parts) != 6:
        return None
    return parts


def _arn_match(pattern_chars, value):
    # "a value that is not a 6-part ARN never matches, except the policy value `*`"
    if pattern_chars == [("*", False)]:
        return True
    if not isinstance(value, str):
        return False
    pparts = _split_arn_chars(pattern_chars)
    vparts = value.split(":", 5)
    if pparts is None or len(vparts) != 6:
        return False
    for pp, vp in zip(pparts, vparts, strict=True):
        if not _glob_match(pp, vp):
            return False
    return True


def _positive_match(family, cmp, request_value, policy_values):
    """The positive operator for one request value: OR over the policy values (AWS "Creating a condition with multiple
    context keys or values").
    policy_values are (char, literal) lists, or None for an unresolved variable, which
    never matches (sem §4)."""
    for pchars in policy_values:
        if pchars is None:
            continue
        ptext = _chars_text(pchars)
        if family == "string":
            r = _str(request_value)
            if cmp == "eq" and r == ptext:
                return True
            if cmp == "ieq" and r.lower() == ptext.lower():
                return True
            if cmp == "like" and _glob_match(pchars, r):
                return True
        elif family == "numeric":
            a, b = _parse_number(request_value), _parse_number(ptext)
            if a is not None and b is not None and _compare(cmp, a, b):
                return True
        elif family == "date":
            a, b = _parse_date(request_value), _parse_date(ptext)
            if a is not None and b is not None and _compare(cmp, a, b):
                return True
        elif family == "bool":
            # "Bool compares lower-case text"
            if _str(request_value).lower() == ptext.lower():
                return True
        elif family == "binary":
            a, b = _parse_binary(request_value), _parse_binary(ptext)
            if a is not None and b is not None and a == b:
                return True
        elif family == "ip":
            try:
                addr = ipaddress.ip_address(_str(request_value))
            except ValueError:
                continue
            # a bare address is /32 or /128
            net = ipaddress.ip_network(ptext, strict=False)
            if addr.version == net.version and addr in net:
                return True
        elif family == "arn":
            if _arn_match(pchars, request_value):
                return True
        else:
            raise ValueError(family)
    return False


def _policy_value_chars(family, raw_value, version, ctx):
    text = _str(raw_value)
    if version == V2012 and family in _VARIABLE_FAMILIES:
        return _substitute(text, ctx)
    return _chars(text)


def _key_test(operator, key, raw_policy_values, ctx, version):
    """One (operator, key) pair of a Condition block.  May raise _Ambiguous."""
    prefix, base, if_exists = _parse_operator(operator)
    family, cmp, negated = _OPERATORS[base]
    values, ambiguous = ctx.values(key)
    policy_values = _as_list(raw_policy_values)

    if family == "null":
        # "Null": "true" -> true iff the key is absent; "false" -> true iff present
        absent = len(values) == 0
        return any(absent == (_str(v).lower() == "true") for v in policy_values)

    if not values:
        # missing key (an empty list counts as missing), sem §4
        if if_exists:
            return True
        if prefix == "ForAllValues":
            return True
        if prefix == "ForAnyValue":
            return False
        return negated

    if ambiguous and prefix is None:
        # two keys differing only by case without a set prefix (sem §4 choice)
        raise _Ambiguous(key)

    pvals = [_policy_value_chars(family, v, version, ctx) for v in policy_values]

    def test(r):
        hit = _positive_match(family, cmp, r, pvals)
        return (not hit) if negated else hit  # negated = NOR over policy values

    if prefix == "ForAllValues":
        return all(test(r) for r in values)
    if prefix == "ForAnyValue":
        return any(test(r) for r in values)
    # no set prefix: positive -> any request value matches; negated -> none matches
    if negated:
        return all(test(r) for r in values)
    return any(test(r) for r in values)


def _condition_true(condition, ctx, version, effect):
    """AND over operators and over keys (AWS "Creating a condition with multiple context keys or values").  Fail closed
    per key test: anything
    ambiguous or unexpected counts as not met in an Allow and met in a Deny."""
    if not condition:
        return True
    for operator, body in condition.items():
        for key, raw_values in (body or {}).items():
            try:
                ok = _key_test(operator, key, raw_values, ctx, version)
            except Exception:  # _Ambiguous or anything unexpected
                ok = effect == "Deny"
            if not ok:
                return False
    return True


def _condition_keys(condition, version):
    """Every condition key and every policy-variable key (without default) a statement's
    Condition refers to (sem §5)."""
    keys = []
    for operator, body in (condition or {}).items():
        try:
            _, base, _ = _parse_operator(operator)
            family = _OPERATORS[base][0]
        except ValueError:
            family = None
        for key, raw_values in (body or {}).items():
            keys.append(key)
            if version == V2012 and family in _VARIABLE_FAMILIES:
                for v in _as_list(raw_values):
                    keys += _variable_keys_without_default(_str(v))
    return keys


# ---------------------------------------------------------------------------
# Principal element (sem §2, AWS "AWS JSON policy elements: Principal")
# ---------------------------------------------------------------------------

# strength of the name under which a resource policy allowed the caller (sem §3 step 6)
_FULL, _PARTIAL, _ACCOUNT = "full", "partial", "account"
_STRENGTH = {_FULL: 3, _PARTIAL: 2, _ACCOUNT: 1}


def _is_account_name(caller, value):
    # "An account is named as "A" or "arn:aws:iam::A:root""
    acct = caller["account"]
    if acct is None or caller["kind"] in ("service", "anonymous", "webid"):
        return False
    return value == acct or value == _account_arn(caller, acct)


def _aws_value_naming(caller, value):
    """How a single `AWS` principal value names the caller (None if it does not)."""
    kind = caller["kind"]
    if value == "*":
        return _FULL  # "*" and {"AWS": "*"} match every principal
    if kind in ("service", "webid", "anonymous"):
        return None
    if _is_account_name(caller, value):
        return _ACCOUNT
    if kind == "user" and (value == caller["arn"] or (caller["id"] is not None and value == caller["id"])):
        return _FULL  # the user ARN or id, caller is that user
    if kind == "session" and value == caller["arn"]:
        return _FULL  # the session ARN
    if kind == "feduser" and value == caller["arn"]:
        return _FULL  # the federated-user ARN
    if kind in ("role", "session") and (
        value == caller["role_arn"] or (caller["id"] is not None and value == caller["id"])
    ):
        return _PARTIAL  # the role ARN or id
    if kind == "feduser" and caller["parent_user_arn"] is not None and value == caller["parent_user_arn"]:
        return _PARTIAL  # the parent user of a federated user
    return None


def _principal_namings(element, caller):
    """All the ways a `Principal` element names the caller (empty set: no match)."""
    namings = set()
    if element == "*":
        namings.add(_FULL)
        return namings
    if not isinstance(element, dict):
        return namings
    for key, raw in element.items():  # several keys are OR-ed
        for value in _as_list(raw):
            if key == "AWS":
                n = _aws_value_naming(caller, value)
                if n is not None:
                    namings.add(n)
            elif key == "Service":
                if caller["kind"] == "service" and value == caller["service"]:
                    namings.add(_FULL)
            elif key == "Federated":
                if caller["kind"] == "webid" and value == caller["provider"]:
                    namings.add(_FULL)
            # CanonicalUser never names our callers
    return namings


def _caller_identities(caller):
    """For NotPrincipal: each identity of the caller, as a list of the (key, value)
    spellings that list it (sem §2 NotPrincipal)."""
    kind = caller["kind"]
    ids = []
    if kind in ("root", "user", "role", "session", "feduser"):
        acct = caller["account"]
        ids.append([("AWS", acct), ("AWS", _account_arn(caller, acct))])
    if kind == "user":
        ent = [("AWS", caller["arn"])]
        if caller["id"] is not None:
            ent.append(("AWS", caller["id"]))
        ids.append(ent)
    if kind in ("role", "session"):
        ent = [("AWS", caller["role_arn"])]
        if caller["id"] is not None:
            ent.append(("AWS", caller["id"]))
        ids.append(ent)
    if kind == "session":
        ids.append([("AWS", caller["arn"])])
    if kind == "feduser":
        ids.append([("AWS", caller["arn"])])
        # "for a federated user, the account, its ARN and (when known) the IAM user that
        # created it"
        if caller["parent_user_arn"] is not None:
            ids.append([("AWS", caller["parent_user_arn"])])
    if kind == "service":
        ids.append([("Service", caller["service"])])
    if kind == "webid":
        ids.append([("Federated", caller["provider"])])
    if kind == "anonymous":
        ids.append([])  # answers only to "*"
    return ids


def _not_principal_applies(element, caller, has_boundary):
    # "whatever is listed, it applies to every principal that has a permissions boundary"
    if has_boundary:
        return True
    if element == "*":
        return False
    listed = set()
    if isinstance(element, dict):
        for key, raw in element.items():
            for value in _as_list(raw):
                listed.add((key, value))
    if ("AWS", "*") in listed:
        return False
    # applies unless every identity of the caller is listed
    for spellings in _caller_identities(caller):
        if not any(sp in listed for sp in spellings):
            return True
    return False


# ---------------------------------------------------------------------------
# policies
# ---------------------------------------------------------------------------


def _make_policy(entry, ptype, default_id):
    entry = _load(entry)
    kind = None
    pid = default_id
    if isinstance(entry, dict) and "document" in entry:
        doc = _load(entry["document"])
        if entry.get("id") is not None:
            pid = entry["id"]
        kind = entry.get("kind")
    else:
        doc = entry
    if ptype == "resource":
        kind = kind if kind in RESOURCE_KINDS else "resource"
    else:
        kind = ptype
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    return {"id": pid, "type": ptype, "kind": kind, "version": doc.get("Version"), "statements": statements or []}


def _gather_policies(pols):
    pols = pols or {}
    out = {"identity": [], "boundary": None, "session": [], "resource": None, "scp": [], "rcp": []}
    for i, e in enumerate(pols.get("identity") or [], 1):
        out["identity"].append(_make_policy(e, "identity", "identity.%d" % i))
    if pols.get("boundary") is not None:
        out["boundary"] = _make_policy(pols["boundary"], "boundary", "boundary.1")
    for i, e in enumerate(pols.get("session") or [], 1):
        out["session"].append(_make_policy(e, "session", "session.%d" % i))
    if pols.get("resource") is not None:
        out["resource"] = _make_policy(pols["resource"], "resource", "resource.1")
    for t in ("scp", "rcp"):
        for lv, level in enumerate(pols.get(t) or [], 1):
            out[t].append([_make_policy(e, t, "%s.%d.%d" % (t, lv, i)) for i, e in enumerate(level or [], 1)])
    return out


# ---------------------------------------------------------------------------
# statement evaluation
# ---------------------------------------------------------------------------


def _evaluate_statement(policy, index, stmt, caller, action, resource, ctx, has_boundary):
    """-> record dict: applies, effect, naming, keys (missing-key candidates or [])."""
    version = policy["version"]
    effect = stmt.get("Effect")
    rec = {"policy": policy, "index": index, "effect": effect, "applies": False, "naming": None, "keys": []}

    # 1. principal: resource-based policies and RCPs only (sem §1)
    if policy["type"] in ("resource", "rcp"):
        if "Principal" in stmt:
            namings = _principal_namings(stmt["Principal"], caller)
            if not namings:
                return rec
            rec["naming"] = max(namings, key=lambda n: _STRENGTH[n])
        elif "NotPrincipal" in stmt:
            if not _not_principal_applies(stmt["NotPrincipal"], caller, has_boundary):
                return rec
            rec["naming"] = _ACCOUNT  # choice of this oracle: no shortcut by itself
        else:
            rec["naming"] = _FULL  # no Principal element (RCP): everyone

    # 2. action (case-insensitive glob); NotAction applies when no pattern matches
    if "Action" in stmt:
        action_ok = any(_action_matches(p, action) for p in _as_list(stmt["Action"]))
    elif "NotAction" in stmt:
        action_ok = not any(_action_matches(p, action) for p in _as_list(stmt["NotAction"]))
    else:
        action_ok = False
    if not action_ok:
        return rec

    # missing context keys: every key referenced by a statement whose action (and
    # principal) matched (sem §5)
    keys = _condition_keys(stmt.get("Condition"), version)
    for field in ("Resource", "NotResource"):
        for entry in _as_list(stmt.get(field)):
            keys += _resource_part_variable_keys(entry, version)
    rec["keys"] = keys

    # 3. resource (case-sensitive glob); no Resource element in a resource-based policy
    #    or RCP: any resource
    if "Resource" in stmt:
        resource_ok = any(_resource_entry_matches(e, resource, version, ctx) for e in _as_list(stmt["Resource"]))
    elif "NotResource" in stmt:
        resource_ok = not any(_resource_entry_matches(e, resource, version, ctx) for e in _as_list(stmt["NotResource"]))
    else:
        resource_ok = True
    if not resource_ok:
        return rec

    # 4. condition
    if not _condition_true(stmt.get("Condition"), ctx, version, effect):
        return rec
    rec["applies"] = True
    return rec


def _is_protected(action, resource):
    """sem §3 step 1, guard rails."""
    a = action.lower()
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "kms":
        # KMS keeps the alias/aws/ prefix for AWS managed keys (AWS KMS Developer Guide, "Create aliases")
        return parts[5].startswith("alias/aws/") and a in ("kms:createalias", "kms:updatealias", "kms:deletealias")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        return False
    account, res = parts[4], parts[5]
    policy_actions = [
        "iam:createpolicyversion",
        "iam:deletepolicyversion",
        "iam:setdefaultpolicyversion",
        "iam:deletepolicy",
        "iam:tagpolicy",
        "iam:untagpolicy",
    ]
    role_actions = [
        "iam:deleterole",
        "iam:updaterole",
        "iam:updateassumerolepolicy",
        "iam:putrolepolicy",
        "iam:deleterolepolicy",
        "iam:attachrolepolicy",
        "iam:detachrolepolicy",
        "iam:putrolepermissionsboundary",
        "iam:deleterolepermissionsboundary",
        "iam:tagrole",
        "iam:untagrole",
    ]
    if account == "aws" and res.startswith("policy/") and a in policy_actions:
        return True
    if res.startswith("role/aws-service-role/") and a in role_actions:
        return True
    if res.startswith("role/aws-reserved/") and a in role_actions + ["iam:updateroledescription"]:
        return True
    return False


def _analyse(request):
    caller = _parse_principal(request["principal"])
    action = request["action"]
    resource, res_account, res_tags = _parse_resource(request.get("resource"), caller)
    ctx = _build_context(request.get("context"), caller, res_account, res_tags)
    pols = _gather_policies(request.get("policies"))
    has_boundary = pols["boundary"] is not None
    slr = _is_service_linked(caller)

    # sem §3 step 4: SCPs/RCPs do not apply to service-linked roles; SCPs never apply to
    # service principals and anonymous callers; sem §2: "no identity policy or SCP
    # concerns" service, anonymous and web-identity/SAML callers.
    scp_applies = bool(pols["scp"]) and not slr and caller["kind"] not in ("service", "anonymous", "webid")
    rcp_applies = bool(pols["rcp"]) and not slr

    considered = []
    if caller["kind"] not in ("service", "anonymous", "webid"):
        # sem §2: "no identity policy or SCP concerns" service, anonymous and
        # web-identity/SAML callers
        considered += pols["identity"]
        if pols["boundary"] is not None:
            considered.append(pols["boundary"])
        considered += pols["session"]
    if pols["resource"] is not None:
        considered.append(pols["resource"])
    if scp_applies:
        for level in pols["scp"]:
            considered += level
    if rcp_applies:
        for level in pols["rcp"]:
            considered += level

    records = {}  # id(policy) -> list of records
    all_records = []
    for policy in considered:
        recs = []
        for index, stmt in enumerate(policy["statements"]):
            rec = _evaluate_statement(policy, index, stmt, caller, action, resource, ctx, has_boundary)
            recs.append(rec)
            all_records.append(rec)
        records[id(policy)] = recs

    def allow_recs(policy):
        return [r for r in records[id(policy)] if r["applies"] and r["effect"] == "Allow"]

    def any_allow(policies):
        return any(allow_recs(p) for p in policies)

    # --- missing context keys (sem §5)
    missing = set()
    for rec in all_records:
        for key in rec["keys"]:
            if not ctx.present(key):
                missing.add(key.lower())

    # --- step 1: guard rails
    protected = _is_protected(action, resource)

    # --- step 3: explicit deny in any policy given
    explicit = set()
    deny_matched = []
    allow_matched = []
    for rec in all_records:
        if not rec["applies"]:
            continue
        pair = (rec["policy"]["id"], rec["index"])
        if rec["effect"] == "Deny":
            explicit.add(rec["policy"]["kind"])
            deny_matched.append(pair)
        elif rec["effect"] == "Allow":
            allow_matched.append(pair)

    # --- steps 4-10: implicit denies; every type that blocks is collected
    implicit = []
    if rcp_applies and not all(any_allow(level) for level in pols["rcp"]):
        implicit.append("rcp")
    if scp_applies and not all(any_allow(level) for level in pols["scp"]):
        implicit.append("scp")

    res_policy = pols["resource"]
    res_kind = res_policy["kind"] if res_policy is not None else "resource"
    res_allows = allow_recs(res_policy) if res_policy is not None else []
    kind = caller["kind"]
    same_account = caller["account"] is not None and caller["account"] == res_account

    def side_p(identity_needed):
        # identity (step 8), boundary (step 9), session (step 10)
        if identity_needed and not any_allow(pols["identity"]):
            implicit.append("identity")
        if pols["boundary"] is not None and not any_allow([pols["boundary"]]):
            implicit.append("boundary")
        if kind in ("session", "role", "feduser"):
            if pols["session"]:
                if not any_allow(pols["session"]):
                    implicit.append("session")
            elif kind == "feduser":
                # a federated user with no session policy passed gets nothing
                implicit.append("session")

    if kind in ("service", "anonymous", "webid"):
        # step 7: no side P; only the resource-based policy can allow them
        if not res_allows:
            implicit.append(res_kind)
    elif kind == "root":
        if same_account:
            # step 5: root, same account: allowed -- "except that a trust or key policy
            # must still allow it (step 6)"
            if res_kind in ("trust", "key") and not res_allows:
                implicit.append(res_kind)
        elif not res_allows:
            implicit.append(res_kind)  # step 7 side R; root needs no identity
    elif same_account:
        # step 6
        naming = None
        if res_allows:
            naming = max((r["naming"] for r in res_allows), key=lambda n: _STRENGTH[n])
        if res_kind in ("trust", "key") and not res_allows:
            implicit.append(res_kind)  # trust/key must always allow the caller
        if naming != _FULL:
            side_p(identity_needed=(naming != _PARTIAL))
    else:
        # step 7: cross account, both sides
        if not res_allows:
            implicit.append(res_kind)
        side_p(identity_needed=True)

    getcalleridentity = action.lower() == "sts:getcalleridentity"
    return {
        "caller": caller,
        "resource_display": resource,
        "protected": protected,
        "explicit": explicit,
        "implicit": implicit,
        "deny_matched": deny_matched,
        "allow_matched": allow_matched,
        "missing": missing,
        "getcalleridentity": getcalleridentity,
    }


def decide(request):
    a = _analyse(request)
    if a["getcalleridentity"] and not a["protected"]:
        # sem §3 step 2: always allowed, even against an explicit deny
        decision, blocking, matched = "allowed", set(), a["allow_matched"]
    else:
        blocking = set(a["explicit"]) | set(a["implicit"])
        if a["protected"]:
            blocking.add("protected")
        if a["protected"] or a["explicit"]:
            decision, matched = "explicitDeny", a["deny_matched"]
        elif a["implicit"]:
            decision, matched = "implicitDeny", []
        else:
            decision, matched = "allowed", a["allow_matched"]
    return {
        "decision": decision,
        "blockingPolicyTypes": sorted(blocking),
        "matchedStatements": sorted([list(p) for p in set(matched)]),
        "missingContextKeys": sorted(a["missing"]),
    }


_EXPLICIT_TEXT = {
    "scp": "with an explicit deny in a service control policy",
    "rcp": "with an explicit deny in a resource control policy",
    "trust": "with an explicit deny in the role trust policy",
    "key": "with an explicit deny in a resource-based policy",
    "resource": "with an explicit deny in a resource-based policy",
    "identity": "with an explicit deny in an identity-based policy",
    "boundary": "with an explicit deny in a permissions boundary",
    "session": "with an explicit deny in a session policy",
}

_IMPLICIT_TEXT = {
    "rcp": "because no resource control policy allows the {action} action",
    # "An implicit SCP deny ... its message says 'with an explicit deny in a service control policy'"
    "scp": "with an explicit deny in a service control policy",
    "trust": "because no role trust policy allows the {action} action",
    "key": "because no resource-based policy allows the {action} action",
    "resource": "because no resource-based policy allows the {action} action",
    "identity": "because no identity-based policy allows the {action} action",
    "boundary": "because no permissions boundary allows the {action} action",
    "session": "because no session policy allows the {action} action",
}

# sem §3: "The message names one, in this order"
_EXPLICIT_ORDER = ["scp", "rcp", "trust", "key", "resource", "identity", "boundary", "session"]
_IMPLICIT_ORDER = ["rcp", "scp", "trust", "key", "resource", "identity", "boundary", "session"]


def message(request, result):
    if result["decision"] == "allowed":
        return None
    a = _analyse(request)
    action = request["action"]
    raw_resource = request.get("resource")
    if isinstance(raw_resource, dict):
        shown = raw_resource.get("arn") or "*"
    elif raw_resource is None:
        shown = "*"
    else:
        shown = raw_resource
    head = "User: %s is not authorized to perform: %s on resource: %s " % (_message_arn(a["caller"]), action, shown)
    if a["protected"]:
        return head + "because the resource is managed by AWS and cannot be changed"
    for t in _EXPLICIT_ORDER:
        if t in a["explicit"]:
            return head + _EXPLICIT_TEXT[t]
    for t in _IMPLICIT_ORDER:
        if t in a["implicit"]:
            return head + _IMPLICIT_TEXT[t].format(action=action)
    return None
