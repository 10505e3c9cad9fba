"""The embedded compiler's reading of requirements: one quantity at a time, each with its own bound,
slice and place."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twm_agents.llm.embedded import canonical, compile_intent
from twm_agents.llm.requirements import City, read, slices_in
from twm_gym.intents.spec import check
from twm_gym.scenarios import load_scenario

SC = load_scenario("hotspot-id")
CITY = City.of(SC)


def spec(text: str) -> dict[str, Any]:
    result = compile_intent(text, SC)
    assert result.spec is not None, result.issues
    return result.spec.model_dump(exclude_defaults=True)


def test_each_quantity_keeps_its_own_bound_and_slice() -> None:
    got = spec("Guarantee URLLC 30% on cell 2 and cap video at 40% on cell 5")
    assert [(r["slice"], r["ids"], r.get("floor"), r.get("cap")) for r in got["restrictions"]] == [
        ("urllc", ("2",), 0.3, None),
        ("embb", ("5",), None, 0.4),
    ]
    got = spec("cut cost but keep URLLC delay below 20 ms and eMBB loss below 15%")
    assert {(c["slice"], c["metric"], c["max"]) for c in got["constraints"]} == {
        ("urllc", "latency_p99", 20.0),
        ("embb", "loss", 15.0),
    }


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("URLLC should never fall below 30% on cell 1", "floor"),
        ("URLLC must not exceed 30% on cell 1", "cap"),
        ("keep URLLC above 30% on cell 1", "floor"),
        ("keep URLLC below 30% on cell 1", "cap"),
        ("don't give URLLC less than 30% on cell 1", "floor"),
        ("URLLC: 30% or more on cell 1", "floor"),
        ("throttle URLLC to 30% on cell 1", "cap"),
    ],
)
def test_a_negation_flips_below_and_above(text: str, bound: str) -> None:
    (r,) = spec(text)["restrictions"]
    other = "cap" if bound == "floor" else "floor"
    assert r[bound] == 0.3 and other not in r


def test_slices_are_read_by_their_longest_name() -> None:
    assert [s for _, _, s in slices_in("home broadband and mobile broadband and low-latency")] == [
        "fwa",
        "embb",
        "urllc",
    ]
    assert spec("home broadband loss at most 8%")["constraints"] == (
        {"slice": "fwa", "metric": "loss", "max": 8.0, "unit": "%"},
    )


def test_places_a_clause_names_apart_or_before() -> None:
    got = spec("Along the corridor, eMBB may use at most 45% of each cell")
    assert got["restrictions"][0]["ids"] == ("corridor",)
    got = spec("reserve 30% urllc on cell 3 and in the hospital zone")
    assert {(r["scope"], r["ids"]) for r in got["restrictions"]} == {("cell", ("3",)), ("zone", ("hospital",))}
    got = spec("Minimum FWA allocation: 20 percent, fwa zone")  # the place said last
    assert got["restrictions"][0]["ids"] == ("fwa",)


def test_a_floor_and_a_cap_said_apart_join_and_conflicts_are_issues() -> None:
    (r,) = spec("at least 20% URLLC on cell 2; at most 50% URLLC on cell 2")["restrictions"]
    assert (r["floor"], r["cap"]) == (0.2, 0.5)
    fields = [i.field for i in compile_intent("at least 60% embb on cell 2. at most 50% embb on cell 2", SC).issues]
    assert fields == ["restrictions[0].floor"]
    fields = [
        i.field for i in compile_intent("at least 20% urllc on cell 2 and at least 30% urllc on cell 2", SC).issues
    ]
    assert fields == ["restrictions"]


@pytest.mark.parametrize(
    "text",
    [
        "URLLC latency at least 10 ms",  # a floor on latency is no requirement
        "URLLC p99 below 12",  # a latency with no unit
        "loss below 5%",  # loss of which slice
        "URLLC 30% on cell 2",  # no bound at all
    ],
)
def test_what_cannot_be_bound_is_an_issue_not_a_guess(text: str) -> None:
    assert compile_intent(text, SC).spec is None
    assert read(" " + canonical(text) + " ", CITY).unread


def test_canonical_spells_units_fractions_and_zero_once() -> None:
    assert canonical("half of cell 1, a quarter of cell 2, 13msec, 0.02 seconds, 40 pct") == (
        "50% of cell 1, 25% of cell 2, 13 ms, 0.02 s, 40%"
    )
    assert canonical("give eMBB zero share") == "give embb 0% share"
    assert compile_intent("give eMBB zero share on all cells", SC).issues[0].field == "restrictions[0].cap"


@pytest.mark.parametrize(
    "text",
    ["between 20% and 40% URLLC on cell 1", "URLLC 20-40% on cell 1", "URLLC should get 20 to 40 percent of cell 1"],
)
def test_a_range_is_a_floor_and_a_cap(text: str) -> None:
    (r,) = spec(text)["restrictions"]
    assert (r["ids"], r["floor"], r["cap"]) == (("1",), 0.2, 0.4)


def test_id_ranges_and_exceptions_spell_out_ids() -> None:
    assert spec("reserve 30% for urllc on cells 3-5")["restrictions"][0]["ids"] == ("3", "4", "5")
    assert spec("Restrict eMBB on link 2 to 40%")["restrictions"][0]["ids"] == ("2",)  # an id, then a bound
    got = spec("URLLC share >= 25% in all cells except cell 4")["restrictions"][0]
    assert got["scope"] == "cell" and got["ids"] == tuple(str(c) for c in range(10) if c != 4)
    assert spec("cap embb at 50% on links 1 to 3 except link 2")["restrictions"][0]["ids"] == ("1", "3")
    assert compile_intent("at least 10% urllc everywhere except the hospital", SC).spec is None  # no ids spell it


def test_every_slice_windows_and_what_the_rules_do_not_know() -> None:
    assert {c["slice"] for c in spec("no more than 5% loss for anyone")["constraints"]} == {"embb", "urllc", "fwa"}
    assert spec("keep URLLC delay under 10 ms for 3 steps")["window"] == {"end": 2}
    for text, field in [("keep urllc at 30% min on c3", "intent"), ("URLLC p99.9 under 10 ms", "constraints")]:
        result = compile_intent(text, SC)
        assert result.spec is None and result.issues[0].field == field


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("link 3 maintenance at step 5", {"start": 5, "end": 5}),
        ("keep urllc latency below 10 ms after step 6", {"start": 7}),
        ("from step 6 on, cut cost", {"start": 6}),
        ("before step 4 save money", {"end": 3}),
    ],
)
def test_windows_said_from_one_step(text: str, window: dict[str, int]) -> None:
    assert spec(text)["window"] == window


@pytest.mark.parametrize("text", ["before step 0 save money", "next 0 steps save money", "save money 3 steps later"])
def test_steps_that_make_no_window_are_an_issue_not_a_crash(text: str) -> None:
    assert [i.field for i in compile_intent(text, SC).issues] == ["window"]


_FRAGMENTS = st.sampled_from(
    [
        "urllc", "embb", "fwa", "video", "home broadband", "low-latency", "every slice", "latency", "delay", "loss",
        "p99", "p95", "at least", "at most", "no more than", "below", "above", "never", "not", "don't", "or more",
        "minimum", "floor", "cap", "reserve", "give", "set", "to", "between", "and", ",", ";", "but", "except",
        "cell", "cells", "link", "links", "zone", "hospital", "corridor", "fwa zone", "everywhere", "each cell",
        "step", "steps", "next", "after", "before", "from", "until", "for", "maintenance", "down", "wave", "concert",
        "cost", "cut cost", "ignore cost", "half of", "a quarter of", "zero", "%", "ms", "s", "percent", "-", "c3",
    ]
)  # fmt: skip
_NUMBERS = st.one_of(
    st.integers(0, 12).map(str),
    st.integers(0, 10**30).map(str),
    st.floats(0, 200, allow_nan=False).map(lambda x: f"{x:.3g}"),
    st.sampled_from(["0", "0.5", "1", "3-5", "20-40%", "1 to 3", "9" * 40]),
)


@settings(max_examples=300, deadline=200)
@given(st.lists(st.one_of(_FRAGMENTS, _NUMBERS), min_size=1, max_size=24))
def test_any_sentence_of_the_rules_words_compiles_or_is_refused_fast(words: list[str]) -> None:
    """Sentences made of the words and numbers the rules read, in any order: a valid, plannable
    spec or issues, never an exception, each within the deadline."""
    result = compile_intent(" ".join(words), SC)
    assert (result.spec is None) == bool(result.issues)
    if result.spec is not None:
        assert check(result.spec, SC) == []


def test_a_link_said_to_be_down_is_an_event_never_a_place() -> None:
    got = spec("link 7 is in maintenance and cap video at 40% on link 6")
    assert got["restrictions"][0]["ids"] == ("6",) and got["context"]["links_down"] == ("7",)
    assert spec("links 3-5 are down for maintenance")["context"]["links_down"] == ("3", "4", "5")
    during = spec("cap video at 40% on link 6 during maintenance")  # link 6 is where, not what is down
    assert during["restrictions"][0]["ids"] == ("6",) and "links_down" not in during["context"]
