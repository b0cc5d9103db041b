"""Policy variables (AWS "IAM policy elements: Variables and tags")."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from iamd.policy.variables import Literal, Var, parse_template

CTX = {"aws:username": ("bob",), "aws:tagkeys": ("a", "b"), "aws:principaltag/team": ("r*d",)}


def test_parsing() -> None:
    t = parse_template("home/${aws:username}/${aws:PrincipalTag/dept, 'none'}/${*}", True)
    assert t.parts == ("home/", Var("aws:username", None), "/", Var("aws:principaltag/dept", "none"), "/", Literal("*"))
    assert t.required_keys == {"aws:username"}


def test_version_gate_keeps_text_literal() -> None:
    t = parse_template("home/${aws:username}", False)
    assert not t.has_vars and t.resolve_text(CTX) == "home/${aws:username}"


def test_resolution() -> None:
    assert parse_template("${aws:username}-${x, 'd'}", True).resolve_text(CTX) == "bob-d"
    assert parse_template("${missing}", True).resolve_text(CTX) is None
    assert parse_template("${aws:TagKeys}", True).resolve_text(CTX) is None  # multivalued
    assert parse_template("${$}{x}", True).resolve_text(CTX) == "${x}"


def test_substituted_values_are_literal_in_globs() -> None:
    template = parse_template("team/${aws:PrincipalTag/team}/*", True)
    assert template.matches("team/r*d/file", CTX)
    assert not template.matches("team/rod/file", CTX)


def test_unterminated_is_literal() -> None:
    assert parse_template("a${aws:username", True).resolve_text(CTX) == "a${aws:username"


_OLD_VAR = re.compile(r"\$\{([^}]*)\}")
_OLD_DEFAULT = re.compile(r"\s*([^,\s][^,]*?)\s*,\s*'([^']*)'\s*")


def _old_parts(text: str) -> tuple[object, ...]:
    """What the regex-based parser this one replaced produced."""
    parts: list[object] = []
    pos = 0
    for m in _OLD_VAR.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        body = m.group(1)
        if body in ("*", "?", "$"):
            parts.append(Literal(body))
        else:
            d = _OLD_DEFAULT.fullmatch(body)
            parts.append(Var(d.group(1).lower(), d.group(2)) if d else Var(body.strip().lower(), None))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


@given(st.text(alphabet="${}, '\tAb*?\u00a0\u2003x", max_size=24))
def test_parsing_agrees_with_the_regex_parser_it_replaced(text: str) -> None:
    if "${" in text:
        assert parse_template(text, True).parts == _old_parts(text)
