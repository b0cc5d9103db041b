"""The ``iamd`` command line. One module per command group.

A command's module is imported when the command is invoked (or listed by ``--help``), not when
the command line starts: ``iamd serve`` needs none of the others (the policy engine's command,
the troubleshooter's, the S3 example's, rich tables of the client commands), and they were a
part of every server's start-up (bench/README.md, "Start-up"). ``tests/cli/test_lazy.py`` checks
that ``iamd serve``'s start leaves them unimported and that every command below resolves.
"""

from __future__ import annotations

import importlib

import click

from iamd import __version__

__all__ = ["COMMANDS", "main"]

# command name -> "module:attribute" of its click command (a module that adds subcommands to a
# group of another module is the one named here, so that they are added when it is loaded)
COMMANDS: dict[str, str] = {
    "policy": "iamd.cli.policy:policy",
    "serve": "iamd.cli.server:serve",
    "db": "iamd.cli.keys:db",  # iamd db …, with rotate-master-key and reseal (iamd.cli.keys)
    "profile": "iamd.cli.server:profile",
    "trail": "iamd.cli.server:trail",  # with `iamd trail export` (docs/audit.md)
    "assume": "iamd.cli.assume:assume",  # STS
    "user": "iamd.cli.credentials:user",  # credential chores as a client of the server
    "key": "iamd.cli.credentials:key",
    "admin": "iamd.cli.admin:admin",  # calls of the core in process
    "explain": "iamd.cli.explain:explain",  # the troubleshooter (docs/troubleshooting.md)
    "authorize": "iamd.cli.authorize:authorize",  # iamd authorizes your own services (docs/authorization-api.md)
    "root": "iamd.cli.root:root",  # the root user's console password
    "account": "iamd.cli.accounts:account",  # AWS Organizations, as a client of the server
    "s3": "iamd.cli.s3:s3",  # the S3 example service (docs/s3.md)
    "lint": "iamd.cli.lint:lint",  # Access Analyzer-style policy findings
    "import": "iamd.cli.importer:import_command",  # a real AWS account's IAM, for iamd explain
}


class LazyGroup(click.Group):
    """A group whose commands are imported from :data:`COMMANDS` when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command), COMMANDS[cmd_name]
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="iamd")
def main() -> None:
    """iamd: AWS-compatible IAM and STS, self-hosted."""
