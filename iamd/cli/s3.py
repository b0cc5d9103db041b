"""``iamd s3 serve``: the S3-compatible example service, authorized by an iamd server; and the
in-process form that ``iamd serve --s3 PORT`` starts beside the IAM server (docs/s3.md)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .client import Client

if TYPE_CHECKING:
    from iamd.api import Backend

__all__ = ["s3", "start_in_process"]

DEFAULT_S3_PORT = 4567


@click.group()
def s3() -> None:
    """The S3-compatible example service whose every request iamd authorizes (docs/s3.md)."""


@s3.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_S3_PORT, show_default=True, type=int)
@click.option("--data-dir", "s3_data_dir", type=click.Path(path_type=Path), default=Path("s3-data"),
              show_default=True, envvar="IAMD_S3_DATA_DIR", show_envvar=True,
              help="Where the buckets and objects are kept.")  # fmt: skip
@click.option("--endpoint", "--endpoint-url", "endpoint_url", default=None,
              help="iamd's URL (default: the profile's endpoint_url, AWS_ENDPOINT_URL, the address `iamd serve` "
              "recorded in IAMD_DATA_DIR, else http://127.0.0.1:4566).")  # fmt: skip
@click.option("--profile", default=None, help="AWS profile with the service's own credentials (default: the "
              "environment's, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).")  # fmt: skip
@click.option("--region", default=None, help="The Region to sign the authorization calls for (default: the profile's).")
def s3_serve(
    host: str, port: int, s3_data_dir: Path, endpoint_url: str | None, profile: str | None, region: str | None
) -> None:
    """Serve S3 on HOST:PORT, every request authorized by iamd at --endpoint. The credentials are
    the service's own: a principal allowed iamd:Authorize (docs/s3.md)."""
    import uvicorn

    from iamd.authz.client import HttpAuthorizationClient
    from iamd.cli.server import check_port
    from iamd.partitions import partition_of
    from iamd.s3 import create_s3_app
    from iamd.s3.request import S3Settings

    check_port(host, port)
    client = Client(profile, endpoint_url, Path(os.environ.get("IAMD_DATA_DIR") or "iamd-data"), region)
    credentials = client.session.get_credentials()
    if credentials is None:
        raise click.ClickException(
            "no credentials for the S3 service: pass --profile or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (a principal allowed iamd:Authorize; docs/s3.md)"
        )
    frozen = credentials.get_frozen_credentials()
    authorizer = HttpAuthorizationClient(client.endpoint.url, frozen.access_key, frozen.secret_key, frozen.token,
                                         client.region)  # fmt: skip
    settings = S3Settings(partition=partition_of(client.region))  # iamd's (docs/s3.md, "Partitions")
    app = create_s3_app(s3_data_dir, authorizer, settings)
    click.echo(f"iamd S3 service at http://{host}:{port}, data in {s3_data_dir}, authorized by iamd at "
               f"{client.endpoint.url} ({client.endpoint.source})", err=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off")


def start_in_process(backend: Backend, host: str, port: int, s3_data_dir: Path) -> threading.Thread:
    """``iamd serve --s3 PORT``: the service on its own port and thread, authorized through this
    process's core (``LocalAuthorizationClient``) as the account's root user: its calls of
    ``iamd:Authorize`` are the root's, allowed unless an SCP denies them (docs/s3.md)."""
    import uvicorn

    from iamd.authz.client import LocalAuthorizationClient
    from iamd.core.local import root_caller
    from iamd.s3 import create_s3_app

    caller = root_caller(backend.account_id, backend.partition.name)
    from iamd.s3.request import S3Settings

    settings = S3Settings(partition=backend.partition.name)
    app = create_s3_app(s3_data_dir, LocalAuthorizationClient(backend, caller, user_agent="iamd-s3"), settings)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="iamd-s3", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise click.ClickException(f"the S3 service could not start on {host}:{port}")
    return thread
