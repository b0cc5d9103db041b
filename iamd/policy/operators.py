"""The condition operators IAM knows, and how their values are read.

One table says, for every base operator, its family, whether it is a negation, and
whether policy variables are substituted in its values. Validation and evaluation both
read it, so the two can never disagree about what an operator is.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import ipaddress
import math
import re
from dataclasses import dataclass
from enum import Enum

from .legacy_dates import MAX_EPOCH, lenient_epoch

__all__ = [
    "BASE_OPERATORS",
    "Family",
    "OperatorInfo",
    "ParsedOperator",
    "parse_binary",
    "parse_date",
    "parse_ip_network",
    "parse_ip_address",
    "parse_number",
    "parse_operator",
]


class Family(Enum):
    STRING = "string"
    NUMERIC = "numeric"
    DATE = "date"
    BOOL = "bool"
    BINARY = "binary"
    IP = "ip"
    ARN = "arn"
    NULL = "null"


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    family: Family
    negated: bool
    # policy variables substituted in values (AWS "IAM policy elements: Variables and tags" (where you can use policy
    # variables))
    variables: bool
    compare: str  # the comparison inside the family: eq, eq_ci, like, lt, le, gt, ge


def _ops() -> dict[str, OperatorInfo]:
    table: dict[str, OperatorInfo] = {}
    S, N, D = Family.STRING, Family.NUMERIC, Family.DATE
    for name, cmp_, neg in (
        ("StringEquals", "eq", False),
        ("StringNotEquals", "eq", True),
        ("StringEqualsIgnoreCase", "eq_ci", False),
        ("StringNotEqualsIgnoreCase", "eq_ci", True),
        ("StringLike", "like", False),
        ("StringNotLike", "like", True),
    ):
        table[name] = OperatorInfo(S, neg, True, cmp_)
    for fam, prefix in ((N, "Numeric"), (D, "Date")):
        for suffix, cmp_, neg in (
            ("Equals", "eq", False),
            ("NotEquals", "eq", True),
            ("LessThan", "lt", False),
            ("LessThanEquals", "le", False),
            ("GreaterThan", "gt", False),
            ("GreaterThanEquals", "ge", False),
        ):
            table[prefix + suffix] = OperatorInfo(fam, neg, False, cmp_)
    table["Bool"] = OperatorInfo(Family.BOOL, False, True, "eq")
    table["BinaryEquals"] = OperatorInfo(Family.BINARY, False, False, "eq")
    table["IpAddress"] = OperatorInfo(Family.IP, False, False, "in")
    table["NotIpAddress"] = OperatorInfo(Family.IP, True, False, "in")
    for name, neg in (("ArnEquals", False), ("ArnLike", False), ("ArnNotEquals", True), ("ArnNotLike", True)):
        table[name] = OperatorInfo(Family.ARN, neg, True, "like")
    table["Null"] = OperatorInfo(Family.NULL, False, False, "null")
    return table


BASE_OPERATORS: dict[str, OperatorInfo] = _ops()


@dataclass(frozen=True, slots=True)
class ParsedOperator:
    name: str  # as written
    base: str
    info: OperatorInfo
    set_op: str | None  # "ForAllValues" | "ForAnyValue" | None
    if_exists: bool


def parse_operator(name: str) -> ParsedOperator | None:
    """Split ``ForAnyValue:StringLikeIfExists`` into its parts; None if unknown."""
    set_op: str | None = None
    rest = name
    for prefix in ("ForAllValues:", "ForAnyValue:"):
        if rest.startswith(prefix):
            set_op = prefix[:-1]
            rest = rest[len(prefix) :]
            break
    if_exists = rest.endswith("IfExists")
    base = rest[: -len("IfExists")] if if_exists else rest
    info = BASE_OPERATORS.get(base)
    if info is None:
        return None
    if info.family is Family.NULL and (set_op or if_exists):
        return None
    return ParsedOperator(name, base, info, set_op, if_exists)


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def parse_number(text: str) -> float | None:
    t = text.strip()
    if not _NUMBER.fullmatch(t):
        return None
    value = float(t)
    return value if math.isfinite(value) else None


_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_EPOCH = re.compile(r"-?\d+")


def parse_date(text: str) -> float | None:
    """Epoch seconds for a W3C ISO 8601 date/time or an integer epoch; else None.

    Missing parts are the start of the period; a missing zone is UTC (iamd's choice;
    AWS "IAM JSON policy elements: Condition operators" (date) marks the default unconfirmed).
    """
    t = text.strip()
    if len(t) > 64:
        return None
    if _EPOCH.fullmatch(t) and len(t.lstrip("-")) != 4:  # a bare 4-digit number is a year
        epoch = int(t)
        return float(epoch) if abs(epoch) <= MAX_EPOCH else None  # AWS: a signed 64-bit epoch
    m = _DATE.fullmatch(t)
    if m is None:
        # The forms IAM's parser also accepts (01T, one-digit hours, +hh offsets): legacy_dates.
        return lenient_epoch(t)
    year = int(m["y"])
    month = int(m["mo"] or 1)
    day = int(m["d"] or 1)
    hour = int(m["h"] or 0)
    minute = int(m["mi"] or 0)
    second = int(m["s"] or 0)
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 60:
        return None
    seconds = float(calendar.timegm((year, month, day, hour, minute, min(second, 59), 0, 0, 0)))
    if second == 60:
        seconds += 1
    if m["f"]:
        seconds += float("0." + m["f"])
    tz = m["tz"]
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        th, tm = int(tz[1:3]), int(tz[4:6])
        if th > 23 or tm > 59:
            return None
        seconds -= sign * (th * 3600 + tm * 60)
    return seconds


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip_network(text: str) -> IpNetwork | None:
    """A CIDR block; a bare address is a /32 (IPv4) or /128 (IPv6) network."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def parse_ip_address(text: str) -> IpAddr | None:
    t = text.strip()
    try:
        return ipaddress.ip_address(t)
    except ValueError:
        net = parse_ip_network(t)  # a context value written as x.x.x.x/32
        if net is not None and net.num_addresses == 1:
            return net.network_address
        return None


def parse_binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
