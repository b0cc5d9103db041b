"""The engine's conformance corpus replayed through the HTTP API.

For every corpus case that an IAM account can express — an IAM user of the account with
identity policies (and a permissions boundary) — the user is created through the API with
its tags, its policies are created and attached as customer managed policies, its
boundary set, and the request is asked of ``SimulatePrincipalPolicy`` over a real socket
with the case's full request context as ``ContextEntries``. The decision must be the one
the case expects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from iamd.policy.offline import parse_offline_request
from tests.api.server import ROOT_KEY, ROOT_SECRET, RunningServer, running_server
from tests.cases import load

ACCOUNT = "123456789012"
_TAG_TEXT = re.compile(r"[\w\s.:/=+\-@]*")


def _replayable(case: dict[str, Any]) -> bool:
    req = case["request"]
    principal = req["principal"]
    arn = principal if isinstance(principal, str) else principal.get("arn", "")
    pols = req.get("policies", {})
    if not isinstance(arn, str) or not arn.startswith("arn:aws:iam::111122223333:user/"):
        return False
    if set(pols) - {"identity", "boundary"} or not pols.get("identity"):
        return False
    resource = req.get("resource", "*")
    if isinstance(resource, dict) and resource.get("account") not in (None, "111122223333"):
        return False
    text = json.dumps(req)
    if "444455556666" in text or len(pols["identity"]) > 10:
        return False
    # IAM tags allow letters, digits, spaces and _.:/=+-@ only (the CreateUser model's pattern).
    tags = principal.get("tags", {}) if isinstance(principal, dict) else {}
    if any(not _TAG_TEXT.fullmatch(t) for item in tags.items() for t in item):
        return False
    # Two keys differing only by case cannot be sent as ContextEntries, nor two such user tags.
    return not parse_offline_request(req).request.context.ambiguous


CASES = [c for c in load("evaluation") if _replayable(c)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("corpus")) as srv:
        yield srv


def _swap(value: Any) -> Any:
    """The corpus uses account 111122223333; the dev server is 123456789012."""
    return json.loads(json.dumps(value).replace("111122223333", ACCOUNT))


def _document(policy: Any) -> str:
    doc = policy["document"] if isinstance(policy, dict) and "document" in policy else policy
    return doc if isinstance(doc, str) else json.dumps(doc)


def test_enough_cases_are_replayed() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_through_the_api(server: RunningServer, case: dict[str, Any]) -> None:
    req = _swap(case["request"])
    iam = boto3.client(
        "iam", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=ROOT_KEY, aws_secret_access_key=ROOT_SECRET,
    )  # fmt: skip
    server.backend.reset()
    principal = req["principal"] if isinstance(req["principal"], dict) else {"arn": req["principal"]}
    user_path, _, user_name = principal["arn"].split(":user", 1)[1].rpartition("/")
    tags = [{"Key": k, "Value": v} for k, v in (principal.get("tags") or {}).items()]
    iam.create_user(UserName=user_name, Path=(user_path or "") + "/", Tags=tags)
    for i, policy in enumerate(req["policies"]["identity"]):
        arn = iam.create_policy(PolicyName=f"p{i}", PolicyDocument=_document(policy))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=user_name, PolicyArn=arn)
    if req["policies"].get("boundary"):
        arn = iam.create_policy(PolicyName="boundary", PolicyDocument=_document(req["policies"]["boundary"]))
        iam.put_user_permissions_boundary(UserName=user_name, PermissionsBoundary=arn["Policy"]["Arn"])
    # the full request context the engine would build offline (derived keys included)
    offline = parse_offline_request(req).request
    entries = [
        {"ContextKeyName": key, "ContextKeyValues": list(values), "ContextKeyType": "stringList"}
        for key, values in offline.context.values.items()
    ]
    resource = req.get("resource", "*")
    resource = resource.get("arn", "*") if isinstance(resource, dict) else resource
    result = iam.simulate_principal_policy(
        PolicySourceArn=principal["arn"], ActionNames=[req["action"]], ResourceArns=[resource],
        ContextEntries=entries,
    )["EvaluationResults"][0]  # fmt: skip
    assert result["EvalDecision"] == case["expect"]["decision"], case["fact"]
