"""Policy variables: ``${aws:username}``, ``${key, 'default'}``, ``${*}``, ``${?}``, ``${$}``.

A policy string is parsed once into a :class:`Template`. Under Version ``2012-10-17``
``${…}`` is a variable; under any other version it is plain text (AWS "IAM policy elements: Variables and tags" (the
policy Version)).
Substituted values are literal: a ``*`` inside a user name is not a wildcard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .wildcard import compile_parts

__all__ = ["Literal", "Template", "Var", "parse_template"]

_ESCAPE_VARS = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class Var:
    key: str  # lower-case context key
    default: str | None


@dataclass(frozen=True, slots=True)
class Literal:
    """A character produced by ``${*}``, ``${?}`` or ``${$}``: never a wildcard."""

    text: str


Part = str | Var | Literal  # str: policy text, where * and ? are wildcards for globs


@dataclass(frozen=True, slots=True)
class Template:
    raw: str
    parts: tuple[Part, ...]

    @property
    def has_vars(self) -> bool:
        return any(not isinstance(p, str) for p in self.parts)

    @property
    def required_keys(self) -> frozenset[str]:
        """Keys of variables without a default."""
        return frozenset(p.key for p in self.parts if isinstance(p, Var) and p.default is None)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(p.key for p in self.parts if isinstance(p, Var))

    def _value(self, part: Var, ctx: Mapping[str, tuple[str, ...]]) -> str | None:
        values = ctx.get(part.key)
        if not values:
            return part.default
        if len(values) != 1:
            return None  # multivalued keys cannot be variables
        return values[0]

    def resolve_parts(self, ctx: Mapping[str, tuple[str, ...]]) -> list[tuple[str, bool]] | None:
        """``[(text, is_pattern_text)]`` with variables resolved; None if one cannot be."""
        out: list[tuple[str, bool]] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append((p, True))
            elif isinstance(p, Literal):
                out.append((p.text, False))
            else:
                value = self._value(p, ctx)
                if value is None:
                    return None
                out.append((value, False))
        return out

    def resolve_text(self, ctx: Mapping[str, tuple[str, ...]]) -> str | None:
        """The substituted string (for equality operators)."""
        parts = self.resolve_parts(ctx)
        return None if parts is None else "".join(t for t, _ in parts)

    def matches(self, value: str, ctx: Mapping[str, tuple[str, ...]]) -> bool:
        """Whether ``value`` matches the glob, wildcards only where the policy wrote them."""
        parts = self.resolve_parts(ctx)
        return parts is not None and bool(compile_parts(parts)(value))


def _with_default(body: str) -> Var | None:
    """``key, 'default'`` (spaces allowed around both) as a variable, or None."""
    key, comma, rest = body.partition(",")
    key, rest = key.strip(), rest.strip()
    if not comma or not key or len(rest) < 2 or rest[0] != "'" or rest[-1] != "'" or "'" in rest[1:-1]:
        return None
    return Var(key.lower(), rest[1:-1])


def parse_template(text: str, variables_enabled: bool) -> Template:
    if not variables_enabled or "${" not in text:
        return Template(text, (text,))
    parts: list[Part] = []
    pos = 0
    # Plain string searches, no regex: each '${' pairs with the first '}' after it.
    while (start := text.find("${", pos)) >= 0 and (end := text.find("}", start + 2)) >= 0:
        if start > pos:
            parts.append(text[pos:start])
        body = text[start + 2 : end]
        if body in _ESCAPE_VARS:
            parts.append(Literal(_ESCAPE_VARS[body]))
        else:
            default = _with_default(body)
            parts.append(Var(body.strip().lower(), None) if default is None else default)
        pos = end + 1
    if pos < len(text):
        parts.append(text[pos:])
    return Template(text, tuple(parts))
