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
