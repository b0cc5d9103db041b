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
