"""bench/pace.py's arithmetic: a yardstick's pace is its rate now over its rate as filed, and a
target is scaled by the largest pace among the yardsticks of its own kind of work, its p99 never."""

from __future__ import annotations

import pytest

from bench.pace import FILED, paces, verdicts


def test_a_pace_is_the_rate_now_over_the_rate_filed() -> None:
    got = paces({"reference_get_user": 4_900.0, "reference_writes": 101.0, "moto_get_user": 0.0})
    assert got == {"reference_get_user": pytest.approx(0.5), "reference_writes": pytest.approx(101 / 303)}
    assert FILED["moto_get_user"] == pytest.approx(9_800 / 19.5)


def test_each_target_takes_the_largest_pace_of_its_own_yardsticks() -> None:
    pace = {"reference_get_user": 0.4, "moto_get_user": 0.5, "reference_writes": 0.3}
    figures = {
        "authz_single": {"rate": 2_600.0, "p99_ms": 4.0},
        "authz_batch": {"rate": 24_000.0, "p99_ms": 30.0},
        "writes": {"rate": 460.0, "p99_ms": 0.0},
    }
    by_name = {v["target"]: v for v in verdicts(figures, pace)}
    single = by_name["authorization API, single check"]
    assert (single["pace"], single["at_pace"]) == (0.5, 2_500)  # moto's, the larger GetUser pace
    assert single["met_at_pace"] and not single["met_as_filed"]
    batch = by_name["authorization API, batched decisions"]
    assert (batch["at_pace"], batch["met_at_pace"]) == (25_000, False)
    writes = by_name["PostgreSQL CreateUser+DeleteUser"]
    assert (writes["pace"], writes["at_pace"], writes["met_at_pace"]) == (0.3, 450, True)  # not moto's 0.5


def test_the_tail_is_scaled_by_the_inverse_pace_and_an_unmeasured_yardstick_leaves_its_target_out() -> None:
    figures = {"authz_single": {"rate": 9_000.0, "p99_ms": 5.5}, "writes": {"rate": 2_000.0, "p99_ms": 0.0}}
    (single,) = verdicts(figures, {"reference_get_user": 1.0})  # no writes yardstick: writes left out
    assert single["target"] == "authorization API, single check"
    assert single["p99_target_at_pace_ms"] == 5.0
    assert not single["met_as_filed"] and not single["met_at_pace"]  # at the filed pace, 5.5 ms > 5 ms
    (slow,) = verdicts(figures, {"reference_get_user": 0.5})  # half the speed: twice the time allowed
    assert (slow["at_pace"], slow["p99_target_at_pace_ms"]) == (2_500, 10.0)
    assert slow["met_at_pace"] and not slow["met_as_filed"]
    (tight,) = verdicts({"authz_single": {"rate": 9_000.0, "p99_ms": 11.0}}, {"reference_get_user": 0.5})
    assert not tight["met_at_pace"]  # the rate is met, the scaled tail is not
