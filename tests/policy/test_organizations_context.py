"""The organization condition keys in the request context, and the denying SCP's or RCP's ARN in
AWS's denial text (docs/organizations.md, "Condition keys" and "Denials")."""

from __future__ import annotations

import json

from iamd.policy import (
    DocumentKind,
    OrgMembership,
    Policy,
    PolicyDocument,
    PolicySet,
    PolicyType,
    Principal,
    Request,
    build_context,
    evaluate,
    parse_policy,
)

ORG = OrgMembership("o-a1b2c3d4e5", ("o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/",))
OTHER = OrgMembership("o-zzzzzzzzzz", ("o-zzzzzzzzzz/r-zz99/",))
ALICE = Principal.from_arn("arn:aws:iam::111122223333:user/alice")
SCP_ARN = "arn:aws:organizations::999988887777:policy/o-a1b2c3d4e5/service_control_policy/p-denyit01"
RCP_ARN = "arn:aws:organizations::999988887777:policy/o-a1b2c3d4e5/resource_control_policy/p-denyit02"
FULL = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                "Resource": "*"}]}), DocumentKind.SCP)  # fmt: skip
ALLOW_ALL = parse_policy(
    json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    DocumentKind.IDENTITY,
)


def _doc(kind: DocumentKind, **statement: object) -> PolicyDocument:
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [statement]}), kind)


def test_the_keys_of_a_principal_and_a_resource_in_organizations() -> None:
    context = build_context(ALICE, resource_account="444455556666", principal_org=ORG, resource_org=OTHER)
    assert context.values["aws:principalorgid"] == ("o-a1b2c3d4e5",)
    assert context.values["aws:principalorgpaths"] == ("o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/",)
    assert context.values["aws:resourceorgid"] == ("o-zzzzzzzzzz",)
    assert context.values["aws:resourceorgpaths"] == ("o-zzzzzzzzzz/r-zz99/",)
    assert context.values["aws:resourceaccount"] == ("444455556666",)


def test_outside_an_organization_the_keys_are_absent_not_empty() -> None:
    context = build_context(ALICE, resource_account="111122223333")
    for key in ("aws:principalorgid", "aws:principalorgpaths", "aws:resourceorgid", "aws:resourceorgpaths"):
        assert key not in context.values
    # a caller with no account (a service, anonymous) never has principal organization keys
    service = build_context(Principal.service_principal("s3.amazonaws.com"), principal_org=ORG)
    assert "aws:principalorgid" not in service.values


def test_a_condition_on_the_org_paths_reads_them_as_a_set() -> None:
    statement = {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*", "Condition": {
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"}}}  # fmt: skip
    policies = PolicySet.of(identity=[Policy("p", PolicyType.IDENTITY, _doc(DocumentKind.IDENTITY, **statement))])

    def decide(org: OrgMembership | None) -> str:
        context = build_context(ALICE, principal_org=org)
        return evaluate(Request(ALICE, "iam:GetUser", "*", context), policies).verdict.value

    assert decide(ORG) == "allowed"
    assert decide(OTHER) == "implicitDeny"
    assert decide(None) == "implicitDeny"


def test_an_scp_denial_names_the_denying_policy() -> None:
    deny = _doc(DocumentKind.SCP, Effect="Deny", Action="iam:CreateUser", Resource="*")
    policies = PolicySet.of(
        identity=[Policy("admin", PolicyType.IDENTITY, ALLOW_ALL)],
        scp=[
            [Policy("FullAWSAccess", PolicyType.SCP, FULL, 0, arn="arn:aws:organizations::aws:policy/x/p-Full")],
            [Policy("FullAWSAccess", PolicyType.SCP, FULL, 1), Policy("DenyIt", PolicyType.SCP, deny, 1, arn=SCP_ARN)],
        ],
    )
    context = build_context(ALICE, principal_org=ORG, resource_org=ORG)
    request = Request(ALICE, "iam:CreateUser", "arn:aws:iam::111122223333:user/bob", context)
    assert evaluate(request, policies).message == (
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::111122223333:user/bob with an explicit deny in a service control policy: {SCP_ARN}"
    )
    # no SCP allows at a level: AWS still says "explicit deny", and names no policy
    narrow = _doc(DocumentKind.SCP, Effect="Allow", Action="s3:*", Resource="*")
    implicit = PolicySet.of(identity=[Policy("admin", PolicyType.IDENTITY, ALLOW_ALL)],
                            scp=[[Policy("S3Only", PolicyType.SCP, narrow, 0, arn=SCP_ARN)]])  # fmt: skip
    message = evaluate(request, implicit).message
    assert message is not None and message.endswith("with an explicit deny in a service control policy")


def test_an_rcp_denial_names_the_policy_only_to_its_own_organization() -> None:
    deny = _doc(DocumentKind.RCP, Effect="Deny", Principal="*", Action="sts:AssumeRole", Resource="*")
    trust = parse_policy(json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action":
                         "sts:AssumeRole", "Principal": {"AWS": "111122223333"}}]}), DocumentKind.TRUST)  # fmt: skip
    policies = PolicySet.of(
        identity=[Policy("admin", PolicyType.IDENTITY, ALLOW_ALL)],
        resource=Policy("TrustPolicy", PolicyType.TRUST, trust),
        rcp=[[Policy("Deny", PolicyType.RCP, deny, 0, arn=RCP_ARN)]],
    )
    role = "arn:aws:iam::444455556666:role/R"

    def message(principal_org: OrgMembership | None) -> str | None:
        context = build_context(ALICE, principal_org=principal_org, resource_org=ORG)
        return evaluate(Request(ALICE, "sts:AssumeRole", role, context, "444455556666"), policies).message

    inside = message(ORG)
    assert inside is not None and inside.endswith(f"with an explicit deny in a resource control policy: {RCP_ARN}")
    for outside in (message(OTHER), message(None)):
        assert outside is not None and outside.endswith("with an explicit deny in a resource control policy")


def test_an_scp_outcome_kept_for_one_request_is_not_reused_for_other_facts() -> None:
    """A set evaluates its SCPs once per action, resource and values of the keys they read
    (PolicySet.split): another value, another resource or a missing key is evaluated afresh."""
    org_only = _doc(DocumentKind.SCP, Effect="Deny", Action="*", Resource="*",
                    Condition={"StringNotEquals": {"aws:PrincipalOrgID": ORG.org_id}})  # fmt: skip
    own_name = _doc(DocumentKind.SCP, Effect="Deny", Action="iam:DeleteUser",
                    Resource="arn:aws:iam::*:user/${aws:username, 'nobody'}")  # fmt: skip
    policies = PolicySet.of(
        identity=[Policy("admin", PolicyType.IDENTITY, ALLOW_ALL)],
        scp=[[Policy("Full", PolicyType.SCP, FULL, 0), Policy("OrgOnly", PolicyType.SCP, org_only, 0, arn=SCP_ARN),
              Policy("OwnName", PolicyType.SCP, own_name, 0)]],
    )  # fmt: skip
    bob = Principal.from_arn("arn:aws:iam::111122223333:user/bob")

    def decide(who: Principal, org: OrgMembership | None, action: str, resource: str) -> tuple[str, tuple[str, ...]]:
        decision = evaluate(Request(who, action, resource, build_context(who, principal_org=org)), policies)
        return decision.verdict.value, decision.missing_context_keys

    for _ in range(2):  # the second time from what was kept
        assert decide(ALICE, ORG, "iam:GetUser", "*") == ("allowed", ())
        assert decide(ALICE, OTHER, "iam:GetUser", "*") == ("explicitDeny", ())
        assert decide(ALICE, None, "iam:GetUser", "*") == ("explicitDeny", ("aws:principalorgid",))
        assert decide(ALICE, ORG, "iam:DeleteUser", "arn:aws:iam::111122223333:user/alice")[0] == "explicitDeny"
        assert decide(ALICE, ORG, "iam:DeleteUser", "arn:aws:iam::111122223333:user/bob")[0] == "allowed"
        assert decide(bob, ORG, "iam:DeleteUser", "arn:aws:iam::111122223333:user/bob")[0] == "explicitDeny"
