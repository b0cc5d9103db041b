"""What policies mention and grant: GetContextKeysForCustomPolicy,
GetContextKeysForPrincipalPolicy and ListPoliciesGrantingServiceAccess.

All three read documents iamd's own parser produced: the given ones parsed here as the
simulator parses them (an invalid one is ``InvalidInput``), the stored ones through the
policy loader (docs/iam-api.md, "Policy insights").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from iamd import errors as aws
from iamd.policy import DocumentKind, Policy, PolicyDocument, PolicyType
from iamd.policy.wildcard import compile_glob
from iamd.service.call import Call
from iamd.store import EntityKind, Group, NotFound, ReadTx, Role, User

from .shapes import page, page_of
from .simulate import _inputs

__all__ = [
    "context_keys",
    "get_context_keys_for_custom_policy",
    "get_context_keys_for_principal_policy",
    "list_policies_granting_service_access",
]

_KINDS = {"user": EntityKind.USER, "group": EntityKind.GROUP, "role": EntityKind.ROLE}
_ESCAPES = frozenset({"*", "?", "$"})


def _variables(text: str) -> Iterator[str]:
    """The context keys named by ``${key}`` / ``${key, 'default'}`` in ``text``, as written.

    Plain string searches (no regex), the same pairing as the engine: each ``${`` with the
    first ``}`` after it.
    """
    pos = 0
    while (start := text.find("${", pos)) >= 0 and (end := text.find("}", start + 2)) >= 0:
        body = text[start + 2 : end]
        key = body.split(",", 1)[0].strip()
        if key and body not in _ESCAPES:
            yield key
        pos = end + 1


def context_keys(documents: Iterable[PolicyDocument]) -> list[str]:
    """Every context key the documents reference, in the order they first appear: policy
    variables in resources (version 2012-10-17 only, where variables exist) and each
    condition's key and the variables in its values; one entry per key, compared
    case-insensitively, spelled as first written (as AWS's own example answers:
    ``aws:username`` from a resource's ``${aws:username}``, then ``aws:CurrentTime``)."""
    seen: dict[str, str] = {}

    def add(key: str) -> None:
        seen.setdefault(key.lower(), key)

    for doc in documents:
        variables = doc.version == "2012-10-17"
        for st in doc.statements:
            if variables:
                for resource in (*(st.resources or ()), *(st.not_resources or ())):
                    for key in _variables(resource):
                        add(key)
            for entry in st.conditions:
                add(entry.key)
                if variables:
                    for value in entry.values:
                        for key in _variables(value):
                            add(key)
    return list(seen.values())


def get_context_keys_for_custom_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    given = _inputs(call, "PolicyInputList", DocumentKind.IDENTITY, PolicyType.IDENTITY)
    return {"ContextKeyNames": context_keys(p.document for p in given)}


def _entity(tx: ReadTx, arn: str, member: str) -> tuple[EntityKind, User | Group | Role]:
    """The user, group or role an ARN names (found by name, as the simulator finds it)."""
    parts = arn.split(":", 5)
    kind_name, _, rest = parts[5].partition("/") if len(parts) == 6 else ("", "", "")
    kind = _KINDS.get(kind_name)
    if kind is None or parts[2] != "iam" or not rest:
        raise aws.InvalidInput(f"Invalid ARN for {member}: {arn}")
    name, account = rest.rsplit("/", 1)[-1], parts[4]
    try:
        if kind is EntityKind.USER:
            return kind, tx.get_user(account, name)
        if kind is EntityKind.GROUP:
            return kind, tx.get_group(account, name)
        return kind, tx.get_role(account, name)
    except NotFound:
        raise aws.NoSuchEntity(f"The {kind.value} with name {name} cannot be found.") from None


def _readable(policies: Iterable[Policy]) -> list[Policy]:
    return [p for p in policies if p.error is None]  # an unreadable stored policy references and grants nothing


def get_context_keys_for_principal_policy(call: Call, tx: ReadTx) -> dict[str, Any]:
    """The keys of the entity's policies (a user's: its groups' too) and of the given ones
    (IAM API "GetContextKeysForPrincipalPolicy")."""
    kind, entity = _entity(tx, str(call.params["PolicySourceArn"]), "PolicySourceArn")
    loader = call.env.policies.loader
    if isinstance(entity, User):
        stored = loader.user_identity(tx, entity)
    else:
        stored = loader.identity(tx, kind, entity.name, entity.account_id)
    given = _inputs(call, "PolicyInputList", DocumentKind.IDENTITY, PolicyType.IDENTITY)
    return {"ContextKeyNames": context_keys(p.document for p in [*_readable(stored), *given])}


# -- ListPoliciesGrantingServiceAccess ------------------------------------------------
def _split(action: str) -> tuple[str, str]:
    service, _, name = action.lower().partition(":")
    return (service, name) if name else ("*", "*") if service == "*" else (service, "")


def _grants(policy: Policy, namespace: str) -> bool:
    """Whether an Allow statement of ``policy`` allows some action of ``namespace``.

    ``Action``: some pattern's service part matches the namespace (``*``, ``s3:*``,
    ``s3:Get*``). ``NotAction``: unless a pattern excludes the whole namespace (``*``,
    ``s3:*``). Conditions and resources are not considered: AWS lists policies that *can*
    grant access (IAM API "ListPoliciesGrantingServiceAccess").
    """
    for st in policy.document.statements:
        if st.effect != "Allow":
            continue
        if st.actions is not None:
            if any(compile_glob(_split(a)[0])(namespace) for a in st.actions):
                return True
            continue
        excluded = any(
            compile_glob(service)(namespace) and name == "*" for service, name in map(_split, st.not_actions or ())
        )
        if not excluded:
            return True
    return False


def _entries(policies: Iterable[Policy], kind: EntityKind, name: str) -> list[dict[str, Any]]:
    out = []
    for p in policies:
        if p.kind == "managed":
            out.append({"PolicyName": p.id, "PolicyType": "MANAGED", "PolicyArn": p.arn})
        else:
            out.append({"PolicyName": p.id, "PolicyType": "INLINE", "EntityType": kind.name, "EntityName": name})
    return out


def list_policies_granting_service_access(call: Call, tx: ReadTx) -> dict[str, Any]:
    """For each namespace, the entity's policies (a user's groups' too) that can allow one of
    its actions; managed policies attached to several of them are listed once."""
    kind, entity = _entity(tx, str(call.params["Arn"]), "Arn")
    loader = call.env.policies.loader
    owners: list[tuple[EntityKind, str, list[Policy]]] = [
        (kind, entity.name, _readable(loader.identity(tx, kind, entity.name, entity.account_id)))
    ]
    if isinstance(entity, User):
        for group in tx.list_groups_for_user(entity.account_id, entity.name, max_items=1000).items:
            owners.append(
                (EntityKind.GROUP, group.name, _readable(loader.identity(tx, EntityKind.GROUP, group.name,
                                                                         entity.account_id)))
            )  # fmt: skip
    results = []
    for namespace in dict.fromkeys(str(n).lower() for n in call.params["ServiceNamespaces"]):
        found: list[dict[str, Any]] = []
        for owner_kind, owner_name, policies in owners:
            for entry in _entries([p for p in policies if _grants(p, namespace)], owner_kind, owner_name):
                if entry not in found:
                    found.append(entry)
        results.append({"ServiceNamespace": namespace, "Policies": found})
    result = page_of(results, call.params, "policies-granting-service-access")
    return page({"PoliciesGrantingServiceAccess": list(result.items)}, result)
