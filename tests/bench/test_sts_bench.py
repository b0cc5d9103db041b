"""bench.sts measures what it claims. No timing is asserted; the database-read count is a fact.

The requirement: "authenticating a request signed with session credentials ... does no database
read (show the count)". The benchmark's count comes from a SQLAlchemy engine event on the
request thread; here it must be exactly zero, and the sessions must be real (every request
the benchmark makes succeeded, or ``run`` raises).
"""

from __future__ import annotations

from bench.sts import render, run


def test_session_requests_do_no_database_read_and_the_report_says_so() -> None:
    result = run(quick=True)
    assert result["database"]["sql_statements_while_serving"] == 0
    assert result["database"]["session_requests"] == 400
    assert result["assume_role"]["requests"] == 500 and result["assume_role"]["per_second"] > 0
    assert 0 < result["token_bytes"] < 2048  # a plain role session's token stays small
    text = render(result)
    assert "0 on the request thread — target 0: met" in text
