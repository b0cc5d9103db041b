"""Policy variables (AWS "IAM policy elements: Variables and tags")."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from iamd.policy.variables import Literal, Var, parse_template
from iamd.policy.wildcard import compile_parts

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


_PIECES = st.sampled_from(["a", "b", "*", "?", "/", "${aws:username}", "${k}", "${k, 'a*'}", "${*}", "${?}"])


@settings(max_examples=500)
@given(st.lists(_PIECES, max_size=6).map("".join), st.sampled_from(["a", "ab", "a*b", "?", "", "b?a"]),
       st.text("ab*?/", max_size=8))  # fmt: skip
def test_matches_is_the_glob_of_the_resolved_parts(text: str, username: str, value: str) -> None:
    # Template.matches skips compiling when the substituted text is itself the glob: it must say what the
    # compiled glob of the resolved parts (substituted values literal) says.
    template = parse_template(text, True)
    ctx = {"aws:username": (username,)} if username else {}
    parts = template.resolve_parts(ctx)
    expected = parts is not None and bool(compile_parts(parts)(value))
    assert template.matches(value, ctx) == expected
    assert template.resolve_text(ctx) == (None if parts is None else "".join(t for t, _ in parts))


@settings(max_examples=1000)
@given(
    st.text("ab/*", max_size=4), st.text("ab/", max_size=3), st.text("ab/*", max_size=4), st.text("ab/", max_size=10)
)
def test_prefix_templates_match_as_their_glob(before: str, username: str, after: str, value: str) -> None:
    # before${aws:username}after: when the glob is a literal prefix and '*' (Template._prefix_tail), matches
    # tests startswith; it must say what the compiled glob of the resolved parts says, for every shape around it
    template = parse_template(f"{before}${{aws:username}}{after}", True)
    ctx = {"aws:username": (username,)} if username else {}
    parts = template.resolve_parts(ctx)
    assert template.matches(value, ctx) == (parts is not None and bool(compile_parts(parts)(value)))
