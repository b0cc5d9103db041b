"""The audit trail's budget options of ``iamd serve``, and ``iamd trail export`` (docs/audit.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .client import data_dir_option

if TYPE_CHECKING:
    from iamd.audit_budget import AuditBudget

__all__ = ["audit_budget", "audit_options", "export"]


def _check(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, str], str]:
    def callback(ctx: click.Context, param: click.Parameter, value: str) -> str:
        try:
            parse(value)
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        return value

    return callback


def audit_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--audit-retention``, ``--audit-max-size``, ``--audit-archive``, ``--audit-reads``."""
    from iamd.audit_budget import parse_age, parse_reads, parse_size

    options = [
        click.option(
            "--audit-retention", default="off", show_default=True, envvar="IAMD_AUDIT_RETENTION", metavar="AGE",
            callback=_check(parse_age),
            help="Delete audit events older than this (e.g. 90d, 12h); off keeps them for ever. docs/audit.md",
        ),
        click.option(
            "--audit-max-size", default="off", show_default=True, envvar="IAMD_AUDIT_MAX_SIZE", metavar="SIZE",
            callback=_check(parse_size),
            help="Delete the oldest audit events while the trail is larger than this (e.g. 1GiB); off: no limit.",
        ),
        click.option(
            "--audit-archive", default=None, envvar="IAMD_AUDIT_ARCHIVE", metavar="DIR",
            type=click.Path(file_okay=False, path_type=Path),
            help="Write the events retention deletes to gzip JSON-lines files in DIR first.",
        ),
        click.option(
            "--audit-reads", default="all", show_default=True, envvar="IAMD_AUDIT_READS", metavar="all|sample:N|none",
            callback=_check(parse_reads),
            help="Which successful reads the trail keeps: all, one in N, or none. Denials, failures and writes "
            "are always kept.",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def audit_budget(retention: str | None, max_size: str | None, archive: str | None, reads: str | None) -> AuditBudget:
    from iamd.audit_budget import AuditBudget, parse_age, parse_reads, parse_size

    return AuditBudget(parse_age(retention or "off"), parse_size(max_size or "off"), Path(archive) if archive else None,
                       parse_reads(reads or "all"))  # fmt: skip


@click.command("export")
@data_dir_option
@click.option("--database", default=None, help="Database URL (env IAMD_DATABASE_URL; default: the data directory's).")
@click.option("--since", type=click.DateTime(), default=None, help="From this time (UTC, inclusive).")
@click.option("--until", type=click.DateTime(), default=None, help="Before this time (UTC).")
@click.option("--account", default=None, help="Only this account's events.")
@click.option("--to", "target", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file: JSON lines, one CloudTrail record a line; gzip if it ends in .gz.")  # fmt: skip
def export(
    data_dir: Path, database: str | None, since: datetime | None, until: datetime | None, account: str | None,
    target: Path,
) -> None:  # fmt: skip
    """Export the audit trail to a JSON-lines file, oldest first (readable by iamd explain --event)."""
    from iamd.audit_export import export_trail
    from iamd.store import open_store

    from .server import _database_url, database_errors, sqlite_file

    url = _database_url(data_dir, database)
    db_file = sqlite_file(url)
    if db_file is not None and not db_file.is_file():
        raise click.ClickException(f"no iamd database at {db_file.absolute()}")
    with database_errors(url):
        store = open_store(url)
    try:
        old_umask = os.umask(0o077)  # the trail is private (docs/security.md, "Files")
        try:
            count = export_trail(
                store, target, since=since.replace(tzinfo=UTC) if since else None,
                until=until.replace(tzinfo=UTC) if until else None, account=account,
            )  # fmt: skip
        finally:
            os.umask(old_umask)
    finally:
        store.close()
    click.echo(f"{count} events written to {target}", err=True)
