"""AWS Query requests: flat form parameters in, botocore-shaped input ``dict`` out.

:func:`parse_request` is the inverse of botocore's ``QuerySerializer``: ``UserName=Bob``,
``Tags.member.1.Key=k``, ``Properties.entry.1.key=k``, ``Names=`` (an empty list) become
exactly the ``dict`` a boto3 caller passed (``str``, ``int``, ``bool``, ``datetime``,
``bytes``, ``list``, ``dict``), then every model constraint is checked and all violations
are reported at once as :class:`iamd.errors.ValidationError` (see :mod:`.constraints`).

Each operation's input shape is compiled once into a tree of nodes (cached in the
:class:`~iamd.protocol.models.Service`); a request is then one pass over its parameters
(each dotted name is walked down the tree, unknown names are dropped) and one pass over
the tree (convert, check). Decisions:

* ``Version`` must be the service's API version exactly; anything else, or none, is
  ``InvalidAction`` "Could not find operation <Action> for version <Version>"
  (``NO_VERSION_SPECIFIED`` when absent). ``Action`` is case-sensitive.
* Unknown parameters are ignored, as are names that do not fit the shape
  (``Tags.member.x.Key``, ``UserName.extra``): clients may send more than we model.
* List and map indexes are decimal, from 1 to ``max(INDEX_LIMIT, the model's max)``;
  elements are ordered by index and gaps are closed. A bigger or zero index is a
  ValidationError ("Member index must be between 1 and …"): an index never allocates.
* Scalars convert as :mod:`.scalars` describes; a value that does not convert is a
  ValidationError item ("Member must be a valid integer"), like any other violation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import unquote_plus

from iamd.errors import InvalidAction, MissingAction
from iamd.protocol.constraints import Rules, Violations, lower_camel, rules_for
from iamd.protocol.models import OperationModel, Service
from iamd.protocol.scalars import CONVERTERS, SURROGATES, Mismatch

__all__ = ["INDEX_LIMIT", "NO_VERSION", "compile_operation", "decode_form", "parse_request"]

INDEX_LIMIT: Final = 1000
NO_VERSION: Final = "NO_VERSION_SPECIFIED"
_MISSING: Final = object()
_DEPTH_CAP: Final = 64  # for (hypothetical) recursive input shapes


def _collect_phrases(found: list[str], phrases: tuple[str, ...] | list[str]) -> None:
    for phrase in phrases:
        if phrase not in found:
            found.append(phrase)


# -- the compiled input tree ---------------------------------------------------------------
class _Scalar:
    __slots__ = ("check", "convert", "sensitive")

    def __init__(self, shape: Any, rules: Rules | None) -> None:
        self.sensitive = bool(shape.metadata.get("sensitive"))
        self.convert = CONVERTERS[shape.type_name]
        self.check: Callable[[Any], tuple[str, ...] | list[str]] | None = None
        if rules is not None:
            kind = shape.type_name
            self.check = rules.check_string if kind in ("string", "character") else rules.check

    def finish(self, raw: str, path: str, found: Violations) -> Any:
        try:
            value = self.convert(raw)
        except Mismatch as mismatch:
            found.add(path, raw, mismatch.phrase, sensitive=self.sensitive)
            return raw
        if self.check is not None:
            for phrase in self.check(value):
                found.add(path, value, phrase, sensitive=self.sensitive)
        return value

    def convert_into(self, raw: str, phrases: list[str]) -> Any:
        """Convert ``raw``, adding violated phrases to ``phrases`` (list and map elements)."""
        try:
            value = self.convert(raw)
        except Mismatch as mismatch:
            _collect_phrases(phrases, (mismatch.phrase,))
            return raw
        if self.check is not None:
            _collect_phrases(phrases, self.check(value))
        return value


class _Member:
    __slots__ = ("camel", "name", "node", "required", "wire")

    def __init__(self, name: str, wire: str, node: _Node, required: bool) -> None:
        self.name, self.wire, self.camel, self.node, self.required = name, wire, lower_camel(name), node, required


class _Struct:
    __slots__ = ("by_wire", "members", "sensitive")

    def __init__(self) -> None:
        self.sensitive = False
        self.members: tuple[_Member, ...] = ()
        self.by_wire: dict[str, _Member] = {}

    def finish(self, raw: dict[str, Any], path: str, found: Violations) -> dict[str, Any]:
        out: dict[str, Any] = {}
        prefix = path + "." if path else ""
        for member in self.members:
            value = raw.get(member.name, _MISSING)
            if value is _MISSING:
                if member.required:
                    found.add_null(prefix + member.camel, sensitive=member.node.sensitive)
                continue
            out[member.name] = member.node.finish(value, prefix + member.camel, found)
        return out


class _List:
    __slots__ = ("item", "limit", "rules", "sensitive", "wire")
    item: _Node  # set by _compile once the node is memoized

    def __init__(self, shape: Any, rules: Rules | None) -> None:
        self.sensitive = False
        self.rules = rules
        self.wire: str = shape.member.serialization.get("name", "member")
        self.limit = max(INDEX_LIMIT, int(shape.metadata.get("max", 0)))

    def finish(self, raw: dict[int, Any], path: str, found: Violations) -> list[Any]:
        item = self.item
        if isinstance(item, _Scalar):
            phrases: list[str] = []
            values = [item.convert_into(raw[index], phrases) for index in sorted(raw)]
            if phrases:
                found.add(path, values, f"Member must satisfy constraint: [{', '.join(phrases)}]")
        else:
            values = [item.finish(raw[index], f"{path}.{index}.member", found) for index in sorted(raw)]
        if self.rules is not None:
            for phrase in self.rules.check_length(len(values)):
                found.add(path, values, phrase)
        return values


class _Map:
    __slots__ = ("key", "key_wire", "limit", "rules", "sensitive", "value", "value_wire")
    value: _Node  # set by _compile once the node is memoized

    def __init__(self, shape: Any, rules: Rules | None) -> None:
        self.sensitive = False
        self.rules = rules
        self.key_wire: str = shape.key.serialization.get("name", "key")
        self.value_wire: str = shape.value.serialization.get("name", "value")
        self.limit = max(INDEX_LIMIT, int(shape.metadata.get("max", 0)))
        self.key = _Scalar(shape.key, rules_for(shape.key))

    def finish(self, raw: dict[tuple[int, int], Any], path: str, found: Violations) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        key_phrases: list[str] = []
        value_phrases: list[str] = []
        for index in sorted({index for index, _ in raw}):
            key_text, value_raw = raw.get((index, 0)), raw.get((index, 1), _MISSING)
            if key_text is None or value_raw is _MISSING:
                found.add_null(f"{path}.{index}.entry.{'key' if key_text is None else 'value'}")
                continue
            key = self.key.convert_into(key_text, key_phrases)
            if isinstance(self.value, _Scalar):
                out[key] = self.value.convert_into(value_raw, value_phrases)
            else:
                out[key] = self.value.finish(value_raw, f"{path}.{key}.member", found)
        if key_phrases:
            found.add(path, out, f"Map keys must satisfy constraint: [{', '.join(key_phrases)}]")
        if value_phrases:
            found.add(path, out, f"Map value must satisfy constraint: [{', '.join(value_phrases)}]")
        if self.rules is not None:
            for phrase in self.rules.check_length(len(out)):
                found.add(path, out, phrase)
        return out


_Node = _Scalar | _Struct | _List | _Map


def _compile(shape: Any, memo: dict[str, _Node]) -> _Node:
    """The node for botocore ``shape``; ``memo`` (by shape name) shares and ends recursion."""
    node = memo.get(shape.name)
    if node is not None:
        return node
    kind, rules = shape.type_name, rules_for(shape)
    if shape.serialization.get("flattened"):
        raise ValueError(f"flattened {kind} {shape.name} is not supported (not used by IAM/STS)")
    if kind == "structure":
        struct = _Struct()
        memo[shape.name] = struct
        required = set(shape.required_members)
        struct.members = tuple(
            _Member(name, member.serialization.get("name", name), _compile(member, memo), name in required)
            for name, member in shape.members.items()
        )
        struct.by_wire = {member.wire: member for member in struct.members}
        return struct
    if kind == "list":
        listing = _List(shape, rules)
        memo[shape.name] = listing
        listing.item = _compile(shape.member, memo)
        return listing
    if kind == "map":
        mapping = _Map(shape, rules)
        memo[shape.name] = mapping
        mapping.value = _compile(shape.value, memo)
        return mapping
    if kind not in CONVERTERS:
        raise ValueError(f"unsupported shape type {kind} ({shape.name})")
    node = memo[shape.name] = _Scalar(shape, rules)
    return node


def _depth(node: _Node, active: frozenset[int] = frozenset()) -> int:
    """The most dot-separated tokens a parameter name below ``node`` can have."""
    if id(node) in active:
        return _DEPTH_CAP
    active |= {id(node)}
    if isinstance(node, _Struct):
        return min(_DEPTH_CAP, 1 + max((_depth(member.node, active) for member in node.members), default=0))
    if isinstance(node, _List):
        return min(_DEPTH_CAP, 2 + _depth(node.item, active))
    if isinstance(node, _Map):
        return min(_DEPTH_CAP, 3 + max(_depth(node.key, active), _depth(node.value, active)))
    return 0


class _Plan:
    """One operation's compiled input: the root structure and its deepest name."""

    __slots__ = ("depth", "root")

    def __init__(self, operation: OperationModel) -> None:
        shape = operation.input_shape
        root = _compile(shape, {}) if shape is not None else None
        self.root = root if isinstance(root, _Struct) else None
        self.depth = _depth(self.root) if self.root is not None else 0


# -- parameters to the tree ----------------------------------------------------------------
def _index(token: str, limit: int) -> int | None:
    """``token`` as a list/map index: ``None`` if not a number, ``-1`` if out of range."""
    if not (token.isascii() and token.isdigit()):
        return None
    number = int(token) if len(token) <= 9 else -1
    return number if 1 <= number <= limit else -1


def _resolve(root: _Struct, tokens: list[str], value: str, found: Violations) -> tuple[list[Any], bool] | None:
    """The slot keys for a dotted name, and whether it is an empty list; ``None`` to ignore."""
    node: _Node = root
    steps: list[Any] = []
    path: list[str] = []
    position, count = 0, len(tokens)
    while position < count:
        token = tokens[position]
        if isinstance(node, _Struct):
            member = node.by_wire.get(token)
            if member is None:
                return None
            steps.append(member.name)
            path.append(member.camel)
            node, position = member.node, position + 1
            continue
        if isinstance(node, _Scalar):
            return None
        width = 2 if isinstance(node, _List) else 3
        wire = node.wire if isinstance(node, _List) else "entry"
        if token != wire or position + width > count:
            return None
        index = _index(tokens[position + 1], node.limit)
        if index is None:
            return None
        if index < 0:
            found.add(".".join(path), tokens[position + 1], f"Member index must be between 1 and {node.limit}")
            return None
        if isinstance(node, _List):
            steps.append(index)
            node = node.item
        else:
            side = tokens[position + 2]
            if side not in (node.key_wire, node.value_wire):
                return None
            steps.append((index, 0 if side == node.key_wire else 1))
            node = node.key if side == node.key_wire else node.value
        path.append(f"{index}.member")
        position += width
    if isinstance(node, _Scalar):
        return steps, False
    if isinstance(node, _List) and value == "":
        return steps, True
    return None


def _collect(plan: _Plan, root: _Struct, params: Mapping[str, str], found: Violations) -> dict[str, Any]:
    """Sort the parameters into nested slots (``dict`` per structure, list and map)."""
    slots: dict[str, Any] = {}
    by_wire, depth = root.by_wire, plan.depth
    for key, value in params.items():
        if "." not in key:
            member = by_wire.get(key)
            if member is None:
                continue
            if isinstance(member.node, _Scalar):
                slots[member.name] = value
            elif isinstance(member.node, _List) and value == "":
                slots.setdefault(member.name, {})
            continue
        resolved = _resolve(root, key.split(".", depth), value, found)
        if resolved is None:
            continue
        steps, empty_list = resolved
        target: dict[Any, Any] = slots
        for step in steps[:-1]:
            target = target.setdefault(step, {})
        if empty_list:
            target.setdefault(steps[-1], {})
        else:
            target[steps[-1]] = value
    return slots


# -- entry points --------------------------------------------------------------------------
def compile_operation(service: Service, operation: OperationModel) -> _Plan:
    """The compiled input plan of ``operation``, built once per ``service``."""
    return service.plan("query-input", operation.name, _Plan, operation)


def parse_request(service: Service, params: Mapping[str, str]) -> tuple[OperationModel, dict[str, Any]]:
    """The operation a Query request names and its input, converted and validated.

    ``params`` are the request's query and form parameters, merged and percent-decoded
    (see :func:`decode_form`). Raises ``MissingAction``, ``InvalidAction`` or
    ``ValidationError`` (all :class:`iamd.errors.AwsError`); nothing else.
    """
    action = params.get("Action")
    if not action:
        raise MissingAction("The request must contain the parameter Action.")
    version = params.get("Version")
    operation = service.operation(action)
    if operation is None or version != service.api_version:
        raise InvalidAction(f"Could not find operation {action} for version {version or NO_VERSION}")
    plan = compile_operation(service, operation)
    found = Violations()
    for key, value in params.items():
        if not key.isascii() and SURROGATES.search(key):  # no member has this name; it is not even text
            found.add(key, value, "Parameter names must be valid UTF-8")
    if plan.root is None:
        found.raise_if_any()
        return operation, {}
    slots = _collect(plan, plan.root, params, found)
    result = plan.root.finish(slots, "", found)
    found.raise_if_any()
    return operation, result


def decode_form(query: str | bytes = "", body: str | bytes = b"") -> dict[str, str]:
    """Merge a query string and a form body into the ``params`` of :func:`parse_request`.

    Both are ``application/x-www-form-urlencoded`` (``+`` is a space); body parameters
    win over query parameters of the same name, and a later duplicate over an earlier one.
    Bytes that are not UTF-8 survive as lone surrogates, which :func:`parse_request` then
    rejects with a ValidationError naming the member.
    """
    params: dict[str, str] = {}
    for source in (query, body):
        text = source.decode("utf-8", "surrogateescape") if isinstance(source, bytes) else source
        if text:
            params.update(_form_pairs(text))
    return params


def _form_pairs(text: str) -> list[tuple[str, str]]:
    """``parse_qsl(text, keep_blank_values=True, …)``, without its work on the plain parts."""
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in name or "+" in name:
            name = unquote_plus(name, encoding="utf-8", errors="surrogateescape")
        if "%" in value or "+" in value:
            value = unquote_plus(value, encoding="utf-8", errors="surrogateescape")
        pairs.append((name, value))
    return pairs
