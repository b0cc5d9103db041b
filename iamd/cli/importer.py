"""``iamd import``: a real AWS account's IAM into an iamd data directory (docs/troubleshooting.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .client import data_dir_option
from .server import _database_url, database_errors, database_option

__all__ = ["import_command"]


@click.command("import")
@click.argument("dump", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--account", default=None, help="The 12-digit account to load into (default: the dump's).")
@click.option(
    "--scp",
    "scps",
    multiple=True,
    metavar="LEVEL=FILE",
    help="An SCP of the account's organization: LEVEL is root, account or ou:NAME (repeat it).",
)
@click.option("--rcp", "rcps", multiple=True, metavar="LEVEL=FILE", help="An RCP, as --scp.")
@click.option(
    "--resource-policy",
    "resource_policies",
    multiple=True,
    metavar="ARN=FILE",
    help="A resource-based policy of the account (a bucket, key or queue policy) for the resource ARN (repeat it).",
)
@click.option(
    "--org-management",
    default="000000000000",
    show_default=True,
    help="With --scp/--rcp: the organization's management account (SCPs never apply to it).",
)
@data_dir_option
@database_option
def import_command(
    dump: Path, account: str | None, scps: tuple[str, ...], rcps: tuple[str, ...],
    resource_policies: tuple[str, ...], org_management: str, data_dir: Path, database: str | None,
) -> None:  # fmt: skip
    """Load DUMP, the output of `aws iam get-account-authorization-details`, into the data directory:
    users, groups, roles, customer managed policies, inline policies, attachments, boundaries, tags and
    instance profiles, in one transaction (all or nothing). Then `iamd explain` answers for the account's
    CloudTrail events offline.
    """
    from iamd.api.managed_policies import install_managed_policies
    from iamd.datadir import make_private
    from iamd.importer import MAX_DUMP, ImportError_, OrgPolicyFile, count_entities, import_authorization_details
    from iamd.store import migrate, open_store

    if account is not None and not (len(account) == 12 and account.isdigit()):
        raise click.BadParameter("a 12-digit account id", param_hint="--account")
    if dump.stat().st_size > MAX_DUMP:
        raise click.ClickException(f"{dump}: over {MAX_DUMP // (1024 * 1024)} MiB")
    try:
        data = json.loads(dump.read_bytes())
    except (ValueError, UnicodeDecodeError) as e:
        raise click.ClickException(f"{dump}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"{dump}: not the output of aws iam get-account-authorization-details")
    org_files: list[OrgPolicyFile] = []
    for option, kind, given in (("--scp", "SERVICE_CONTROL_POLICY", scps), ("--rcp", "RESOURCE_CONTROL_POLICY", rcps)):
        for item in given:
            level, eq, name = item.partition("=")
            path = Path(name)
            if not eq or not path.is_file() or path.stat().st_size > 65_536:
                message = f"{item!r}: write LEVEL=FILE, a readable file of at most 64 KiB"
                raise click.BadParameter(message, param_hint=option)
            org_files.append(OrgPolicyFile(kind, level, path.stem, path.read_text(encoding="utf-8")))
    resource_files: list[tuple[str, str]] = []
    for item in resource_policies:
        arn, eq, name = item.rpartition("=")
        path = Path(name)
        if not eq or not arn.startswith("arn:") or not path.is_file() or path.stat().st_size > 65_536:
            message = f"{item!r}: write ARN=FILE, a resource ARN and a readable file of at most 64 KiB"
            raise click.BadParameter(message, param_hint="--resource-policy")
        resource_files.append((arn, path.read_text(encoding="utf-8")))
    make_private(data_dir)
    url = _database_url(data_dir, database)
    console = Console(stderr=True)
    with database_errors(url):
        migrate.upgrade(url)
        store = open_store(url)
        try:
            install_managed_policies(store)  # the AWS managed policies the dump's entities may attach
            with Progress(
                TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                disable=not console.is_terminal and not os.environ.get("IAMD_PROGRESS"),
            ) as bar:  # fmt: skip
                task = bar.add_task("import", total=count_entities(data))
                done = import_authorization_details(
                    store, data, account=account, progress=lambda n: bar.advance(task, n), org_policies=org_files,
                    org_management=org_management, resource_policies=resource_files,
                )  # fmt: skip
        except ImportError_ as e:
            raise click.ClickException(f"{dump}: {e} (nothing was imported)") from None
        finally:
            store.close()
    counts = ", ".join(f"{n} {what}" for what, n in done.counts.items())
    click.echo(f"account {done.account}: {counts}")
