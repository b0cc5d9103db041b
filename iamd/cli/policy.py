"""``iamd policy``: evaluate requests and validate documents offline."""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click
from rich.console import Console

from iamd.policy import DocumentKind, Tracer, evaluate, validate_policy
from iamd.policy.offline import InputError, parse_offline_request

EXIT_ALLOWED, EXIT_DENIED, EXIT_BAD_INPUT = 0, 1, 2


def _read(file: TextIO) -> str:
    try:
        return file.read()
    except UnicodeDecodeError as e:
        raise click.ClickException(f"{file.name}: not UTF-8 text ({e.reason})") from None


@click.group()
def policy() -> None:
    """Evaluate and validate IAM policies offline."""


@policy.command("eval")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--explain", is_flag=True, help="Add a trace of every statement (JSON key 'trace', readable on stderr).")
@click.option(
    "--resource-pattern",
    is_flag=True,
    help="The request's resource is a pattern (* and ?): answer whether it is allowed for all, some or none of "
    "the resources it names.",
)
def eval_command(file: TextIO, explain: bool, resource_pattern: bool) -> None:
    """Evaluate the request in FILE ('-' for stdin) and print the decision as JSON.

    Exit status: 0 allowed, 1 denied, 2 bad input; with --resource-pattern, 0 only when allowed for
    every resource of the pattern. The format is in docs/offline-evaluation.md.
    """
    text = _read(file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        click.echo(f"{file.name}:{e.lineno}:{e.colno}: not JSON: {e.msg}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        parsed = parse_offline_request(data)
    except InputError as e:
        for problem in e.problems:
            click.echo(f"{file.name}: {problem}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if resource_pattern:
        from iamd.policy.scope import Scope, evaluate_scope

        answer = evaluate_scope(parsed.request, parsed.policies)
        click.echo(json.dumps(answer.to_json(), indent=2))
        sys.exit(EXIT_ALLOWED if answer.scope is Scope.ALL else EXIT_DENIED)
    tracer = Tracer() if explain else None
    decision = evaluate(parsed.request, parsed.policies, tracer)
    out = decision.to_json()
    if tracer is not None:
        out["trace"] = tracer.to_json()
        Console(stderr=True).print(tracer.render(), highlight=False, markup=False)
    click.echo(json.dumps(out, indent=2))
    sys.exit(EXIT_ALLOWED if decision.allowed else EXIT_DENIED)


@policy.command("validate")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--type",
    "kind",
    type=click.Choice([k.value for k in DocumentKind]),
    default=DocumentKind.IDENTITY.value,
    show_default=True,
    help="What the document is.",
)
@click.option("--lint", "with_lint", is_flag=True, help="Also lint a valid document (iamd lint's findings).")
@click.option("--json", "as_json", is_flag=True, help="With --lint: the findings as JSON.")
def validate_command(file: TextIO, kind: str, with_lint: bool, as_json: bool) -> None:
    """Validate the policy document in FILE; print every problem as FILE:LINE:COL: message.

    The first line is the message AWS would return (MalformedPolicyDocument).
    Exit status: 0 valid, 1 invalid, 2 unreadable. With --lint, the findings of `iamd lint`
    (docs/policy-validation.md, "Lint") and its exit status (1 from WARNING up).
    """
    if with_lint:
        from .lint import lint_files, print_findings

        print_findings(lint_files((file,), kind), as_json, "warning")
    problems = validate_policy(_read(file), DocumentKind(kind))
    for p in problems:
        click.echo(f"{file.name}:{p.position.line}:{p.position.column}: {p.describe()}")
    if problems:
        sys.exit(1)
    click.echo(f"{file.name}: valid {kind} policy", err=True)
