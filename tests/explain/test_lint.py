"""``iamd lint`` (docs/policy-validation.md, "Lint"): the corpus in tests/cases/lint, the positions, the
CLI's exit status and JSON, and that no AWS managed policy shipped with iamd has an ERROR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamd.cli import main
from iamd.lint import LintFinding, Severity, lint_policy
from iamd.policy import DocumentKind

CASES = json.loads((Path(__file__).parent.parent / "cases" / "lint" / "findings.json").read_text())["cases"]


def _findings(case: dict[str, Any]) -> list[LintFinding]:
    return lint_policy(json.dumps(case["policy"]), DocumentKind(case["type"]))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus(case: dict[str, Any]) -> None:
    found = _findings(case)
    assert [(f.code, f.severity.value) for f in found] == [
        (e["issueCode"], e["findingType"]) for e in case["expect"]
    ], [f.detail for f in found]
    for f, e in zip(found, case["expect"], strict=True):
        if "line" in e:
            assert (f.position.line, f.position.column) == (e["line"], e["column"])
        if "suggestion" in e:
            assert f.suggestion == e["suggestion"]
        if "statementIndex" in e:
            assert f.statement == e["statementIndex"]


def test_positions_point_at_the_string() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [{\n    "Effect": "Allow",\n' \
        '    "Action": ["iam:GetUser", "iam:ListUser"],\n    "Resource": "*"\n  }]\n}'  # fmt: skip
    (finding,) = lint_policy(text, DocumentKind.IDENTITY)
    assert finding.code == "INVALID_ACTION"
    line = text.splitlines()[finding.position.line - 1]
    assert line[finding.position.column - 1 :].startswith('"iam:ListUser"')
    assert finding.path == ("Statement", 0, "Action", 1)
    assert finding.to_json()["locations"][0]["path"] == [
        {"value": "Statement"}, {"index": 0}, {"value": "Action"}, {"index": 1},
    ]  # fmt: skip


def test_shipped_aws_managed_policies_have_no_error() -> None:
    data = json.loads((Path(__file__).parents[2] / "iamd" / "data" / "aws_managed_policies.json").read_text())
    for name, entry in data.items():
        doc = entry["Document"]
        text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
        errors = [f for f in lint_policy(text, DocumentKind.IDENTITY) if f.severity is Severity.ERROR]
        assert errors == [], name


def test_hostile_sizes_are_bounded() -> None:
    huge = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "a:" + "*" * 200_000,
                                                               "Resource": "*"}]})  # fmt: skip
    (finding,) = lint_policy(huge, DocumentKind.IDENTITY)
    assert finding.code == "POLICY_SIZE"
    many = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"s3:Get*{'?' * (i % 7)}" for i in range(2000)], "Resource": "*"}]})  # fmt: skip
    assert all(f.code.startswith(("REDUNDANT", "INVALID")) for f in lint_policy(many, DocumentKind.IDENTITY))


def test_cli_exit_status_and_json(tmp_path: Path) -> None:
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(CASES[-1]["policy"]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(CASES[0]["policy"]))
    suggestion = tmp_path / "suggestion.json"
    suggestion.write_text(json.dumps(next(c for c in CASES if c["name"] == "a redundant action")["policy"]))
    runner = CliRunner()
    assert runner.invoke(main, ["lint", str(clean)]).exit_code == 0
    result = runner.invoke(main, ["lint", "--json", str(bad)])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["findings"][0]["issueCode"] == "INVALID_ACTION"
    assert payload["findings"][0]["findingType"] == "ERROR"
    assert runner.invoke(main, ["lint", str(suggestion)]).exit_code == 0  # below --fail-on warning
    assert runner.invoke(main, ["lint", "--fail-on", "suggestion", str(suggestion)]).exit_code == 1
    assert runner.invoke(main, ["lint", "--fail-on", "never", str(bad)]).exit_code == 0
    table = runner.invoke(main, ["lint", str(bad)])
    assert "INVALID_ACTION" in table.output and "iam:ListUsers" in table.output
    validate = runner.invoke(main, ["policy", "validate", "--lint", "--json", str(bad)])
    assert validate.exit_code == 1 and json.loads(validate.output)["findings"][0]["issueCode"] == "INVALID_ACTION"
