"""The one cache of a server process: credentials, entities, compiled policies and policy sets.

Every entry is stored with the refs (:mod:`iamd.refs`) it was built from; a committed write's
change set (:mod:`iamd.store.changes`) drops exactly the entries built from what it changed
(:meth:`Cache.apply`), and a write by another process, seen by the watcher, drops everything
(:meth:`Cache.clear`). One staleness rule covers all of it: an entry whose reads began before a
change to any of its refs committed is not stored (:meth:`Cache.version` is taken before
reading; :meth:`Cache.put` checks the changes applied since).

Each section is a bounded LRU (least recently used dropped first) with an entry limit, and all
sections share an approximate memory budget (:class:`CacheLimits`; docs/architecture.md,
"Caches"): when many more callers are active than fit, the ones seen least recently are
rebuilt on their next request, the others stay warm.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from iamd.refs import Ref
from iamd.store.changes import ChangeSet, Entity, Verb

__all__ = ["Cache", "CacheLimits", "Section"]


class Section(StrEnum):
    CREDENTIALS = "credentials"  # access key id -> Credential | None (SigV4's lookup)
    ENTITIES = "entities"  # (store method, *arguments) -> record | NotFound (the reads of requests)
    MANAGED = "managed"  # (policy ARN, policy type) -> compiled Policy | None (shared by every set)
    SETS = "sets"  # user id, role id or session key -> compiled PolicySet
    SESSIONS = "sessions"  # (temporary key id, session token) -> Credential opened from the token


# Approximate bytes of one entry, its share of the index and of the tables included (tracemalloc
# over 3,000 callers of the many-callers benchmark, each a user with a key and two shared managed
# policies, rounded up: a credential 0.64 KB, a user record or its tags 0.42 KB, a set 0.54 KB —
# the set's statements are shared with every principal of the same policies — and about 0.1 KB
# per entry of the sections' and the index's tables); callers pass a better estimate where they
# have one. Re-measure when what an entry holds changes (bench/README.md, "A large account").
_SIZE = {Section.CREDENTIALS: 800, Section.ENTITIES: 550, Section.MANAGED: 40_000, Section.SETS: 650,
         Section.SESSIONS: 4_000}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """Entry limits per section and the approximate memory budget they share (in MiB)."""

    credentials: int = 200_000
    entities: int = 400_000  # a caller's user record and its tags are two entries
    managed: int = 4_096
    sets: int = 200_000
    sessions: int = 200_000
    memory_mib: int = 256

    @classmethod
    def per_caller(cls, entries: int, memory_mib: int) -> CacheLimits:
        """``iamd serve --cache-entries N --cache-memory MIB``: room for N callers in every section
        (an IAM user caller holds a credential, a set and two entities: its record and its tags)."""
        return cls(credentials=entries, entities=2 * entries, sets=entries, sessions=entries, memory_mib=memory_mib)

    def entries(self, section: Section) -> int:
        return int(getattr(self, section.value))


# Changes nothing cached depends on: a key's last use (every request), audit events, sign-in
# throttles, credential reports, an MFA code step.
# Nothing cached is built from these (their reads go to the snapshot: CachedReads). Server
# certificates are not among them: their tags are read through the cached list_tags.
_IGNORED = frozenset({
    Entity.AUDIT_EVENT, Entity.SIGNIN_THROTTLE, Entity.CREDENTIAL_REPORT, Entity.USER_CREDENTIAL,
    Entity.CONSOLE_SESSION,
})  # fmt: skip
_LOG = 256  # invalidations remembered for Cache.put's check (older reads are simply not kept)


class _Entry:
    """One cached value, what it was built from (``deps``, the index's own ref objects), its
    estimated size, and where it is kept (the index holds entries, not (section, key) pairs)."""

    __slots__ = ("deps", "key", "section", "size", "value")

    def __init__(self, value: Any, section: Section, key: Any, size: int) -> None:
        self.value = value
        self.section = section
        self.key = key
        self.size = size
        self.deps: tuple[Ref, ...] = ()


class _Marked(_Entry):
    """An entry that also answers a second lookup with nothing (:meth:`Cache.marked`): a user
    record read with its tags when it has none stands for the empty ``list_tags`` answer too,
    without an entry of its own (about 250 bytes per untagged caller). It is indexed by the
    same refs, so whatever would drop that answer (a TagUser: the user's ref) drops it."""

    __slots__ = ()


_SIZES: dict[int, int] = {}  # the sizes given to put, one object each (at most 4,096 of them)
_MANY = 16  # a ref's list of entries is kept exact up to this many; beyond, dropped entries leave lazily
_DEAD = 8  # beyond _MANY, a list is compacted once more than 1/_DEAD of it is dropped entries


class _Shared:
    """The index's value for a ref more than one entry was built from: the ref object itself
    (every entry's deps hold this one object, not a copy each) and those entries.

    Up to ``_MANY`` entries the list is exact. Beyond (a managed policy every caller's set was
    built from: 100,000 entries), an entry that leaves the cache stays in the list, counted in
    ``dead``, until more than 1/``_DEAD`` of it has left, and the live ones are then kept
    (:meth:`Cache._unindex`): a list costs 8 bytes per entry where a set cost about 40, and
    removing one entry from a list of 100,000 would be a scan. Dropping the ref's entries
    (:meth:`Cache._drop`) skips the dead ones: an entry is live while its section holds it."""

    __slots__ = ("alone", "dead", "entries", "ref")

    def __init__(self, r: Ref, entries: list[_Entry]) -> None:
        self.ref = r
        self.entries = entries
        self.dead = 0  # entries in the list no longer cached (0 while it has at most _MANY)
        self.alone: tuple[Ref, ...] | None = None  # the deps of an entry built from this ref alone, shared

    def add(self, entry: _Entry) -> None:
        entries = self.entries
        # put's deps are distinct: an entry is indexed once per ref (the scan only while short)
        if len(entries) > _MANY or entry not in entries:
            entries.append(entry)


class Cache:
    def __init__(self, limits: CacheLimits | None = None) -> None:
        self.limits = limits or CacheLimits()
        self._lock = threading.Lock()
        self._sections: dict[Section, OrderedDict[Any, _Entry]] = {s: OrderedDict() for s in Section}
        # ref -> the entries built from it: the entry itself while it is the only one (a caller's
        # key), a _Shared from the second on (its user, a managed policy). An entry's deps are
        # the index's ref objects, so the same ref is one tuple however many entries name it
        # (docs/architecture.md, "Caches").
        self._index: dict[Ref, _Entry | _Shared] = {}
        self._bytes = 0
        self._section_bytes: dict[Section, int] = dict.fromkeys(Section, 0)
        self._budget = self.limits.memory_mib << 20
        self.version = 0  # bumped by every invalidation
        self._log: deque[tuple[int, frozenset[Ref] | None]] = deque(maxlen=_LOG)  # (version, refs; None: all)
        self.evictions = 0  # entries dropped to stay within the limits (metrics, tests)

    # -- reads -------------------------------------------------------------------------------
    def get(self, section: Section, key: Any) -> Any:
        """The cached value, or ``None`` (a miss); a hit becomes the most recently used."""
        items = self._sections[section]
        entry = items.get(key)
        if entry is None:
            return None
        try:  # noqa: SIM105 - contextlib.suppress costs a context manager on every hit
            items.move_to_end(key)
        except KeyError:  # dropped by another thread meanwhile: the value read is still valid here
            pass
        return entry.value

    def contains(self, section: Section, key: Any) -> bool:
        return key in self._sections[section]

    def marked(self, section: Section, key: Any) -> bool:
        """Whether the entry at ``key`` was put with ``marked=True`` (and is still cached)."""
        return type(self._sections[section].get(key)) is _Marked

    def __len__(self) -> int:
        return sum(len(s) for s in self._sections.values())

    def size(self, section: Section) -> int:
        return len(self._sections[section])

    @property
    def approximate_bytes(self) -> int:
        return self._bytes

    # -- writes ------------------------------------------------------------------------------
    def put(
        self, section: Section, key: Any, value: Any, deps: Iterable[Ref], version: int, size: int = 0,
        *, marked: bool = False,
    ) -> bool:  # fmt: skip
        """Keep ``value`` (built from ``deps``, by reads that began at ``version``) unless one of
        ``deps`` changed since; False when it was not kept. ``marked``: the entry also answers
        :meth:`marked` (what that means is the caller's: ``iamd.core.reads``)."""
        deps = tuple(dict.fromkeys(deps))  # each ref once (the index lists an entry once per ref)
        # one int object per size (a computed size is a new int each time: 28 bytes per entry)
        size = _SIZES.setdefault(size, size) if size and len(_SIZES) < 4096 else size or _SIZE[section]
        with self._lock:
            if version != self.version and self._changed_since(version, deps):
                return False
            items = self._sections[section]
            old = items.pop(key, None)
            if old is not None:
                self._unindex(old)
            entry = (_Marked if marked else _Entry)(value, section, key, size)
            items[key] = entry
            self._bytes += size
            self._section_bytes[section] += size
            entry.deps = self._index_refs(entry, deps)
            limit = self.limits.entries(section)
            while len(items) > limit:
                self._evict(section)
            while self._bytes > self._budget and len(self) > 1:
                self._evict(max(self._section_bytes, key=self._section_bytes.__getitem__))
        return True

    def _changed_since(self, version: int, deps: tuple[Ref, ...]) -> bool:
        """Whether an invalidation after ``version`` touched ``deps`` (unknown: yes)."""
        if self.version - version > len(self._log):
            return True
        for v, refs in reversed(self._log):
            if v <= version:
                return False
            if refs is None or not refs.isdisjoint(deps):
                return True
        return False

    def _index_refs(self, entry: _Entry, deps: tuple[Ref, ...]) -> tuple[Ref, ...]:
        """Index ``entry`` under each of ``deps``; the deps as the index's own ref objects."""
        index = self._index
        canonical: list[Ref] = []
        for r in deps:
            found = index.get(r)
            if found is None:
                index[r] = entry
            elif type(found) is _Shared:
                r = found.ref
                found.add(entry)
            elif found is not entry:  # the one entry so far: its deps hold the index's ref object
                assert isinstance(found, _Entry)
                r = next((d for d in found.deps if d == r), r)
                shared = index[r] = _Shared(r, [found, entry])
                if len(found.deps) == 1:
                    shared.alone = found.deps
            canonical.append(r)
        if len(canonical) == 1:  # a user's record and its tags: one deps tuple for both
            only = index[canonical[0]]
            if isinstance(only, _Shared):
                if only.alone is None:
                    only.alone = (canonical[0],)
                return only.alone
        return tuple(canonical)

    def _evict(self, section: Section) -> None:
        _, entry = self._sections[section].popitem(last=False)
        self._unindex(entry)
        self.evictions += 1

    def _live(self, entry: _Entry) -> bool:
        return self._sections[entry.section].get(entry.key) is entry

    def _unindex(self, entry: _Entry) -> None:
        """Take ``entry``, already out of its section, out of the index."""
        self._bytes -= entry.size
        self._section_bytes[entry.section] -= entry.size
        index = self._index
        for r in entry.deps:
            found = index.get(r)
            if found is None:
                continue
            if type(found) is _Shared:
                left = found.entries
                if len(left) <= _MANY:
                    try:  # noqa: SIM105
                        left.remove(entry)
                    except ValueError:
                        pass
                else:
                    found.dead += 1
                    if found.dead * _DEAD > len(left) or len(left) - found.dead <= 1:
                        left = found.entries = [e for e in left if self._live(e)]
                        found.dead = 0
                if len(left) == 1:
                    index[r] = left[0]
                elif not left:
                    del index[r]
            elif found is entry:
                del index[r]

    def _drop(self, r: Ref, sections: frozenset[Section] | None = None) -> None:
        found = self._index.get(r)
        if found is None:
            return
        entries = list(found.entries) if type(found) is _Shared else [found]  # dead ones are skipped below
        for entry in entries:
            assert isinstance(entry, _Entry)
            if sections is not None and entry.section not in sections:
                continue
            items = self._sections[entry.section]
            if items.get(entry.key) is entry:
                del items[entry.key]
                self._unindex(entry)

    # -- invalidation ------------------------------------------------------------------------
    def clear(self) -> None:
        """Drop everything (another process wrote, a reset, a store that cannot be read)."""
        with self._lock:
            self.version += 1
            self._log.append((self.version, None))
            for items in self._sections.values():
                items.clear()
            self._index.clear()
            self._bytes = 0
            self._section_bytes = dict.fromkeys(Section, 0)

    def apply(self, changes: ChangeSet) -> None:
        """After a committed write: drop what was built from anything it changed."""
        if changes.everything:
            self.clear()
            return
        refs: set[Ref] = set()
        only_records: set[Ref] = set()  # USED: last-used fields, in the entity's own record only
        for change in changes.changes:
            if change.entity in _IGNORED or (change.verb is Verb.USED and change.entity is not Entity.ROLE
                                              and change.entity is not Entity.USER):  # fmt: skip
                continue
            target = only_records if change.verb is Verb.USED else refs
            target.update(change.refs)
            if change.entity is Entity.ROLE:  # instance profiles carry their role
                target.add(("instance-profiles", change.account, ""))
        if not refs and not only_records:
            return
        with self._lock:
            self.version += 1
            self._log.append((self.version, frozenset(refs | only_records)))
            for r in refs:
                self._drop(r)
            for r in only_records:
                self._drop(r, _RECORDS)


_RECORDS = frozenset({Section.ENTITIES})
