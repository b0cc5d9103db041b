"""``iamd authorize``: ask iamd whether a request to your own service is allowed (docs/authorization-api.md).

A client of the server's ``POST /iamd/authorize``, signed with the caller's credentials (the
profile's, the environment's, else the root key of the data directory), who must be allowed
``iamd:Authorize``. The request is given as a presigned URL, or described (method, path, query,
headers, as the service received them), or described and signed here with another profile's
credentials (``--sign-profile``, to try a policy out).
Exit status: 0 every check allowed, 1 one denied, 2 the call failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .client import Client, client_options

__all__ = ["authorize"]

_EXAMPLES = """
\b
Examples:
  iamd authorize --presigned-url 'https://widgets.example/widget/w1?X-Amz-Algorithm=…' \\
                 --action widgets:GetWidget --resource arn:aws:widgets:us-east-1:111122223333:widget/w1
  iamd authorize --sign-profile mateo --service widgets --url https://widgets.example/widget/w1 \\
                 --action widgets:GetWidget --resource arn:aws:widgets:us-east-1:111122223333:widget/w1
  iamd authorize --method GET --path /widget/w1 --header 'Host: widgets.example' \\
                 --header 'Authorization: AWS4-HMAC-SHA256 Credential=…' --header 'X-Amz-Date: …' …
"""


def _pairs(raw: tuple[str, ...], option: str) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for item in raw:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"{item!r}: write key=value (key=v1,v2 for several values)", param_hint=option)
        out[key] = value.split(",") if "," in value else value
    return out


@click.command(epilog=_EXAMPLES)
@click.option("--action", "actions", multiple=True, required=True, help="An action to check, e.g. s3:GetObject.")
@click.option("--resource", "resources", multiple=True, required=True,
              help="The resource ARN (once for every action, or once per --action, in order).")  # fmt: skip
@click.option("--presigned-url", default=None, help="The client's presigned URL.")
@click.option("--url", default=None, help="The request's URL (with --sign-profile): method, path and query.")
@click.option("--method", default="GET", show_default=True, help="The request's HTTP method.")
@click.option("--path", "path", default=None, help="The request's path, as sent (percent-encoded).")
@click.option("--query", default="", help="The request's raw query string, without '?'.")
@click.option("--header", "headers", multiple=True, help="A header as received, 'Name: value' (repeat).")
@click.option("--payload-hash", default=None, help="SHA-256 (hex) of the body, when no x-amz-content-sha256 header.")
@click.option("--sign-profile", default=None, help="Sign the described request here with this AWS profile's keys.")
@click.option("--signing-region", default="us-east-1", show_default=True, help="With --sign-profile.")
@click.option("--service", default=None, help="The service prefix (e.g. s3): its errors and trail events.")
@click.option("--resource-policy", default=None, help="The resource's policy: JSON text, or @file.")
@click.option("--resource-account", default=None, help="The account that owns the resource.")
@click.option("--resource-tag", "resource_tags", multiple=True, help="A tag of the resource, key=value.")
@click.option("--context", "context", multiple=True, help="A context key the service knows, key=value.")
@click.option("--allow-anonymous", is_flag=True, help="Evaluate an unsigned request as anonymous.")
@click.option("--json", "as_json", is_flag=True, help="The answer as JSON (the API's shape).")
@client_options
@click.pass_context
def authorize(
    ctx: click.Context, actions: tuple[str, ...], resources: tuple[str, ...], presigned_url: str | None,
    url: str | None, method: str, path: str | None, query: str, headers: tuple[str, ...], payload_hash: str | None,
    sign_profile: str | None, signing_region: str, service: str | None, resource_policy: str | None,
    resource_account: str | None, resource_tags: tuple[str, ...], context: tuple[str, ...], allow_anonymous: bool,
    as_json: bool, profile: str | None, endpoint_url: str | None, data_dir: Path,
) -> None:  # fmt: skip
    """Ask iamd whether a request to your own service is allowed, for each --action on its --resource.

    iamd verifies the request's signature, names its caller and evaluates every policy
    that applies (docs/authorization-api.md).
    """
    from iamd.authz import AuthorizationError, Check, ForwardedRequest, HttpAuthorizationClient
    from iamd.authz.client import answer_from_json, request_to_json

    if len(resources) not in (1, len(actions)):
        raise click.UsageError("give one --resource for every action, or one --resource per --action")
    if resource_policy is not None and resource_policy.startswith("@"):
        resource_policy = Path(resource_policy[1:]).read_text(encoding="utf-8")
    tags = {k: str(v) for k, v in _pairs(resource_tags, "--resource-tag").items()}
    given = _pairs(context, "--context")
    checks = [
        Check(a, resources[0] if len(resources) == 1 else resources[i], resource_policy, resource_account,
              tags or None, given or None)
        for i, a in enumerate(actions)
    ]  # fmt: skip
    request: ForwardedRequest | str
    if presigned_url is not None:
        if path is not None or url is not None or headers:
            raise click.UsageError("--presigned-url stands alone: no --url, --path or --header")
        request = presigned_url
    elif sign_profile is not None:
        if url is None:
            raise click.UsageError("--sign-profile needs --url (and --service)")
        request = _signed_here(sign_profile, method, url, service or actions[0].split(":", 1)[0], signing_region)
    else:
        if path is None:
            raise click.UsageError("give --presigned-url, --url with --sign-profile, or --path (and --header)")
        pairs = []
        for header in headers:
            name, colon, value = header.partition(":")
            if not colon or not name.strip():
                raise click.BadParameter(f"{header!r}: write 'Name: value'", param_hint="--header")
            pairs.append((name.strip(), value.strip()))
        request = ForwardedRequest(method.upper(), path, query, pairs, payload_hash)

    api = Client(profile, endpoint_url, data_dir)
    credentials = api.session.get_credentials()
    if credentials is None:
        raise click.ClickException("no AWS credentials to sign the call with: pass --profile or set AWS_ACCESS_KEY_ID")
    frozen = credentials.get_frozen_credentials()
    with HttpAuthorizationClient(api.endpoint.url, frozen.access_key, frozen.secret_key, frozen.token,
                                 api.region) as client:  # fmt: skip
        try:
            raw = client.call(request_to_json(request, checks, allow_anonymous=allow_anonymous, service=service))
        except AuthorizationError as e:
            click.echo(f"{e.code}: {e.message} (iamd at {api.endpoint.url}, from {api.endpoint.source})", err=True)
            ctx.exit(2)
    answer = answer_from_json(raw)
    if as_json:
        click.echo(json.dumps(raw, indent=2))
    else:
        _render(raw)
    ctx.exit(0 if answer.allowed else 1)


def _signed_here(profile: str, method: str, url: str, service: str, region: str) -> Any:
    import botocore.session  # type: ignore[import-untyped]
    from botocore.auth import S3SigV4Auth, SigV4Auth  # type: ignore[import-untyped]
    from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
    from botocore.exceptions import ProfileNotFound  # type: ignore[import-untyped]

    from iamd.authz import ForwardedRequest

    try:
        credentials = botocore.session.Session(profile=profile).get_credentials()
    except ProfileNotFound:
        raise click.ClickException(f"AWS profile {profile!r} not found") from None
    if credentials is None:
        raise click.ClickException(f"AWS profile {profile!r} has no credentials")
    request = AWSRequest(method=method.upper(), url=url)
    (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, region).add_auth(request)
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    headers = [("Host", split.netloc), *((str(k), str(v)) for k, v in prepared.headers.items())]
    return ForwardedRequest(method.upper(), split.path or "/", split.query, headers)


def _render(raw: dict[str, Any]) -> None:
    console = Console(highlight=False, soft_wrap=True)
    principal = raw.get("Principal") or {}
    who = principal.get("arn") or principal.get("accountId") or principal.get("type", "?")
    console.print(f"caller: {escape(str(who))} ({escape(str(principal.get('type', '?')))})   "
                  f"request id: {escape(str(raw.get('RequestId', '')))}")  # fmt: skip
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("Decision", "Action", "Resource", "Why"):
        table.add_column(column, overflow="fold")
    for result in raw.get("Results") or ():
        error = result.get("Error") or {}
        why = result.get("Message") or ""
        if error.get("Code") and error["Code"] != "AccessDenied":
            why = f"{error['Code']}: {error.get('Message', '')}"
        style = "green" if result.get("Decision") == "Allow" else "red"
        table.add_row(f"[{style}]{escape(str(result.get('Decision')))}[/{style}]", escape(str(result.get("Action"))),
                      escape(str(result.get("Resource"))), escape(why))  # fmt: skip
    console.print(table)
