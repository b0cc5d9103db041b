"""``iamd admin call``: one IAM or STS call, in process, on the data directory's database.

A door to the application core (``iamd.core``) that needs no running server: the call is
validated against botocore's model as the HTTP endpoint validates it, authorized by the
engine (as the account's root, or ``--as`` one of its IAM users, by that user's policies),
audited in the same trail (user agent ``iamd-cli/<version>``) and, when it writes, seen by
running servers on the same database within their ``--cache-poll`` interval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from iamd import __version__

from .client import data_dir_option
from .server import _database_url, database_errors, database_option, sqlite_file

__all__ = ["admin"]


@click.group()
def admin() -> None:
    """Calls of iamd's API in process, on the data directory's database (no server needed)."""


@admin.command("call")
@click.argument("service", type=click.Choice(["iam", "sts"]))
@click.argument("operation")
@click.argument("params", required=False, default="{}")
@click.option("--as", "as_user", default=None, metavar="USER", help="Call as this IAM user (default: the root user).")
@data_dir_option
@database_option
def admin_call(
    service: str, operation: str, params: str, as_user: str | None, data_dir: Path, database: str | None
) -> None:
    """Call OPERATION of SERVICE with PARAMS (a JSON object, as boto3 takes them); print the result as JSON.

    Example: iamd admin call iam CreateUser '{"UserName": "alice", "Path": "/people/"}'
    """
    from iamd.api import Backend
    from iamd.core.local import LocalClient, caller_for_user, root_caller
    from iamd.errors import AwsError
    from iamd.store import NotFound

    try:
        arguments = json.loads(params)
    except ValueError as e:
        raise click.BadParameter(f"not JSON: {e}", param_hint="PARAMS") from None
    if not isinstance(arguments, dict):
        raise click.BadParameter("a JSON object is expected", param_hint="PARAMS")
    url = _database_url(data_dir, database)
    db_file = sqlite_file(url)
    if db_file is not None and not db_file.is_file():  # a door to an existing database, not a first start
        raise click.ClickException(f"no iamd database at {db_file.absolute()} (--data-dir / IAMD_DATA_DIR)")
    with database_errors(url):
        backend, _ = Backend.open(url, data_dir)
    try:
        if as_user is None:
            caller = root_caller(backend.account_id, backend.partition.name)
        else:
            try:
                with backend.store.read() as tx:
                    caller = caller_for_user(tx, backend.account_id, as_user)
            except NotFound:
                raise click.ClickException(f"no IAM user {as_user} in account {backend.account_id}") from None
        client = LocalClient(
            backend.core, backend.catalog, caller, clock=backend.clock, user_agent=f"iamd-cli/{__version__}"
        )
        try:
            result = client.call(service, operation, **arguments)
        except AwsError as e:
            raise click.ClickException(f"{e.code}: {e.message}") from None
    finally:
        backend.close()
    click.echo(json.dumps(result, indent=2, default=_plain))


def _plain(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
