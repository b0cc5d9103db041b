"""``iamd import``: load a real AWS account's IAM from ``aws iam get-account-authorization-details``
into an iamd data directory, so that ``iamd explain`` answers for its CloudTrail events offline
(docs/troubleshooting.md, "Troubleshooting a real AWS account").

One store transaction for the whole dump (all or nothing), through the store's bulk path
(:meth:`iamd.store.Tx.bulk_load_iam`: each table in multi-row statements, with the policy history
and change sets the single writes record), never request by request through the API.
What is loaded: customer managed policies (the
default version's document), AWS managed policies the dump carries and iamd lacks, groups with
their inline and attached policies, users with theirs, their permissions boundary, tags and
groups, roles with their trust policy, inline and attached policies, boundary, tags and instance
profiles. Entities get iamd's own unique ids (AWS's are not reused); names, paths and ARNs are
AWS's. The account is the dump's (read from its ARNs) unless one is given; it is created when
the data directory does not have it.

Bounded input: the caller reads the file (at most :data:`MAX_DUMP` bytes); every document is
stored as its JSON text, and documents iamd cannot read are kept and fail closed when evaluated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iamd.policy import DocumentKind
from iamd.policy.document import validate_policy
from iamd.store import AlreadyExists, BulkEntity, BulkPolicy, BulkProfile, IamBundle, NotFound, Store, Tag, Tx

__all__ = [
    "MAX_DUMP",
    "ImportError_",
    "bundle_of",
    "ensure_account",
    "Imported",
    "OrgPolicyFile",
    "count_entities",
    "import_authorization_details",
]

MAX_DUMP = 512 * 1024 * 1024  # bytes of one dump file

Progress = Callable[[int], None]  # called with the number of entities just written


class ImportError_(ValueError):
    """The dump is not an authorization-details document iamd can load."""


@dataclass(slots=True)
class Imported:
    account: str
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def _list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ImportError_(f"{key} is not a list of objects")
    return value


def _text(document: Any, what: str) -> str:
    """A policy document as stored text: the AWS CLI prints documents decoded (objects); the API's raw
    answer has them URL-encoded strings."""
    if isinstance(document, str):
        from urllib.parse import unquote

        text = unquote(document) if document.startswith("%7B") else document
        return text
    if isinstance(document, Mapping):
        return json.dumps(document, indent=4)
    raise ImportError_(f"{what}: the policy document is neither an object nor a string")


def _str(entry: Mapping[str, Any], key: str, what: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ImportError_(f"{what}: {key} is missing")
    return value


def _tags(entry: Mapping[str, Any]) -> list[Tag]:
    return [
        Tag(str(t["Key"]), str(t.get("Value", "")))
        for t in entry.get("Tags") or ()
        if isinstance(t, Mapping) and isinstance(t.get("Key"), str)
    ]


def _account_of(data: Mapping[str, Any]) -> str:
    for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"):
        for entry in _list(data, key):
            parts = str(entry.get("Arn", "")).split(":")
            if len(parts) >= 5 and len(parts[4]) == 12 and parts[4].isdigit():
                return parts[4]
    raise ImportError_("no ARN in the dump names an account: give --account")


def count_entities(data: Mapping[str, Any]) -> int:
    """How many entities the dump has (the progress bar's total)."""
    return sum(len(_list(data, k)) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))


def _default_document(entry: Mapping[str, Any], what: str) -> str | None:
    versions = _list(entry, "PolicyVersionList")
    default = entry.get("DefaultVersionId")
    for v in versions:
        if v.get("IsDefaultVersion") or v.get("VersionId") == default:
            return _text(v.get("Document"), what)
    return None


def _versions(entry: Mapping[str, Any], what: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The default version's id and every other version (id, document) of a customer managed policy:
    the dump lists them all (``PolicyVersionList``), and they are imported with their ids so that the
    account's versions are AWS's (a fix may be "make v2 the default again")."""
    versions = _list(entry, "PolicyVersionList")
    default = next((str(v.get("VersionId")) for v in versions if v.get("IsDefaultVersion")), None)
    default = default or str(entry.get("DefaultVersionId") or "v1")
    if len(versions) > 5:
        raise ImportError_(f"{what}: {len(versions)} versions (a managed policy has at most 5)")
    others = tuple(
        (_str(v, "VersionId", what), _text(v.get("Document"), f"{what} {v.get('VersionId')}"))
        for v in versions
        if str(v.get("VersionId")) != default
    )
    ids = [default, *(v for v, _ in others)]
    if len(set(ids)) != len(ids):
        raise ImportError_(f"{what}: a version id appears twice in PolicyVersionList")
    return default, others


@dataclass(frozen=True, slots=True)
class OrgPolicyFile:
    """An SCP or RCP given as a file, and where it is attached: ``root``, ``account`` or ``ou:<Name>`` (the OUs
    named nest in the order they are first given: the first under the root, the account under the last)."""

    type: str  # SERVICE_CONTROL_POLICY or RESOURCE_CONTROL_POLICY
    level: str
    name: str
    content: str


def _organization(tx: Any, account: str, files: list[OrgPolicyFile], management: str, out: Imported) -> None:
    """An organization for the imported account, with the SCPs and RCPs given: FullAWSAccess (and
    RCPFullAWSAccess) attached at every level as AWS attaches them by default, each file at its level."""
    from datetime import UTC, datetime

    from iamd.policy import DocumentKind, PolicyValidationError, parse_policy
    from iamd.service.organizations.model import DEFAULT_POLICY, new_id
    from iamd.store.organizations import OrgAccount, Organization, OrgPolicy, OrgRoot, OrgUnit

    if tx.organization_of(account) is not None:
        raise ImportError_(f"account {account} is already in an organization")
    if management == account:
        raise ImportError_("SCPs and RCPs never apply to the management account: give another --org-management")
    for f in files:
        try:
            kind = DocumentKind.SCP if f.type == "SERVICE_CONTROL_POLICY" else DocumentKind.RCP
            parse_policy(f.content, kind)
        except PolicyValidationError as e:
            raise ImportError_(f"{f.name}: {e.problems[0].describe()}") from None
    try:
        tx.get_account(management)
    except NotFound:
        tx.create_account(management)
    now = datetime.now(UTC)
    org = Organization(new_id("o-", 10), management, "ALL", now)
    types = tuple(sorted({"SERVICE_CONTROL_POLICY", *(f.type for f in files)}))
    root = OrgRoot(new_id("r-", 4), org.id, "Root", types)
    email = "@example.invalid"
    tx.create_organization(org, root, OrgAccount(management, org.id, root.id, management, management + email,
                                                 "CREATED", now))  # fmt: skip
    units: dict[str, str] = {}
    parent = root.id
    for f in files:
        if f.level.startswith("ou:") and f.level[3:] not in units:
            unit = OrgUnit(f"ou-{root.id[2:]}-" + new_id("", 8), org.id, parent, f.level[3:], now)
            tx.put_org_unit(unit)
            units[f.level[3:]] = parent = unit.id
    tx.put_org_account(OrgAccount(account, org.id, parent, account, account + email, "CREATED", now))
    targets = {"root": root.id, "account": account, **{f"ou:{n}": i for n, i in units.items()}}
    for policy_type in types:
        for target in targets.values():
            tx.attach_org_policy(org.id, target, DEFAULT_POLICY[policy_type])
    for f in files:
        if f.level not in targets:
            raise ImportError_(f"{f.name}: level {f.level!r} is not root, account or ou:<Name>")
        policy_id = new_id("p-", 8)
        tx.put_org_policy(OrgPolicy(policy_id, org.id, f.type, f.name, "imported by iamd import", f.content, now))
        tx.attach_org_policy(org.id, targets[f.level], policy_id)
        out.add("SCPs" if f.type == "SERVICE_CONTROL_POLICY" else "RCPs")


def ensure_account(tx: Tx, account: str, out: Imported) -> None:
    """Create ``account`` if the database lacks it (counted in ``out``); also ``iamd db load``'s."""
    try:
        tx.get_account(account)
    except NotFound:
        tx.create_account(account)
        out.add("account")


def import_authorization_details(
    store: Store, data: Any, *, account: str | None = None, progress: Progress | None = None,
    org_policies: list[OrgPolicyFile] | None = None, org_management: str = "000000000000",
    resource_policies: list[tuple[str, str]] | None = None,
) -> Imported:  # fmt: skip
    """Load the dump in one transaction; :class:`ImportError_` (nothing written) when it cannot be."""
    if not isinstance(data, Mapping):
        raise ImportError_("not a JSON object (expected the output of aws iam get-account-authorization-details)")
    account = account or _account_of(data)
    tick = progress or (lambda n: None)
    out = Imported(account)
    try:
        bundle, aws_managed = bundle_of(data, out, tick)
        with store.transaction() as tx:
            ensure_account(tx, account, out)
            for name, path, document, version in aws_managed:
                try:
                    tx.get_policy(f"arn:{_partition(data)}:iam::aws:policy{path}{name}")
                except NotFound:
                    tx.put_aws_managed_policy(name, document, path=path, version_id=version)
                    out.add("aws managed policies")
            tx.bulk_load_iam(account, bundle)
            if org_policies:
                _organization(tx, account, org_policies, org_management, out)
            for arn, document in _resource_policies(resource_policies or [], _partition(data)):
                tx.put_imported_resource_policy(account, arn, document)
                out.add("resource policies")
    except AlreadyExists as e:
        raise ImportError_(f"{e}: the data directory already has it (import into a new account)") from None
    except NotFound as e:  # an attached policy the dump does not carry: evaluating without it would mislead
        raise ImportError_(f"{e}: attached but not in the dump (dump it with its AWS managed policies)") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ImportError_(f"unexpected shape: {e}") from None
    return out


def _resource_policies(given: list[tuple[str, str]], partition: str) -> list[tuple[str, str]]:
    """Each (resource ARN, document) given, checked: an ARN of the dump's partition with six parts, and a
    document that is a valid resource-based policy (AWS's rules: it names a Principal)."""
    checked = []
    for arn, document in given:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[1] != partition or not parts[2] or not parts[5]:
            raise ImportError_(f"{arn[:256]}: not a resource ARN of partition {partition}")
        problems = validate_policy(document, DocumentKind.RESOURCE)
        if problems:
            raise ImportError_(f"the resource policy of {arn[:256]}: {problems[0].describe()}")
        checked.append((arn, document))
    return checked


def _partition(data: Mapping[str, Any]) -> str:
    for key in ("UserDetailList", "RoleDetailList", "GroupDetailList", "Policies"):
        for entry in _list(data, key):
            parts = str(entry.get("Arn", "")).split(":")
            if len(parts) > 1 and parts[1]:
                return parts[1]
    return "aws"


def _inline(entry: Mapping[str, Any], key: str, owner: str) -> list[tuple[str, str]]:
    return [
        (_str(p, "PolicyName", owner), _text(p.get("PolicyDocument"), f"{owner}/{p.get('PolicyName')}"))
        for p in _list(entry, key)
    ]


def _attached(entry: Mapping[str, Any], owner: str) -> list[str]:
    return [_str(a, "PolicyArn", owner) for a in _list(entry, "AttachedManagedPolicies")]


def _boundary(entry: Mapping[str, Any]) -> str | None:
    boundary = entry.get("PermissionsBoundary")
    if isinstance(boundary, Mapping) and isinstance(boundary.get("PermissionsBoundaryArn"), str):
        return str(boundary["PermissionsBoundaryArn"])
    return None


def bundle_of(
    data: Mapping[str, Any], out: Imported, tick: Progress | None = None
) -> tuple[IamBundle, list[tuple[str, str, str, str]]]:
    """The dump as the store's bulk input, and the AWS managed policies it carries (also for
    ``iamd db load``'s chunks, iamd/bulk_load.py)."""
    tick = tick or (lambda n: None)
    bundle = IamBundle()
    aws_managed: list[tuple[str, str, str, str]] = []
    for entry in _list(data, "Policies"):
        arn = _str(entry, "Arn", "policy")
        name = _str(entry, "PolicyName", arn)
        document = _default_document(entry, arn)
        if document is None:
            raise ImportError_(f"{arn}: no default version in PolicyVersionList")
        path = str(entry.get("Path") or "/")
        if arn.split(":")[4] == "aws":
            aws_managed.append((name, path, document, str(entry.get("DefaultVersionId") or "v1")))
        else:
            description = entry.get("Description")
            default, others = _versions(entry, arn)
            bundle.policies.append(BulkPolicy(name, path, document,
                                              description if isinstance(description, str) else None, default,
                                              others))  # fmt: skip
            out.add("policies")
            out.add("non-default versions", len(others))
        tick(1)
    for entry in _list(data, "GroupDetailList"):
        name = _str(entry, "GroupName", "group")
        bundle.groups.append(BulkEntity(
            name, str(entry.get("Path") or "/"), _inline(entry, "GroupPolicyList", name), _attached(entry, name),
        ))  # fmt: skip
        out.add("groups")
        tick(1)
    for entry in _list(data, "UserDetailList"):
        name = _str(entry, "UserName", "user")
        groups = [g for g in entry.get("GroupList") or () if isinstance(g, str)]
        bundle.users.append(BulkEntity(
            name, str(entry.get("Path") or "/"), _inline(entry, "UserPolicyList", name), _attached(entry, name),
            _boundary(entry), _tags(entry), groups,
        ))  # fmt: skip
        out.add("users")
        out.add("memberships", len(groups))
        tick(1)
    profiles: dict[str, BulkProfile] = {}
    for entry in _list(data, "RoleDetailList"):
        name = _str(entry, "RoleName", "role")
        description = entry.get("Description")
        duration = entry.get("MaxSessionDuration")
        bundle.roles.append(BulkEntity(
            name, str(entry.get("Path") or "/"), _inline(entry, "RolePolicyList", name), _attached(entry, name),
            _boundary(entry), _tags(entry), trust=_text(entry.get("AssumeRolePolicyDocument"), name),
            description=description if isinstance(description, str) else None,
            max_session_duration=duration if isinstance(duration, int) else 3600,
        ))  # fmt: skip
        for profile in _list(entry, "InstanceProfileList"):
            profile_name = _str(profile, "InstanceProfileName", name)
            profiles.setdefault(profile_name, BulkProfile(profile_name, str(profile.get("Path") or "/"), name))
        out.add("roles")
        tick(1)
    bundle.profiles = list(profiles.values())
    out.add("instance profiles", len(profiles))
    for e in (*bundle.groups, *bundle.users, *bundle.roles):
        out.add("inline policies", len(e.inline))
        out.add("attachments", len(e.attached))
    return bundle, aws_managed
