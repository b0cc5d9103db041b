"""``iamd root set-password`` / ``clear-password``: the root user's console password (docs/console.md).

An operator command, run on the server's machine with its data directory: iamd has no
e-mail to send a reset link to, so whoever holds the data directory holds root's password.
"""

from __future__ import annotations

from pathlib import Path

import click

from .client import data_dir_option

__all__ = ["root"]


@click.group()
def root() -> None:
    """The account root user's console password."""


@root.command("set-password")
@click.option("--generate", is_flag=True, help="Generate a password and print it once instead of prompting.")
@data_dir_option
def root_set_password(generate: bool, data_dir: Path) -> None:
    """Set (or replace) the root user's console password: 8-128 characters, three of upper case, lower case,
    digits and symbols. Only its argon2id hash is kept, in <data-dir>/root-console-password."""
    from iamd import errors as aws
    from iamd.datadir import make_private
    from iamd.root_password import set_root_password
    from iamd.service.passwords import DEFAULT_POLICY, generate_password

    if generate:
        password = generate_password(DEFAULT_POLICY, 20)
    else:
        password = click.prompt("New root console password", hide_input=True, confirmation_prompt=True)
    make_private(data_dir)
    try:
        set_root_password(data_dir, password)
    except aws.AwsError as e:
        raise click.ClickException(e.message) from None
    if generate:
        click.echo(f"Root console password (shown once): {password}")
    click.echo(f"Root console password set ({data_dir / 'root-console-password'}); sign in at /console as Root user.")


@root.command("clear-password")
@data_dir_option
def root_clear_password(data_dir: Path) -> None:
    """Remove the root user's console password: root can no longer sign in to the console."""
    from iamd.root_password import clear_root_password

    click.echo("Root console password removed." if clear_root_password(data_dir) else "Root had no console password.")
