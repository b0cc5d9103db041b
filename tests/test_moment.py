"""iamd.moment: a request's time in UTC to the whole second, converted once per request."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

from iamd.moment import whole_second_utc


def test_it_answers_as_astimezone_and_replace_for_each_moment_however_asked() -> None:
    plus_two = timezone(timedelta(hours=2))
    moments = [
        datetime(2026, 12, 7, 7, 31, 29, 999_999, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 31, 29, 5, tzinfo=plus_two),  # the same second, another zone
        datetime(2026, 12, 7, 7, 31, 30, tzinfo=UTC),
        datetime(2026, 12, 7, 7, 31, 29, 999_999, tzinfo=UTC),  # equal to the first, another object
    ]
    for moment in [*moments, *reversed(moments), moments[0], moments[0], moments[1], moments[1]]:
        got = whole_second_utc(moment)
        assert got == moment.astimezone(UTC).replace(microsecond=0)
        assert got.tzinfo is UTC and got.microsecond == 0
    first = moments[0]
    assert whole_second_utc(first) is whole_second_utc(first)  # kept for the same object: converted once


def test_threads_asking_about_different_moments_each_get_their_own() -> None:
    wrong: list[datetime] = []

    def ask(base: datetime) -> None:
        for i in range(2000):
            moment = base + timedelta(seconds=i, microseconds=i)
            if whole_second_utc(moment) != moment.replace(microsecond=0):
                wrong.append(moment)

    threads = [threading.Thread(target=ask, args=(datetime(2026, 1, 1 + n, tzinfo=UTC),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_the_answer_is_what_replace_made_field_for_field() -> None:
    """Made without ``replace`` (bench/README.md, "Session 18: the single check's ids,
    time and enum members"): the same type, fields, zone and fold as ``astimezone(UTC).replace(microsecond=0)``;
    a subclass's moment still answered as its own type (``replace`` keeps the type)."""

    class Moment(datetime):
        pass

    for moment in (
        datetime(2026, 12, 7, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-5))),  # the next day in UTC
        datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        Moment(2026, 12, 7, 7, 31, 29, 5, tzinfo=UTC),
    ):
        expected = moment.astimezone(UTC).replace(microsecond=0)
        got = whole_second_utc(moment)
        assert type(got) is type(expected)
        assert (got, got.tzinfo, got.fold, repr(got)) == (expected, expected.tzinfo, expected.fold, repr(expected))


def test_whole_seconds_text_is_isoformat_s_cut_and_written_once_per_moment() -> None:
    """IAM's and CloudTrail's text of a time (CreateUser's CreateDate, written in its trail event and
    in its answer): strftime's ``%Y-%m-%dT%H:%M:%SZ`` for a year from 1000, isoformat's padded year
    below; the same object's text is kept, not formatted again (bench/README.md, "Session 18")."""
    from iamd.moment import whole_seconds_text

    for moment in [
        datetime(2026, 12, 7, 7, 31, 29, 999_999, tzinfo=UTC),
        datetime(2026, 12, 7, 7, 31, 29, tzinfo=UTC),
        datetime(2026, 12, 7, 7, 31, 29, 5),  # naive: taken as UTC, as the answer's writer does
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]:
        assert whole_seconds_text(moment) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert whole_seconds_text(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05Z"
    first = datetime(2026, 12, 7, 7, 31, 29, 123, tzinfo=UTC)
    text = whole_seconds_text(first)
    assert whole_seconds_text(first) is text  # kept for the same object
    assert whole_seconds_text(first + timedelta(seconds=1)) == "2026-12-07T07:31:30Z"
    assert whole_seconds_text(first) == text and whole_seconds_text(first) is not text  # another object between


def test_whole_second_utc_keeps_the_zone_object_and_fold_as_replace_did() -> None:
    moment = datetime(2026, 12, 7, 7, 31, 29, 999_999, tzinfo=UTC)
    got = whole_second_utc(moment)
    assert (got, got.tzinfo, got.fold, type(got)) == (moment.replace(microsecond=0), UTC, 0, datetime)
