"""Tag, Untag and List…Tags for every taggable entity: one set of handlers (AWS "Tags for AWS Identity and Access
Management resources").

The operation's name says which entity (``TagUser``, ``ListInstanceProfileTags``,
``TagSAMLProvider``…);
the entity must exist, tags are checked for duplicates and the 50-tag quota.
"""

from __future__ import annotations

from typing import Any

from iamd.service.call import Call
from iamd.store import ReadTx, Tag, TagTarget, Tx

from .checks import check_tags, tags_of
from .providers import oidc_provider, saml_provider
from .shapes import page, page_of, tags_shape

__all__ = ["list_tags", "tag", "untag"]

# entity word in the operation name -> (store target, parameter naming it, marker scope)
_ENTITIES = {
    "User": (TagTarget.USER, "UserName", "user-tags"),
    "Role": (TagTarget.ROLE, "RoleName", "role-tags"),
    "InstanceProfile": (TagTarget.INSTANCE_PROFILE, "InstanceProfileName", "instance-profile-tags"),
    "Policy": (TagTarget.POLICY, "PolicyArn", "policy-tags"),
    "MFADevice": (TagTarget.MFA_DEVICE, "SerialNumber", "mfa-device-tags"),
    "OpenIDConnectProvider": (TagTarget.OIDC_PROVIDER, "OpenIDConnectProviderArn", "oidc-provider-tags"),
    "SAMLProvider": (TagTarget.SAML_PROVIDER, "SAMLProviderArn", "saml-provider-tags"),
    "ServerCertificate": (TagTarget.SERVER_CERTIFICATE, "ServerCertificateName", "server-certificate-tags"),
}


_PROVIDERS = {TagTarget.OIDC_PROVIDER: oidc_provider, TagTarget.SAML_PROVIDER: saml_provider}


def _entity(operation: str) -> tuple[TagTarget, str, str]:
    word = operation.removeprefix("Untag").removeprefix("Tag").removeprefix("List").removesuffix("Tags")
    return _ENTITIES[word]


def _existing_tags(call: Call, tx: ReadTx, target: TagTarget, ref: str) -> tuple[Tag, ...]:
    """The entity's tags; NotFound (AWS's NoSuchEntity) when it does not exist."""
    if target is TagTarget.POLICY:
        policy = tx.get_policy(ref)  # AWS managed policies live in the "aws" pseudo-account
        return tx.list_tags(target, policy.account_id, policy.arn)
    if target is TagTarget.MFA_DEVICE:
        tx.get_virtual_mfa_device(call.account, ref)
        return tx.list_tags(target, call.account, ref)
    if target in _PROVIDERS:  # their own NoSuchEntity texts (AWS "Identity providers and federation into AWS")
        return tx.list_tags(target, call.account, _PROVIDERS[target](call, tx).arn)
    getter: Any = {
        TagTarget.USER: tx.get_user, TagTarget.ROLE: tx.get_role,
        TagTarget.SERVER_CERTIFICATE: tx.get_server_certificate,
    }.get(target, tx.get_instance_profile)  # fmt: skip
    getter(call.account, ref)
    return tx.list_tags(target, call.account, ref)


def tag(call: Call, tx: Tx) -> None:
    target, member, _ = _entity(call.operation)
    ref = str(call.params[member])
    tags = tags_of(call.params)
    check_tags(target, tags, _existing_tags(call, tx, target, ref))
    tx.tag_resource(target, call.account, ref, tags)


def untag(call: Call, tx: Tx) -> None:
    target, member, _ = _entity(call.operation)
    ref = str(call.params[member])
    _existing_tags(call, tx, target, ref)
    tx.untag_resource(target, call.account, ref, call.params["TagKeys"])


def list_tags(call: Call, tx: ReadTx) -> dict[str, Any]:
    target, member, scope = _entity(call.operation)
    result = page_of(_existing_tags(call, tx, target, str(call.params[member])), call.params, scope)
    return page({"Tags": tags_shape(result.items)}, result)
