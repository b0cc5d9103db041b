"""build_context: the request context from the principal's keys, the resource's tags and the given keys."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iamd.policy import Decision, PolicySet, PolicyType, Principal, Request, Verdict, build_context, evaluate
from iamd.policy.decision import Blocking, make_decision
from iamd.policy.request import Context, _roomy

_KEYS = st.sampled_from(
    ["aws:SourceIp", "aws:sourceip", "AWS:SourceIP", "aws:username", "s3:prefix", "S3:Prefix", "aws:PrincipalTag/team"]
)
_TAGS = st.sampled_from(["team", "Team", "env"])
_VALUES = st.one_of(st.sampled_from(["x", "y"]), st.lists(st.sampled_from(["x", "y"]), max_size=2))


@given(
    st.lists(st.tuples(_TAGS, st.sampled_from(["x", "y"])), max_size=3), st.lists(st.tuples(_KEYS, _VALUES), max_size=4)
)
def test_build_context_layers_as_context_build(
    tags: list[tuple[str, str]], given_items: list[tuple[str, str | list[str]]]
) -> None:
    # build_context folds each layer into one dict; it must mean what building a Context per layer and
    # overlaying it did: a layer's key replaces the value and the ambiguity it had, case collisions within a
    # layer are ambiguous unless the values are the same.
    principal = Principal.from_arn("arn:aws:iam::111122223333:user/alice", tags={"team": "red", "Team": "blue"})
    got = build_context(principal, given_items, resource_account="111122223333", resource_tags=tags)
    values = dict(principal.context.values)
    ambiguous = set(principal.context.ambiguous)
    values["aws:resourceaccount"] = ("111122223333",)
    for items in ([(f"aws:ResourceTag/{k}", v) for k, v in tags], given_items):
        built = Context.build(items)
        ambiguous.difference_update(built.values)
        values.update(built.values)
        ambiguous.update(built.ambiguous)
    assert dict(got.values) == values
    assert list(got.values) == list(values)
    assert got.ambiguous == frozenset(ambiguous)


@pytest.mark.parametrize("cls", [Request, Decision])
def test_hand_written_init_sets_every_field(cls: type) -> None:
    # Request and Decision write their __new__ / __init__ by hand (draft_class, slot_setters): a field added to the
    # class must be added there too, with the same default (and to make_decision and evaluate._conclude:
    # test_drafts_become_the_frozen_classes).
    params = list(inspect.signature(cls.__new__ if cls is Request else cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [f.name for f in dataclasses.fields(cls)]
    for p, f in zip(params, dataclasses.fields(cls), strict=True):
        if f.default is not dataclasses.MISSING:
            assert p.default == f.default
    principal = Principal.from_arn("arn:aws:iam::111122223333:user/alice")
    request = Request(principal, "s3:GetObject")
    made = request if cls is Request else Decision(Verdict.ALLOWED, request)
    assert all(hasattr(made, f.name) for f in dataclasses.fields(cls))
    assert request.context.values == {} and request.resource == "*"


def test_drafts_become_the_frozen_classes() -> None:
    # Request.__init__ and make_decision fill in a draft (request.draft_class) and make it the frozen class: the
    # objects must be those the dataclass would make, frozen, hashable, copyable and picklable like any other.
    principal = Principal.from_arn("arn:aws:iam::111122223333:user/alice")
    request = Request(principal, "s3:GetObject", "arn:aws:s3:::b/k", None, "444455556666", "bucket b")
    assert type(request) is Request
    assert (
        request.principal,
        request.action,
        request.resource,
        request.resource_account,
        request.resource_display,
    ) == (principal, "s3:GetObject", "arn:aws:s3:::b/k", "444455556666", "bucket b")
    assert dataclasses.replace(request, resource="arn:aws:s3:::b/other").resource == "arn:aws:s3:::b/other"
    made = make_decision(Verdict.IMPLICIT_DENY, request, (), (Blocking(PolicyType.IDENTITY, False),), ("k",), ("e",))
    plain = Decision(Verdict.IMPLICIT_DENY, request, (), (Blocking(PolicyType.IDENTITY, False),), ("k",), ("e",))
    assert type(made) is Decision
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert made != Decision(Verdict.IMPLICIT_DENY, request, (), (), ("k",), ("e",))
    for obj, name in ((request, "action"), (made, "verdict")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, "x")
    assert copy.copy(made) == made and copy.deepcopy(made).verdict is Verdict.IMPLICIT_DENY
    assert pickle.loads(pickle.dumps(made.blocking)) == made.blocking
    travelled = pickle.loads(pickle.dumps(dataclasses.replace(request, context=None)))
    assert type(travelled) is Request and travelled.action == "s3:GetObject"
    assert copy.copy(request) == request and copy.deepcopy(request).resource_display == "bucket b"
    assert pickle.loads(pickle.dumps(request)).resource_account == "444455556666"
    # evaluate makes its Decision inline the same way
    decided = evaluate(request, PolicySet.of())
    assert type(decided) is Decision
    assert decided == Decision(decided.verdict, request, decided.matched, decided.blocking, (), ())


@given(
    st.lists(st.tuples(_TAGS, st.sampled_from(["x", "y"])), max_size=3), st.lists(st.tuples(_KEYS, _VALUES), max_size=4)
)
def test_build_context_reads_iterators_once(
    tags: list[tuple[str, str]], given_items: list[tuple[str, str | list[str]]]
) -> None:
    # build_context writes a layer assuming its keys differ and writes it again the general way when two are the
    # same once lower-cased: an iterator (read only once) must give what a list gives.
    principal = Principal.from_arn("arn:aws:iam::111122223333:user/alice", tags={"team": "red", "Team": "blue"})
    from_lists = build_context(principal, given_items, resource_tags=tags)
    from_iterators = build_context(principal, iter(given_items), resource_tags=iter(tags))
    assert list(from_iterators.values.items()) == list(from_lists.values.items())
    assert from_iterators.ambiguous == from_lists.ambiguous


@pytest.mark.parametrize("n", range(30))
def test_roomy_is_an_equal_dict(n: int) -> None:
    # the principal's keys are kept in a dict grown past its table and emptied of the extra keys (_roomy)
    values = {f"aws:key{i}": (str(i),) for i in range(n)}
    roomy = _roomy(values)
    assert roomy == values and list(roomy.items()) == list(values.items())
    assert roomy.copy() == values and not any(k.startswith("\0") for k in roomy.copy())
