"""AWS's access-denied messages, read back: who, which action, which resource, and why.

The forms AWS prints (AWS "Troubleshoot access denied error messages"), as any tool shows them
(the AWS CLI's ``An error occurred (AccessDenied) when calling …: `` prefix, an SDK's exception
text, a console banner, quoted or JSON-escaped)::

    User: <arn> is not authorized to perform: <action>[ on resource: <resource>]
        [ because no <policy type> allows the <action> action]
        [ with an explicit deny[ in <a|an> <policy type>[: <policy arn>]]]

Reading is bounded and linear: the input is cut at :data:`MAX_MESSAGE` characters and read
with plain string searches (no regular expression), so hostile input costs at most one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_MESSAGE", "MessageError", "ParsedDenial", "parse_denial"]

MAX_MESSAGE = 16 * 1024  # AWS's messages are a few hundred characters; a pasted log line is more
_MAX_FIELD = 2048  # an ARN is at most 2,048 characters (IAM API "Data types": arnType)

_HEAD = "User: "
_NOT_AUTHORIZED = " is not authorized to perform: "
_ON_RESOURCE = " on resource: "
_BECAUSE_NO = " because no "
_EXPLICIT = " with an explicit deny"
_ALLOWS_THE = " allows the "
# The message ends at a line end, a closing quote, or the Java SDK's " (Service: …" suffix.
_ENDS = ("\n", "\r", '"', "\\n", " (Service: ")

# How AWS names a policy type in its messages -> iamd's policy type names (PolicyType values).
POLICY_TYPE_PHRASES = {
    "identity-based policy": "identity",
    "resource-based policy": "resource",
    "permissions boundary": "boundary",
    "session policy": "session",
    "service control policy": "scp",
    "resource control policy": "rcp",
    "role trust policy": "trust",
    "vpc endpoint policy": "vpc-endpoint",
}


class MessageError(ValueError):
    """The text is not an access-denied message iamd can read."""


@dataclass(frozen=True, slots=True)
class ParsedDenial:
    principal: str  # the ARN after "User: "
    action: str
    resource: str | None  # as the message shows it (an ARN, or IAM's "user Bob" display form)
    blocking_type: str | None  # identity | resource | boundary | session | scp | rcp | trust | vpc-endpoint
    explicit: bool | None  # None: the message does not say
    policy_arn: str | None  # AWS names the denying policy in some messages

    def to_json(self) -> dict[str, object]:
        return {
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "blockingPolicyType": self.blocking_type,
            "explicit": self.explicit,
            "policyArn": self.policy_arn,
        }


def _cut(text: str) -> str:
    """``text`` up to where the message ends (a line end or a closing quote)."""
    end = len(text)
    for mark in _ENDS:
        at = text.find(mark, 0, end)
        if at >= 0:
            end = at
    return text[:end]


def _phrase_type(phrase: str) -> str | None:
    lowered = phrase.strip().lower()
    for article in ("a ", "an ", "the "):
        if lowered.startswith(article):
            lowered = lowered[len(article) :]
            break
    return POLICY_TYPE_PHRASES.get(lowered)


def _token(text: str, what: str) -> str:
    """One whitespace-free token of at most ``_MAX_FIELD`` characters."""
    if not text or len(text) > _MAX_FIELD or any(c.isspace() for c in text):
        raise MessageError(f"the message names no readable {what}")
    return text


def parse_denial(text: str) -> ParsedDenial:
    """Read an access-denied message; raise :class:`MessageError` for anything else."""
    if len(text) > MAX_MESSAGE:
        raise MessageError(f"the message is longer than {MAX_MESSAGE} characters")
    start = text.find(_HEAD)
    if start < 0:
        raise MessageError('not an AWS access-denied message: no "User: <arn> is not authorized to perform: …"')
    body = _cut(text[start + len(_HEAD) :]).rstrip(" .'\\")
    who_end = body.find(_NOT_AUTHORIZED)
    if who_end < 0:
        raise MessageError('not an AWS access-denied message: no "is not authorized to perform:"')
    principal = _token(body[:who_end], "principal")
    rest = body[who_end + len(_NOT_AUTHORIZED) :]

    # The action is the first word; what follows is " on resource: …", the reason, or nothing.
    space = rest.find(" ")
    action = _token(rest if space < 0 else rest[:space], "action")
    rest = "" if space < 0 else rest[space:]
    if action.count(":") != 1:
        raise MessageError(f"the message names no action of the form service:Action (read {action[:80]!r})")

    resource: str | None = None
    reason_at = len(rest)
    for mark in (_BECAUSE_NO, _EXPLICIT):
        at = rest.find(mark)
        if 0 <= at < reason_at:
            reason_at = at
    head, reason = rest[:reason_at], rest[reason_at:]
    if head.startswith(_ON_RESOURCE):
        resource = head[len(_ON_RESOURCE) :].strip() or None
        if resource is not None and len(resource) > _MAX_FIELD:
            raise MessageError("the message names a resource longer than an ARN can be")
    elif head.strip():
        raise MessageError(f"unexpected text after the action: {head.strip()[:80]!r}")

    blocking: str | None = None
    explicit: bool | None = None
    policy_arn: str | None = None
    if reason.startswith(_BECAUSE_NO):
        explicit = False
        phrase = reason[len(_BECAUSE_NO) :]
        allows = phrase.find(_ALLOWS_THE)
        blocking = _phrase_type(phrase if allows < 0 else phrase[:allows])
    elif reason.startswith(_EXPLICIT):
        explicit = True
        tail = reason[len(_EXPLICIT) :].strip()
        if tail.startswith("in "):
            phrase, colon, arn = tail[3:].partition(":")
            blocking = _phrase_type(phrase)
            if colon and arn.strip().startswith("arn:"):
                policy_arn = _token(arn.strip(), "policy ARN")
    return ParsedDenial(principal, action, resource, blocking, explicit, policy_arn)
