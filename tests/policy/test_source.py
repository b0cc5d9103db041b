"""The position-keeping JSON reader."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamd.policy.source import JsonSyntaxError, parse_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@given(json_values, st.sampled_from([None, 2]))
def test_agrees_with_the_json_module(value: object, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    assert parse_json(text).plain() == json.loads(text)


def test_positions_are_line_and_column() -> None:
    node = parse_json('{\n  "Statement": [\n    {"Effect": "Allow"}\n  ]\n}')
    assert isinstance(node.value, dict)
    stmts = node.value["Statement"].value
    assert isinstance(stmts, list)
    assert (stmts[0].start.line, stmts[0].start.column) == (3, 5)
    assert (stmts[0].end.line, stmts[0].end.column) == (3, 24)
    assert node.keys[0].start.column == 3


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": 1, "a": 2}', "Duplicate key"),
        ("{'a': 1}", "Unexpected character"),
        ('{"a": 1,}', "Expected a string key"),
        ("[1 2]", "Expected ','"),
        ('{"a": 1} x', "Unexpected character"),
        ('{"a": 1} {}', "Unexpected data"),
        ("", "Unexpected end"),
        ("[" * 100 + "]" * 100, "Nesting too deep"),
        ('"a\nb"', "Unexpected character"),
    ],
)
def test_rejects_what_aws_rejects(text: str, reason: str) -> None:
    with pytest.raises(JsonSyntaxError, match=reason):
        parse_json(text)


def test_unicode_escapes_and_surrogates() -> None:
    assert parse_json('"\\u00e9\\ud83d\\ude00\\n"').value == "é😀\n"
