"""The ``iamd`` command line. One module per command group."""

from __future__ import annotations

import click

from iamd import __version__

from .assume import assume
from .policy import policy
from .server import db, profile, serve, trail


@click.group()
@click.version_option(__version__, prog_name="iamd")
def main() -> None:
    """iamd: AWS-compatible IAM and STS, self-hosted."""


for command in (policy, serve, db, profile, trail):
    main.add_command(command)
from .audit import export as _trail_export  # noqa: E402

trail.add_command(_trail_export)  # iamd trail export (docs/audit.md)
main.add_command(assume)  # STS

# credential chores as a client of the server
from .credentials import key, user  # noqa: E402

main.add_command(user)
main.add_command(key)

from .admin import admin  # noqa: E402  (calls of the core in process)

main.add_command(admin)

from .explain import explain  # noqa: E402

main.add_command(explain)  # the troubleshooter (docs/troubleshooting.md)

from .authorize import authorize  # noqa: E402

main.add_command(authorize)  # iamd authorizes your own services (docs/authorization-api.md)

from .root import root  # noqa: E402  (the root user's console password)

main.add_command(root)
from .accounts import account  # noqa: E402  (AWS Organizations, as a client of the server)

main.add_command(account)

from .s3 import s3  # noqa: E402  (the S3 example service, docs/s3.md)

main.add_command(s3)
from .lint import lint  # noqa: E402  (Access Analyzer-style policy findings)

main.add_command(lint)

from .importer import import_command  # noqa: E402  (a real AWS account's IAM, for iamd explain)

main.add_command(import_command)

from . import keys as _master_keys  # noqa: E402, F401  (registers iamd db rotate-master-key / reseal)

__all__ = ["main"]
