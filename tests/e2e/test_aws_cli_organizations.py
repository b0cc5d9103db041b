"""The AWS CLI's ``organizations`` commands (the JSON 1.1 protocol, its own vendored botocore) against a real iamd."""

from __future__ import annotations

import json
from pathlib import Path

from .clients import AwsCli

DENY = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]}


def test_an_organization_an_account_and_an_scp(root_cli: AwsCli, tmp_path: Path) -> None:
    org = root_cli("organizations", "create-organization")["Organization"]
    assert org["FeatureSet"] == "ALL" and org["MasterAccountId"] == "123456789012"
    root = root_cli("organizations", "list-roots")["Roots"][0]
    unit = root_cli("organizations", "create-organizational-unit", "--parent-id", root["Id"], "--name", "Sandbox")[
        "OrganizationalUnit"
    ]
    status = root_cli("organizations", "create-account", "--email", "dev@example.com", "--account-name", "dev")[
        "CreateAccountStatus"
    ]
    done = root_cli("organizations", "describe-create-account-status", "--create-account-request-id", status["Id"])
    member = done["CreateAccountStatus"]["AccountId"]
    root_cli.run("organizations", "move-account", "--account-id", member, "--source-parent-id", root["Id"],
                 "--destination-parent-id", unit["Id"])  # fmt: skip
    document = tmp_path / "scp.json"
    document.write_text(json.dumps(DENY, indent=2))
    policy = root_cli("organizations", "create-policy", "--name", "DenyCreateUser", "--description", "",
                      "--type", "SERVICE_CONTROL_POLICY", "--content", f"file://{document}")["Policy"]  # fmt: skip
    assert json.loads(policy["Content"]) == DENY
    policy_id = policy["PolicySummary"]["Id"]
    assert (
        root_cli.run("organizations", "attach-policy", "--policy-id", policy_id, "--target-id", unit["Id"]).json()
        is None
    )
    attached = root_cli("organizations", "list-policies-for-target", "--target-id", unit["Id"], "--filter",
                        "SERVICE_CONTROL_POLICY")["Policies"]  # fmt: skip
    assert sorted(p["Name"] for p in attached) == ["DenyCreateUser", "FullAWSAccess"]
    accounts = root_cli("organizations", "list-accounts-for-parent", "--parent-id", unit["Id"])["Accounts"]
    assert [a["Id"] for a in accounts] == [member]
    refused = root_cli.run("organizations", "delete-policy", "--policy-id", policy_id)
    assert refused.returncode in (254, 255) and "(PolicyInUseException)" in refused.stderr, refused.describe()


GUARDRAIL = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]}
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _admin(cli: AwsCli, name: str) -> AwsCli:
    """A user ``name`` with AdministratorAccess in ``cli``'s account, and the CLI signed as it."""
    cli("iam", "create-user", "--user-name", name)
    cli.run("iam", "attach-user-policy", "--user-name", name, "--policy-arn", ADMIN).json()
    key = cli("iam", "create-access-key", "--user-name", name)["AccessKey"]
    return AwsCli(cli.home, cli.endpoint, (key["AccessKeyId"], key["SecretAccessKey"]))


def _session(boss: AwsCli, role_arn: str, name: str) -> AwsCli:
    creds = boss("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", name)["Credentials"]
    return AwsCli(boss.home, boss.endpoint, (creds["AccessKeyId"], creds["SecretAccessKey"]),
                  {"AWS_SESSION_TOKEN": creds["SessionToken"]})  # fmt: skip


def test_the_organizations_scenario(root_cli: AwsCli, tmp_path: Path) -> None:
    """Two OUs, three accounts, an SCP at one OU: the member account's user is denied with AWS's
    message and the management account's same-named user is not; moving the account out lifts it;
    an RCP on aws:PrincipalOrgID keeps a member account's role to the organization."""
    orgs = ("organizations",)
    org_id = root_cli(*orgs, "create-organization")["Organization"]["Id"]
    root = root_cli(*orgs, "list-roots")["Roots"][0]["Id"]
    units = {name: root_cli(*orgs, "create-organizational-unit", "--parent-id", root, "--name", name)
             ["OrganizationalUnit"]["Id"] for name in ("Workloads", "Sandbox")}  # fmt: skip
    accounts = {}
    for name in ("dev", "prod", "outsider"):
        status = root_cli(*orgs, "create-account", "--email", f"{name}@example.com", "--account-name", name)
        request_id = status["CreateAccountStatus"]["Id"]
        done = root_cli(*orgs, "describe-create-account-status", "--create-account-request-id", request_id)
        accounts[name] = done["CreateAccountStatus"]["AccountId"]
    dev, prod, outsider = accounts["dev"], accounts["prod"], accounts["outsider"]
    root_cli.run(*orgs, "move-account", "--account-id", dev, "--source-parent-id", root, "--destination-parent-id",
                 units["Workloads"]).json()  # fmt: skip
    boss = _admin(root_cli, "boss")
    member = {a: _session(boss, f"arn:aws:iam::{accounts[a]}:role/OrganizationAccountAccessRole", "setup")
              for a in accounts}  # fmt: skip
    dev_alice, mgmt_alice, visitor = _admin(member["dev"], "alice"), _admin(root_cli, "alice"), _admin(
        member["outsider"], "visitor")  # fmt: skip
    root_cli.run(*orgs, "remove-account-from-organization", "--account-id", outsider).json()

    document = tmp_path / "guardrail.json"
    document.write_text(json.dumps(GUARDRAIL))
    scp = root_cli(*orgs, "create-policy", "--name", "NoNewUsers", "--description", "", "--type",
                   "SERVICE_CONTROL_POLICY", "--content", f"file://{document}")["Policy"]["PolicySummary"]  # fmt: skip
    root_cli.run(*orgs, "attach-policy", "--policy-id", scp["Id"], "--target-id", units["Workloads"]).json()
    denied = dev_alice.run("iam", "create-user", "--user-name", "bob")
    assert denied.returncode in (254, 255), denied.describe()
    assert denied.stderr.strip() == (
        "An error occurred (AccessDenied) when calling the CreateUser operation: "
        f"User: arn:aws:iam::{dev}:user/alice is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{dev}:user/bob with an explicit deny in a service control policy: {scp['Arn']}"
    )
    assert mgmt_alice("iam", "create-user", "--user-name", "bob")["User"]["UserName"] == "bob"
    root_cli.run(*orgs, "move-account", "--account-id", dev, "--source-parent-id", units["Workloads"],
                 "--destination-parent-id", units["Sandbox"]).json()  # fmt: skip
    assert dev_alice("iam", "create-user", "--user-name", "bob")["User"]["UserName"] == "bob"

    root_cli(*orgs, "enable-policy-type", "--root-id", root, "--policy-type", "RESOURCE_CONTROL_POLICY")
    org_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action":
                "sts:AssumeRole", "Resource": "*", "Condition": {"StringNotEqualsIfExists": {
                    "aws:PrincipalOrgID": org_id}}}]}  # fmt: skip
    document.write_text(json.dumps(org_only))
    rcp = root_cli(*orgs, "create-policy", "--name", "OrgOnly", "--description", "", "--type",
                   "RESOURCE_CONTROL_POLICY", "--content", f"file://{document}")["Policy"]["PolicySummary"]  # fmt: skip
    root_cli.run(*orgs, "attach-policy", "--policy-id", rcp["Id"], "--target-id", root).json()
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                     "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in (dev, outsider)]}}]}))  # fmt: skip
    member["prod"]("iam", "create-role", "--role-name", "Shared", "--assume-role-policy-document", f"file://{trust}")
    shared = f"arn:aws:iam::{prod}:role/Shared"
    refused = visitor.run("sts", "assume-role", "--role-arn", shared, "--role-session-name", "visit")
    assert refused.returncode in (254, 255) and refused.stderr.strip() == (
        "An error occurred (AccessDenied) when calling the AssumeRole operation: "
        f"User: arn:aws:iam::{outsider}:user/visitor is not authorized to perform: sts:AssumeRole on resource: "
        f"{shared} with an explicit deny in a resource control policy"
    ), refused.describe()
    inside = dev_alice("sts", "assume-role", "--role-arn", shared, "--role-session-name", "alice")
    assert inside["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{prod}:assumed-role/Shared/alice"


def test_a_delegated_administrator_reads_the_organization(root_cli: AwsCli, tmp_path: Path) -> None:
    """Trusted access, a registration and the delegation policy with the CLI's own botocore: the
    delegated administrator lists the accounts; its delegation lets it create an SCP, nothing more."""
    orgs = ("organizations",)
    root_cli(*orgs, "create-organization")
    accounts = {}
    for name in ("security", "platform"):
        status = root_cli(*orgs, "create-account", "--email", f"{name}@example.com", "--account-name", name)
        request_id = status["CreateAccountStatus"]["Id"]
        done = root_cli(*orgs, "describe-create-account-status", "--create-account-request-id", request_id)
        accounts[name] = done["CreateAccountStatus"]["AccountId"]
    root_cli.run(*orgs, "enable-aws-service-access", "--service-principal", "guardduty.amazonaws.com").json()
    root_cli.run(*orgs, "register-delegated-administrator", "--account-id", accounts["security"],
                 "--service-principal", "guardduty.amazonaws.com").json()  # fmt: skip
    listed = root_cli(*orgs, "list-delegated-administrators")["DelegatedAdministrators"]
    assert [a["Id"] for a in listed] == [accounts["security"]]
    boss = _admin(root_cli, "boss")
    security = _admin(_session(boss, f"arn:aws:iam::{accounts['security']}:role/OrganizationAccountAccessRole",
                               "setup"), "auditor")  # fmt: skip
    seen = {a["Id"] for a in security(*orgs, "list-accounts")["Accounts"]}
    assert seen == {"123456789012", *accounts.values()}
    refused = security.run(*orgs, "create-organizational-unit", "--parent-id", "r-abcd", "--name", "Mine")
    assert refused.returncode in (254, 255) and "(AccessDeniedException)" in refused.stderr, refused.describe()

    platform = _admin(_session(boss, f"arn:aws:iam::{accounts['platform']}:role/OrganizationAccountAccessRole",
                               "setup"), "policies")  # fmt: skip
    delegation = tmp_path / "delegation.json"
    delegation.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{accounts['platform']}:root"},
        "Action": ["organizations:List*", "organizations:Describe*", "organizations:CreatePolicy"], "Resource": "*",
        "Condition": {"StringEquals": {"organizations:PolicyType": "SERVICE_CONTROL_POLICY"}}}]}))  # fmt: skip
    put = root_cli(*orgs, "put-resource-policy", "--content", f"file://{delegation}")["ResourcePolicy"]
    assert put["ResourcePolicySummary"]["Id"].startswith("rp-")
    document = tmp_path / "scp.json"
    document.write_text(json.dumps(DENY))
    made = platform(*orgs, "create-policy", "--name", "FromPlatform", "--description", "", "--type",
                    "SERVICE_CONTROL_POLICY", "--content", f"file://{document}")["Policy"]  # fmt: skip
    assert made["PolicySummary"]["Arn"].startswith("arn:aws:organizations::123456789012:policy/o-")
    refused = platform.run(*orgs, "create-policy", "--name", "Tags", "--description", "", "--type", "TAG_POLICY",
                           "--content", "{}")  # fmt: skip
    assert refused.returncode in (254, 255) and "(AccessDeniedException)" in refused.stderr, refused.describe()
