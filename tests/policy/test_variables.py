"""Policy variables (conditions.md §7)."""

from __future__ import annotations

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
