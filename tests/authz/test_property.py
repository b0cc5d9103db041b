"""The API decides as the engine does: for random requests (actions, resources of this account and
another, identity and resource policies), ``POST /iamd/authorize`` over a real socket answers the
decision and message :func:`iamd.policy.evaluate` gives offline on the same policies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.client import BaseClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.authz import Check, HttpAuthorizationClient
from iamd.policy import (
    DocumentKind,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    Request,
    build_context,
    evaluate,
    parse_policy,
)
from tests.authz.conftest import Key, sign

OTHER = "111122223333"
ACTIONS = ["widgets:GetWidget", "widgets:PutWidget", "widgets:ListWidgets"]
ACTION_PATTERNS = [*ACTIONS, "widgets:*", "widgets:Get*", "*", "gadgets:GetWidget"]


def resources(acct: str) -> list[str]:
    return [f"arn:aws:widgets:us-east-1:{account}:widget/{name}" for account in (acct, OTHER) for name in ("a1", "b2")]


def statement(effect: str, action: str | list[str], resource: str, principal: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    if principal is not None:
        out["Principal"] = principal
    return out


def case(acct: str, user_arn: str) -> st.SearchStrategy[dict[str, Any]]:
    arns = resources(acct)
    resource_patterns = [*arns, "*", "arn:aws:widgets:*:*:widget/a*", f"arn:aws:widgets:*:{acct}:*"]
    effect = st.sampled_from(["Allow", "Deny"])
    actions, patterns = st.sampled_from(ACTION_PATTERNS), st.sampled_from(resource_patterns)
    identity = st.lists(st.builds(statement, effect, actions, patterns), max_size=3)
    principals = st.sampled_from(["*", {"AWS": user_arn}, {"AWS": f"arn:aws:iam::{acct}:root"}, {"AWS": OTHER}])
    resource_policy = st.none() | st.lists(
        st.builds(statement, effect, st.sampled_from(ACTION_PATTERNS), st.sampled_from(resource_patterns), principals),
        min_size=1, max_size=3,
    )  # fmt: skip
    return st.fixed_dictionaries({
        "identity": identity, "resource_policy": resource_policy, "action": st.sampled_from(ACTIONS),
        "resource": st.sampled_from(arns),
    })  # fmt: skip


def offline_policies(example: dict[str, Any], identity_text: str, rp_text: str | None) -> PolicySet:
    """The policies the engine decides ``example`` with offline: the user's inline policy (when the
    example has statements for it) and the resource's policy (when it has one)."""
    return PolicySet.of(
        identity=[Policy("p", PolicyType.IDENTITY, parse_policy(identity_text, DocumentKind.IDENTITY))]
        if example["identity"] else [],
        resource=Policy("r", PolicyType.RESOURCE, parse_policy(rp_text, DocumentKind.RESOURCE))
        if rp_text else None,
    )  # fmt: skip


def test_the_api_decides_as_the_engine_offline(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], iam: BaseClient, acct: str
) -> None:
    paula = make_user("paula-property")
    user = iam.get_user(UserName="paula-property")["User"]
    principal = Principal.from_arn(user["Arn"], unique_id=user["UserId"])

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
              HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(case(acct, user["Arn"]))
    def check(example: dict[str, Any]) -> None:
        identity_text = json.dumps({"Version": "2012-10-17", "Statement": example["identity"]})
        if example["identity"]:
            iam.put_user_policy(UserName="paula-property", PolicyName="p", PolicyDocument=identity_text)
        else:
            names = iam.list_user_policies(UserName="paula-property")["PolicyNames"]
            for name in names:
                iam.delete_user_policy(UserName="paula-property", PolicyName=name)
        rp = example["resource_policy"]
        rp_text = json.dumps({"Version": "2012-10-17", "Statement": rp}) if rp is not None else None
        answer = authorizer.authorize_sync(
            sign(paula), [Check(example["action"], example["resource"], resource_policy=rp_text)], service="widgets"
        )
        owner = example["resource"].split(":")[4]
        policies = offline_policies(example, identity_text, rp_text)
        offline = evaluate(Request(principal, example["action"], example["resource"],
                                   build_context(principal, resource_account=owner), owner), policies)  # fmt: skip
        [result] = answer.results
        assert result.why["decision"] == offline.verdict.value, example
        assert result.allowed == offline.allowed
        assert (result.message or None) == offline.message, example

    check()


def test_a_batch_decides_each_check_as_the_engine_offline(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], iam: BaseClient, acct: str
) -> None:
    """Every action on every resource (this account's and another's) in one call: the checks
    decided alike share their explanation and their message's text but for the resource it
    names, and each check still gets the engine's own decision, message and blocking types."""
    pablo = make_user("pablo-property")
    user = iam.get_user(UserName="pablo-property")["User"]
    principal = Principal.from_arn(user["Arn"], unique_id=user["UserId"])
    pairs = [(action, resource) for action in ACTIONS for resource in resources(acct)]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
              HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(case(acct, user["Arn"]), st.sampled_from(["widgets", "s3"]))
    def check(example: dict[str, Any], service: str) -> None:
        identity_text = json.dumps({"Version": "2012-10-17", "Statement": example["identity"]})
        if example["identity"]:
            iam.put_user_policy(UserName="pablo-property", PolicyName="p", PolicyDocument=identity_text)
        else:
            for name in iam.list_user_policies(UserName="pablo-property")["PolicyNames"]:
                iam.delete_user_policy(UserName="pablo-property", PolicyName=name)
        rp = example["resource_policy"]
        rp_text = json.dumps({"Version": "2012-10-17", "Statement": rp}) if rp is not None else None
        answer = authorizer.authorize_sync(
            sign(pablo, service=service),
            [Check(action, resource, resource_policy=rp_text) for action, resource in pairs],
            service=service,
        )
        policies = offline_policies(example, identity_text, rp_text)
        assert len(answer.results) == len(pairs)
        for (action, resource), result in zip(pairs, answer.results, strict=True):
            owner = resource.split(":")[4]
            shown = f'"{resource}"' if service == "s3" else resource
            offline = evaluate(Request(principal, action, resource, build_context(principal, resource_account=owner),
                                       owner, shown), policies)  # fmt: skip
            assert (result.action, result.resource) == (action, resource)
            assert result.why["decision"] == offline.verdict.value, (example, action, resource)
            assert result.why["blockingPolicyTypes"] == [b.to_json() for b in offline.blocking]
            # The deciding statements of this very version of the policies (each example writes new ones).
            named = [{k: v for k, v in m.items() if k != "policyId"} for m in result.why["matchedStatements"]]
            assert named == [
                {k: v for k, v in m.items() if k != "policyId"}
                for m in offline.to_json(message=False)["matchedStatements"]
            ]  # type: ignore[attr-defined]
            if service == "s3" and owner != acct:  # S3 tells another account's caller only this
                expected = None if offline.allowed else "Access Denied"
            else:
                expected = offline.message
            assert (result.message or None) == expected, (example, action, resource)

    check()
