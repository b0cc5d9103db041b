"""Request and event ids stay unique whoever seeds the process's global random generator."""

from __future__ import annotations

import random

import pytest

from iamd.ids import new_uuid4


def test_ids_do_not_repeat_when_the_global_generator_is_seeded_again() -> None:
    state = random.getstate()
    try:
        random.seed(0)
        first = new_uuid4()
        random.seed(0)
        assert new_uuid4() != first
    finally:
        random.setstate(state)


def test_ids_are_version_4_uuids_whose_text_sorts_in_the_order_drawn() -> None:
    """The first 48 bits are the time in milliseconds: an id drawn later sorts after (as text and as
    the 16 bytes the trail stores), so the trail's index by request id takes new ids beside the last
    ones (docs/audit.md, "Indexes"); the rest is random, the text a version-4 UUID's."""
    import time
    import uuid

    from iamd.store.audit_codec import id_blob

    drawn = []
    for _ in range(20):
        drawn.append(new_uuid4())
        time.sleep(0.002)
    assert drawn == sorted(drawn)
    assert [id_blob(i) for i in drawn] == sorted(id_blob(i) for i in drawn)
    same = [new_uuid4() for _ in range(1000)]
    assert len(set(same)) == 1000
    for text in drawn + same[:50]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
    assert abs(int(drawn[0].replace("-", "")[:12], 16) - time.time() * 1000) < 60_000


def test_the_text_is_the_time_and_the_draw_whatever_the_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    """The time's twelve digits are formatted once per millisecond and kept: ids drawn in the same
    millisecond and in the next ones still spell each its own time and random bits, as the
    one-format text did (``h = time ++ random``, the version and variant written over two digits)."""
    import time

    from iamd import ids

    now = [1_765_000_000_000_123_456]
    monkeypatch.setattr(time, "time_ns", lambda: now[0])
    for step in (0, 0, 999_999, 1, 1_000_000, 0, 65_536_000_000, 2**47 * 1_000_000):
        now[0] += step
        state = ids._ids.getstate()
        n = ids._ids.getrandbits(80)
        ids._ids.setstate(state)
        h = f"{now[0] // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}{n:020x}"
        expected = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[n & 3]}{h[17:20]}-{h[20:]}"
        assert new_uuid4() == expected
