"""The reads of one read-only call, served from the entity cache (moved here unchanged from the
HTTP pipeline; the core opens it in one place, ``Core._reads``)."""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from iamd.store import NotFound, ReadTx, Store

__all__ = ["CachedReads", "EntityCache"]


class EntityCache(Protocol):
    """What :class:`CachedReads` needs of its owner (``iamd.api.backend.Backend``)."""

    @property
    def store(self) -> Store: ...

    @property
    def epoch(self) -> int: ...

    @property
    def entity_cache(self) -> dict[tuple[object, ...], object]: ...

    def remember(self, key: tuple[object, ...], value: object, epoch: int) -> None: ...


class CachedReads:
    """The reads of one read-only request: entity lookups served from the backend's cache.

    Users, groups, roles, policies, instance profiles and tags are immutable records,
    cached by the backend until a committed write touches them (``Backend.invalidate``,
    indexed by ``backend._entity_refs``) or another process writes (``Backend.changed``). A read
    snapshot of the store is opened only when something is not cached, so a warm GetUser
    touches no database at all. Lookups that found nothing are cached too.

    Anything that changes these records outside a write transaction (last-used times of
    passwords and roles, which STS and console sign-in will record) must call
    ``Backend.changed`` too, or those fields go stale.
    """

    def __init__(self, backend: EntityCache) -> None:
        self._backend = backend
        self._epoch = backend.epoch
        self._stack: contextlib.ExitStack | None = None  # made when a snapshot is opened
        self._tx: ReadTx | None = None

    def __enter__(self) -> CachedReads:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()

    def _open(self) -> ReadTx:
        if self._tx is None:
            self._stack = contextlib.ExitStack()
            self._tx = self._stack.enter_context(self._backend.store.read())
        return self._tx

    def _cached(self, key: tuple[Any, ...]) -> Any:
        try:
            hit = self._backend.entity_cache[key]
        except KeyError:
            try:
                hit = getattr(self._open(), key[0])(*key[1:])
            except NotFound as e:
                hit = e
            self._backend.remember(key, hit, self._epoch)
        if isinstance(hit, NotFound):
            raise hit
        return hit

    # The cached lookups (ReadTx's signatures); everything else goes to the snapshot.
    def get_user(self, *args: Any) -> Any:
        return self._cached(("get_user", *args))

    def get_role(self, *args: Any) -> Any:
        return self._cached(("get_role", *args))

    def get_group(self, *args: Any) -> Any:
        return self._cached(("get_group", *args))

    def get_policy(self, *args: Any) -> Any:
        return self._cached(("get_policy", *args))

    def get_instance_profile(self, *args: Any) -> Any:
        return self._cached(("get_instance_profile", *args))

    def list_tags(self, *args: Any) -> Any:
        return self._cached(("list_tags", *args))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._open(), name)
