"""What every command that talks to a running iamd shares: finding the server, calling it, AWS profiles.

Where the server is, first found first (one rule for ``iamd assume``, ``iamd user``, ``iamd key``
and ``iamd profile``; docs/credentials.md, "Finding the server"):

1. ``--endpoint-url``;
2. the profile's ``endpoint_url`` (``--profile``, else ``AWS_PROFILE``, else ``default``);
3. ``AWS_ENDPOINT_URL``;
4. the address ``iamd serve`` recorded in the data directory (``--data-dir``, ``IAMD_DATA_DIR``,
   else ``./iamd-data``) when it started;
5. ``http://127.0.0.1:4566``, ``iamd serve``'s default address.

The credentials are the profile's or the environment's (botocore's chain, less the cloud
metadata services); with none there, the root key in the data directory, which only whoever
runs the server can read.

Each of them names a server of the operator's own: these commands never reach AWS. A server
that does not answer is one error that says which address was tried and where it came from.
"""

from __future__ import annotations

import configparser
import contextlib
import ipaddress
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "DEFAULT_ENDPOINT",
    "Client",
    "Endpoint",
    "client_options",
    "data_dir_option",
    "data_dir_source",
    "find_endpoint",
    "profile_sections",
    "record_endpoint",
    "recorded_endpoint",
    "root_credentials",
    "write_profile",
]

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
ROOT_CREDENTIALS = "root-credentials"
ENDPOINT_FILE = "endpoint"
"""``<data-dir>/endpoint``: the URL clients on this host reach ``iamd serve`` at, written when it starts."""


data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("iamd-data"), show_default=True,
    envvar="IAMD_DATA_DIR", show_envvar=True,
    help="Where iamd keeps its SQLite database, master key, root credentials and its address.",
)  # fmt: skip


F = TypeVar("F", bound=Callable[..., Any])


def client_options(command: F) -> F:
    """``--profile``, ``--endpoint-url`` and ``--data-dir``: which credentials, which server."""
    command = data_dir_option(command)
    command = click.option(
        "--endpoint-url", default=None,
        help="iamd's URL (default: the profile's endpoint_url, AWS_ENDPOINT_URL, the address `iamd serve` "
        "recorded in the data directory, else http://127.0.0.1:4566).",
    )(command)  # fmt: skip
    return click.option(
        "--profile", default=None, help="AWS profile: the credentials and endpoint_url (`iamd profile` writes one)."
    )(command)


def data_dir_source(ctx: click.Context) -> str:
    """Where the data directory came from, for messages: the flag, IAMD_DATA_DIR or the default."""
    source = ctx.get_parameter_source("data_dir")
    if source is click.core.ParameterSource.COMMANDLINE:
        return "--data-dir"
    if source is click.core.ParameterSource.ENVIRONMENT:
        return "IAMD_DATA_DIR"
    return "the default; set --data-dir or IAMD_DATA_DIR"


def root_credentials(data_dir: Path) -> tuple[str, str]:
    """The root access key ``iamd serve`` wrote to ``<data-dir>/root-credentials``; OSError or ValueError."""
    creds = json.loads((data_dir / ROOT_CREDENTIALS).read_text(encoding="utf-8"))
    if not isinstance(creds, dict) or not isinstance(creds.get("AccessKeyId"), str):
        raise ValueError("not a root credentials file")
    return creds["AccessKeyId"], str(creds["SecretAccessKey"])


def client_host(host: str) -> str:
    """The host clients on this machine use to reach a server listening on ``host``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a name
    if address.is_unspecified:  # 0.0.0.0 / :: listen everywhere, loopback included
        return "127.0.0.1" if address.version == 4 else "[::1]"
    return f"[{address}]" if address.version == 6 else str(address)


def record_endpoint(data_dir: Path, host: str, port: int, scheme: str = "http") -> str:
    """Record where ``iamd serve`` listens, for the commands that look for it; returns the URL."""
    url = f"{scheme}://{client_host(host)}:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / ENDPOINT_FILE).write_text(url + "\n", encoding="utf-8")
    return url


def recorded_endpoint(data_dir: Path) -> str | None:
    try:
        url = (data_dir / ENDPOINT_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return url or None


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    source: str
    """Where the URL came from, for messages."""


def find_endpoint(endpoint_url: str | None, profile_config: dict[str, Any], profile: str, data_dir: Path) -> Endpoint:
    """The server's URL by the rule in this module's docstring."""
    if endpoint_url:
        return Endpoint(endpoint_url.rstrip("/"), "--endpoint-url")
    if profile_config.get("endpoint_url"):
        return Endpoint(str(profile_config["endpoint_url"]).rstrip("/"), f"the endpoint_url of profile {profile!r}")
    if os.environ.get("AWS_ENDPOINT_URL"):
        return Endpoint(os.environ["AWS_ENDPOINT_URL"].rstrip("/"), "AWS_ENDPOINT_URL")
    recorded = recorded_endpoint(data_dir)
    if recorded:
        return Endpoint(recorded.rstrip("/"), f"{data_dir / ENDPOINT_FILE}, written by `iamd serve`")
    return Endpoint(DEFAULT_ENDPOINT, "iamd's default address")


class Client:
    """botocore IAM, STS and Organizations clients for one iamd; :meth:`call` turns every failure into one clear
    message."""

    def __init__(self, profile: str | None, endpoint_url: str | None, data_dir: Path, region: str | None = None):
        import botocore.session  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
        from botocore.exceptions import BotoCoreError, ProfileNotFound  # type: ignore[import-untyped]

        self.session = botocore.session.Session(profile=profile)
        self.profile = profile or os.environ.get("AWS_PROFILE") or "default"
        try:
            config = self.session.get_scoped_config()
        except ProfileNotFound:
            raise click.ClickException(
                f"AWS profile {self.profile!r} not found (`iamd profile` writes one named 'iamd' with the root key)"
            ) from None
        self.endpoint = find_endpoint(endpoint_url, config, self.profile, data_dir)
        resolver = self.session.get_component("credential_provider")
        for method in ("iam-role", "container-role"):  # no cloud metadata service is asked, ever
            resolver.remove(method)
        if self.session.get_credentials() is None:
            with contextlib.suppress(OSError, ValueError):  # none at all: call() says so
                self.session.set_credentials(*root_credentials(data_dir))
        # the server's home region when nothing names one (cn-north-1 for an aws-cn server)
        self.region = region or self.session.get_config_variable("region") or recorded_region(data_dir)
        # One attempt, short connect timeout: a server that is not there is said at once.
        retry = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=60)
        try:
            self.iam = self.session.create_client(
                "iam", endpoint_url=self.endpoint.url, region_name=self.region, config=retry
            )
            self.sts = self.session.create_client(
                "sts", endpoint_url=self.endpoint.url, region_name=self.region, config=retry
            )
            self.organizations = self.session.create_client(
                "organizations", endpoint_url=self.endpoint.url, region_name=self.region, config=retry
            )
        except (BotoCoreError, ValueError) as e:
            raise click.ClickException(f"{e} ({self.endpoint.source})") from None

    def call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        try:
            result: dict[str, Any] = getattr(client, operation)(**params)
        except ClientError as e:
            error = e.response.get("Error", {})
            raise click.ClickException(f"{error.get('Code', 'Error')}: {error.get('Message', '')}") from None
        except EndpointConnectionError:
            raise click.ClickException(
                f"no iamd answers at {self.endpoint.url} (from {self.endpoint.source}). Start it with "
                "`iamd serve`, or name the server with --endpoint-url, AWS_ENDPOINT_URL or a profile's endpoint_url."
            ) from None
        except NoCredentialsError:
            raise click.ClickException(
                f"no AWS credentials to sign the request to {self.endpoint.url} with: pass --profile "
                "(`iamd profile` writes the profile 'iamd' with the root key) or set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY."
            ) from None
        except BotoCoreError as e:
            raise click.ClickException(f"{e} (iamd at {self.endpoint.url}, from {self.endpoint.source})") from None
        return result

    def error_code(self, client: Any, operation: str, **params: Any) -> str | None:
        """Call and return the AWS error code (None on success)."""
        from botocore.exceptions import ClientError

        try:
            getattr(client, operation)(**params)
        except ClientError as e:
            return str(e.response.get("Error", {}).get("Code"))
        return None


def aws_config_paths() -> tuple[Path, Path]:
    """The AWS CLI's config and credentials files (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, ~/.aws)."""
    aws_dir = Path.home() / ".aws"
    config = Path(os.environ.get("AWS_CONFIG_FILE") or aws_dir / "config").expanduser()
    credentials = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or aws_dir / "credentials").expanduser()
    return config, credentials


def recorded_region(data_dir: Path) -> str:
    """The region ``iamd serve`` recorded with the root credentials (its partition's home
    region: cn-north-1 for an aws-cn server), us-east-1 when none is recorded."""
    try:
        creds = json.loads((data_dir / ROOT_CREDENTIALS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "us-east-1"
    region = creds.get("Region") if isinstance(creds, dict) else None
    return region if isinstance(region, str) and region else "us-east-1"


def profile_sections(
    endpoint: str, access_key_id: str, secret: str, region: str = "us-east-1"
) -> tuple[dict[str, str], ...]:
    """A profile's config section (region, endpoint, output) and credentials section."""
    return (
        {"region": region, "endpoint_url": endpoint, "output": "json"},
        {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret},
    )


def write_profile(name: str, endpoint: str, access_key_id: str, secret: str, region: str = "us-east-1") -> None:
    """Write (or replace) profile ``name`` in the AWS CLI's files, both created 0600."""
    config_path, cred_path = aws_config_paths()
    config_section, cred_section = profile_sections(endpoint, access_key_id, secret, region)
    section_name = name if name == "default" else f"profile {name}"
    for path, section, values in ((config_path, section_name, config_section), (cred_path, name, cred_section)):
        path.parent.mkdir(parents=True, exist_ok=True)
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path)
        parser[section] = values
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            parser.write(f)
