"""Whatever a service sends to ``POST /iamd/authorize``, the answer is a decision or an AWS-shaped
4xx, never a 500: the door's whole path (body, the service's signature, the core) in process,
on a real SQLite store, with Hypothesis mutating a valid request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from iamd.api import Backend
from iamd.api.authorize import answer
from iamd.auth import SignedRequest, SigV4Verifier
from iamd.core.local import LocalClient, root_caller
from iamd.seen import SEEN_MAX
from tests.api.server import ROOT_KEY, ROOT_SECRET

SERVICE = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture(scope="module")
def door(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Backend, SigV4Verifier, Credentials, dict[str, Any]]]:
    data = Path(tmp_path_factory.mktemp("authz-hostile"))
    env = {"IAMD_ROOT_ACCESS_KEY_ID": ROOT_KEY, "IAMD_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET}
    backend, _ = Backend.open(f"sqlite:///{data / 'iamd.db'}", data, dev=True, env=env)
    try:
        local = LocalClient(backend.core, backend.catalog, root_caller(backend.account_id))
        local.call("iam", "CreateUser", UserName="svc")
        local.call("iam", "PutUserPolicy", UserName="svc", PolicyName="p", PolicyDocument=SERVICE)
        key = local.call("iam", "CreateAccessKey", UserName="svc")["AccessKey"]
        credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
        client = AWSRequest(method="GET", url="http://w.example/widget/a%20b?x=1&y")
        SigV4Auth(credentials, "widgets", "us-east-1").add_auth(client)
        valid = {
            "Request": {"Method": "GET", "Path": "/widget/a%20b", "Query": "x=1&y",
                        "Headers": [["Host", "w.example"], *([k, v] for k, v in client.headers.items())]},
            "Checks": [{"Action": "widgets:GetWidget", "Resource": "arn:aws:widgets:us-east-1:123456789012:widget/a",
                        "ResourcePolicy": SERVICE.replace('"Action"', '"Principal": "*", "Action"'),
                        "Context": {"aws:SourceIp": "10.0.0.1"}, "ResourceTags": {"t": "v"}}],
            "Service": "widgets",
        }  # fmt: skip
        yield backend, SigV4Verifier({"iamd": backend.partition.accepted}), credentials, valid
    finally:
        backend.close()


TEXT = st.text(st.characters(codec=None, categories=["L", "N", "P", "S", "Z", "C"]), max_size=40)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
PATHS = [("Request",), ("Request", "Method"), ("Request", "Path"), ("Request", "Query"), ("Request", "Headers"),
         ("Request", "PayloadHash"), ("Checks",), ("Checks", 0), ("Checks", 0, "Action"), ("Checks", 0, "Resource"),
         ("Checks", 0, "ResourcePolicy"), ("Checks", 0, "ResourceAccount"), ("Checks", 0, "ResourceTags"),
         ("Checks", 0, "Context"), ("Checks", 0, "Context", "aws:SourceIp"), ("AllowAnonymous",), ("Service",),
         ("PresignedUrl",), ("Request", "Headers", 0), ("Request", "Headers", 1, 1)]  # fmt: skip


def mutate(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@example([(("PresignedUrl",), "http://[::1/x"), (("Request",), None)])
@example([(("Request", "Headers", 1, 1), "\ud800 lone surrogate")])
@example([(("Request", "Path"), "/\ud800"), (("Checks", 0, "Resource"), "arn:\udfff")])
@example(
    [(("Checks", 0, "ResourcePolicy"), '{"Statement": [{"Effect": "Allow", "Action": "\ud800", "Resource": "*"}]}')]
)
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES | TEXT), min_size=1, max_size=3))
def test_no_input_is_a_server_error(
    door: tuple[Backend, SigV4Verifier, Credentials, dict[str, Any]], changes: list[tuple[tuple[Any, ...], Any]]
) -> None:
    backend, verifier, credentials, valid = door
    body = valid
    for path, value in changes:
        try:
            body = mutate(body, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    raw = json.dumps(body).encode()
    request = AWSRequest(method="POST", url="http://iamd.example/iamd/authorize", data=raw)
    SigV4Auth(credentials, "iamd", "us-east-1").add_auth(request)
    headers = (("Host", "iamd.example"), *((k, v) for k, v in request.headers.items()))
    response = answer(backend, verifier, SignedRequest("POST", "/iamd/authorize", "", headers, raw), "127.0.0.1", False)
    assert response.status in (200, 400, 403), response.body
    data = json.loads(response.body)
    if response.status == 200:
        assert len(data["Results"]) == len(body["Checks"])
    else:
        assert data["__type"] in ("ValidationError", "MalformedPolicyDocument", "AccessDenied"), data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Service": ["s3"]}, "Service must be a service prefix"),
        ({"Service": {"a": 1}}, "Service must be a service prefix"),
        ({"Checks": [{"Action": ["s3:GetObject"], "Resource": "r"}]}, "Checks[0].Action must be a non-empty string"),
        ({"Checks": [{"Action": {"s3": 1}, "Resource": "r"}]}, "Checks[0].Action must be a non-empty string"),
        ({"Request": {"Method": ["GET"], "Path": "/", "Headers": []}}, "Request.Method must be a non-empty string"),
        ({"Request": {"Method": "get", "Path": "/", "Headers": []}}, "Request.Method must be an HTTP method"),
    ],
)
def test_unhashable_or_unknown_members_are_validation_errors(change: dict[str, Any], message: str) -> None:
    """The sets of services and actions seen (iamd/authz/input.py) are looked up only with text:
    a list or an object where text belongs is the member's ValidationError, not a server error."""
    from iamd import errors as aws
    from iamd.authz.input import check_input

    body = {"Request": {"Method": "GET", "Path": "/", "Headers": []}, "Checks": [{"Action": "s3:GetObject",
            "Resource": "r"}], "Service": "s3", **change}  # fmt: skip
    with pytest.raises(aws.ValidationError) as caught:
        check_input(body)
    assert caught.value.message.startswith(message)


def test_the_sets_of_valid_services_and_actions_are_bounded_and_hold_only_valid_text() -> None:
    from iamd import errors as aws
    from iamd.authz import input as module

    for i in range(SEEN_MAX + 10):
        module.check_input({"PresignedUrl": "https://x/", "Checks": [{"Action": f"s{i}:Get", "Resource": "r"}],
                            "Service": f"s{i}"})  # fmt: skip
        assert len(module._ACTIONS_SEEN) <= SEEN_MAX and len(module._SERVICES_SEEN) <= SEEN_MAX
    for action in ("s3:*", "s3:Get?", "nocolon"):
        with pytest.raises(aws.ValidationError):
            module.check_input({"PresignedUrl": "https://x/", "Checks": [{"Action": action, "Resource": "r"}]})
        assert action not in module._ACTIONS_SEEN
    with pytest.raises(aws.ValidationError):
        module.check_input({"PresignedUrl": "https://x/", "Checks": [{"Action": "s3:Get", "Resource": "r"}],
                            "Service": "S3"})  # fmt: skip
    assert "S3" not in module._SERVICES_SEEN
