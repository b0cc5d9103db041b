"""``iamd user create`` and ``iamd key rotate``: credential chores, as a client of the server.

These commands talk to a running iamd through its IAM API with botocore, exactly as any
client does, so the server authorizes and audits every step. They find the server as every
such command does (:mod:`iamd.cli.client`): never real AWS.
"""

from __future__ import annotations

from pathlib import Path

import click

from .client import Client, client_options, write_profile

__all__ = ["key", "user"]


@click.group()
def user() -> None:
    """IAM users, through the server's API."""


@user.command("create")
@click.argument("name")
@click.option("--path", default="/", show_default=True)
@click.option("--console-password", is_flag=True, help="Also give a generated console password (reset at first use).")
@click.option(
    "--save-profile", "save_profile", metavar="PROFILE", default=None,
    help="Also create an access key for the user and write it to ~/.aws as profile PROFILE (same endpoint).",
)  # fmt: skip
@client_options
def user_create(
    name: str, path: str, console_password: bool, save_profile: str | None,
    profile: str | None, endpoint_url: str | None, data_dir: Path,
) -> None:  # fmt: skip
    """Create user NAME; with --console-password, a login profile with a generated password shown once;
    with --save-profile, an access key written as an AWS profile."""
    from iamd.service.passwords import change_password_policy

    api = Client(profile, endpoint_url, data_dir)
    password, users_may_change = _generated_password(api) if console_password else (None, True)
    created = api.call(api.iam, "create_user", UserName=name, Path=path)["User"]
    change_password = change_password_policy(created["Arn"])
    try:
        if password is not None:
            api.call(api.iam, "create_login_profile", UserName=name, Password=password, PasswordResetRequired=True)
            if not users_may_change:
                # As AWS's console does when it creates a user who must reset the password and the account
                # does not let users change their passwords (AWS "Create an IAM user in your AWS account"):
                # without it the first sign-in could not get past the password change.
                api.call(api.iam, "attach_user_policy", UserName=name, PolicyArn=change_password)
        new_key = api.call(api.iam, "create_access_key", UserName=name)["AccessKey"] if save_profile else None
    except click.ClickException:
        api.error_code(api.iam, "delete_user", UserName=name)  # no half-made user
        raise
    click.echo(f"Created user {created['UserName']} ({created['Arn']})")
    if password is not None:
        account = created["Arn"].split(":")[4]
        aliases = api.iam.list_account_aliases().get("AccountAliases", []) if _can_list_aliases(api) else []
        click.echo(f"Account: {account}" + (f" (alias {aliases[0]})" if aliases else ""))
        click.echo(f"Console password (shown once; it must be changed at first sign-in): {password}")
        click.echo(f"Sign-in URL: {api.endpoint.url.rstrip('/')}/console?account={aliases[0] if aliases else account}")
        if not users_may_change:
            click.echo(f"Attached {change_password} (the account does not let users change passwords)")
    if new_key is not None and save_profile is not None:
        write_profile(save_profile, api.endpoint.url, new_key["AccessKeyId"], new_key["SecretAccessKey"], api.region)
        click.echo(
            f"Access key {new_key['AccessKeyId']} written to profile {save_profile!r} "
            f"(endpoint {api.endpoint.url}); try: aws --profile {save_profile} sts get-caller-identity"
        )


def _generated_password(api: Client) -> tuple[str, bool]:
    """A password that satisfies the account's password policy (or the default one), and whether that
    policy lets users change their own passwords (``AllowUsersToChangePassword``)."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    from iamd.service.passwords import DEFAULT_POLICY, PasswordPolicy, generate_password

    try:
        wire = api.iam.get_account_password_policy()["PasswordPolicy"]
        policy = PasswordPolicy.from_params({k: v for k, v in wire.items() if k != "ExpirePasswords"})
    except ClientError:  # no policy set (the default applies), or not allowed to read it
        policy = DEFAULT_POLICY
    except BotoCoreError:  # the server is not there: say so the usual way
        api.call(api.iam, "get_account_password_policy")
        raise
    return generate_password(policy), policy.AllowUsersToChangePassword


def _can_list_aliases(api: Client) -> bool:
    return api.error_code(api.iam, "list_account_aliases") is None


@click.group()
def key() -> None:
    """Access keys, through the server's API."""


@key.command("rotate")
@click.argument("user_name")
@click.option("--delete-old", is_flag=True, help="Delete the old key at once instead of deactivating it.")
@click.option("--finish", is_flag=True, help="Finish an earlier rotation: delete the user's inactive keys.")
@client_options
def key_rotate(
    user_name: str, delete_old: bool, finish: bool, profile: str | None, endpoint_url: str | None, data_dir: Path
) -> None:
    """Give USER_NAME a new access key and retire the old one (deactivated, or deleted with --delete-old)."""
    api = Client(profile, endpoint_url, data_dir)
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
