"""Policy variables: ``${aws:username}``, ``${key, 'default'}``, ``${*}``, ``${?}``, ``${$}``.

A policy string is parsed once into a :class:`Template`. Under Version ``2012-10-17``
``${…}`` is a variable; under any other version it is plain text (AWS "IAM policy elements: Variables and tags" (the
policy Version)).
Substituted values are literal: a ``*`` inside a user name is not a wildcard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .wildcard import compile_parts, star_match

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
    # No ${*}/${?}/${$} and no '?' in the policy text: with variable values free of wildcard
    # characters, the substituted text is itself the glob (matches needs no compile_parts).
    _star_only: bool = field(init=False, repr=False, compare=False)
    _stars: int = field(init=False, repr=False, compare=False)  # the '*'s of the policy text
    # One variable: (text before it, its key, its default, text after it), for resolve_text
    _one: tuple[str, str, str | None, str] | None = field(init=False, repr=False, compare=False)
    # One variable in a glob ``before${key}after*`` with no other wildcard (the usual ARN prefix with a
    # variable, ``arn:aws:s3:::bucket/${aws:username}/*``): ``after`` without its '*', for matches
    _prefix_tail: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        star_only = all(isinstance(p, Var) or (isinstance(p, str) and "?" not in p) for p in self.parts)
        object.__setattr__(self, "_star_only", star_only)
        object.__setattr__(self, "_stars", sum(p.count("*") for p in self.parts if isinstance(p, str)))
        var_at = [i for i, p in enumerate(self.parts) if isinstance(p, Var)]
        one: tuple[str, str, str | None, str] | None = None
        if len(var_at) == 1:
            i = var_at[0]
            var = self.parts[i]
            assert isinstance(var, Var)
            before = "".join(p if isinstance(p, str) else p.text for p in self.parts[:i] if not isinstance(p, Var))
            after = "".join(p if isinstance(p, str) else p.text for p in self.parts[i + 1 :] if not isinstance(p, Var))
            one = (before, var.key, var.default, after)
        object.__setattr__(self, "_one", one)
        tail = None
        if star_only and one is not None and "*" not in one[0] and one[3].endswith("*") and one[3].count("*") == 1:
            tail = one[3][:-1]
        object.__setattr__(self, "_prefix_tail", tail)

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
        one = self._one
        if one is not None:
            values = ctx.get(one[1])
            if not values:
                return None if one[2] is None else one[0] + one[2] + one[3]
            if len(values) != 1:
                return None  # multivalued keys cannot be variables
            return one[0] + values[0] + one[3]
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, Literal):
                out.append(p.text)
            else:
                values = ctx.get(p.key)
                if not values:
                    if p.default is None:
                        return None
                    out.append(p.default)
                elif len(values) != 1:
                    return None  # multivalued keys cannot be variables
                else:
                    out.append(values[0])
        return "".join(out)

    def matches(self, value: str, ctx: Mapping[str, tuple[str, ...]]) -> bool:
        """Whether ``value`` matches the glob, wildcards only where the policy wrote them."""
        if self._star_only:
            one = self._one
            if one is not None:  # one variable: resolve_text, inline, for a key with one value
                got = ctx.get(one[1])
                if got and len(got) == 1:
                    value_text = got[0]
                    if "*" not in value_text and "?" not in value_text:  # it adds no wildcard character
                        tail = self._prefix_tail
                        if tail is not None:  # the glob is a literal prefix and '*'
                            return value.startswith(one[0] + value_text + tail)
                        return star_match(one[0] + value_text + one[3], value)
            text = self.resolve_text(ctx)
            if text is None:
                return False
            if text.count("*") == self._stars and "?" not in text:  # the values added no wildcard character
                return star_match(text, value)
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
