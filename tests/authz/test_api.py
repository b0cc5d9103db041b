"""``POST /iamd/authorize`` on a real server: requests a botocore client signed for a service,
forwarded by that service through :class:`HttpAuthorizationClient` (docs/authorization-api.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.client import BaseClient
from botocore.credentials import Credentials

from iamd.authz import AuthorizationError, Check, ForwardedRequest, HttpAuthorizationClient, LocalAuthorizationClient
from iamd.authz.operation import MAX_CHECKS
from iamd.service.call import Caller
from iamd.store import AuditEvent
from tests.api.clock import MovableClock
from tests.api.conftest import NO_RETRY, allow, deny, policy
from tests.api.server import RunningServer
from tests.authz.conftest import Key, presign, sign, widget

GET = "widgets:GetWidget"


def events(server: RunningServer) -> list[AuditEvent]:
    assert server.backend.audit is not None
    server.backend.audit.flush()
    found: list[AuditEvent] = []
    marker = None
    with server.backend.store.read() as tx:
        while True:
            page = tx.list_audit_events(server.account_id, marker=marker, max_items=1000)
            found += page.items
            if page.marker is None:
                return found
            marker = page.marker


def post(server: RunningServer, body: bytes, key: Key, *, service: str = "iamd") -> httpx.Response:
    request = AWSRequest(method="POST", url=server.endpoint + "/iamd/authorize", data=body,
                         headers={"Content-Type": "application/json"})  # fmt: skip
    SigV4Auth(Credentials(key.key, key.secret), service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return httpx.post(prepared.url, headers=dict(prepared.headers), content=prepared.body)


def test_a_user_is_denied_with_awss_message_until_his_policy_allows_it(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], iam: BaseClient, acct: str
) -> None:
    mateo = make_user("mateojackson")
    answer = authorizer.authorize_sync(sign(mateo), [Check(GET, widget(acct))], service="widgets")
    assert not answer.allowed
    [result] = answer.results
    assert result.decision == "Deny" and result.error_code == "AccessDenied" and result.error_status == 403
    assert result.message == (
        f"User: arn:aws:iam::{acct}:user/mateojackson is not authorized to perform: widgets:GetWidget on resource: "
        f"arn:aws:widgets:us-east-1:{acct}:widget/my-example-widget because no identity-based policy allows the "
        "widgets:GetWidget action"
    )
    assert result.why["decision"] == "implicitDeny" and result.why["blockingPolicyType"] == "identity"
    assert answer.principal["type"] == "IAMUser" and answer.principal["userName"] == "mateojackson"
    assert answer.context["aws:username"] == "mateojackson" and answer.context["aws:resourceaccount"] == acct

    iam.put_user_policy(UserName="mateojackson", PolicyName="widgets", PolicyDocument=policy(allow(GET)))
    again = authorizer.authorize_sync(sign(mateo), [Check(GET, widget(acct))], service="widgets")
    assert again.allowed and again.results[0].message == "" and again.results[0].error_code is None
    assert again.results[0].why["matchedStatements"][0]["policyId"]


def test_a_role_session_is_decided_by_its_role_and_named_as_the_assumed_role(
    api_server: RunningServer, authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], iam: BaseClient,
    acct: str,
) -> None:  # fmt: skip
    root = f"arn:aws:iam::{acct}:root"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": root},
             "Action": "sts:AssumeRole"}]}  # fmt: skip
    iam.create_role(RoleName="widget-reader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="widget-reader", PolicyName="read", PolicyDocument=policy(allow(GET, widget(acct))))
    alice = make_user("alice-assumer", policy(allow("sts:AssumeRole")))
    sts = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1", aws_access_key_id=alice.key,
                       aws_secret_access_key=alice.secret, config=NO_RETRY)  # fmt: skip
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/widget-reader", RoleSessionName="s1")["Credentials"]
    session = Key(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    answer = authorizer.authorize_sync(
        sign(session), [Check(GET, widget(acct)), Check("widgets:DeleteWidget", widget(acct))], service="widgets"
    )
    assert [r.decision for r in answer.results] == ["Allow", "Deny"]
    assert answer.principal["type"] == "AssumedRole"
    assert answer.principal["arn"] == f"arn:aws:sts::{acct}:assumed-role/widget-reader/s1"
    assert answer.context["aws:principalarn"] == f"arn:aws:iam::{acct}:role/widget-reader"
    assert answer.context["aws:multifactorauthpresent"] == "false"
    assert answer.results[1].message.startswith(
        f"User: arn:aws:sts::{acct}:assumed-role/widget-reader/s1 is not authorized to perform: widgets:DeleteWidget"
    )


def test_cross_account_needs_the_resource_policy_and_the_callers_own_policies(
    api_server: RunningServer, authorizer: HttpAuthorizationClient, acct: str
) -> None:
    from tests.api.test_organizations import _member_admin, client, new_account

    orgs = client(api_server, "organizations", api_server.root_key, api_server.root_secret)
    orgs.create_organization(FeatureSet="ALL")
    member = new_account(orgs, "partner")
    admin = _member_admin(api_server, member, "partner-admin")
    member_iam = client(api_server, "iam", *admin)
    member_iam.create_user(UserName="partner")
    created = member_iam.create_access_key(UserName="partner")["AccessKey"]
    partner = Key(created["AccessKeyId"], created["SecretAccessKey"])
    grant = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{member}:user/partner"}, "Action": GET,
                    "Resource": widget(acct)})  # fmt: skip
    check = Check(GET, widget(acct), resource_policy=grant)

    # The resource's side allows; the caller's own account does not: denied, and AWS says only "Access Denied" for S3.
    first = authorizer.authorize_sync(sign(partner), [check], service="widgets")
    assert not first.allowed and first.results[0].why["blockingPolicyType"] == "identity"
    assert first.principal["accountId"] == member
    member_iam.put_user_policy(UserName="partner", PolicyName="w", PolicyDocument=policy(allow(GET)))
    assert authorizer.authorize_sync(sign(partner), [check], service="widgets").allowed
    # Without the resource policy the owner's side does not allow: denied.
    alone = authorizer.authorize_sync(sign(partner), [Check(GET, widget(acct))], service="widgets")
    assert not alone.allowed and alone.results[0].why["blockingPolicyType"] == "resource"
    # The member account's SCP binds its principals here too; the organization's keys are resolved.
    allowed = authorizer.authorize_sync(sign(partner), [check], service="widgets")
    org_id = orgs.describe_organization()["Organization"]["Id"]
    assert allowed.context["aws:principalorgid"] == org_id and allowed.context["aws:resourceorgid"] == org_id
    scp = policy({"Effect": "Deny", "Action": "widgets:GetWidget", "Resource": "*"})
    scp_id = orgs.create_policy(Content=scp, Description="", Name="NoWidgets", Type="SERVICE_CONTROL_POLICY")[
        "Policy"]["PolicySummary"]["Id"]  # fmt: skip
    orgs.attach_policy(PolicyId=scp_id, TargetId=member)
    fenced = authorizer.authorize_sync(sign(partner), [check], service="widgets")
    assert fenced.results[0].why["blockingPolicyType"] == "scp"
    # The message names the SCP that denied, like AWS's "... in a service control policy: arn:aws:organizations::…".
    message = fenced.results[0].message
    assert f"with an explicit deny in a service control policy: arn:aws:organizations::{acct}:policy/o-" in message
    assert message.endswith(f"/service_control_policy/{scp_id}")
    orgs.detach_policy(PolicyId=scp_id, TargetId=member)
    assert authorizer.authorize_sync(sign(partner), [check], service="widgets").allowed
    # S3's message to another account is plain.
    s3 = Check("s3:GetObject", "arn:aws:s3:::owned-bucket/k", resource_account=acct)
    s3_answer = authorizer.authorize_sync(sign(partner, service="s3", url="http://s3.example/owned-bucket/k"), [s3],
                                          service="s3")  # fmt: skip
    assert s3_answer.results[0].message == "Access Denied"


def test_an_explicit_deny_in_the_resource_policy_wins_over_any_allow(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    bob = make_user("bob-admin", policy(allow("*")))
    refuse = policy({"Effect": "Deny", "Principal": "*", "Action": "widgets:*", "Resource": "*"})
    answer = authorizer.authorize_sync(sign(bob), [Check(GET, widget(acct), resource_policy=refuse)], service="widgets")
    [result] = answer.results
    assert result.decision == "Deny" and result.why["decision"] == "explicitDeny"
    assert result.message.endswith("with an explicit deny in a resource-based policy")
    assert result.why["matchedStatements"][0]["policyType"] == "resource"


def test_anonymous_callers_only_when_the_service_allows_them_and_only_by_the_resource_policy(
    authorizer: HttpAuthorizationClient, acct: str
) -> None:
    unsigned = ForwardedRequest("GET", "/widget/public", "", [("Host", "widgets.example")])
    public = policy({"Effect": "Allow", "Principal": "*", "Action": GET, "Resource": widget(acct, "public")})
    check = Check(GET, widget(acct, "public"), resource_policy=public)
    refused = authorizer.authorize_sync(unsigned, [check], service="widgets")
    assert not refused.allowed and refused.results[0].error_code == "MissingAuthenticationToken"
    allowed = authorizer.authorize_sync(unsigned, [check], service="widgets", allow_anonymous=True)
    assert allowed.allowed and allowed.principal["accountId"] == "ANONYMOUS_PRINCIPAL"
    assert allowed.context["aws:principaltype"] == "Anonymous"
    private = authorizer.authorize_sync(unsigned, [Check(GET, widget(acct))], service="widgets", allow_anonymous=True)
    assert not private.allowed and private.results[0].message.startswith("User: anonymous is not authorized")
    s3 = authorizer.authorize_sync(
        ForwardedRequest("GET", "/b/k", "", [("Host", "s3.example")]), [Check("s3:GetObject", "arn:aws:s3:::b/k")],
        service="s3", allow_anonymous=True,
    )  # fmt: skip
    assert s3.results[0].message == "Access Denied" and s3.results[0].error_code == "AccessDenied"


def _skewed() -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=20)).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("service", "spoil", "code", "status"),
    [
        ("widgets", "secret", "SignatureDoesNotMatch", 403),
        ("widgets", "key", "InvalidClientTokenId", 403),
        ("widgets", "skew", "SignatureDoesNotMatch", 403),
        ("widgets", "scope", "SignatureDoesNotMatch", 403),
        ("s3", "secret", "SignatureDoesNotMatch", 403),
        ("s3", "key", "InvalidAccessKeyId", 403),
        ("s3", "skew", "RequestTimeTooSkewed", 403),
        ("s3", "token", "InvalidToken", 400),
    ],
)
def test_a_bad_client_signature_is_a_denial_with_the_error_the_service_answers(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str, service: str, spoil: str, code: str,
    status: int,
) -> None:  # fmt: skip
    good = make_user(f"sig-{service}-{spoil}", policy(allow("*")))
    key = {
        "secret": Key(good.key, "x" * 40),
        "key": Key("AKIAIOSFODNN7NOTTHERE", good.secret),
        "token": Key("ASIAIOSFODNN7NOTTHERE", good.secret, "not-a-token"),
    }.get(spoil, good)
    url = "http://s3.example/bucket/key" if service == "s3" else "http://widgets.example/widget/w"
    forwarded = sign(key, service="other" if spoil == "scope" else service, url=url,
                     at=_skewed() if spoil == "skew" else None)  # fmt: skip
    action, resource = ("s3:GetObject", "arn:aws:s3:::bucket/key") if service == "s3" else (GET, widget(acct, "w"))
    answer = authorizer.authorize_sync(forwarded, [Check(action, resource), Check(action, resource)], service=service)
    assert [r.decision for r in answer.results] == ["Deny", "Deny"]
    assert {(r.error_code, r.error_status) for r in answer.results} == {(code, status)}
    assert answer.principal == {"type": "Unknown", "accessKeyId": key.key}
    assert good.secret not in json.dumps(answer.results[0].why) + str(answer.results[0].error_message)


def test_an_expired_session_token_is_expired_token(
    api_server: RunningServer, authorizer: HttpAuthorizationClient, make_user: Callable[..., Key],
    server_clock: MovableClock, acct: str,
) -> None:  # fmt: skip
    eve = make_user("eve-session", policy(allow("*")))
    sts = boto3.client("sts", endpoint_url=api_server.endpoint, region_name="us-east-1", aws_access_key_id=eve.key,
                       aws_secret_access_key=eve.secret, config=NO_RETRY)  # fmt: skip
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    session = Key(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert authorizer.authorize_sync(sign(session), [Check(GET, widget(acct))], service="widgets").allowed
    with server_clock.moved(timedelta(minutes=20)):
        answer = authorizer.authorize_sync(sign(session), [Check(GET, widget(acct))], service="widgets")
        s3 = authorizer.authorize_sync(sign(session, service="s3", url="http://s3.example/b/k"),
                                       [Check("s3:GetObject", "arn:aws:s3:::b/k")], service="s3")  # fmt: skip
    assert answer.results[0].error_code == "ExpiredToken" and answer.results[0].error_status == 403
    assert s3.results[0].error_code == "ExpiredToken" and s3.results[0].error_status == 400


def test_presigned_urls_until_they_expire(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], server_clock: MovableClock, acct: str
) -> None:
    carol = make_user("carol-presigner", policy(allow(["widgets:*", "s3:GetObject"])))
    url = presign(carol, expires=60)
    assert authorizer.authorize_sync(url, [Check(GET, widget(acct))], service="widgets").allowed
    s3_url = presign(carol, service="s3", url="http://s3.example/bucket/a%20key.txt", expires=60)
    assert authorizer.authorize_sync(s3_url, [Check("s3:GetObject", "arn:aws:s3:::bucket/a key.txt")],
                                     service="s3").allowed  # fmt: skip
    # The same URL forwarded as a request (the service received it) is the same answer.
    path, _, query = s3_url.split("s3.example", 1)[1].partition("?")
    as_request = ForwardedRequest("GET", path, query, [("Host", "s3.example")])
    assert authorizer.authorize_sync(as_request, [Check("s3:GetObject", "arn:aws:s3:::bucket/a key.txt")],
                                     service="s3").allowed  # fmt: skip
    with server_clock.moved(timedelta(minutes=2)):
        late = authorizer.authorize_sync(url, [Check(GET, widget(acct))], service="widgets")
        s3_late = authorizer.authorize_sync(s3_url, [Check("s3:GetObject", "arn:aws:s3:::bucket/a key.txt")],
                                            service="s3")  # fmt: skip
    assert late.results[0].error_code == "RequestExpired" and late.results[0].error_message == "Request has expired"
    assert (s3_late.results[0].error_code, s3_late.results[0].error_message) == ("AccessDenied", "Request has expired")


def test_a_batch_answers_each_check_in_order_with_its_own_context(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    dana = make_user("dana-batch", policy(
        allow(GET, widget(acct, "a")),
        allow("widgets:TagWidget", "*", StringEquals={"aws:ResourceTag/team": "red"}),
        allow("widgets:ListWidgets", "*", IpAddress={"aws:SourceIp": "10.0.0.0/8"}),
    ))  # fmt: skip
    checks = [
        Check(GET, widget(acct, "a")),
        Check(GET, widget(acct, "b")),
        Check("widgets:TagWidget", widget(acct, "c"), resource_tags={"team": "red"}),
        Check("widgets:TagWidget", widget(acct, "d"), resource_tags={"team": "blue"}),
        Check("widgets:ListWidgets", "*", context={"aws:SourceIp": "10.1.2.3"}),
        Check("widgets:ListWidgets", "*"),
    ]
    answer = authorizer.authorize_sync(sign(dana), checks, service="widgets")
    assert [r.decision for r in answer.results] == ["Allow", "Deny", "Allow", "Deny", "Allow", "Deny"]
    assert [r.resource for r in answer.results] == [c.resource for c in checks]
    assert answer.results[5].why["missingContextKeys"] == ["aws:sourceip"]


def test_each_check_of_a_batch_has_its_own_why_and_message(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    """Checks with the same outcome share an explanation; each different one is its own."""
    erin = make_user("erin-whys", policy(
        {"Sid": "ReadA", "Effect": "Allow", "Action": GET, "Resource": widget(acct, "a*")},
        {"Sid": "ReadB", "Effect": "Allow", "Action": GET, "Resource": widget(acct, "b*")},
        {"Sid": "NotB2", "Effect": "Deny", "Action": GET, "Resource": widget(acct, "b2")},
    ))  # fmt: skip
    names = ["a1", "b1", "a2", "b2", "c1", "b2", "c2"]
    answer = authorizer.authorize_sync(sign(erin), [Check(GET, widget(acct, n)) for n in names], service="widgets")
    sids = [[m["sid"] for m in r.why["matchedStatements"]] for r in answer.results]
    assert sids == [["ReadA"], ["ReadB"], ["ReadA"], ["NotB2"], [], ["NotB2"], []]
    assert [r.why["decision"] for r in answer.results] == [
        "allowed", "allowed", "allowed", "explicitDeny", "implicitDeny", "explicitDeny", "implicitDeny"]  # fmt: skip
    assert [r.why["blockingPolicyType"] for r in answer.results] == [
        None, None, None, "identity", "identity", "identity", "identity"]  # fmt: skip
    assert all("message" not in r.why for r in answer.results)
    for name, result in zip(names, answer.results, strict=True):
        if result.allowed:
            assert result.message == ""
        else:  # AWS's text names this check's own resource
            assert result.message.endswith(
                (
                    "explicit deny in an identity-based policy",
                    "because no identity-based policy allows the widgets:GetWidget action",
                )
            )
            assert f"on resource: {widget(acct, name)} " in result.message


def test_a_forwarded_source_ip_header_is_not_trusted(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    erin = make_user("erin-ip", policy(allow(GET, "*", IpAddress={"aws:SourceIp": "10.0.0.0/8"})))
    spoofed = sign(erin, headers={"X-Forwarded-For": "10.0.0.1"})
    assert not authorizer.authorize_sync(spoofed, [Check(GET, widget(acct))], service="widgets").allowed
    given = Check(GET, widget(acct), context={"aws:SourceIp": "10.0.0.1"})
    assert authorizer.authorize_sync(spoofed, [given], service="widgets").allowed


def test_every_check_is_a_trail_event_of_the_service_with_the_client_and_who_asked(
    api_server: RunningServer, authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str,
    service_key: Key,
) -> None:  # fmt: skip
    frank = make_user("frank-trail", policy(allow(GET)))
    answer = authorizer.authorize_sync(
        sign(frank), [Check(GET, widget(acct)), Check("widgets:DeleteWidget", widget(acct))], service="widgets"
    )
    found = [e for e in events(api_server) if e.request_id == answer.request_id]
    by_source = sorted((e.event_source, e.event_name, e.error_code) for e in found)
    assert by_source == [
        ("iamd.amazonaws.com", "Authorize", None),
        ("widgets.amazonaws.com", "DeleteWidget", "AccessDenied"),
        ("widgets.amazonaws.com", "GetWidget", None),
    ]
    records = {e.event_name: json.loads(e.record) for e in found}
    get = records["GetWidget"]
    assert get["userIdentity"]["arn"] == frank.arn and get["userIdentity"]["accessKeyId"] == frank.key
    assert get["requestParameters"]["iamdAuthorizedBy"]["arn"] == service_key.arn
    assert get["iamdDecision"]["decision"] == "allowed"
    assert records["DeleteWidget"]["iamdDecision"]["blockingPolicyType"] == "identity"
    call = records["Authorize"]
    assert call["userIdentity"]["arn"] == service_key.arn
    assert call["requestParameters"]["checks"][0] == {"action": GET, "resource": widget(acct)}
    text = json.dumps(records)
    assert frank.secret not in text and "Signature=" not in text and "authorization" not in text.lower()


def test_the_service_itself_needs_iamd_authorize(
    api_server: RunningServer, make_user: Callable[..., Key], acct: str
) -> None:
    stranger = make_user("not-a-service")
    with (
        HttpAuthorizationClient(api_server.endpoint, stranger.key, stranger.secret) as client,
        pytest.raises(AuthorizationError) as excinfo,
    ):
        client.authorize_sync(sign(stranger), [Check(GET, widget(acct))], service="widgets")
    assert excinfo.value.code == "AccessDenied" and excinfo.value.status == 403
    assert "iamd:Authorize" in excinfo.value.message
    with (
        HttpAuthorizationClient(api_server.endpoint, stranger.key, "y" * 40) as bad,
        pytest.raises(AuthorizationError) as excinfo,
    ):
        bad.authorize_sync(sign(stranger), [Check(GET, widget(acct))])
    assert excinfo.value.code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "JSON object"),
        (b"[]", "JSON object"),
        (b"{}", "exactly one of Request or PresignedUrl"),
        (json.dumps({"PresignedUrl": "http://x/", "Checks": []}).encode(), "Checks must be a list"),
        (json.dumps({"PresignedUrl": "http://x/", "Checks": [{"Action": "*", "Resource": "*"}]}).encode(),
         "one action"),
        (json.dumps({"PresignedUrl": "http://x/", "Checks": [{"Action": "a:B"}] * (MAX_CHECKS + 1)}).encode(),
         "Checks must be a list"),
        (json.dumps({"PresignedUrl": "http://x/", "Checks": [{"Action": "a:B", "Resource": "r", "X": 1}]}).encode(),
         "Unknown members"),
        (json.dumps({"Request": {"Method": "GET", "Path": "/", "Headers": [["a"]]},
                     "Checks": [{"Action": "a:B", "Resource": "r"}]}).encode(), "[name, value]"),
        (json.dumps({"PresignedUrl": "http://x/", "Checks": [{"Action": "a:B", "Resource": "r",
                     "Context": {"aws:PrincipalArn": "arn:aws:iam::111122223333:root"}}]}).encode(), "resolves it"),
        (json.dumps({"PresignedUrl": "http://x/", "Checks": [{"Action": "a:B", "Resource": "r",
                     "ResourcePolicy": "x" * 30000}]}).encode(), "at most"),
        (b"{" * 100000, "JSON object"),
        (json.dumps({"PresignedUrl": "http://[::1/x", "Checks": [{"Action": "a:B", "Resource": "r"}]}).encode(),
         "http:// or https:// URL"),
        (b'{"PresignedUrl": "http://x/\\ud800", "Checks": [{"Action": "a:B", "Resource": "r"}]}', "lone surrogates"),
        (b"x" * (3 * 1024 * 1024), "too large"),
    ],
)  # fmt: skip
def test_bad_input_is_an_aws_validation_error_never_a_500(
    api_server: RunningServer, service_key: Key, body: bytes, fragment: str
) -> None:
    response = post(api_server, body, service_key)
    assert response.status_code == 400, response.text
    data = response.json()
    assert data["__type"] == "ValidationError" and fragment in data["message"]


def test_a_malformed_resource_policy_is_malformed_policy_document(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    gina = make_user("gina-policy")
    with pytest.raises(AuthorizationError) as excinfo:
        authorizer.authorize_sync(sign(gina), [Check(GET, widget(acct), resource_policy='{"Statement": 1}')])
    assert excinfo.value.code == "MalformedPolicyDocument" and excinfo.value.status == 400


def test_the_in_process_client_gives_the_same_answers(
    api_server: RunningServer, authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], acct: str
) -> None:
    henry = make_user("henry-local", policy(allow(GET, widget(acct, "a")), deny(GET, widget(acct, "b"))))
    from iamd.core.local import caller_for_user

    with api_server.backend.store.read() as tx:
        service: Caller = caller_for_user(tx, acct, "widgets-service")
    local = LocalAuthorizationClient(api_server.backend, service)
    checks = [Check(GET, widget(acct, n)) for n in ("a", "b", "c")]
    forwarded = sign(henry)
    over_http = authorizer.authorize_sync(forwarded, checks, service="widgets")
    in_process = local.authorize_sync(forwarded, checks, service="widgets")
    strip: Callable[[Any], Any] = lambda a: [(r.decision, r.message, r.why, r.error_code) for r in a.results]
    assert strip(over_http) == strip(in_process) and over_http.principal == in_process.principal
    assert [r.decision for r in in_process.results] == ["Allow", "Deny", "Deny"]


def test_a_single_denied_check_renders_its_message_without_the_calls_table(
    api_server: RunningServer,
    service_key: Key,
    make_user: Callable[..., Key],
    acct: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A single check's denial text is rendered for it alone (no per-call table of texts to share,
    bench/README.md "Session 17: the single check's steps"); a batch's still shares them: the
    same texts either way."""
    from iamd.authz import operation
    from iamd.core.local import caller_for_user

    jo = make_user("jo-message", policy(allow(GET, widget(acct, "a"))))
    with api_server.backend.store.read() as tx:
        service: Caller = caller_for_user(tx, acct, "widgets-service")
    local = LocalAuthorizationClient(api_server.backend, service)
    forwarded = sign(jo)
    batch = local.authorize_sync(forwarded, [Check(GET, widget(acct, n)) for n in ("b", "c")], service="widgets")
    shared = mock.Mock(side_effect=operation._denial_message)
    monkeypatch.setattr(operation, "_denial_message", shared)
    single = local.authorize_sync(forwarded, [Check(GET, widget(acct, "b"))], service="widgets")
    shared.assert_not_called()
    assert single.results[0].decision == "Deny" and single.results[0].message == batch.results[0].message
    assert batch.results[1].message == batch.results[0].message.replace(widget(acct, "b"), widget(acct, "c"))


def test_an_authorization_leaves_no_reference_cycle(
    api_server: RunningServer, service_key: Key, make_user: Callable[..., Key], acct: str
) -> None:
    """A call's objects (its Call, decisions, parsed body) are freed when it is answered, not left
    in a reference cycle for the cyclic GC: a cycle kept every call's leftovers until the next
    collection, which then took tens of milliseconds to scan them (bench/README.md, session 12)."""
    import gc

    from iamd.core.local import caller_for_user
    from iamd.policy import Decision
    from iamd.service.call import Call

    ida = make_user("ida-cycles", policy(allow(GET, widget(acct, "a"))))
    with api_server.backend.store.read() as tx:
        service: Caller = caller_for_user(tx, acct, "widgets-service")
    local = LocalAuthorizationClient(api_server.backend, service)
    checks = [Check(GET, widget(acct, n)) for n in ("a", "b")]
    forwarded = sign(ida)
    assert [r.decision for r in local.authorize_sync(forwarded, checks, service="widgets").results] == ["Allow", "Deny"]
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            local.authorize_sync(forwarded, checks, service="widgets")
        assert api_server.backend.audit is not None
        api_server.backend.audit.flush()  # the queued trail events hold their calls' decisions until then
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, (Call, Decision))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


def test_a_change_in_iamd_applies_to_the_very_next_request(
    authorizer: HttpAuthorizationClient, make_user: Callable[..., Key], iam: BaseClient, acct: str
) -> None:
    quinn = make_user("quinn-changes", policy(allow(GET)))
    shared = policy({"Effect": "Allow", "Principal": {"AWS": quinn.arn}, "Action": GET, "Resource": "*"})
    check = Check(GET, widget(acct), resource_policy=shared)
    assert authorizer.authorize_sync(sign(quinn), [check], service="widgets").allowed
    iam.put_user_policy(UserName="quinn-changes", PolicyName="no", PolicyDocument=policy(deny(GET)))
    denied = authorizer.authorize_sync(sign(quinn), [check], service="widgets")
    assert denied.results[0].why["decision"] == "explicitDeny"
    iam.delete_user_policy(UserName="quinn-changes", PolicyName="no")
    assert authorizer.authorize_sync(sign(quinn), [check], service="widgets").allowed
    iam.update_access_key(UserName="quinn-changes", AccessKeyId=quinn.key, Status="Inactive")
    refused = authorizer.authorize_sync(sign(quinn), [check], service="widgets")
    assert refused.results[0].error_code == "InvalidClientTokenId"


def test_the_services_own_allow_follows_every_change_and_its_conditions(
    api_server: RunningServer, make_user: Callable[..., Key], iam: BaseClient, server_clock: MovableClock, acct: str
) -> None:
    """The service's ``iamd:Authorize`` is decided again after a change to its policies, and on
    every call when a statement reads the request (here the time): no allow outlives either."""
    reader = make_user("reader-of-timed", policy(allow(GET)))
    timed = make_user("widgets-timed", policy(allow("iamd:Authorize")))
    check = [Check(GET, widget(acct))]
    with HttpAuthorizationClient(api_server.endpoint, timed.key, timed.secret) as client:
        for _ in range(2):  # asked twice: the second is answered as the first was
            assert client.authorize_sync(sign(reader), check, service="widgets").allowed
        iam.put_user_policy(UserName="widgets-timed", PolicyName="no", PolicyDocument=policy(deny("iamd:Authorize")))
        with pytest.raises(AuthorizationError) as excinfo:
            client.authorize_sync(sign(reader), check, service="widgets")
        assert excinfo.value.code == "AccessDenied" and "iamd:Authorize" in excinfo.value.message
        iam.delete_user_policy(UserName="widgets-timed", PolicyName="no")
        assert client.authorize_sync(sign(reader), check, service="widgets").allowed

        until = int(server_clock().timestamp()) + 60
        until_then = {"Effect": "Allow", "Action": "iamd:Authorize", "Resource": "*",
                      "Condition": {"NumericLessThan": {"aws:EpochTime": str(until)}}}  # fmt: skip
        iam.put_user_policy(UserName="widgets-timed", PolicyName="inline", PolicyDocument=policy(until_then))
        for _ in range(2):
            assert client.authorize_sync(sign(reader), check, service="widgets").allowed
        with server_clock.moved(timedelta(minutes=2)), pytest.raises(AuthorizationError) as excinfo:
            client.authorize_sync(sign(reader), check, service="widgets")
        assert excinfo.value.code == "AccessDenied"


def test_a_warm_check_reads_no_enum_member_through_its_class(
    api_server: RunningServer,
    service_key: Key,
    make_user: Callable[..., Key],
    acct: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Python 3.11 ``Verdict.ALLOWED`` costs a call through ``EnumType.__getattr__``'s hook, about
    ten times a module constant: the members a warm authorization reads (the cache's sections, the
    verdict, the root kind, the denial's blocking types) are module constants (bench/README.md,
    "Session 18: the single check's ids, time and enum members"). An allowed and a denied check."""
    import enum
    import sys

    from iamd.core.local import caller_for_user

    kim = make_user("kim-enums", policy(allow(GET, widget(acct, "a"))))
    with api_server.backend.store.read() as tx:
        service: Caller = caller_for_user(tx, acct, "widgets-service")
    local = LocalAuthorizationClient(api_server.backend, service)
    forwarded = sign(kim)
    checks = ([Check(GET, widget(acct, "a"))], [Check(GET, widget(acct, "b"))])
    warm = [local.authorize_sync(forwarded, c, service="widgets").results[0].decision for c in checks]
    read: list[str] = []
    lookup = type.__getattribute__

    def counting(cls: type, name: str) -> Any:
        caller = sys._getframe(1).f_code.co_filename
        if "/iamd/" in caller and name in lookup(cls, "_member_map_"):
            read.append(f"{lookup(cls, '__name__')}.{name} in {caller}")
        return lookup(cls, name)

    monkeypatch.setattr(enum.EnumType, "__getattribute__", counting, raising=False)
    again = [local.authorize_sync(forwarded, c, service="widgets").results[0].decision for c in checks]
    monkeypatch.undo()
    assert warm == again == ["Allow", "Deny"]
    assert read == []
