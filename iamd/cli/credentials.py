"""``iamd user create`` and ``iamd key rotate``: credential chores, as a client of the server.

These commands talk to a running iamd through its IAM API with botocore, exactly as any
client does, so the server authorizes and audits every step. The endpoint comes from
``--endpoint-url``, ``AWS_ENDPOINT_URL(_IAM)`` or the profile's ``endpoint_url``; without one
they refuse to run (they must never reach real AWS by accident).
"""

from __future__ import annotations

import os
from typing import Any

import click

__all__ = ["key", "user"]

profile_option = click.option("--profile", default=None, help="AWS CLI profile (credentials, endpoint_url).")
endpoint_option = click.option(
    "--endpoint-url", default=None, help="iamd's URL, e.g. http://127.0.0.1:4566 (env AWS_ENDPOINT_URL)."
)


class _Api:
    def __init__(self, profile: str | None, endpoint_url: str | None) -> None:
        import botocore.session  # type: ignore[import-untyped]

        session = botocore.session.Session(profile=profile)
        endpoint = (
            endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_IAM")
            or os.environ.get("AWS_ENDPOINT_URL")
            or session.get_scoped_config().get("endpoint_url")
        )
        if not endpoint:
            raise click.ClickException(
                "no iamd endpoint: pass --endpoint-url, set AWS_ENDPOINT_URL, or use a profile with endpoint_url "
                "(see `iamd profile`)"
            )
        self.endpoint = str(endpoint).rstrip("/")
        region = session.get_config_variable("region") or "us-east-1"
        self.iam = session.create_client("iam", endpoint_url=self.endpoint, region_name=region)
        self.sts = session.create_client("sts", endpoint_url=self.endpoint, region_name=region)

    def call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            result: dict[str, Any] = getattr(client, operation)(**params)
        except ClientError as e:
            error = e.response.get("Error", {})
            raise click.ClickException(f"{error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as e:
            raise click.ClickException(str(e)) from None
        return result

    def error_code(self, client: Any, operation: str, **params: Any) -> str | None:
        """Call and return the AWS error code (None on success)."""
        from botocore.exceptions import ClientError

        try:
            getattr(client, operation)(**params)
        except ClientError as e:
            return str(e.response.get("Error", {}).get("Code"))
        return None


def sign_in_url(endpoint: str, account: str) -> str:
    """Where a user signs in to iamd's console: the server's own URL + ``/console?account=``."""
    return f"{endpoint}/console?account={account}"


@click.group()
def user() -> None:
    """IAM users, through the server's API."""


@user.command("create")
@click.argument("name")
@click.option("--path", default="/", show_default=True)
@click.option("--console-password", is_flag=True, help="Also give a generated console password (reset at first use).")
@profile_option
@endpoint_option
def user_create(name: str, path: str, console_password: bool, profile: str | None, endpoint_url: str | None) -> None:
    """Create user NAME; with --console-password, a login profile with a generated password shown once."""
    from iamd.service.passwords import DEFAULT_POLICY, PasswordPolicy, generate_password

    api = _Api(profile, endpoint_url)
    created = api.call(api.iam, "create_user", UserName=name, Path=path)["User"]
    click.echo(f"Created user {created['UserName']} ({created['Arn']})")
    if not console_password:
        return
    from botocore.exceptions import ClientError

    try:
        wire = api.iam.get_account_password_policy()["PasswordPolicy"]
        policy = PasswordPolicy.from_params({k: v for k, v in wire.items() if k != "ExpirePasswords"})
    except ClientError:  # no policy set (the default applies), or not allowed to read it
        policy = DEFAULT_POLICY
    password = generate_password(policy)
    try:
        api.call(api.iam, "create_login_profile", UserName=name, Password=password, PasswordResetRequired=True)
    except click.ClickException:
        api.error_code(api.iam, "delete_user", UserName=name)  # no half-made user
        raise
    account = api.call(api.sts, "get_caller_identity")["Account"]
    aliases = api.iam.list_account_aliases().get("AccountAliases", []) if _can_list_aliases(api) else []
    click.echo(f"Console password (shown once; it must be changed at first sign-in): {password}")
    click.echo(f"Sign-in URL: {sign_in_url(api.endpoint, aliases[0] if aliases else account)}")


def _can_list_aliases(api: _Api) -> bool:
    return api.error_code(api.iam, "list_account_aliases") is None


@click.group()
def key() -> None:
    """Access keys, through the server's API."""


@key.command("rotate")
@click.argument("user_name")
@click.option("--delete-old", is_flag=True, help="Delete the old key at once instead of deactivating it.")
@click.option("--finish", is_flag=True, help="Finish an earlier rotation: delete the user's inactive keys.")
@profile_option
@endpoint_option
def key_rotate(user_name: str, delete_old: bool, finish: bool, profile: str | None, endpoint_url: str | None) -> None:
    """Give USER_NAME a new access key and retire the old one (deactivated, or deleted with --delete-old)."""
    api = _Api(profile, endpoint_url)
    keys = api.call(api.iam, "list_access_keys", UserName=user_name)["AccessKeyMetadata"]
    if finish:
        inactive = [k for k in keys if k["Status"] == "Inactive"]
        for k in inactive:
            api.call(api.iam, "delete_access_key", UserName=user_name, AccessKeyId=k["AccessKeyId"])
            click.echo(f"Deleted inactive key {k['AccessKeyId']}")
        if not inactive:
            click.echo(f"{user_name} has no inactive access key; nothing to finish.")
        return
    if len(keys) >= 2:
        listing = "\n".join(
            f"  {k['AccessKeyId']}  {k['Status']:<8}  created {k['CreateDate']:%Y-%m-%d %H:%M}" for k in keys
        )
        raise click.ClickException(
            f"{user_name} already has 2 access keys, the most IAM allows (AccessKeysPerUser: 2):\n{listing}\n"
            "A rotation needs a free slot for the new key. Delete one first: "
            f"`iamd key rotate {user_name} --finish` deletes the inactive ones, or "
            f"`aws iam delete-access-key --user-name {user_name} --access-key-id <id>`."
        )
    new = api.call(api.iam, "create_access_key", UserName=user_name)["AccessKey"]
    click.echo(f"New access key for {user_name} (the secret is shown only this once):")
    click.echo(f"  AccessKeyId:     {new['AccessKeyId']}")
    click.echo(f"  SecretAccessKey: {new['SecretAccessKey']}")
    for old in keys:
        old_id = old["AccessKeyId"]
        if delete_old:
            api.call(api.iam, "delete_access_key", UserName=user_name, AccessKeyId=old_id)
            click.echo(f"Deleted the old key {old_id}.")
        else:
            api.call(api.iam, "update_access_key", UserName=user_name, AccessKeyId=old_id, Status="Inactive")
            click.echo(
                f"Deactivated the old key {old_id}. Once nothing uses it any more, delete it with "
                f"`iamd key rotate {user_name} --finish` (reactivate it with aws iam update-access-key if needed)."
            )
