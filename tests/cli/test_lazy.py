"""What ``iamd serve`` leaves unimported until it is asked for (bench/README.md, "Start-up"): the
other commands' modules (``iamd.cli.COMMANDS``), the web console (its pages, Jinja2), the
federation handlers' libraries (PyJWT, lxml, signxml) and, on a first start, alembic."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tests.fresh_process import run_fresh

# ``iamd serve --dev`` in a new process (DATA_DIR, ARGS: set before it) up to ``uvicorn.run``,
# which the script before it replaces by its ``run``.
_RUN = """
uvicorn.run = run
from iamd.cli import main
sys.argv = ["iamd", "serve", "--dev", "--port", "0", "--data-dir", DATA_DIR, "--audit-writer", "thread", *ARGS]
main()
"""

# ``run`` records the modules imported by then and sends three console requests to the app it was given.
_SERVE = (
    """
import json, sys
import uvicorn

def run(app, **options):
    from starlette.testclient import TestClient

    before = sorted(sys.modules)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        answers = [client.get("/console").status_code, client.get("/console/no-such-page").status_code,
                   client.put("/console").status_code, client.get("/_iamd/health").status_code]
        page = client.get("/console/no-such-page").text
    print(json.dumps({"before": before, "after": sorted(sys.modules), "answers": answers,
                      "not_found_page": "Page not found" in page}))
    raise SystemExit(0)

"""
    + _RUN
)

NOT_AT_START = (
    "jinja2", "iamd.console.web", "iamd.console.signin_pages",  # the console
    "iamd.cli.policy", "iamd.cli.explain", "iamd.cli.s3", "iamd.cli.lint", "iamd.cli.credentials",  # other commands
    "iamd.cli.importer",
    "jwt", "lxml", "signxml", "iamd.federation.saml", "iamd.federation.oidc",  # federation's handlers
    "alembic",  # a new SQLite database is made by one script (iamd.store.sqlite_head)
)  # fmt: skip


def test_serve_starts_without_the_console_or_the_other_commands(tmp_path: Path) -> None:
    out = run_fresh(f"DATA_DIR = {str(tmp_path / 'data')!r}\nARGS = []\n" + _SERVE).strip().splitlines()[-1]
    result = json.loads(out)
    assert [m for m in NOT_AT_START if m in result["before"]] == []
    assert "iamd.cli.server" in result["before"] and "iamd.console" in result["before"]
    # the first console request loads it, and it answers as its own routes do: the sign-in page,
    # the console's 404 page, 405 for a page's path with a method it does not take
    assert result["answers"] == [200, 404, 405, 200]
    assert result["not_found_page"]
    assert {"jinja2", "iamd.console.web", "iamd.console.signin_pages"} <= set(result["after"])


def test_every_command_resolves_by_its_name() -> None:
    from iamd.cli import COMMANDS, main

    ctx = click.Context(main)
    assert main.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command)
        assert command.name == name
    db = main.get_command(ctx, "db")
    trail = main.get_command(ctx, "trail")
    assert isinstance(db, click.Group) and isinstance(trail, click.Group)
    assert {"upgrade", "rotate-master-key", "reseal"} <= set(db.commands)  # iamd.cli.keys adds its two
    assert "export" in trail.commands  # iamd.cli.audit's
    assert main.get_command(ctx, "no-such-command") is None


# ``iamd serve`` up to ``uvicorn.run``: the credential index's bulk load runs on its own thread
# (iamd serve --cache-preload; docs/architecture.md, "The credential index").
_PRELOAD = (
    """
import json, sys, threading
import uvicorn

def run(app, **options):
    for t in threading.enumerate():  # started before uvicorn.run: still loading, or done already
        if t.name == "iamd-preload":
            t.join(timeout=30)
    from iamd.cache import Section

    print(json.dumps({"credentials": app.backend.cache.size(Section.CREDENTIALS)}))
    raise SystemExit(0)
"""
    + _RUN
)


def test_serve_loads_the_credential_index_in_the_background_unless_told_not_to(tmp_path: Path) -> None:
    for args, loaded in (([], True), (["--cache-preload", "0"], False)):
        script = f"DATA_DIR = {str(tmp_path / 'data')!r}\nARGS = {args!r}\n" + _PRELOAD
        result = json.loads(run_fresh(script).strip().splitlines()[-1])
        assert result == {"credentials": int(loaded)}  # the root's key, loaded before any request
