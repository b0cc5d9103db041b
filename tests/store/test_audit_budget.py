"""The trail's budget on both databases: retention deletes only what it should, the archive and the
export hold exactly the records, sampled reads never drop a denial, a failure or a write (docs/audit.md)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamd.api.audit_process import AuditProcessWriter
from iamd.api.audit_writer import AuditWriter
from iamd.audit import CallEvent
from iamd.audit_budget import AuditBudget, Retention, parse_age, parse_reads, parse_size
from iamd.audit_export import export_trail
from iamd.cli import main
from iamd.explain import read_events
from iamd.store import AuditEvent, Store, compact_audit_event
from tests.store.audit_corpus import ALICE, call_events
from tests.store.helpers import ACCOUNT, START


def _events(count: int, *, minutes: int = 1) -> list[CallEvent]:
    base = call_events()[0]
    return [
        dataclasses.replace(
            base,
            event_time=START + timedelta(minutes=n * minutes),
            request_id=f"r-{n}",
            event_id=f"{n:08x}-2222-4000-8000-000000000000",
        )
        for n in range(count)
    ]


def _trail(store: Store) -> list[AuditEvent]:
    with store.read() as tx:
        out: list[AuditEvent] = []
        while batch := tx.scan_audit_events(after=out[-1].sequence or 0 if out else 0):
            out += batch
        return out


def test_budget_options() -> None:
    assert parse_age("90d") == timedelta(days=90) and parse_age("12h") == timedelta(hours=12)
    assert parse_age("off") is None and parse_size("off") is None
    assert parse_size("1GiB") == 2**30 and parse_size("500MB") == 500 * 10**6
    assert (parse_reads("all"), parse_reads("sample:10"), parse_reads("none")) == (1, 10, 0)
    for bad in ("90", "-1d", "0d", "d", "1y"):
        with pytest.raises(ValueError):
            parse_age(bad)
    for bad in ("1 GB", "1PB", "1KiB", "lots"):
        with pytest.raises(ValueError):
            parse_size(bad)
    for bad in ("some", "sample:0", "sample:x", "sample:"):
        with pytest.raises(ValueError):
            parse_reads(bad)
    assert not AuditBudget().retains and AuditBudget().reads == 1  # the default deletes and drops nothing


def test_retention_by_age_deletes_only_what_is_older_and_archives_it_first(
    store: Store, account: str, tmp_path: Path
) -> None:
    store.append_audit_events([compact_audit_event(e) for e in _events(1200)])  # one a minute, 20 hours
    before = _trail(store)
    now = START + timedelta(hours=30)
    budget = AuditBudget(max_age=timedelta(hours=20), archive=tmp_path / "archive")
    retention = Retention(store, budget, clock=lambda: now)
    while retention.step():
        pass
    kept = _trail(store)
    cutoff = now - timedelta(hours=20)
    assert kept == [e for e in before if e.event_time >= cutoff]
    assert len(kept) == 600 and retention.deleted == 600
    archived = [line for f in sorted((tmp_path / "archive").iterdir())
                for line in gzip.decompress(f.read_bytes()).decode().splitlines()]  # fmt: skip
    assert archived == [e.record for e in before if e.event_time < cutoff]
    # nothing more is due: nothing else goes
    assert retention.step() == 0 and len(_trail(store)) == 600


def test_retention_by_size_deletes_the_oldest_down_to_the_limit(store: Store, account: str) -> None:
    store.append_audit_events([compact_audit_event(e) for e in _events(3000)])
    events, size = store.audit_size()
    assert events == 3000 and 100 * 3000 < size < 1500 * 3000
    retention = Retention(store, AuditBudget(max_bytes=size // 2), clock=lambda: START)
    retention.run()
    while retention.step():
        pass
    kept = _trail(store)
    assert 0 < len(kept) <= 1500 and store.audit_size()[1] <= size // 2
    assert [e.request_id for e in kept] == [f"r-{n}" for n in range(3000 - len(kept), 3000)]  # the newest stay


def test_export_round_trips(store: Store, account: str, tmp_path: Path) -> None:
    store.append_audit_events([compact_audit_event(e) for e in call_events() + _events(50, minutes=2)])
    everything = _trail(store)
    target = tmp_path / "trail.jsonl.gz"
    assert export_trail(store, target) == len(everything)
    lines = gzip.decompress(target.read_bytes()).decode().splitlines()
    assert lines == [e.record for e in everything]
    assert read_events(target.read_bytes())[: len(everything)] == [json.loads(e.record) for e in everything][:100]
    since, until = START + timedelta(minutes=10), START + timedelta(minutes=20)
    plain = tmp_path / "window.jsonl"
    export_trail(store, plain, since=since, until=until, account=ACCOUNT)
    assert plain.read_text().splitlines() == [
        e.record for e in everything if since <= e.event_time < until and e.account_id == ACCOUNT
    ]


def test_sampled_reads_never_drop_a_denial_a_failure_or_a_write(store: Store, account: str) -> None:
    read, *_ = call_events()
    reads = [dataclasses.replace(read, event_id=f"{n:08x}-3333-4000-8000-000000000000") for n in range(9)]
    others = [e for e in call_events() if not (e.read_only and e.error_code is None)]
    assert {e.event_name for e in others} >= {"ListUsers", "DeleteUser", "CreateAccessKey", "AssumeRole", "GetUser"}
    for every, kept_reads in ((3, 3), (0, 0), (1, 9)):
        store.reset()
        writer = AuditWriter(store)
        writer.configure(AuditBudget(reads=every))
        try:
            for event in reads + others:
                writer.submit(event)
            writer.flush()
        finally:
            writer.close()
        stored = {e.event_id for e in _trail(store)}
        assert {e.event_id for e in others} <= stored
        assert len(stored & {e.event_id for e in reads}) == kept_reads


def test_identity_is_interned_once(store: Store, account: str) -> None:
    store.append_audit_events([compact_audit_event(e) for e in _events(100)])
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        values = [r[0] for r in conn.exec_driver_sql("SELECT value FROM audit_strings")]
    assert values.count(json.dumps(ALICE, separators=(",", ":"), sort_keys=True)) == 1


def _wait_for(condition: Callable[[], bool], seconds: float = 120.0) -> bool:
    """A liveness bound, not a timing: the writer gets to it when the machine lets it."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_writer_process_enforces_the_size_limit_between_batches(store: Store, store_url: str) -> None:
    store.append_audit_events([compact_audit_event(e) for e in _events(3000)])
    _, size = store.audit_size()
    writer = AuditProcessWriter(store, store_url, budget=AuditBudget(max_bytes=size // 2))
    try:
        fresh = dataclasses.replace(_events(1)[0], event_id="ffffffff-2222-4000-8000-000000000000", request_id="new")
        writer.submit(fresh)
        writer.flush()
        assert _wait_for(lambda: len(_trail(store)) <= 1501)
    finally:
        writer.close()
    kept = _trail(store)
    assert kept[-1].event_id == fresh.event_id and kept[0].request_id != "r-0"  # the oldest went, the newest stayed


def test_the_writer_thread_enforces_the_age_limit(store: Store, account: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = [dataclasses.replace(e, event_time=now - timedelta(days=3)) for e in _events(10)]
    store.append_audit_events([compact_audit_event(e) for e in old])
    writer = AuditWriter(store)
    writer.configure(AuditBudget(max_age=timedelta(days=1)))
    try:
        fresh = dataclasses.replace(_events(1)[0], event_time=now, event_id="ffffffff-2222-4000-8000-000000000001")
        writer.submit(fresh)
        writer.flush()
        assert _wait_for(lambda: [e.event_id for e in _trail(store)] == [fresh.event_id])
    finally:
        writer.close()


def test_serve_refuses_a_budget_it_cannot_read() -> None:
    for args in (["--audit-retention", "90"], ["--audit-max-size", "1 GB"], ["--audit-reads", "some"]):
        result = CliRunner().invoke(main, ["serve", *args])
        assert result.exit_code == 2 and "Invalid value" in result.output, result.output
