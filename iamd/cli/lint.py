"""``iamd lint``: Access Analyzer-style findings about policy documents (docs/policy-validation.md, "Lint")."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

import click
from rich.console import Console
from rich.table import Table

__all__ = ["FAIL_ON", "lint", "lint_files", "print_findings"]

FAIL_ON = ("error", "security-warning", "warning", "suggestion", "never")
EXIT_CLEAN, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def _kinds() -> list[str]:
    from iamd.policy import DocumentKind

    return [k.value for k in DocumentKind]


def lint_files(files: tuple[TextIO, ...], kind: str) -> list[tuple[str, list[Any]]]:
    from iamd.lint import lint_policy
    from iamd.policy import DocumentKind

    out: list[tuple[str, list[Any]]] = []
    for file in files:
        try:
            text = file.read()
        except UnicodeDecodeError as e:
            click.echo(f"{file.name}: not UTF-8 text ({e.reason})", err=True)
            sys.exit(EXIT_BAD_INPUT)
        out.append((file.name, lint_policy(text, DocumentKind(kind))))
    return out


def print_findings(results: list[tuple[str, list[Any]]], as_json: bool, fail_on: str) -> None:
    """Print (a rich table, or JSON) and exit: 1 when a finding is at least as severe as ``fail_on``."""
    from iamd.lint import Severity, worst

    if as_json:
        payload = [{"file": name, "findings": [f.to_json() for f in findings]} for name, findings in results]
        click.echo(json.dumps(payload if len(payload) != 1 else payload[0], indent=2))
    else:
        console = Console(highlight=False)
        for name, findings in results:
            if not findings:
                console.print(f"{name}: no findings", markup=False)
                continue
            table = Table(title=name, title_justify="left", show_lines=False)
            for column in ("line:col", "severity", "issue code", "statement", "details"):
                table.add_column(column, overflow="fold")
            for f in findings:
                style = {"ERROR": "red", "SECURITY_WARNING": "magenta", "WARNING": "yellow"}.get(f.severity.value, "")
                where = "" if f.statement is None else str(f.statement) + (f" ({f.sid})" if f.sid else "")
                table.add_row(
                    f"{f.position.line}:{f.position.column}", f"[{style}]{f.severity.value}[/]" if style
                    else f.severity.value, f.code, where, f.detail,
                )  # fmt: skip
            console.print(table)
    if fail_on == "never":
        sys.exit(EXIT_CLEAN)
    threshold = Severity(fail_on.upper().replace("-", "_"))
    found = [worst(findings) for _, findings in results]
    if any(s is not None and s.rank <= threshold.rank for s in found):
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


@click.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.File("r", encoding="utf-8"))
@click.option("--type", "kind", type=click.Choice(_kinds()), default="identity", show_default=True,
              help="What the documents are.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Findings as JSON (Access Analyzer's ValidatePolicy shape).")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="warning", show_default=True,
              help="Exit 1 when a finding is this severe or more.")  # fmt: skip
def lint(files: tuple[TextIO, ...], kind: str, as_json: bool, fail_on: str) -> None:
    """Lint policy documents: ERROR, SECURITY_WARNING, WARNING and SUGGESTION findings with line:column,
    checked against AWS's Service Authorization Reference (a snapshot shipped with iamd).

    Exit status: 0 no finding at or above --fail-on, 1 otherwise, 2 unreadable input.
    """
    print_findings(lint_files(files, kind), as_json, fail_on)
