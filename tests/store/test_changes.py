"""Every store write says what it changed (iamd.store.changes); caches are invalidated from that alone.

The table below runs each write method of ``Tx`` once and names the refs it must report. The
first test fails when a write method is added to the interface without a row here, so a new
write cannot skip invalidation unnoticed; each row fails when its method records no change
(or not the entity it changed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from iamd.refs import Ref, key_ref, policy_ref, ref
from iamd.store import (
    BulkEntity,
    BulkPolicy,
    BulkProfile,
    ChangeSet,
    EntityKind,
    IamBundle,
    KeyStatus,
    Store,
    Tag,
    TagTarget,
    Tx,
    Verb,
)
from iamd.store.api import ReadTx
from iamd.store.console_sessions import ConsoleSessionRow
from iamd.store.logins import SigninThrottle
from iamd.store.organizations import (
    CreateAccountStatus,
    OrgAccount,
    Organization,
    OrgPolicy,
    OrgResourcePolicy,
    OrgRoot,
    OrgUnit,
)
from tests.store.helpers import ACCOUNT, DOC, START, TRUST

A = ACCOUNT
POLICY = f"arn:aws:iam::{A}:policy/p1"
BOUNDARY = f"arn:aws:iam::{A}:policy/b1"
MFA = f"arn:aws:iam::{A}:mfa/dev"
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
Row = tuple[str, Callable[[Tx, dict[str, Any]], Any], Callable[[dict[str, Any]], set[Ref]]]


def _u(name: str) -> Ref:
    return ref("user", A, name)


# (method, call, the refs its change set must contain); run in this order, one transaction each.
ROWS: list[Row] = [
    (
        "create_account",
        lambda tx, v: tx.create_account("999988887777"),
        lambda v: {ref("account", "999988887777", "999988887777")},
    ),
    ("set_account_alias", lambda tx, v: tx.set_account_alias(A, "my-alias"), lambda v: {ref("account", A, A)}),
    ("set_password_policy", lambda tx, v: tx.set_password_policy(A, "{}"), lambda v: {ref("account", A, A)}),
    ("create_policy", lambda tx, v: tx.create_policy(A, "p1", DOC), lambda v: {policy_ref(POLICY)}),
    (
        "put_aws_managed_policy",
        lambda tx, v: tx.put_aws_managed_policy("AwsOne", DOC),
        lambda v: {policy_ref("arn:aws:iam::aws:policy/AwsOne")},
    ),
    ("create_user", lambda tx, v: tx.create_user(A, "Alice"), lambda v: {_u("alice")}),
    ("bulk_create_users", lambda tx, v: tx.bulk_create_users(A, ["b1", "b2"]), lambda v: {_u("b1"), _u("b2")}),
    ("update_user", lambda tx, v: tx.update_user(A, "b2", new_name="Bee"), lambda v: {_u("b2"), _u("bee")}),
    ("create_group", lambda tx, v: tx.create_group(A, "G"), lambda v: {ref("group", A, "g")}),
    (
        "update_group",
        lambda tx, v: tx.update_group(A, "G", new_name="G2"),
        lambda v: {ref("group", A, "g"), ref("group", A, "g2")},
    ),
    (
        "add_user_to_group",
        lambda tx, v: tx.add_user_to_group(A, "G2", "alice"),
        lambda v: {ref("group", A, "g2"), _u("alice")},
    ),
    (
        "remove_user_from_group",
        lambda tx, v: tx.remove_user_from_group(A, "G2", "alice"),
        lambda v: {ref("group", A, "g2"), _u("alice")},
    ),
    ("delete_group", lambda tx, v: tx.delete_group(A, "G2"), lambda v: {ref("group", A, "g2")}),
    ("create_role", lambda tx, v: tx.create_role(A, "R", assume_role_policy=TRUST), lambda v: {ref("role", A, "r")}),
    ("update_role", lambda tx, v: tx.update_role(A, "R", description="d"), lambda v: {ref("role", A, "r")}),
    (
        "update_assume_role_policy",
        lambda tx, v: tx.update_assume_role_policy(A, "R", TRUST),
        lambda v: {ref("role", A, "r")},
    ),
    (
        "attach_policy",
        lambda tx, v: tx.attach_policy(EntityKind.USER, A, "alice", POLICY),
        lambda v: {_u("alice"), policy_ref(POLICY)},
    ),
    (
        "detach_policy",
        lambda tx, v: tx.detach_policy(EntityKind.USER, A, "alice", POLICY),
        lambda v: {_u("alice"), policy_ref(POLICY)},
    ),
    (
        "put_permissions_boundary",
        lambda tx, v: tx.put_permissions_boundary(EntityKind.ROLE, A, "R", POLICY),
        lambda v: {ref("role", A, "r"), policy_ref(POLICY)},
    ),
    (
        "delete_permissions_boundary",
        lambda tx, v: tx.delete_permissions_boundary(EntityKind.ROLE, A, "R"),
        lambda v: {ref("role", A, "r"), policy_ref(POLICY)},
    ),  # the boundary it had is used once less
    (
        "put_inline_policy",
        lambda tx, v: tx.put_inline_policy(EntityKind.USER, A, "alice", "in", DOC),
        lambda v: {_u("alice")},
    ),
    (
        "delete_inline_policy",
        lambda tx, v: tx.delete_inline_policy(EntityKind.USER, A, "alice", "in"),
        lambda v: {_u("alice")},
    ),
    ("create_policy_version", lambda tx, v: tx.create_policy_version(POLICY, DOC), lambda v: {policy_ref(POLICY)}),
    (
        "set_default_policy_version",
        lambda tx, v: tx.set_default_policy_version(POLICY, "v2"),
        lambda v: {policy_ref(POLICY)},
    ),
    ("delete_policy_version", lambda tx, v: tx.delete_policy_version(POLICY, "v1"), lambda v: {policy_ref(POLICY)}),
    (
        "tag_resource",
        lambda tx, v: tx.tag_resource(TagTarget.USER, A, "alice", [Tag("k", "v")]),
        lambda v: {_u("alice")},
    ),
    (
        "untag_resource",
        lambda tx, v: tx.untag_resource(TagTarget.POLICY, A, POLICY, ["k"]),
        lambda v: {policy_ref(POLICY)},
    ),
    (
        "create_access_key",
        lambda tx, v: tx.create_access_key(A, "alice", "AKIAEXAMPLEKEY000001", b"sealed"),
        lambda v: {key_ref("AKIAEXAMPLEKEY000001")},
    ),
    (
        "update_access_key",
        lambda tx, v: tx.update_access_key(A, "alice", "AKIAEXAMPLEKEY000001", KeyStatus.INACTIVE),
        lambda v: {key_ref("AKIAEXAMPLEKEY000001")},
    ),
    (
        "delete_access_key",
        lambda tx, v: tx.delete_access_key(A, "alice", "AKIAEXAMPLEKEY000001"),
        lambda v: {key_ref("AKIAEXAMPLEKEY000001")},
    ),
    (
        "create_instance_profile",
        lambda tx, v: tx.create_instance_profile(A, "IP"),
        lambda v: {ref("instance-profile", A, "ip")},
    ),
    (
        "add_role_to_instance_profile",
        lambda tx, v: tx.add_role_to_instance_profile(A, "IP", "R"),
        lambda v: {ref("instance-profile", A, "ip"), ref("role", A, "r")},
    ),
    (
        "remove_role_from_instance_profile",
        lambda tx, v: tx.remove_role_from_instance_profile(A, "IP", "R"),
        lambda v: {ref("instance-profile", A, "ip"), ref("role", A, "r")},
    ),
    (
        "delete_instance_profile",
        lambda tx, v: tx.delete_instance_profile(A, "IP"),
        lambda v: {ref("instance-profile", A, "ip")},
    ),
    (
        "create_virtual_mfa_device",
        lambda tx, v: tx.create_virtual_mfa_device(A, "dev", serial=MFA, seed_sealed=b"s"),
        lambda v: {ref("mfa", A, MFA)},
    ),
    (
        "enable_mfa_device",
        lambda tx, v: tx.enable_mfa_device(A, MFA, "alice", step=5, drift=0, when=START),
        lambda v: {ref("mfa", A, MFA), _u("alice")},
    ),
    ("record_mfa_step", lambda tx, v: tx.record_mfa_step(A, MFA, 6), lambda v: {ref("mfa", A, MFA)}),
    (
        "deactivate_mfa_device",
        lambda tx, v: tx.deactivate_mfa_device(A, MFA, "alice"),
        lambda v: {ref("mfa", A, MFA), _u("alice")},
    ),
    ("delete_virtual_mfa_device", lambda tx, v: tx.delete_virtual_mfa_device(A, MFA), lambda v: {ref("mfa", A, MFA)}),
    (
        "create_oidc_provider",
        lambda tx, v: v.setdefault("oidc", tx.create_oidc_provider(A, "https://idp.example.com").arn),
        lambda v: {ref("oidc-provider", A, v["oidc"])},
    ),
    (
        "update_oidc_provider",
        lambda tx, v: tx.update_oidc_provider(A, v["oidc"], client_ids=["c"]),
        lambda v: {ref("oidc-provider", A, v["oidc"])},
    ),
    (
        "delete_oidc_provider",
        lambda tx, v: tx.delete_oidc_provider(A, v["oidc"]),
        lambda v: {ref("oidc-provider", A, v["oidc"])},
    ),
    (
        "create_saml_provider",
        lambda tx, v: v.setdefault("saml", tx.create_saml_provider(A, "idp", "<md/>").arn),
        lambda v: {ref("saml-provider", A, v["saml"])},
    ),
    (
        "update_saml_provider",
        lambda tx, v: tx.update_saml_provider(A, v["saml"], "<md2/>"),
        lambda v: {ref("saml-provider", A, v["saml"])},
    ),
    (
        "delete_saml_provider",
        lambda tx, v: tx.delete_saml_provider(A, v["saml"]),
        lambda v: {ref("saml-provider", A, v["saml"])},
    ),
    (
        "create_login_profile",
        lambda tx, v: tx.create_login_profile(A, "alice", HASH, reset_required=False, now=START),
        lambda v: {ref("login-profile", A, "alice")},
    ),
    (
        "update_login_profile",
        lambda tx, v: tx.update_login_profile(A, "alice", reset_required=True, now=START),
        lambda v: {ref("login-profile", A, "alice")},
    ),
    (
        "delete_login_profile",
        lambda tx, v: tx.delete_login_profile(A, "alice"),
        lambda v: {ref("login-profile", A, "alice")},
    ),
    (
        "put_signin_throttle",
        lambda tx, v: tx.put_signin_throttle(SigninThrottle("t1", 1, START, None)),
        lambda v: {ref("signin-throttle", "", "t1")},
    ),
    (
        "clear_signin_throttle",
        lambda tx, v: tx.clear_signin_throttle("t1"),
        lambda v: {ref("signin-throttle", "", "t1")},
    ),
    (
        "put_console_session",
        lambda tx, v: tx.put_console_session(ConsoleSessionRow("h1", "session", A, "AIDA1", START, START, b"x")),
        lambda v: {ref("console-session", A, "h1")},
    ),
    (
        "update_console_session",
        lambda tx, v: tx.update_console_session("h1", tries=1),
        lambda v: {ref("console-session", "", "h1")},
    ),
    (
        "revoke_console_session",
        lambda tx, v: tx.revoke_console_session("h1", START),
        lambda v: {ref("console-session", "", "h1")},
    ),
    (
        "revoke_console_sessions",
        lambda tx, v: tx.revoke_console_sessions(A, "AIDA1", START),
        lambda v: {ref("console-session", A, "AIDA1")},
    ),
    (
        "purge_console_sessions",
        lambda tx, v: tx.purge_console_sessions(START),
        lambda v: {ref("console-session", "", "")},
    ),
    (
        "put_credential_report",
        lambda tx, v: tx.put_credential_report(A, START, b"r"),
        lambda v: {ref("credential-report", A, A)},
    ),
    (
        "bulk_load_iam",
        lambda tx, v: tx.bulk_load_iam(
            A,
            IamBundle(
                policies=[BulkPolicy("bulk-p", "/", DOC)],
                groups=[BulkEntity("bulk-g")],
                users=[BulkEntity("bulk-u", groups=["bulk-g"], attached=[f"arn:aws:iam::{A}:policy/bulk-p"])],
                roles=[BulkEntity("bulk-r", trust=TRUST)],
                profiles=[BulkProfile("bulk-ip", "/", "bulk-r")],
            ),
        ),
        lambda v: {
            _u("bulk-u"),
            ref("group", A, "bulk-g"),
            ref("role", A, "bulk-r"),
            policy_ref(f"arn:aws:iam::{A}:policy/bulk-p"),
            ref("instance-profile", A, "bulk-ip"),
        },
    ),
    (
        "prune_policy_history",
        lambda tx, v: tx.prune_policy_history(START + timedelta(days=1)),
        lambda v: {ref("account", "", "")},
    ),
    (
        "add_audit_event",
        lambda tx, v: v.setdefault("event", _event().event_id if tx.add_audit_event(_event()) else ""),
        lambda v: {ref("audit-event", A, v["event"])},
    ),
    (
        "add_audit_event_last",
        lambda tx, v: v.setdefault("event", _event().event_id if tx.add_audit_event_last(_event()) is None else ""),
        lambda v: {ref("audit-event", A, v["event"])},
    ),
    # SSH public keys, signing certificates, service-specific credentials (nothing cached: reported, ignored)
    (
        "add_ssh_public_key",
        lambda tx, v: tx.add_ssh_public_key(A, "alice", "APKAEXAMPLE000000001", "ssh-rsa AAAA", "aa:bb"),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    (
        "set_ssh_public_key_status",
        lambda tx, v: tx.set_ssh_public_key_status(A, "alice", "APKAEXAMPLE000000001", "Inactive"),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    (
        "delete_ssh_public_key",
        lambda tx, v: tx.delete_ssh_public_key(A, "alice", "APKAEXAMPLE000000001"),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    (
        "add_signing_certificate",
        lambda tx, v: tx.add_signing_certificate(A, "alice", "CERTEXAMPLE1", "-----BEGIN CERTIFICATE-----", "f1"),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    (
        "set_signing_certificate_status",
        lambda tx, v: tx.set_signing_certificate_status(A, "alice", "CERTEXAMPLE1", "Inactive"),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    (
        "delete_signing_certificate",
        lambda tx, v: tx.delete_signing_certificate(A, "alice", "CERTEXAMPLE1"),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    (
        "add_service_credential",
        lambda tx, v: tx.add_service_credential(
            A, "alice", "ACCAEXAMPLE1", "codecommit.amazonaws.com", "alice-at-1", HASH
        ),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    (
        "update_service_credential",
        lambda tx, v: tx.update_service_credential(A, "alice", "ACCAEXAMPLE1", status="Inactive"),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    (
        "delete_service_credential",
        lambda tx, v: tx.delete_service_credential(A, "alice", "ACCAEXAMPLE1"),
        lambda v: {ref("user-credential", A, "alice")},
    ),
    # server certificates
    (
        "create_server_certificate",
        lambda tx, v: tx.create_server_certificate(
            A,
            "ASCAEXAMPLE1",
            "tls",
            path="/",
            body="-----BEGIN CERTIFICATE-----",
            chain=None,
            private_key_sealed=b"sealed",
            expiration=START + timedelta(days=365),
        ),
        lambda v: {ref("server-certificate", A, "tls")},
    ),
    (
        "update_server_certificate",
        lambda tx, v: tx.update_server_certificate(A, "tls", new_path="/web/"),
        lambda v: {ref("server-certificate", A, "tls")},
    ),
    (
        "delete_server_certificate",
        lambda tx, v: tx.delete_server_certificate(A, "tls"),
        lambda v: {ref("server-certificate", A, "tls")},
    ),
    # account settings
    ("set_sts_token_version", lambda tx, v: tx.set_sts_token_version(A, 2), lambda v: {ref("account", A, A)}),
    ("set_entity_quota", lambda tx, v: tx.set_entity_quota(A, "Users", 10), lambda v: {ref("account", A, A)}),
    (
        "add_deletion_task",
        lambda tx, v: tx.add_deletion_task(A, "task/aws-service-role/x/1", "SUCCEEDED"),
        lambda v: {ref("account", A, A)},
    ),
    # last-accessed jobs, outbound web identity federation (account settings)
    ("put_access_report_job", lambda tx, v: tx.put_access_report_job(_job()), lambda v: {ref("account", A, A)}),
    (
        "set_outbound_federation",
        lambda tx, v: tx.set_outbound_federation(A, "issuer-1", True),
        lambda v: {ref("account", A, A)},
    ),
    ("add_web_identity_key", lambda tx, v: tx.add_web_identity_key(_web_key()), lambda v: {ref("account", A, A)}),
    (
        "put_imported_resource_policy",
        lambda tx, v: tx.put_imported_resource_policy(A, "arn:aws:s3:::bucket", "{}"),
        lambda v: {ref("account", A, A)},
    ),
    # AWS Organizations: every write names its organization, and the account that joins, moves or leaves
    ("create_organization", lambda tx, v: tx.create_organization(*_org()), lambda v: {ORG, MEMBER}),
    (
        "set_root_policy_types",
        lambda tx, v: tx.set_root_policy_types("r-ab12", ["SERVICE_CONTROL_POLICY"]),
        lambda v: {ORG},
    ),
    ("put_org_unit", lambda tx, v: tx.put_org_unit(_ou()), lambda v: {ORG}),
    (
        "put_org_account",
        lambda tx, v: tx.put_org_account(replace(_org()[2], parent_id="ou-ab12-abcdefgh")),
        lambda v: {ORG, MEMBER},
    ),
    ("put_org_policy", lambda tx, v: tx.put_org_policy(_scp()), lambda v: {ORG}),
    (
        "attach_org_policy",
        lambda tx, v: tx.attach_org_policy("o-abcdefghij", "ou-ab12-abcdefgh", "p-abcdefgh"),
        lambda v: {ORG},
    ),
    (
        "detach_org_policies",
        lambda tx, v: tx.detach_org_policies("o-abcdefghij", [("ou-ab12-abcdefgh", "p-abcdefgh")]),
        lambda v: {ORG},
    ),
    ("set_org_tags", lambda tx, v: tx.set_org_tags("o-abcdefghij", "p-abcdefgh", [("k", "v")]), lambda v: {ORG}),
    ("put_create_account_status", lambda tx, v: tx.put_create_account_status(_status()), lambda v: {ORG}),
    (
        "set_org_root_features",
        lambda tx, v: tx.set_org_root_features("o-abcdefghij", ["RootSessions"]),
        lambda v: {ORG},
    ),
    (
        "set_org_service_access",
        lambda tx, v: tx.set_org_service_access("o-abcdefghij", "config.amazonaws.com", START),
        lambda v: {ORG},
    ),
    (
        "put_org_delegated_admin",
        lambda tx, v: tx.put_org_delegated_admin("o-abcdefghij", A, "config.amazonaws.com", START),
        lambda v: {ORG},
    ),
    (
        "delete_org_delegated_admins",
        lambda tx, v: tx.delete_org_delegated_admins("o-abcdefghij", [(A, "config.amazonaws.com")]),
        lambda v: {ORG},
    ),
    (
        "put_org_resource_policy",
        lambda tx, v: tx.put_org_resource_policy(OrgResourcePolicy("rp-abcdefgh", "o-abcdefghij", DOC)),
        lambda v: {ORG},
    ),
    ("delete_org_resource_policy", lambda tx, v: tx.delete_org_resource_policy("o-abcdefghij"), lambda v: {ORG}),
    ("delete_org_policy", lambda tx, v: tx.delete_org_policy("p-abcdefgh"), lambda v: {ORG}),
    ("delete_org_unit", lambda tx, v: tx.delete_org_unit("ou-ab12-abcdefgh"), lambda v: {ORG}),
    ("delete_org_account", lambda tx, v: tx.delete_org_account(A), lambda v: {ORG, MEMBER}),
    ("delete_organization", lambda tx, v: tx.delete_organization("o-abcdefghij"), lambda v: {ORG}),
    ("delete_user", lambda tx, v: tx.delete_user(A, "bee"), lambda v: {_u("bee")}),
    ("delete_role", lambda tx, v: tx.delete_role(A, "R"), lambda v: {ref("role", A, "r")}),
    (
        "delete_policy",
        lambda tx, v: tx.delete_policy(f"arn:aws:iam::{A}:policy/p2"),
        lambda v: {policy_ref(f"arn:aws:iam::{A}:policy/p2")},
    ),
]


ORG = ref("organization", "", "o-abcdefghij")
MEMBER = ref("org-account", "", A)


def _org() -> tuple[Organization, OrgRoot, OrgAccount]:
    org = Organization("o-abcdefghij", A, "ALL", START)
    root = OrgRoot("r-ab12", org.id, "Root", ())
    return org, root, OrgAccount(A, org.id, root.id, "management", "m@example.com", "CREATED", START)


def _ou() -> OrgUnit:
    return OrgUnit("ou-ab12-abcdefgh", "o-abcdefghij", "r-ab12", "Prod", START)


def _scp() -> OrgPolicy:
    return OrgPolicy("p-abcdefgh", "o-abcdefghij", "SERVICE_CONTROL_POLICY", "deny", "", DOC, START)


def _status() -> CreateAccountStatus:
    return CreateAccountStatus("car-abcdefgh", "o-abcdefghij", "member", "SUCCEEDED", START, START, "210987654321")


def _job() -> Any:
    from iamd.store.surface import AccessReportJob

    who, about = f"arn:aws:iam::{A}:root", f"arn:aws:iam::{A}:user/alice"
    return AccessReportJob("0" * 36, A, "service", who, about, "SERVICE_LEVEL", "COMPLETED", START, START, "{}")


def _web_key() -> Any:
    from iamd.store.surface import WebIdentityKey

    return WebIdentityKey("kid-1", A, "RS256", b"sealed", "{}", START)


def _event() -> Any:
    from iamd.store import AuditEvent

    return AuditEvent(event_id="ev-1", account_id=A, event_time=START, event_source="iam.amazonaws.com",
                      event_name="GetUser", read_only=True, record="{}")  # fmt: skip


def _write_methods(protocol: type, base: type) -> set[str]:
    own = {n for n in vars(protocol) if not n.startswith("_") and callable(getattr(protocol, n))}
    # not writes: the lock, the generation, and a target taken unread by the authorization
    return own - set(vars(base)) - {"bumped_generation", "lock_writers", "assume_user"}


def test_every_write_method_of_a_transaction_has_a_row() -> None:
    assert _write_methods(Tx, ReadTx) == {name for name, _, _ in ROWS}


def test_every_write_method_reports_what_it_changed(store: Store, account: str) -> None:
    published: list[ChangeSet] = []
    store.subscribe(published.append)
    with store.transaction() as tx:
        tx.create_policy(A, "p2", DOC)  # for delete_policy (p1 stays attached as a boundary at times)
    values: dict[str, Any] = {}
    for name, call, expected in ROWS:
        published.clear()
        with store.transaction() as tx:
            call(tx, values)
            changes = tx.changes
        assert changes, f"{name} recorded no change"
        refs = {r for c in changes for r in c.refs}
        assert expected(values) <= refs, f"{name}: {sorted(expected(values) - refs)} missing from {changes}"
        assert [p.changes for p in published] == [changes], f"{name}: not published on commit"


def test_a_rolled_back_transaction_publishes_nothing(store: Store, account: str) -> None:
    published: list[ChangeSet] = []
    store.subscribe(published.append)
    try:
        with store.transaction() as tx:
            tx.create_user(A, "ghost")
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert published == []


def test_writes_outside_transactions_are_published(store: Store, account: str) -> None:
    with store.transaction() as tx:
        user = tx.create_user(A, "Carol")
        role = tx.create_role(A, "Runner", assume_role_policy=TRUST)
        tx.create_access_key(A, "Carol", "AKIAEXAMPLEKEY000002", b"sealed")
    published: list[ChangeSet] = []
    unsubscribe = store.subscribe(published.append)
    store.record_role_use(role.id, START + timedelta(hours=1), "eu-west-1")
    store.record_password_use(user.id, START + timedelta(hours=1))
    store.record_access_key_use("AKIAEXAMPLEKEY000002", START + timedelta(hours=1), "iam", "us-east-1")
    store.record_access_key_uses({"AKIAEXAMPLEKEY000002": (START + timedelta(hours=2), "sts", "eu-west-1"),
                                  "AKIANOSUCHKEY0000000": (START, "iam", "us-east-1")})  # fmt: skip
    store.append_audit_event(replace(_event(), event_id="ev-2"))
    store.append_audit_events([replace(_event(), event_id="ev-3")])
    seen = [(c.entity.value, c.account, c.name, c.verb) for p in published for c in p.changes]
    used = ("key", A, "AKIAEXAMPLEKEY000002", Verb.USED)
    assert seen[:4] == [("role", A, "Runner", Verb.USED), ("user", A, "Carol", Verb.USED), used, used]
    assert [s[0] for s in seen[4:]] == ["audit-event", "audit-event"]
    published.clear()
    oldest = store.oldest_audit_events(10)
    assert store.delete_audit_events([e.sequence for e in oldest if e.sequence is not None]) == 2
    assert [(c.entity.value, c.verb) for p in published for c in p.changes] == [("audit-event", Verb.DELETED)]
    published.clear()
    store.reset()
    assert [p.everything for p in published] == [True]
    unsubscribe()
    with store.transaction() as tx:
        tx.create_account(A)
    assert len(published) == 1


def test_every_write_of_the_store_outside_transactions_is_covered_above() -> None:
    """A new write method on the store itself must be published and added to the test above."""
    not_writes = {"dialect", "transaction", "read", "generation", "committing", "change_feed", "subscribe", "close",
                  "oldest_audit_events", "audit_size"}  # fmt: skip
    writes = {n for n in vars(Store) if not n.startswith("_")} - not_writes
    assert writes == {"append_audit_event", "append_audit_events", "record_access_key_use", "record_access_key_uses",
                      "record_role_use", "record_password_use", "reset", "delete_audit_events"}  # fmt: skip
