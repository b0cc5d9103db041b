"""Java model patterns in Python: every pattern compiles, and means what Java means."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamd.protocol import Catalog
from iamd.protocol.patterns import compile_pattern, translate


def model_patterns(services: tuple[str, ...] = ("iam", "sts", "organizations")) -> list[str]:
    catalog = Catalog()
    found = set()
    for service in services:
        model = catalog.service(service).model
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern:
                found.add(pattern)
    return sorted(found)


@pytest.mark.parametrize("pattern", model_patterns())
def test_every_model_pattern_compiles(pattern: str) -> None:
    assert isinstance(compile_pattern(pattern), re.Pattern)


TAG = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+"


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        (TAG, "Project Pegasus", True),
        (TAG, "Café_日本-٣:/=+@.", True),
        (TAG, "\u00a0\u2028", True),  # Z covers Zs, Zl, Zp
        (TAG, "a#b", False),
        (TAG, "tab\there", False),  # Cc is not Z
        (TAG, "emoji\U0001f600", False),  # So is not L/Z/N
        (r"[\w+=,.@-]+", "bob_1+=,.@-", True),
        (r"[\w+=,.@-]+", "björn", False),  # Java's \w is ASCII
        (r"[\w+=,.@-]+", "\u0663", False),
        (r"[\d]*", "\u0663", False),  # and so is \d
        (r"[\d]*", "0123", True),
        (r"[\s\S]*", "any\u2028thing\x00", True),
        (r"\d{12}", "123456789012", True),
        (r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?", "v12.x-1", True),
        (r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?", "v0", False),
        (r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)", "/a/b/", True),
        (r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)", "/a", False),
        (r"[\u0009\u000A\u000D\u0020-\u00FF]+", '{\n\t"a": "\u00ff"}', True),
        (r"[\u0009\u000A\u000D\u0020-\u00FF]+", "\u0100", False),
        (r"[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+( [\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+)*", "openid email", True),
        (r"[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+( [\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+)*", "a,b", False),
        (r"\p{Lu}\P{Lu}", "Ab", True),
        (r"\x{1F600}", "\U0001f600", True),
    ],
)
def test_java_semantics(pattern: str, text: str, matches: bool) -> None:
    assert (compile_pattern(pattern).fullmatch(text) is not None) is matches


@pytest.mark.parametrize("pattern", [r"[a[b]]", r"[a&&b]", r"\p{Alpha}", r"\p{Qq}", r"[\P{L}]", r"\k", "a\\", "[ab"])
def test_unsupported_java_features_fail_loudly(pattern: str) -> None:
    with pytest.raises(ValueError):
        translate(pattern)


@given(st.text(alphabet=st.characters(max_codepoint=0x2FFF), max_size=8))
def test_letter_class_agrees_with_unicodedata(text: str) -> None:
    import unicodedata

    expected = bool(text) and all(unicodedata.category(char)[0] in "LZN" for char in text)
    assert (compile_pattern(r"[\p{L}\p{Z}\p{N}]+").fullmatch(text) is not None) is expected
