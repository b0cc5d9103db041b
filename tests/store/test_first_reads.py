"""A caller's first reads, on random entity graphs, both backends: the fast path is the old one.

The credential (``lookup_access_key``) and the sources of the caller's identity policies
(``policy_sources``) run on the DB-API cursor (iamd/store/driver.py), and the credential resolver
builds the caller's policy set in the credential's own snapshot (iamd/api/credentials.py). Over
random users, groups, tags, boundaries, inline and attached policies and keys, each must give
exactly what the entity reads piece by piece give, and the set it caches must be the set the
policy loader builds in a read of its own.
"""

from __future__ import annotations

import json
import random
import secrets

import pytest

from iamd.api.credentials import CredentialResolver
from iamd.cache import Cache, Section
from iamd.crypto import SecretBox, access_key_context
from iamd.service.policy_loader import PolicyCache
from iamd.store import AccessKeyOwner, EntityKind, KeyStatus, ReadTx, Store, Tag, TagTarget
from tests.store.helpers import OTHER_ACCOUNT
from tests.store.test_policy_sources import _piecewise

BOX = SecretBox({"k1": secrets.token_bytes(32)}, primary="k1")
ACTIONS = ("s3", "iam", "ec2", "sqs", "kms")


def _doc(rng: random.Random) -> str:
    statements = [
        {"Effect": rng.choice(("Allow", "Deny")), "Action": f"{rng.choice(ACTIONS)}:{rng.choice(('*', 'Get*'))}",
         "Resource": rng.choice(("*", "arn:aws:s3:::bucket/*"))}
        for _ in range(rng.randint(1, 3))
    ]  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _graph(store: Store, account: str, seed: int) -> list[str]:
    """A random account: its key ids (users' active and inactive keys, a root key)."""
    rng = random.Random(seed)
    keys: list[str] = []

    def key(user: str | None) -> None:
        key_id = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        sealed = BOX.seal(secrets.token_urlsafe(30), context=access_key_context(key_id)).encode()
        status = KeyStatus.ACTIVE if rng.random() < 0.8 else KeyStatus.INACTIVE
        with store.transaction() as tx:
            tx.create_access_key(account, user, key_id, sealed, status=status)
        keys.append(key_id)

    with store.transaction() as tx:
        policies = [tx.put_aws_managed_policy(f"Aws{seed}x{i}", _doc(rng)).arn for i in range(2)]
        policies += [
            tx.create_policy(account, rng.choice(("p", "P", "zz", "Beta", "alpha")) + f"{seed}{i}", _doc(rng),
                             path=rng.choice(("/", "/team/", "/a/b/"))).arn
            for i in range(5)
        ]  # fmt: skip
        groups = [f"g{seed}{rng.choice('aAbB')}{i}" for i in range(4)]
        for g in groups:
            tx.create_group(account, g, path=rng.choice(("/", "/eng/")))
            for _ in range(rng.randint(0, 2)):
                tx.put_inline_policy(EntityKind.GROUP, account, g, f"gi{rng.randint(0, 9)}", _doc(rng))
            for arn in rng.sample(policies, rng.randint(0, 3)):
                tx.attach_policy(EntityKind.GROUP, account, g, arn)
        users = [f"u{seed}{rng.choice('xXyY')}{i}" for i in range(8)]
        for u in users:
            boundary = rng.choice((None, *policies[:3]))
            tags = [Tag(rng.choice(("team", "Team", "env", "cost")) + str(i), rng.choice(("red", "", "Blue")))
                    for i in range(rng.randint(0, 3))]  # fmt: skip
            tx.create_user(account, u, path=rng.choice(("/", "/eng/", "/x/y/")), permissions_boundary=boundary,
                           tags=tags)  # fmt: skip
            for g in rng.sample(groups, rng.randint(0, 3)):
                tx.add_user_to_group(account, g, u)
            for _ in range(rng.randint(0, 2)):
                tx.put_inline_policy(EntityKind.USER, account, u, f"ui{rng.randint(0, 9)}", _doc(rng))
            for arn in rng.sample(policies, rng.randint(0, 4)):
                tx.attach_policy(EntityKind.USER, account, u, arn)
        tx.create_user(OTHER_ACCOUNT, users[0])  # the same name in another account
    for u in users:
        for _ in range(rng.randint(0, 2)):
            key(u)
    key(None)  # the account root's
    return keys


def _old_owner(r: ReadTx, key_id: str) -> AccessKeyOwner:
    """The credential as the entity reads give it, piece by piece."""
    key = r.get_access_key(key_id)
    if key.user_name is None:
        return AccessKeyOwner(key, None, ())
    user = r.get_user(key.account_id, key.user_name)
    return AccessKeyOwner(key, user, r.list_tags(TagTarget.USER, key.account_id, key.user_name))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_first_reads_are_the_reads_piece_by_piece(store: Store, account: str, seed: int) -> None:
    keys = _graph(store, account, seed)
    with store.read() as r:
        for key_id in keys:
            owner = r.lookup_access_key(key_id)
            assert owner == _old_owner(r, key_id)
            if owner.user is not None:
                assert owner.user.create_date.tzinfo is not None and owner.key.create_date.tzinfo is not None
                sources = r.policy_sources(EntityKind.USER, account, owner.user.name)
                assert sources == _piecewise(r, EntityKind.USER, account, owner.user.name)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_credentials_policy_set_is_the_loaders(store: Store, account: str, seed: int) -> None:
    keys = _graph(store, account, seed)
    cache = Cache()
    policies = PolicyCache(cache=cache)
    resolver = CredentialResolver(store, lambda: BOX, cache, "aws", lambda: policies)
    for key_id in keys:
        credential = resolver.lookup(key_id)
        assert credential is not None
        user = credential.principal.user
        if user is None or not credential.active:  # the root's key, an inactive key: no set built for it
            continue
        kept = cache.get(Section.SETS, user.id)
        assert kept is not None  # built with the credential, in its snapshot
        builds = policies.builds
        with store.read() as r:
            assert policies.for_user(r, user) is kept  # what the request's authorization gets: no build
            assert policies.builds == builds
            fresh = PolicyCache(cache=Cache()).for_user(r, r.get_user(account, user.name))  # the old way
        assert kept.identity == fresh.identity and kept.boundary == fresh.boundary and kept.scp == fresh.scp


@pytest.mark.parametrize("seed", [6, 7])
def test_key_owners_in_pages_are_the_lookups(store: Store, account: str, seed: int) -> None:
    """The credential index's bulk read (``access_key_owners``, a page of keys by id with their
    users and tags) gives each key as ``lookup_access_key`` does, every key once."""
    keys = _graph(store, account, seed)
    with store.read() as r:
        paged: list[AccessKeyOwner] = []
        while True:
            page = r.access_key_owners(paged[-1].key.id if paged else "", 3)
            paged += page
            if len(page) < 3:
                break
        ids = [owner.key.id for owner in paged]
        assert ids == sorted(set(ids)) and set(keys) <= set(ids) and len(ids) == r.count_access_keys()
        assert paged == [r.lookup_access_key(key_id) for key_id in ids]


def test_the_bulk_load_keeps_what_the_lookups_would(store: Store, account: str) -> None:
    keys = _graph(store, account, 8)
    cache = Cache()
    policies = PolicyCache(cache=cache)
    resolver = CredentialResolver(store, lambda: BOX, cache, "aws", lambda: policies)
    assert resolver.preload(1_000, page=4) >= len(keys)
    lazy = CredentialResolver(store, lambda: BOX, Cache(), "aws")
    for key_id in keys:
        assert resolver.knows(key_id)
        loaded, read = resolver.lookup(key_id), lazy.lookup(key_id)
        assert loaded is not None and read is not None
        assert (loaded.secret_access_key, loaded.active, loaded.principal) == (
            read.secret_access_key, read.active, read.principal)  # fmt: skip
        user = loaded.principal.user
        if user is not None and loaded.active:
            with store.read() as r:
                fresh = PolicyCache(cache=Cache()).for_user(r, r.get_user(account, user.name))
            kept = cache.get(Section.SETS, user.id)
            assert kept.identity == fresh.identity and kept.boundary == fresh.boundary
