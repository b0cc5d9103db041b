"""Whatever a CloudTrail event holds, explaining it answers or refuses with InputError: never
another exception (the API turns those into 500s). Events of any JSON shape, against a real
(migrated, empty) SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iamd.explain import Explainer, InputError, from_event
from iamd.service.policy_loader import PolicyLoader
from iamd.store import Store, migrate, open_store

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
ARNS = st.sampled_from([
    "arn:aws:iam::111122223333:user/alice", "arn:aws:sts::111122223333:assumed-role/R/s",
    "arn:aws:sts::111122223333:federated-user/f", "arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/R",
    "not an arn", "",
])  # fmt: skip
FIELDS = st.fixed_dictionaries(
    {"eventName": st.text(max_size=20) | JSON},
    optional={
        "eventSource": st.sampled_from(["iam.amazonaws.com", "sts.amazonaws.com", "s3.amazonaws.com"]) | JSON,
        "eventTime": st.sampled_from(["2026-01-02T03:04:05Z", "yesterday"]) | JSON,
        "userIdentity": st.fixed_dictionaries({"arn": ARNS}, optional={"type": JSON, "accessKeyId": JSON,
                                               "principalId": JSON, "sessionContext": JSON}) | JSON,
        "requestParameters": JSON,
        "errorCode": JSON,
        "errorMessage": JSON | st.just("User: arn:aws:iam::111122223333:user/alice is not authorized to perform: "
                                      "iam:GetUser on resource: user bob"),
        "iamdDecision": st.fixed_dictionaries({}, optional={"decision": JSON, "action": JSON, "resource": JSON}) | JSON,
        "iamdAuthentication": JSON,
        "resources": JSON,
        "sourceIPAddress": JSON,
    },
)  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('hostile')) / 'iamd.db'}"
    migrate.upgrade(url)
    opened = open_store(url)
    with opened.transaction() as tx:
        tx.create_account("111122223333")
    yield opened
    opened.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(FIELDS)
def test_any_event_is_explained_or_refused(store: Store, event: dict[str, Any]) -> None:
    explainer = Explainer(PolicyLoader())
    try:
        subject = from_event(event)
    except InputError:
        return
    with store.read() as tx:
        try:
            answer = explainer.explain(tx, subject, datetime.now(UTC))
        except InputError:
            return
    assert isinstance(answer.to_json()["verdict"], str)
