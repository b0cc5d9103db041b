"""Request and event ids stay unique whoever seeds the process's global random generator."""

from __future__ import annotations

import random

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
