"""AWS's access-denied messages read back (iamd.explain.message): every form AWS prints, as
tools show them, and hostile input (bounded, linear, never an exception other than MessageError)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamd.explain import MessageError, parse_denial
from iamd.explain.message import MAX_MESSAGE

ALICE = "arn:aws:iam::111122223333:user/alice"


@pytest.mark.parametrize(
    ("text", "resource", "blocking", "explicit", "policy_arn"),
    [
        (  # the implicit form, with "because"
            f"User: {ALICE} is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k because no "
            "identity-based policy allows the s3:GetObject action",
            "arn:aws:s3:::b/k", "identity", False, None,
        ),
        (  # without "because" (older services)
            f"User: {ALICE} is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:"
            "111122223333:instance/*",
            "arn:aws:ec2:us-east-1:111122223333:instance/*", None, None, None,
        ),
        (  # explicit deny in a named type
            f"User: {ALICE} is not authorized to perform: iam:DeleteRole on resource: role r with an explicit deny in "
            "an identity-based policy",
            "role r", "identity", True, None,
        ),
        (  # explicit deny naming the policy
            f"User: {ALICE} is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::b/k with an explicit "
            "deny in an identity-based policy: arn:aws:iam::111122223333:policy/NoWrites",
            "arn:aws:s3:::b/k", "identity", True, "arn:aws:iam::111122223333:policy/NoWrites",
        ),
        (  # SCPs: always "explicit deny" in the message
            f"User: {ALICE} is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::b with an explicit "
            "deny in a service control policy",
            "arn:aws:s3:::b", "scp", True, None,
        ),
        (  # the older form: explicit deny, no type
            f"User: {ALICE} is not authorized to perform: iam:CreateVirtualMFADevice on resource: "
            "arn:aws:iam::111122223333:mfa/alice with an explicit deny",
            "arn:aws:iam::111122223333:mfa/alice", None, True, None,
        ),
        (  # no resource at all
            f"User: {ALICE} is not authorized to perform: sts:AssumeRole",
            None, None, None, None,
        ),
        (  # boundary, session policy, trust, RCP
            f"User: {ALICE} is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::111122223333:role/ "
            "because no permissions boundary allows the iam:ListRoles action",
            "arn:aws:iam::111122223333:role/", "boundary", False, None,
        ),
        (
            "User: arn:aws:sts::111122223333:assumed-role/R/s is not authorized to perform: iam:ListUsers on "
            "resource: arn:aws:iam::111122223333:user/ because no session policy allows the iam:ListUsers action",
            "arn:aws:iam::111122223333:user/", "session", False, None,
        ),
        (
            f"User: {ALICE} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/R "
            "because no role trust policy allows the sts:AssumeRole action",
            "arn:aws:iam::111122223333:role/R", "trust", False, None,
        ),
        (
            f"User: {ALICE} is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k because no "
            "resource control policy allows the s3:GetObject action",
            "arn:aws:s3:::b/k", "rcp", False, None,
        ),
        (  # IAM's display form with a space in it
            f"User: {ALICE} is not authorized to perform: iam:ListPolicies on resource: policy path / because no "
            "identity-based policy allows the iam:ListPolicies action",
            "policy path /", "identity", False, None,
        ),
    ],
)  # fmt: skip
def test_every_form_aws_prints(
    text: str, resource: str | None, blocking: str | None, explicit: bool | None, policy_arn: str | None
) -> None:
    parsed = parse_denial(text)
    assert parsed.principal.startswith("arn:aws:")
    assert parsed.action == text.split("perform: ", 1)[1].split(" ", 1)[0]
    assert (parsed.resource, parsed.blocking_type, parsed.explicit, parsed.policy_arn) == (
        resource, blocking, explicit, policy_arn,
    )  # fmt: skip


BASE = (
    f"User: {ALICE} is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::111122223333:user/ "
    "because no identity-based policy allows the iam:ListUsers action"
)


@pytest.mark.parametrize(
    "wrapped",
    [
        f"An error occurred (AccessDenied) when calling the ListUsers operation: {BASE}",  # the AWS CLI, boto3
        f'"{BASE}"',  # quoted
        f"{BASE}.",  # a full stop
        f"{BASE}\nTraceback (most recent call last): …",  # a log with more lines after it
        f'{{"Error": {{"Code": "AccessDenied", "Message": "{BASE}"}}}}',  # JSON
        f"{BASE} (Service: AmazonIdentityManagement; Status Code: 403; Error Code: AccessDenied)",  # the Java SDK
        f"  \t{BASE}  ",
    ],
)
def test_as_tools_show_it(wrapped: str) -> None:
    parsed = parse_denial(wrapped)
    assert (parsed.principal, parsed.action, parsed.resource, parsed.blocking_type) == (
        ALICE, "iam:ListUsers", "arn:aws:iam::111122223333:user/", "identity",
    )  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Access Denied",
        "User: is not authorized to perform: s3:GetObject",
        f"User: {ALICE} is not authorized to perform: ",
        f"User: {ALICE} is not authorized to perform: GetObject on resource: x",  # no service prefix
        f"User: {ALICE} is not authorized to perform: s3:GetObject and more words",
        "User: arn with spaces is not authorized to perform: s3:GetObject",
        f"User: {ALICE} is not authorized to perform: s3:GetObject on resource: " + "a" * 3000,
        "User: " + "x" * (MAX_MESSAGE + 1),
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(MessageError) as e:
        parse_denial(text)
    assert str(e.value)


def test_oversized_input_is_refused_before_any_search() -> None:
    with pytest.raises(MessageError, match="longer than"):
        parse_denial(BASE + " " * MAX_MESSAGE)


@pytest.mark.parametrize(
    "hostile",
    [
        "User: " * (MAX_MESSAGE // 6),  # the head over and over
        "User: a" + " is not authorized to perform: " * 400,
        f"User: {ALICE} is not authorized to perform: s3:X on resource: " + " because no" * 1000,
        f"User: {ALICE} is not authorized to perform: s3:X on resource: r" + " with an explicit deny in" * 500,
        "\n" * MAX_MESSAGE,
        "\x00User: \ud800 is not authorized to perform: a:b",
    ],
)
def test_hostile_input_ends_in_one_pass(hostile: str) -> None:
    """Plain string searches, no regular expression: each of these is read in one bounded pass
    (a backtracking pattern over them would take exponential or quadratic time)."""
    assert len(hostile) <= MAX_MESSAGE
    with contextlib.suppress(MessageError):
        parse_denial(hostile)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_never_anything_but_a_result_or_message_error(text: str) -> None:
    for candidate in (text, f"User: {ALICE} is not authorized to perform: {text}", BASE + text):
        try:
            parsed = parse_denial(candidate)
        except MessageError:
            continue
        assert ":" in parsed.action and not any(c.isspace() for c in parsed.principal)
