"""The model-driven fuzz (bench/fuzz.py): no request, however malformed, is answered with a 5xx.

Twenty thousand requests in-process (the pipeline on a real SQLite store), from a fixed seed,
over every IAM and STS operation iamd serves, and a smaller slice over a real loopback socket
through uvicorn. Every answered request must also be in the audit trail. A failure prints the
case's index; ``python -m bench.fuzz --requests 1 --start <index>`` replays it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from unittest import mock

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.fuzz import FORM, HOST, ROOT_KEY, ROOT_SECRET, Fuzzer, Outcome, Target, run, sigv4_headers
from iamd.service.iam import OPERATIONS
from iamd.service.sts import STS_OPERATIONS
from tests.api.server import running_server
from tests.security.inprocess import target

__all__ = ["target"]

SEED = 20261206
IN_PROCESS = 20_000
OVER_SOCKET = 1_000


def _report(outcome: Outcome) -> str:
    return "\n".join(outcome.failures[:20]) + f"\n({len(outcome.failures)} answers with a 5xx of {outcome.sent})"


def test_the_fuzz_signs_as_botocore_does() -> None:
    headers = [("Host", HOST), ("Content-Type", FORM)]
    body = b"Action=GetUser&Version=2010-05-08&UserName=a%FFb"
    at = datetime(2026, 1, 15, 12, 0, 0)
    ours = dict(sigv4_headers(ROOT_KEY, ROOT_SECRET, "tok", "iam", "POST", "x=%FF&a=b", body, headers, at.timetuple()))
    request = AWSRequest(method="POST", url=f"http://{HOST}/?x=%FF&a=b", data=body, headers=dict(headers))
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET, "tok"), "iam", "us-east-1").add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]


def test_cases_are_a_function_of_seed_and_index() -> None:
    one, other = Fuzzer(SEED), Fuzzer(SEED)
    assert [one.case(i) for i in (0, 7, 12_345)] == [other.case(i) for i in (12_345, 7, 0)][::-1]


def test_no_5xx_in_process_and_every_answer_audited(target: Target) -> None:
    fuzzer = Fuzzer(SEED)
    outcome = run(target.send, fuzzer.cases(IN_PROCESS))
    assert not outcome.failures, _report(outcome)
    assert outcome.sent == IN_PROCESS
    missing = outcome.request_ids - target.audited_request_ids()
    assert not missing, f"{len(missing)} answered requests are not in the audit trail"
    # the requests reach the handlers: signed as each identity, valid often enough to succeed
    served = set(OPERATIONS) | set(STS_OPERATIONS)
    assert len(outcome.succeeded & served) >= 0.6 * len(served), sorted(served - outcome.succeeded)
    for code in ("OK", "ValidationError", "AccessDenied", "NoSuchEntity", "MalformedPolicyDocument", "InvalidInput"):
        assert outcome.codes[code] > 0, code


def test_no_5xx_over_a_socket(tmp_path: Path) -> None:
    fuzzer = Fuzzer(SEED + 1)
    with running_server(tmp_path) as server, httpx.Client(base_url=server.endpoint, timeout=60) as client:
        target = Target(server.backend, tmp_path / "iamd.db")
        target.setup()

        def send(case):  # type: ignore[no-untyped-def]
            request = target.request(case.identity, case.service, case.method, case.query, case.body)
            url = "/" + (f"?{case.query}" if case.query else "")
            response = client.request(case.method, url, headers=request.headers, content=case.body)
            return response.status_code, response.headers.items(), response.content

        outcome = run(send, fuzzer.cases(OVER_SOCKET))
    assert not outcome.failures, _report(outcome)
    assert outcome.codes["OK"] > 0 and outcome.codes["ValidationError"] > 0
