"""``iamd account list`` and ``iamd account create``: the accounts of an organization, as a client of the server.

Both call the server's Organizations API (ListAccounts; CreateAccount and
DescribeCreateAccountStatus), signed like every other request, so the server authorizes and
audits them: run them with the management account's credentials (docs/organizations.md).
"""

from __future__ import annotations

from pathlib import Path

import click

from .client import Client, client_options

__all__ = ["account"]


@click.group()
def account() -> None:
    """The accounts of the caller's organization, through the server's Organizations API."""


@account.command("list")
@client_options
def account_list(profile: str | None, endpoint_url: str | None, data_dir: Path) -> None:
    """List the organization's accounts: id, name, email, status, and which one is the management account."""
    api = Client(profile, endpoint_url, data_dir)
    management = api.call(api.organizations, "describe_organization")["Organization"]["MasterAccountId"]
    accounts = []
    token: str | None = None
    while True:
        page = api.call(api.organizations, "list_accounts", **({"NextToken": token} if token else {}))
        accounts += page["Accounts"]
        token = page.get("NextToken")
        if not token:
            break
    for found in accounts:
        role = "management" if found["Id"] == management else "member"
        click.echo(f"{found['Id']}  {role:<10}  {found['Status']:<9}  {found['Email']}  {found['Name']}")


@account.command("create")
@click.argument("name")
@click.option("--email", required=True, help="The new account's email address (unique among the accounts).")
@click.option("--role-name", default=None, help="The administrators' role (default OrganizationAccountAccessRole).")
@click.option("--create-organization", is_flag=True, help="First make the caller's account an organization's "
              "management account, if it is in none.")  # fmt: skip
@client_options
def account_create(
    name: str, email: str, role_name: str | None, create_organization: bool,
    profile: str | None, endpoint_url: str | None, data_dir: Path,
) -> None:  # fmt: skip
    """Create account NAME in the caller's organization, with the role its administrators assume."""
    from iamd.partitions import partition_of

    api = Client(profile, endpoint_url, data_dir)
    if create_organization and api.error_code(api.organizations, "describe_organization") is not None:
        org = api.call(api.organizations, "create_organization", FeatureSet="ALL")["Organization"]
        click.echo(f"Created organization {org['Id']} (management account {org['MasterAccountId']})")
    params = {"AccountName": name, "Email": email, **({"RoleName": role_name} if role_name else {})}
    request = api.call(api.organizations, "create_account", **params)["CreateAccountStatus"]
    status = request
    for _ in range(60):  # iamd completes at once; AWS takes minutes (then: describe-create-account-status)
        status = api.call(api.organizations, "describe_create_account_status", CreateAccountRequestId=request["Id"])[
            "CreateAccountStatus"
        ]
        if status["State"] != "IN_PROGRESS":
            break
    if status["State"] != "SUCCEEDED":
        raise click.ClickException(
            f"account {name} was not created: {status['State']} {status.get('FailureReason', '')}".rstrip()
        )
    account_id = status["AccountId"]
    click.echo(f"Created account {account_id} ({name})")
    click.echo(
        f"Its administrators' role: arn:{partition_of(api.region)}:iam::{account_id}:role/"
        f"{role_name or 'OrganizationAccountAccessRole'}"
    )
