"""``iamd assume ROLE``: AssumeRole through botocore (a dependency already), printed for a shell or
credential_process."""

from __future__ import annotations

import json
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .client import Client, client_options

__all__ = ["assume"]


def _role_arn(api: Client, role: str) -> str:
    """A role ARN, or the ARN of role ``[path/]name`` in the caller's own account."""
    if role.startswith("arn:"):
        return role
    me = api.call(api.sts, "get_caller_identity")
    partition = str(me["Arn"]).split(":")[1]  # the server's (aws-cn, aws-us-gov, …)
    return f"arn:{partition}:iam::{me['Account']}:role/{role.strip('/')}"


@click.command()
@click.argument("role")
@click.option("--session-name", default=None, help="RoleSessionName (default: iamd-cli-<unix time>).")
@click.option("--duration", type=int, default=None, help="DurationSeconds (900-43200; default: the role's 3600).")
@click.option("--external-id", default=None, help="ExternalId, when the role's trust policy requires one.")
@click.option("--region", default=None, help="Signing region (default: the profile's, else us-east-1).")
@click.option(
    "--credential-process", "credential_process", is_flag=True,
    help="Print the JSON of an AWS credential_process (Version 1) instead of export lines.",
)  # fmt: skip
@client_options
def assume(
    role: str,
    session_name: str | None,
    duration: int | None,
    external_id: str | None,
    region: str | None,
    credential_process: bool,
    profile: str | None,
    endpoint_url: str | None,
    data_dir: Path,
) -> None:
    """Assume ROLE (an ARN, or a role name in the caller's account) and print its credentials.

    The calling credentials are an IAM user's or a role session's: AWS lets no root user assume a role.
    The export lines include AWS_ENDPOINT_URL and AWS_DEFAULT_REGION: where the session works.

    \b
        eval "$(iamd assume Deployer --profile alice)"    # export AWS_* in this shell
        credential_process = iamd assume Deployer --profile alice --credential-process   # in ~/.aws/config
    """
    api = Client(profile, endpoint_url, data_dir, region=region)
    params: dict[str, Any] = {"RoleSessionName": session_name or f"iamd-cli-{int(time.time())}"}
    if duration is not None:
        params["DurationSeconds"] = duration
    if external_id is not None:
        params["ExternalId"] = external_id
    params["RoleArn"] = _role_arn(api, role)
    creds = api.call(api.sts, "assume_role", **params)["Credentials"]
    if credential_process:
        expiration: datetime = creds["Expiration"]
        click.echo(json.dumps({
            "Version": 1,
            "AccessKeyId": creds["AccessKeyId"],
            "SecretAccessKey": creds["SecretAccessKey"],
            "SessionToken": creds["SessionToken"],
            "Expiration": expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }))  # fmt: skip
        return
    for name, key in (
        ("AWS_ACCESS_KEY_ID", "AccessKeyId"),
        ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
        ("AWS_SESSION_TOKEN", "SessionToken"),
    ):
        click.echo(f"export {name}={shlex.quote(creds[key])}")
    # The session works only at this iamd: the endpoint (and the region it was signed for) go
    # with it, so that a shell that evals these lines sends the session's requests there, never to AWS.
    click.echo(f"export AWS_ENDPOINT_URL={shlex.quote(api.endpoint.url)}")
    click.echo(f"export AWS_DEFAULT_REGION={shlex.quote(api.region)}")
