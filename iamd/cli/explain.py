"""``iamd explain``: why was this request denied, and what is the smallest safe fix?

Reads the server's database directly, like ``iamd trail`` (reads only), and answers with the
same :mod:`iamd.explain` core as ``POST /iamd/explain`` (docs/troubleshooting.md).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from .client import data_dir_option, data_dir_source
from .server import _database_url, database_errors, database_option, sqlite_file

__all__ = ["explain"]

_EXAMPLES = """
\b
Examples:
  iamd explain 8a3c…-…                      a request id (every iamd answer carries one)
  iamd explain "User: arn:aws:iam::…:user/alice is not authorized to perform: …"
  iamd explain events.json                  a CloudTrail event, or a {"Records": [...]} file
  iamd explain --principal arn:aws:iam::111122223333:user/alice --action s3:GetObject \\
               --resource arn:aws:s3:::reports/q3.csv --context aws:SourceIp=203.0.113.7
"""


def _context_pairs(raw: Sequence[str]) -> list[tuple[str, str | Sequence[str]]]:
    out: list[tuple[str, str | Sequence[str]]] = []
    for item in raw:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise click.BadParameter(
                f"{item!r}: write key=value (key=v1,v2 for several values)", param_hint="--context"
            )
        out.append((key, value.split(",") if "," in value else value))
    return out


def _looks_like_request_id(text: str) -> bool:
    return 0 < len(text) <= 128 and not any(c.isspace() for c in text) and "arn:" not in text and ":" not in text


@click.command(epilog=_EXAMPLES)
@click.argument("given", required=False, metavar="[REQUEST-ID | MESSAGE | EVENT-FILE | -]")
@click.option("--request-id", default=None, help="A request id, looked up in the audit trail.")
@click.option("--message", default=None, help="An access-denied message, as any tool printed it.")
@click.option(
    "--event", "event_file", type=click.File("rb"), default=None, help="A CloudTrail event file ('-': stdin)."
)
@click.option("--principal", default=None, help="Hypothetical request: the caller's ARN.")
@click.option("--action", default=None, help="Hypothetical request: the action, e.g. s3:GetObject.")
@click.option("--resource", default=None, help="Hypothetical request: the resource ARN (default *).")
@click.option("--context", "context", multiple=True, help="Hypothetical request: a context key, key=value.")
@click.option("--trace", "show_trace", is_flag=True, help="Also show what happened to every statement.")
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON (the API's shape).")
@click.option(
    "--apply",
    "apply",
    is_flag=True,
    help="Write the verified fix through the IAM API as the operator (--profile), after confirmation.",
)
@click.option("--yes", is_flag=True, help="With --apply: do not ask for confirmation (scripts).")
@click.option("--profile", default=None, help="With --apply: the AWS profile whose credentials write the fix.")
@click.option("--endpoint-url", default=None, help="With --apply: iamd's URL (default: as `iamd user` finds it).")
@data_dir_option
@database_option
@click.pass_context
def explain(
    ctx: click.Context, given: str | None, request_id: str | None, message: str | None, event_file: Any,
    principal: str | None, action: str | None, resource: str | None, context: tuple[str, ...], show_trace: bool,
    as_json: bool, apply: bool, yes: bool, profile: str | None, endpoint_url: str | None, data_dir: Path,
    database: str | None,
) -> None:  # fmt: skip
    """Explain why a request was (or would be) denied, and the smallest safe fix.

    The input is a request id, an access-denied message, a CloudTrail event (one event or a
    Records file, from iamd or from AWS), or a hypothetical request (--principal, --action,
    --resource, --context). The request is evaluated with the policies in force now and,
    when the event carries iamd's recorded decision, compared with it.
    Exit status: 0 allowed, 1 denied, 2 bad input. With --apply, the fix is written through
    the IAM API with the operator's credentials (never by itself): exit 0 when written.
    """
    from iamd.explain import (
        Explainer,
        InputError,
        decompressed,
        from_event,
        from_message,
        hypothetical,
        read_events,
        subjects_for_request_id,
    )
    from iamd.service.policy_loader import PolicyLoader
    from iamd.store import open_store

    kinds = sum(x is not None for x in (given, request_id, message, event_file)) + (principal is not None)
    if kinds != 1:
        raise click.UsageError(
            "give exactly one input: a request id, a message, an event file, or --principal/--action"
        )
    url = _database_url(data_dir, database)
    db_file = sqlite_file(url)
    if db_file is not None and not db_file.is_file():
        origin = "--database / IAMD_DATABASE_URL" if database or os.environ.get("IAMD_DATABASE_URL") else (
            f"data directory {data_dir}: {data_dir_source(ctx)}")  # fmt: skip
        raise click.ClickException(f"no iamd database at {db_file.absolute()} ({origin})")
    try:
        subjects = []
        lookup: str | None = request_id
        if principal is not None:
            if action is None:
                raise click.UsageError("--principal needs --action")
            subjects = [hypothetical(principal, action, resource or "*", _context_pairs(context))]
        elif message is not None:
            subjects = [from_message(message)]
        elif event_file is not None:
            subjects = [from_event(r) for r in read_events(event_file.read())]
        elif given is not None:
            if given == "-" or Path(given).is_file():
                data = sys.stdin.buffer.read() if given == "-" else Path(given).read_bytes()
                text = decompressed(data).decode("utf-8", "replace").strip()
                if text.startswith(("{", "[")):
                    subjects = [from_event(r) for r in read_events(text)]
                else:
                    subjects = [from_message(text)]
            elif "is not authorized to perform" in given:
                subjects = [from_message(given)]
            elif _looks_like_request_id(given):
                lookup = given
            else:
                raise click.UsageError(f"not a request id, a message or a file: {given[:80]!r}")
    except InputError as e:
        raise click.UsageError(str(e)) from None

    with database_errors(url):
        store = open_store(url)
    try:
        explainer = Explainer(PolicyLoader())
        with store.read() as tx:
            if lookup is not None:
                subjects = subjects_for_request_id(tx, lookup)
                if not subjects:
                    raise click.ClickException(f"no audit event with request id {lookup} in {url.split('?')[0]}")
            now = datetime.now(UTC)
            answers = [explainer.explain(tx, s, now) for s in subjects]
    finally:
        store.close()

    if as_json:
        payload = [a.to_json() for a in answers]
        if not show_trace:
            for p in payload:
                p.pop("trace", None)
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2, default=str))
    else:
        console = Console(highlight=False, soft_wrap=True)
        for i, answer in enumerate(answers):
            if i:
                console.print()
            _render(console, answer.to_json(), show_trace)
    if apply:
        _apply(answers, yes, profile, endpoint_url, data_dir)
        ctx.exit(0)
    denied = any(a.decision is not None and not a.decision.allowed for a in answers)
    refused = any(a.decision is None for a in answers)
    ctx.exit(1 if denied or refused else 0)


def _apply(answers: list[Any], yes: bool, profile: str | None, endpoint_url: str | None, data_dir: Path) -> None:
    """Write the verified fix with the operator's credentials, after confirmation (docs/troubleshooting.md)."""
    from botocore import xform_name  # type: ignore[import-untyped]
    from botocore.exceptions import ClientError  # type: ignore[import-untyped]

    from iamd.explain.apply import ApplyError, apply_fix, plan

    from .client import Client

    if len(answers) != 1:
        raise click.UsageError("--apply applies the fix of one request: give one request id, message or event")
    fix = answers[0].fix
    try:
        changes = plan(fix)
    except ApplyError as e:
        raise click.ClickException(f"not applied: {e}") from None
    api = Client(profile, endpoint_url, data_dir)
    click.echo(f"The fix will be written to iamd at {api.endpoint.url} as profile {api.profile!r}:", err=True)
    for change in changes:
        click.echo(f"  {change['apply']['operation']}: {change['where']}", err=True)
    radius = (fix or {}).get("blastRadius")
    if radius is not None and radius["newlyAllowed"]:
        click.echo(f"  blast radius: {radius['summary']}", err=True)
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException("not applied: confirm on a terminal, or pass --yes")
        click.confirm("Apply it?", abort=True, err=True)

    def call(operation: str, **params: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(api.iam, xform_name(operation))(**params)
            return result
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "NoSuchEntity" and operation.startswith("Get"):
                raise LookupError(operation) from None
            return api.call(api.iam, xform_name(operation), **params)  # the one clear message for the rest

    for line in apply_fix(fix, call):
        click.echo(f"applied: {line}")


def _render(console: Console, answer: dict[str, Any], show_trace: bool) -> None:
    subject = answer["subject"]
    where = f"request {subject['requestId']}" if subject.get("requestId") else subject["source"]
    console.print(f"[bold]{escape(where)}[/bold]")
    console.print(escape(answer["verdict"]))
    recorded = answer.get("recorded")
    if recorded is not None and answer.get("now") is not None:
        then, now = recorded.get("decision"), answer["now"]["decision"]
        same = "the same now" if then == now else f"[bold]{now} now[/bold]"
        console.print(f"recorded: {escape(str(then))}; {same}")
    if answer["findings"]:
        console.print("\n[bold]Findings[/bold]")
    for f in answer["findings"]:
        console.print(f"  • [cyan]{escape(f['code'])}[/cyan] {escape(f['title'])}")
        console.print(f"    {escape(f['detail'])}")
    fix = answer.get("fix")
    if fix is not None:
        console.print("\n[bold]Fix[/bold]" + (" (checked by re-evaluation)" if fix.get("verified") else ""))
        console.print(f"  {escape(fix['summary'])}")
        for change in fix.get("changes", ()):
            console.print(f"  in {escape(change['where'])}:")
            console.print(escape(json.dumps(change["statement"], indent=2)), markup=False)
            if change.get("how"):
                console.print(f"  {escape(change['how'])}")
        radius = fix.get("blastRadius")
        if radius is not None:
            console.print(
                f"  blast radius (on {len(radius['sampledActions'])} actions of the service, "
                f"{len(radius['sampledResources'])} resources): {escape(radius['summary'])}"
            )
            for pair in radius["newlyAllowed"][:20]:
                console.print(f"    + {escape(pair['action'])} on {escape(pair['resource'])}")
        for st in fix.get("statements", ()):
            sid = st.get("sid") or "no Sid"
            console.print(f"  {escape(st['policyName'])} statement {st['statementIndex']} ({escape(sid)}) "
                          f"at {st['line']}:{st['column']}")  # fmt: skip
    for note in answer.get("notes", ()):
        console.print(f"[dim]note: {escape(note)}[/dim]")
    if show_trace and answer.get("trace"):
        console.print("\n[bold]Every statement[/bold]")
        console.print(escape(json.dumps(answer["trace"], indent=2)), markup=False)
